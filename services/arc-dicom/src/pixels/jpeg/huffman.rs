//! Huffman decoding of entropy-coded segments (ITU-T T.81 Annex C tables, F.2.2 decoding):
//! the tables built from a DHT segment, and the bit reader that undoes byte stuffing and
//! stops at markers.

use super::bad;
use crate::error::DicomError;

/// Codes up to this many bits are decoded with one table look-up.
const FAST_BITS: u32 = 9;

/// One Huffman table (T.81 C: BITS and HUFFVAL), ready for decoding.
#[derive(Debug, Clone)]
pub(crate) struct HuffmanTable {
    /// `(code length, symbol)` for every `FAST_BITS`-bit prefix; length 0 = longer code.
    fast: Vec<(u8, u8)>,
    /// Largest code of each length 1..=16 (index = length), -1 when there is none.
    maxcode: [i32; 17],
    /// Index into `values` of the first code of each length, minus that code.
    offset: [i32; 17],
    /// HUFFVAL: the symbols in code order.
    values: Vec<u8>,
}

impl HuffmanTable {
    /// Builds the table from BITS (`counts[l]` codes of length `l + 1`) and HUFFVAL
    /// (T.81 C.2: codes assigned in order of increasing length, each length starting at
    /// the previous one's next code shifted left). A table whose codes do not fit their
    /// lengths, or that has more symbols than its counts, is an error.
    pub(crate) fn new(counts: &[u8; 16], values: &[u8]) -> Result<Self, DicomError> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total == 0 || total > 256 || total != values.len() {
            return Err(bad(format!(
                "Huffman table with {total} codes for {} symbols",
                values.len()
            )));
        }
        let mut fast = vec![(0u8, 0u8); 1 << FAST_BITS];
        let mut maxcode = [-1i32; 17];
        let mut offset = [0i32; 17];
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16u32 {
            let n = u32::from(counts[len as usize - 1]);
            if n > 0 {
                offset[len as usize] = k as i32 - code as i32;
                // every code of this length must fit in `len` bits
                if code + n > 1 << len {
                    return Err(bad(format!("Huffman table overflows at code length {len}")));
                }
                for _ in 0..n {
                    if len <= FAST_BITS {
                        let shift = FAST_BITS - len;
                        let first = (code << shift) as usize;
                        for e in &mut fast[first..first + (1 << shift)] {
                            *e = (len as u8, values[k]);
                        }
                    }
                    code += 1;
                    k += 1;
                }
                maxcode[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Ok(HuffmanTable {
            fast,
            maxcode,
            offset,
            values: values.to_vec(),
        })
    }

    /// Decodes one symbol (T.81 F.2.2.3, with a look-up table for short codes).
    pub(crate) fn decode(&self, bits: &mut BitReader<'_>) -> Result<u8, DicomError> {
        let peek = bits.peek16();
        let (len, symbol) = self.fast[(peek >> (16 - FAST_BITS)) as usize];
        if len > 0 {
            bits.consume(u32::from(len));
            return Ok(symbol);
        }
        for len in FAST_BITS + 1..=16 {
            let code = (peek >> (16 - len)) as i32;
            if code <= self.maxcode[len as usize] {
                bits.consume(len);
                let index = (self.offset[len as usize] + code) as usize;
                return self
                    .values
                    .get(index)
                    .copied()
                    .ok_or_else(|| bad("Huffman code out of range".into()));
            }
        }
        Err(bad("invalid Huffman code in entropy-coded data".into()))
    }
}

/// Reads the bits of an entropy-coded segment (T.81 F.1.2.3): `FF 00` is a data byte
/// `FF`, fill bytes `FF FF` are skipped, and any other marker ends the data; past it (or
/// past the end of the stream) zero bits are supplied and counted, so that reading into
/// them can be reported as truncated data rather than decoded as garbage.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte to read.
    pos: usize,
    /// Bit buffer, the next bit at bit 63.
    acc: u64,
    /// Valid bits in `acc`.
    count: u32,
    /// How many of the last bits in `acc` are padding past a marker or the end.
    padding: u32,
    /// Set once a bit of padding has been consumed.
    overrun: bool,
}

impl<'a> BitReader<'a> {
    /// A reader of `data` from byte `pos`.
    pub(crate) fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader {
            data,
            pos,
            acc: 0,
            count: 0,
            padding: 0,
            overrun: false,
        }
    }

    /// Tops the buffer up to at least 57 bits.
    fn fill(&mut self) {
        while self.count <= 56 {
            let byte = match self.next_byte() {
                Some(b) => b,
                None => {
                    self.padding += 8;
                    0
                }
            };
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    /// The next data byte, `None` at a marker or the end of the stream.
    fn next_byte(&mut self) -> Option<u8> {
        loop {
            let b = *self.data.get(self.pos)?;
            if b != 0xFF {
                self.pos += 1;
                return Some(b);
            }
            match self.data.get(self.pos + 1) {
                Some(0x00) => {
                    self.pos += 2;
                    return Some(0xFF);
                }
                Some(0xFF) => self.pos += 1, // fill byte before a marker (T.81 B.1.1.2)
                _ => return None,            // a marker, or FF as the last byte
            }
        }
    }

    /// The next 16 bits without consuming them.
    pub(crate) fn peek16(&mut self) -> u32 {
        if self.count < 16 {
            self.fill();
        }
        (self.acc >> 48) as u32
    }

    /// Drops `n` (at most 16) bits.
    pub(crate) fn consume(&mut self, n: u32) {
        if self.count < n {
            self.fill();
        }
        self.acc <<= n;
        self.count -= n;
        if self.count < self.padding {
            self.overrun = true;
            self.padding = self.count;
        }
    }

    /// The next `n` (0..=16) bits as a number.
    pub(crate) fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let v = self.peek16() >> (16 - n);
        self.consume(n);
        v
    }

    /// RECEIVE and EXTEND (T.81 F.2.2.1, Figure F.12): `s` bits as a signed difference.
    pub(crate) fn receive_extend(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        let v = self.bits(s) as i32;
        if v < 1 << (s - 1) {
            v - (1 << s) + 1
        } else {
            v
        }
    }

    /// Whether bits past the end of the data were consumed (the segment is cut short).
    pub(crate) fn overrun(&self) -> bool {
        self.overrun
    }

    /// Skips to the next marker, discarding the bits left of the current byte, and
    /// returns its position (the `FF`), or `None` at the end of the stream.
    pub(crate) fn next_marker(&mut self) -> Option<usize> {
        self.acc = 0;
        self.count = 0;
        self.padding = 0;
        while self.pos + 1 < self.data.len() {
            if self.data[self.pos] == 0xFF && !matches!(self.data[self.pos + 1], 0x00 | 0xFF) {
                return Some(self.pos);
            }
            self.pos += 1;
        }
        None
    }

    /// Continues after a restart marker at `pos` (T.81 F.2.2.5: the bit stream restarts
    /// byte-aligned).
    pub(crate) fn restart_at(&mut self, pos: usize) {
        self.pos = pos + 2;
        self.acc = 0;
        self.count = 0;
        self.padding = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example table of T.81 Table K.3 (luminance DC differences).
    fn k3() -> HuffmanTable {
        let counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        HuffmanTable::new(&counts, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]).unwrap()
    }

    /// Packs `(code, length)` pairs MSB first, padding the last byte with 1 bits and
    /// stuffing a zero byte after each FF.
    fn pack(codes: &[(u32, u32)]) -> Vec<u8> {
        let (mut bytes, mut acc, mut n) = (Vec::new(), 0u64, 0u32);
        for &(code, len) in codes {
            acc = (acc << len) | u64::from(code);
            n += len;
            while n >= 8 {
                bytes.push((acc >> (n - 8)) as u8);
                n -= 8;
            }
        }
        if n > 0 {
            bytes.push(((acc << (8 - n)) as u8) | ((1u8 << (8 - n)) - 1));
        }
        bytes
            .into_iter()
            .flat_map(|b| if b == 0xFF { vec![0xFF, 0x00] } else { vec![b] })
            .collect()
    }

    #[test]
    fn decodes_the_k3_codes() {
        // K.3: 0 -> 00, 1 -> 010, 5 -> 110, 6 -> 1110, 11 -> 111111110
        let data = pack(&[
            (0b00, 2),
            (0b010, 3),
            (0b110, 3),
            (0b1110, 4),
            (0b1_1111_1110, 9),
        ]);
        let t = k3();
        let mut r = BitReader::new(&data, 0);
        let got: Vec<u8> = (0..5).map(|_| t.decode(&mut r).unwrap()).collect();
        assert_eq!(got, vec![0, 1, 5, 6, 11]);
        assert!(!r.overrun());
    }

    #[test]
    fn long_codes_take_the_slow_path() {
        // 16 codes of length 1..16 would overflow; one code per length from 10 to 16
        let mut counts = [0u8; 16];
        counts[0] = 1; // "0"
        for c in counts.iter_mut().skip(9) {
            *c = 1;
        }
        let values: Vec<u8> = (0..8).collect();
        let t = HuffmanTable::new(&counts, &values).unwrap();
        // codes: 0; then 10 bits 1000000000, 11 bits 10000000010, ...
        let data = pack(&[
            (0b1000000000, 10),
            (0, 1),
            (0b10000000010, 11),
            (0b1000_0000_0111_1110, 16),
        ]);
        let mut r = BitReader::new(&data, 0);
        assert_eq!(t.decode(&mut r).unwrap(), 1);
        assert_eq!(t.decode(&mut r).unwrap(), 0);
        assert_eq!(t.decode(&mut r).unwrap(), 2);
        assert_eq!(t.decode(&mut r).unwrap(), 7);
    }

    #[test]
    fn bad_tables_and_codes_are_errors() {
        // three codes of length 1 cannot exist
        let mut counts = [0u8; 16];
        counts[0] = 3;
        assert!(HuffmanTable::new(&counts, &[1, 2, 3]).is_err());
        // counts and values disagree
        assert!(HuffmanTable::new(&[1; 16], &[1]).is_err());
        assert!(HuffmanTable::new(&[0; 16], &[]).is_err());
        // all ones is no code of K.3
        let data = [0xFF, 0x00, 0xFF, 0x00];
        let mut r = BitReader::new(&data, 0);
        assert!(k3().decode(&mut r).is_err());
    }

    #[test]
    fn stuffing_fill_bytes_and_markers() {
        // FF 00 is FF; FF FF is fill; FF D9 ends the data, zero bits after it
        let data = [0xFF, 0x00, 0xA5, 0xFF, 0xFF, 0xD9];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.bits(8), 0xFF);
        assert_eq!(r.bits(8), 0xA5);
        assert!(!r.overrun());
        assert_eq!(r.bits(8), 0);
        assert!(r.overrun());
        assert_eq!(r.next_marker(), Some(4));
    }

    #[test]
    fn receive_extend_follows_figure_f12() {
        // s = 3: 000 -> -7, 011 -> -4, 100 -> 4, 111 -> 7
        let data = pack(&[(0b000, 3), (0b011, 3), (0b100, 3), (0b111, 3), (0, 0)]);
        let mut r = BitReader::new(&data, 0);
        let got: Vec<i32> = (0..4).map(|_| r.receive_extend(3)).collect();
        assert_eq!(got, vec![-7, -4, 4, 7]);
        // 15 bits (12-bit DC differences)
        let data = pack(&[(0, 15), (0x7FFF, 15)]);
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.receive_extend(15), -32767);
        assert_eq!(r.receive_extend(15), 32767);
    }
}
