//! A small sequential JPEG writer for the tests: quantized coefficients (taken from a
//! real stream, or made up) written back with any scan layout, restart interval and
//! frame marker, with fixed-length Huffman codes (T.81 Annex C allows any prefix code
//! without an all-ones one), so the decoder's handling of each can be checked.

use super::markers::{Frame, ZIGZAG};
use super::scan::BlockSink;
use super::FrameSink;
use crate::error::DicomError;

/// Every block of every component (MCU padding included) and the quantization tables.
pub(super) struct Coefs {
    pub frame: Option<Frame>,
    pub quant: Vec<[u16; 64]>,
    /// Per component, blocks row by row, `plane_size / 8` of them.
    pub blocks: Vec<Vec<[i32; 64]>>,
}

impl Coefs {
    pub fn new() -> Self {
        Coefs {
            frame: None,
            quant: Vec::new(),
            blocks: Vec::new(),
        }
    }

    fn frame(&self) -> &Frame {
        self.frame.as_ref().expect("a frame")
    }

    fn stride(&self, c: usize) -> usize {
        self.frame().plane_size(c).0 / 8
    }
}

impl FrameSink for Coefs {
    fn frame(&mut self, frame: &Frame) {
        self.blocks = (0..frame.components.len())
            .map(|c| {
                let (w, h) = frame.plane_size(c);
                vec![[0; 64]; w / 8 * (h / 8)]
            })
            .collect();
        self.quant = vec![[1; 64]; frame.components.len()];
        self.frame = Some(frame.clone());
    }

    fn quant(&mut self, component: usize, table: &[u16; 64]) {
        self.quant[component] = *table;
    }
}

impl BlockSink for Coefs {
    fn block(
        &mut self,
        c: usize,
        bx: usize,
        by: usize,
        coefs: &[i32; 64],
    ) -> Result<(), DicomError> {
        let stride = self.stride(c);
        self.blocks[c][by * stride + bx] = *coefs;
        Ok(())
    }
}

/// How to write the stream.
pub(super) struct Layout {
    /// Frame header marker: 0xC0 or 0xC1 (or another, to see it refused).
    pub sof: u8,
    /// Components (frame indexes) of each scan, in order.
    pub scans: Vec<Vec<usize>>,
    /// Restart interval in MCUs, 0 for none.
    pub restart: usize,
    /// Write 16-bit quantization tables.
    pub dqt16: bool,
}

/// One coded item: a Huffman symbol with its appended bits, or a restart marker.
enum Item {
    Dc(u8, u32, u32),
    Ac(u8, u32, u32),
    Restart(u8),
}

/// Writes `c` as a complete stream (SOI … EOI).
pub(super) fn encode(c: &Coefs, layout: &Layout) -> Vec<u8> {
    let f = c.frame();
    let mut items = Vec::new();
    for scan in &layout.scans {
        items.push(scan_items(c, scan, layout.restart));
    }
    // fixed-length codes for the symbols used, one DC and one AC table
    let symbols = |dc: bool| -> Vec<u8> {
        let mut s: Vec<u8> = items
            .iter()
            .flatten()
            .filter_map(|i| match (i, dc) {
                (Item::Dc(s, ..), true) | (Item::Ac(s, ..), false) => Some(*s),
                _ => None,
            })
            .collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let (dc, ac) = (symbols(true), symbols(false));
    let len = |n: usize| (1..=16u32).find(|l| (1usize << l) > n).unwrap_or(16);
    let mut out = vec![0xFF, 0xD8];
    for (i, q) in c.quant.iter().enumerate() {
        let mut body = vec![(u8::from(layout.dqt16) << 4) | i as u8];
        for &pos in &ZIGZAG {
            if layout.dqt16 {
                body.extend_from_slice(&q[pos].to_be_bytes());
            } else {
                body.push(q[pos] as u8);
            }
        }
        segment(&mut out, 0xDB, &body);
    }
    let mut sof = vec![f.precision];
    sof.extend_from_slice(&(f.height as u16).to_be_bytes());
    sof.extend_from_slice(&(f.width as u16).to_be_bytes());
    sof.push(f.components.len() as u8);
    for (i, k) in f.components.iter().enumerate() {
        sof.extend_from_slice(&[k.id, (k.h as u8) << 4 | k.v as u8, i as u8]);
    }
    segment(&mut out, layout.sof, &sof);
    for (class, syms) in [(0u8, &dc), (1u8, &ac)] {
        let mut body = vec![class << 4];
        let mut counts = [0u8; 16];
        counts[len(syms.len()) as usize - 1] = syms.len() as u8;
        body.extend_from_slice(&counts);
        body.extend_from_slice(syms);
        segment(&mut out, 0xC4, &body);
    }
    if layout.restart > 0 {
        segment(&mut out, 0xDD, &(layout.restart as u16).to_be_bytes());
    }
    for (scan, coded) in layout.scans.iter().zip(&items) {
        let mut sos = vec![scan.len() as u8];
        for &i in scan {
            sos.extend_from_slice(&[f.components[i].id, 0x00]);
        }
        sos.extend_from_slice(&[0, 63, 0]);
        segment(&mut out, 0xDA, &sos);
        let mut w = BitWriter {
            out: &mut out,
            acc: 0,
            n: 0,
        };
        for item in coded {
            match item {
                Item::Dc(s, v, n) => {
                    w.put(code(&dc, *s), len(dc.len()));
                    w.put(*v, *n);
                }
                Item::Ac(s, v, n) => {
                    w.put(code(&ac, *s), len(ac.len()));
                    w.put(*v, *n);
                }
                Item::Restart(m) => {
                    w.flush();
                    w.out.extend_from_slice(&[0xFF, 0xD0 + m]);
                }
            }
        }
        w.flush();
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

fn code(symbols: &[u8], s: u8) -> u32 {
    symbols
        .iter()
        .position(|&x| x == s)
        .expect("symbol in table") as u32
}

fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&(body.len() as u16 + 2).to_be_bytes());
    out.extend_from_slice(body);
}

/// The coded items of one scan, visiting blocks as T.81 A.2 orders them.
fn scan_items(c: &Coefs, scan: &[usize], restart: usize) -> Vec<Item> {
    let f = c.frame();
    let interleaved = scan.len() > 1;
    let (mx, my) = if interleaved {
        f.mcus()
    } else {
        f.component_blocks(scan[0])
    };
    let mut items = Vec::new();
    let mut pred = vec![0i32; scan.len()];
    let mut restarts = 0u8;
    for mcu in 0..mx * my {
        if restart > 0 && mcu > 0 && mcu % restart == 0 {
            items.push(Item::Restart(restarts % 8));
            restarts = restarts.wrapping_add(1);
            pred.fill(0);
        }
        for (s, &comp) in scan.iter().enumerate() {
            let k = &f.components[comp];
            let (h, v) = if interleaved { (k.h, k.v) } else { (1, 1) };
            for y in 0..v {
                for x in 0..h {
                    let (bx, by) = ((mcu % mx) * h + x, (mcu / mx) * v + y);
                    let block = &c.blocks[comp][by * c.stride(comp) + bx];
                    let (sz, bits) = magnitude(block[0] - pred[s]);
                    items.push(Item::Dc(sz as u8, bits, sz));
                    pred[s] = block[0];
                    let mut run = 0;
                    for &pos in &ZIGZAG[1..] {
                        let v = block[pos];
                        if v == 0 {
                            run += 1;
                            continue;
                        }
                        while run > 15 {
                            items.push(Item::Ac(0xF0, 0, 0));
                            run -= 16;
                        }
                        let (sz, bits) = magnitude(v);
                        items.push(Item::Ac((run << 4) as u8 | sz as u8, bits, sz));
                        run = 0;
                    }
                    if run > 0 {
                        items.push(Item::Ac(0x00, 0, 0));
                    }
                }
            }
        }
    }
    items
}

/// Size category and appended bits of a value (T.81 F.1.2.1.1: negative values as
/// `v - 1` in `size` bits).
fn magnitude(v: i32) -> (u32, u32) {
    let size = 32 - v.unsigned_abs().leading_zeros();
    let bits = if v < 0 {
        (v - 1) as u32 & ((1 << size) - 1)
    } else {
        v as u32
    };
    (size, bits)
}

/// MSB-first bits with `FF 00` stuffing (T.81 F.1.2.3), padded with 1 bits.
struct BitWriter<'o> {
    out: &'o mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter<'_> {
    fn put(&mut self, bits: u32, n: u32) {
        self.acc = (self.acc << n) | u64::from(bits);
        self.n += n;
        while self.n >= 8 {
            let byte = (self.acc >> (self.n - 8)) as u8;
            self.out.push(byte);
            if byte == 0xFF {
                self.out.push(0);
            }
            self.n -= 8;
        }
    }

    fn flush(&mut self) {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
        self.acc = 0;
    }
}
