//! JPEG sequential DCT decoding with Huffman coding at 8 and 12 bits (ITU-T T.81 Annex F,
//! processes 1, 2 and 4: baseline and extended sequential), written here because the
//! pure-Rust `jpeg-decoder` stops at 8 bits and PS3.5 A.4.1 uses 12-bit process 4 for
//! JPEG Extended (1.2.840.10008.1.2.4.51). Progressive, lossless, hierarchical and
//! arithmetic-coded streams are refused with a reason.

mod colour;
mod huffman;
mod idct;
mod markers;
mod scan;
#[cfg(test)]
mod test_encoder;
#[cfg(test)]
mod tests;

use crate::error::DicomError;
use colour::Plane;
use markers::Frame;
use scan::{BlockSink, ScanTables};

/// A stream this decoder cannot read, with the reason.
pub(crate) fn bad(reason: String) -> DicomError {
    DicomError::Decode(format!("JPEG: {reason}"))
}

/// The frame header marker (FFC0-FFCF but FFC4, FFC8, FFCC) and sample precision of a
/// JPEG stream, `None` when it has none before its first scan or is not JPEG. The caller
/// picks a decoder with it.
pub(crate) fn frame_type(data: &[u8]) -> Option<(u8, u8)> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    while pos + 4 < data.len() && data[pos] == 0xFF {
        match data[pos + 1] {
            0xFF => pos += 1,
            m @ (0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) => {
                return Some((m, data[pos + 4]))
            }
            0xDA | 0xD9 => return None,
            _ => pos = markers::segment(data, pos).ok()?.1,
        }
    }
    None
}

/// A decoded JPEG frame: its components at full size, before any colour conversion.
pub(crate) struct Decoded {
    frame: Frame,
    planes: Vec<Plane>,
    declared: Option<bool>,
}

impl Decoded {
    /// Samples per line, lines, components and precision of the frame header.
    pub fn geometry(&self) -> (usize, usize, usize, u8) {
        (
            self.frame.width,
            self.frame.height,
            self.frame.components.len(),
            self.frame.precision,
        )
    }

    /// What a JFIF (APP0) or Adobe (APP14) segment says about a colour transform.
    pub fn declared_transform(&self) -> Option<bool> {
        self.declared
    }

    /// Interleaved samples; three components turned from YCbCr into RGB when `ycbcr`.
    pub fn samples(&self, ycbcr: bool) -> Vec<u16> {
        colour::interleave(&self.frame, &self.planes, ycbcr)
    }
}

/// Decodes a JPEG stream of process 1, 2 or 4. `expect` (samples per line, lines,
/// components), when given, must match the frame header: the DICOM attributes describe
/// the frame (PS3.5 8.2.1), and a stream that says otherwise is refused before anything
/// is allocated. Whatever the header says, a frame needs at least two bits per block
/// (a DC and an end-of-block code), so one larger than the stream can code is refused too.
pub(crate) fn decode(
    data: &[u8],
    expect: Option<(usize, usize, usize)>,
) -> Result<Decoded, DicomError> {
    let mut sink = PlaneSink {
        planes: Vec::new(),
        quant: Vec::new(),
        precision: 8,
    };
    let (frame, declared) = walk(data, expect, &mut sink)?;
    Ok(Decoded {
        frame,
        planes: sink.planes,
        declared,
    })
}

/// What reading a stream feeds: the frame header once read, the quantization table of
/// each component as a scan starts, then the blocks of the scan.
pub(crate) trait FrameSink: BlockSink {
    fn frame(&mut self, frame: &Frame);
    fn quant(&mut self, component: usize, table: &[u16; 64]);
}

/// Reads the markers of a stream and decodes its scans into `sink`; the frame header and
/// what APPn segments say about colours.
pub(crate) fn walk(
    data: &[u8],
    expect: Option<(usize, usize, usize)>,
    sink: &mut impl FrameSink,
) -> Result<(Frame, Option<bool>), DicomError> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(bad("no SOI marker at the start of the frame".into()));
    }
    let mut huffman: [[Option<huffman::HuffmanTable>; 4]; 2] = Default::default();
    let mut quant: [Option<[u16; 64]>; 4] = [None; 4];
    let mut restart_interval = 0;
    let mut frame: Option<Frame> = None;
    let mut scanned: Vec<bool> = Vec::new();
    let mut declared = None;
    let mut pos = 2;
    while pos < data.len() {
        if data[pos] != 0xFF {
            return Err(bad(format!(
                "expected a marker at byte {pos}, found {:02X}",
                data[pos]
            )));
        }
        let marker = match data.get(pos + 1) {
            Some(0xFF) => {
                pos += 1; // fill byte (T.81 B.1.1.2)
                continue;
            }
            Some(&m) => m,
            None => break,
        };
        match marker {
            0xD9 => break, // EOI
            0x01 | 0xD0..=0xD7 => {
                pos += 2; // TEM, stray RSTm: no segment
                continue;
            }
            0xD8 => return Err(bad(format!("second SOI marker at byte {pos}"))),
            0xC2 => return Err(DicomError::Unsupported("progressive JPEG (SOF2)".into())),
            0xC3 => {
                return Err(DicomError::Unsupported(
                    "lossless JPEG (SOF3) in the DCT decoder".into(),
                ))
            }
            0xC9..=0xCF => {
                return Err(DicomError::Unsupported(format!(
                    "arithmetic-coded JPEG (FF{marker:02X})"
                )))
            }
            0xC5..=0xC7 | 0xDE | 0xDF => {
                return Err(DicomError::Unsupported(format!(
                    "hierarchical JPEG (FF{marker:02X})"
                )))
            }
            0xDC => return Err(DicomError::Unsupported("JPEG with a DNL marker".into())),
            _ => {}
        }
        let (body, next) = markers::segment(data, pos)?;
        match marker {
            0xC0 | 0xC1 => {
                if frame.is_some() {
                    return Err(bad("second frame header".into()));
                }
                let f = markers::frame(body)?;
                check_size(&f, data.len(), expect)?;
                sink.frame(&f);
                scanned = vec![false; f.components.len()];
                frame = Some(f);
            }
            0xC4 => markers::huffman_tables(body, &mut huffman)?,
            0xDB => markers::quant_tables(body, &mut quant)?,
            0xDD => restart_interval = markers::restart_interval(body)?,
            0xE0..=0xEF if frame.is_none() || !scanned.iter().any(|&s| s) => {
                // the first JFIF or Adobe segment decides, as for 8-bit streams
                declared = declared.or(markers::colour_transform(marker, body));
            }
            0xDA => {
                let f = frame
                    .as_ref()
                    .ok_or_else(|| bad("scan before the frame header".into()))?;
                let scan = markers::scan(body, f)?;
                for sc in &scan.components {
                    if scanned[sc.index] {
                        return Err(bad(format!(
                            "component {} in two scans of a sequential frame",
                            f.components[sc.index].id
                        )));
                    }
                    scanned[sc.index] = true;
                    let tq = f.components[sc.index].tq;
                    let table = quant[tq]
                        .ok_or_else(|| bad(format!("quantization table {tq} is not defined")))?;
                    sink.quant(sc.index, &table);
                }
                let tables = ScanTables {
                    huffman: &huffman,
                    restart_interval,
                };
                pos = scan::decode_scan(data, next, f, &scan, &tables, sink)?;
                continue;
            }
            0xC8 | 0x02..=0xBF => {
                return Err(bad(format!("reserved marker FF{marker:02X} at byte {pos}")))
            }
            _ => {} // other APPn, COM, JPGn: nothing for decoding
        }
        pos = next;
    }
    let frame = frame.ok_or_else(|| bad("no frame header (SOF0 or SOF1)".into()))?;
    if let Some(c) = scanned.iter().position(|&s| !s) {
        return Err(bad(format!(
            "component {} has no scan: the stream is cut short",
            frame.components[c].id
        )));
    }
    Ok((frame, declared))
}

/// Refuses a frame that is not the size the caller expects, or that needs more blocks than
/// a stream of `len` bytes can code (two bits each at least).
fn check_size(
    f: &Frame,
    len: usize,
    expect: Option<(usize, usize, usize)>,
) -> Result<(), DicomError> {
    let n = f.components.len();
    if let Some((w, h, c)) = expect {
        if (f.width, f.height, n) != (w, h, c) {
            return Err(bad(format!(
                "frame header says {}x{} with {n} components, the object {w}x{h} with {c}",
                f.width, f.height
            )));
        }
    }
    let blocks: usize = (0..n)
        .map(|c| {
            let (bw, bh) = f.component_blocks(c);
            bw * bh
        })
        .sum();
    if blocks / 4 > len {
        return Err(bad(format!(
            "{}x{} frame of {blocks} blocks cannot be coded in {len} bytes",
            f.width, f.height
        )));
    }
    Ok(())
}

/// Dequantizes, transforms and stores each block in its component's plane.
struct PlaneSink {
    planes: Vec<Plane>,
    /// Quantization table of each frame component (natural order), for this scan.
    quant: Vec<[f32; 64]>,
    precision: u8,
}

impl FrameSink for PlaneSink {
    fn frame(&mut self, frame: &Frame) {
        self.planes = (0..frame.components.len())
            .map(|c| {
                let (w, h) = frame.plane_size(c);
                Plane {
                    data: vec![0; w * h],
                    stride: w,
                }
            })
            .collect();
        self.quant = vec![[0.0; 64]; frame.components.len()];
        self.precision = frame.precision;
    }

    fn quant(&mut self, component: usize, table: &[u16; 64]) {
        self.quant[component] = table.map(f32::from);
    }
}

impl BlockSink for PlaneSink {
    fn block(
        &mut self,
        component: usize,
        bx: usize,
        by: usize,
        coefs: &[i32; 64],
    ) -> Result<(), DicomError> {
        let mut out = [0f32; 64];
        idct::idct(coefs, &self.quant[component], &mut out);
        let plane = &mut self.planes[component];
        let stride = plane.stride;
        let origin = by * 8 * stride + bx * 8;
        if origin + 7 * stride + 8 > plane.data.len() {
            return Err(bad(format!(
                "block {bx},{by} outside component {component}"
            )));
        }
        for (y, row) in out.chunks_exact(8).enumerate() {
            let dst = &mut plane.data[origin + y * stride..origin + y * stride + 8];
            for (d, &v) in dst.iter_mut().zip(row) {
                *d = idct::to_sample(v, self.precision);
            }
        }
        Ok(())
    }
}
