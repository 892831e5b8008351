//! The marker segments of a JPEG stream (ITU-T T.81 Annex B): frame header (SOF0/SOF1),
//! scan header (SOS), Huffman and quantization tables (DHT, DQT), restart interval (DRI),
//! and the APP0 JFIF / APP14 Adobe segments that say whether colours were transformed.

use super::bad;
use super::huffman::HuffmanTable;
use crate::error::DicomError;

/// Zig-zag position `k` to natural (row-major) position in an 8x8 block (T.81 Figure A.6).
pub(crate) const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// One component of the frame header (T.81 B.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Component {
    /// Component identifier Ci.
    pub id: u8,
    /// Horizontal sampling factor Hi (1-4).
    pub h: usize,
    /// Vertical sampling factor Vi (1-4).
    pub v: usize,
    /// Quantization table selector Tqi (0-3).
    pub tq: usize,
}

/// The frame header (T.81 B.2.2) and the geometry it implies (A.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Sample precision P: 8 or 12.
    pub precision: u8,
    /// Number of lines Y.
    pub height: usize,
    /// Samples per line X.
    pub width: usize,
    /// The components in frame order.
    pub components: Vec<Component>,
    /// Largest Hi and Vi.
    pub hmax: usize,
    pub vmax: usize,
}

impl Frame {
    /// MCUs per row and per column of an interleaved scan (A.2.3).
    pub fn mcus(&self) -> (usize, usize) {
        (
            self.width.div_ceil(8 * self.hmax),
            self.height.div_ceil(8 * self.vmax),
        )
    }

    /// Size of component `c` in samples: ceil(X * Hi / Hmax) by ceil(Y * Vi / Vmax) (A.1.1).
    pub fn component_size(&self, c: usize) -> (usize, usize) {
        let k = &self.components[c];
        (
            (self.width * k.h).div_ceil(self.hmax),
            (self.height * k.v).div_ceil(self.vmax),
        )
    }

    /// Blocks per row and column of component `c` in a non-interleaved scan (A.2.2).
    pub fn component_blocks(&self, c: usize) -> (usize, usize) {
        let (w, h) = self.component_size(c);
        (w.div_ceil(8), h.div_ceil(8))
    }

    /// Size of the buffer that holds component `c` whole, MCU padding included.
    pub fn plane_size(&self, c: usize) -> (usize, usize) {
        let (mx, my) = self.mcus();
        let k = &self.components[c];
        (mx * k.h * 8, my * k.v * 8)
    }
}

/// One component of a scan header with its entropy table selectors (T.81 B.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanComponent {
    /// Index into `Frame::components`.
    pub index: usize,
    /// DC table selector Tdj (0-3).
    pub td: usize,
    /// AC table selector Taj (0-3).
    pub ta: usize,
}

/// The scan header (T.81 B.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    pub components: Vec<ScanComponent>,
}

/// The body of the marker segment whose marker is at `pos` (T.81 B.1.1.4: a 2-byte
/// length that counts itself), and the position after it.
pub(crate) fn segment(data: &[u8], pos: usize) -> Result<(&[u8], usize), DicomError> {
    let len = match data.get(pos + 2..pos + 4) {
        Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
        None => return Err(bad(format!("marker segment at byte {pos} cut short"))),
    };
    let end = pos + 2 + len;
    if len < 2 || end > data.len() {
        return Err(bad(format!(
            "marker segment at byte {pos} of length {len} runs past the end"
        )));
    }
    Ok((&data[pos + 4..end], end))
}

/// Parses SOF0/SOF1 (T.81 B.2.2). Precision 8 or 12, 1 to 4 components with sampling
/// factors 1-4 that divide the largest ones (non-integer ratios are not decoded),
/// distinct identifiers; zero lines (a DNL marker defines them later) is refused.
pub(crate) fn frame(body: &[u8]) -> Result<Frame, DicomError> {
    if body.len() < 6 {
        return Err(bad("frame header too short".into()));
    }
    let precision = body[0];
    let height = usize::from(u16::from_be_bytes([body[1], body[2]]));
    let width = usize::from(u16::from_be_bytes([body[3], body[4]]));
    let count = usize::from(body[5]);
    if precision != 8 && precision != 12 {
        return Err(bad(format!(
            "sample precision {precision}; DCT JPEG has 8 or 12 (T.81 B.2.2)"
        )));
    }
    if height == 0 {
        return Err(bad(
            "frame header with 0 lines (DNL marker) is not supported".into(),
        ));
    }
    if width == 0 || !(1..=4).contains(&count) || body.len() != 6 + 3 * count {
        return Err(bad(format!(
            "frame header: {width} samples per line, {count} components, {} bytes",
            body.len()
        )));
    }
    let mut components: Vec<Component> = Vec::with_capacity(count);
    for c in body[6..].chunks_exact(3) {
        let (h, v, tq) = (
            usize::from(c[1] >> 4),
            usize::from(c[1] & 15),
            usize::from(c[2]),
        );
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || tq > 3 {
            return Err(bad(format!(
                "component {}: sampling {h}x{v}, quantization table {tq}",
                c[0]
            )));
        }
        if components.iter().any(|k| k.id == c[0]) {
            return Err(bad(format!("component identifier {} used twice", c[0])));
        }
        components.push(Component { id: c[0], h, v, tq });
    }
    let hmax = components.iter().map(|k| k.h).max().unwrap_or(1);
    let vmax = components.iter().map(|k| k.v).max().unwrap_or(1);
    if components
        .iter()
        .any(|k| hmax % k.h != 0 || vmax % k.v != 0)
    {
        return Err(DicomError::Unsupported(
            "JPEG sampling factors that do not divide the largest ones".into(),
        ));
    }
    Ok(Frame {
        precision,
        height,
        width,
        components,
        hmax,
        vmax,
    })
}

/// Parses SOS (T.81 B.2.3) against the frame: 1 to 4 components of the frame, in frame
/// order, table selectors 0-3, at most 10 blocks per MCU when interleaved. Ss, Se, Ah and
/// Al are not checked: for sequential DCT they must be 0, 63, 0, 0, but some encoders write
/// zeros and IJG libjpeg (dcmtk, GDCM) decodes such scans as sequential, and so do we.
pub(crate) fn scan(body: &[u8], frame: &Frame) -> Result<Scan, DicomError> {
    let count = usize::from(*body.first().unwrap_or(&0));
    if !(1..=4).contains(&count) || body.len() != 1 + 2 * count + 3 {
        return Err(bad(format!(
            "scan header with {count} components in {} bytes",
            body.len()
        )));
    }
    let mut components: Vec<ScanComponent> = Vec::with_capacity(count);
    for c in body[1..1 + 2 * count].chunks_exact(2) {
        let index = frame
            .components
            .iter()
            .position(|k| k.id == c[0])
            .ok_or_else(|| {
                bad(format!(
                    "scan names component {}, which the frame lacks",
                    c[0]
                ))
            })?;
        if components.last().is_some_and(|prev| prev.index >= index) {
            return Err(bad("scan components out of frame order or repeated".into()));
        }
        let (td, ta) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
        if td > 3 || ta > 3 {
            return Err(bad(format!(
                "scan selects Huffman tables DC {td} / AC {ta}"
            )));
        }
        components.push(ScanComponent { index, td, ta });
    }
    if count > 1 {
        let blocks: usize = components
            .iter()
            .map(|s| frame.components[s.index].h * frame.components[s.index].v)
            .sum();
        if blocks > 10 {
            return Err(bad(format!(
                "{blocks} blocks per MCU; at most 10 (T.81 B.2.3)"
            )));
        }
    }
    Ok(Scan { components })
}

/// The Huffman tables of a DHT segment (T.81 B.2.4.2), stored by class (0 DC, 1 AC) and
/// destination (0-3).
pub(crate) fn huffman_tables(
    body: &[u8],
    tables: &mut [[Option<HuffmanTable>; 4]; 2],
) -> Result<(), DicomError> {
    let mut rest = body;
    while !rest.is_empty() {
        if rest.len() < 17 {
            return Err(bad("Huffman table segment cut short".into()));
        }
        let (class, id) = (usize::from(rest[0] >> 4), usize::from(rest[0] & 15));
        if class > 1 || id > 3 {
            return Err(bad(format!("Huffman table class {class} destination {id}")));
        }
        let mut counts = [0u8; 16];
        counts.copy_from_slice(&rest[1..17]);
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = rest
            .get(17..17 + total)
            .ok_or_else(|| bad("Huffman table values cut short".into()))?;
        tables[class][id] = Some(HuffmanTable::new(&counts, values)?);
        rest = &rest[17 + total..];
    }
    Ok(())
}

/// The quantization tables of a DQT segment (T.81 B.2.4.1), 8- or 16-bit values, stored
/// by destination in natural order.
pub(crate) fn quant_tables(
    body: &[u8],
    tables: &mut [Option<[u16; 64]>; 4],
) -> Result<(), DicomError> {
    let mut rest = body;
    while !rest.is_empty() {
        let (pq, id) = (rest[0] >> 4, usize::from(rest[0] & 15));
        let size = match pq {
            0 => 64,
            1 => 128,
            _ => return Err(bad(format!("quantization table precision {pq}"))),
        };
        if id > 3 {
            return Err(bad(format!("quantization table destination {id}")));
        }
        let raw = rest
            .get(1..1 + size)
            .ok_or_else(|| bad("quantization table cut short".into()))?;
        let mut table = [0u16; 64];
        for (k, &pos) in ZIGZAG.iter().enumerate() {
            table[pos] = if pq == 0 {
                u16::from(raw[k])
            } else {
                u16::from_be_bytes([raw[2 * k], raw[2 * k + 1]])
            };
        }
        tables[id] = Some(table);
        rest = &rest[1 + size..];
    }
    Ok(())
}

/// The restart interval of a DRI segment (T.81 B.2.4.4), in MCUs; 0 disables restarts.
pub(crate) fn restart_interval(body: &[u8]) -> Result<usize, DicomError> {
    match body {
        [a, b] => Ok(usize::from(u16::from_be_bytes([*a, *b]))),
        _ => Err(bad("restart interval segment is not 2 bytes".into())),
    }
}

/// Whether an APPn segment says the colours were transformed to YCbCr: JFIF (APP0)
/// always is YCbCr; Adobe (APP14) has a transform byte (0 = none, 1 = YCbCr, 2 = YCCK).
pub(crate) fn colour_transform(marker: u8, body: &[u8]) -> Option<bool> {
    if marker == 0xE0 && body.starts_with(b"JFIF") {
        return Some(true);
    }
    if marker == 0xEE && body.starts_with(b"Adobe") && body.len() >= 12 {
        return Some(body[11] != 0);
    }
    None
}
