//! Decoding one sequential scan (ITU-T T.81 F.2): the MCUs in order (interleaved, A.2.3,
//! or one component's blocks, A.2.2), restart intervals (F.2.2.5, B.2.4.4), and each
//! block's DC difference and AC run/size codes (F.2.2.1-2). Blocks go to a sink.

use super::bad;
use super::huffman::{BitReader, HuffmanTable};
use super::markers::{Frame, Scan, ZIGZAG};
use crate::error::DicomError;

/// Where decoded blocks go: `coefs` are the quantized coefficients in natural order of
/// block (`bx`, `by`) of frame component `component`.
pub(crate) trait BlockSink {
    fn block(
        &mut self,
        component: usize,
        bx: usize,
        by: usize,
        coefs: &[i32; 64],
    ) -> Result<(), DicomError>;
}

/// The tables and settings a scan is decoded with.
pub(crate) struct ScanTables<'t> {
    /// Huffman tables by class (0 DC, 1 AC) and destination.
    pub huffman: &'t [[Option<HuffmanTable>; 4]; 2],
    /// Restart interval in MCUs, 0 for none.
    pub restart_interval: usize,
}

/// Decodes the scan whose entropy-coded data starts at `start` and returns the position of
/// the marker that follows it (or the end of `data`).
pub(crate) fn decode_scan(
    data: &[u8],
    start: usize,
    frame: &Frame,
    scan: &Scan,
    tables: &ScanTables<'_>,
    sink: &mut impl BlockSink,
) -> Result<usize, DicomError> {
    // the tables of each scan component, checked once
    let mut coders = Vec::with_capacity(scan.components.len());
    for sc in &scan.components {
        let dc = tables.huffman[0][sc.td].as_ref();
        let ac = tables.huffman[1][sc.ta].as_ref();
        match (dc, ac) {
            (Some(dc), Some(ac)) => coders.push((sc.index, dc, ac)),
            _ => {
                return Err(bad(format!(
                    "scan uses Huffman tables DC {} / AC {} that are not defined",
                    sc.td, sc.ta
                )))
            }
        }
    }
    // blocks of one MCU: (scan component, x offset, y offset) in MCU units
    let interleaved = scan.components.len() > 1;
    let (mcus_x, mcus_y) = if interleaved {
        frame.mcus()
    } else {
        frame.component_blocks(scan.components[0].index)
    };
    let mut layout = Vec::new();
    for (s, sc) in scan.components.iter().enumerate() {
        let k = &frame.components[sc.index];
        let (h, v) = if interleaved { (k.h, k.v) } else { (1, 1) };
        for y in 0..v {
            for x in 0..h {
                layout.push((s, x, y, h, v));
            }
        }
    }
    // DC categories up to P + 3 bits, AC up to P + 2 (T.81 F.1.2.1.1, F.1.2.2.1; Tables F.1, F.2)
    let max_dc = u32::from(frame.precision) + 3;
    let max_ac = u32::from(frame.precision) + 2;
    let mut reader = BitReader::new(data, start);
    let mut pred = vec![0i32; scan.components.len()];
    let mut coefs = [0i32; 64];
    let total = mcus_x * mcus_y;
    let mut restarts = 0usize;
    for mcu in 0..total {
        if tables.restart_interval > 0 && mcu > 0 && mcu % tables.restart_interval == 0 {
            // T.81 F.2.2.5: the interval ends byte-aligned with RSTm, m counting modulo 8
            let expected = 0xD0 + (restarts % 8) as u8;
            match reader.next_marker() {
                Some(pos) if data[pos + 1] == expected => reader.restart_at(pos),
                Some(pos) => {
                    return Err(bad(format!(
                        "marker FF{:02X} at byte {pos} where RST{} was due (MCU {mcu})",
                        data[pos + 1],
                        restarts % 8
                    )))
                }
                None => {
                    return Err(bad(format!(
                        "entropy-coded data ends before MCU {mcu} of {total}"
                    )))
                }
            }
            restarts += 1;
            pred.fill(0);
        }
        let (mx, my) = (mcu % mcus_x, mcu / mcus_x);
        for &(s, x, y, h, v) in &layout {
            let (index, dc, ac) = coders[s];
            coefs.fill(0);
            // DC: the difference to the previous block's DC of this component (F.2.2.1)
            let t = u32::from(dc.decode(&mut reader)?);
            if t > max_dc {
                return Err(bad(format!(
                    "DC difference category {t} with {}-bit samples",
                    frame.precision
                )));
            }
            pred[s] = pred[s].wrapping_add(reader.receive_extend(t));
            coefs[0] = pred[s];
            // AC: run of zeros and size of the next coefficient, EOB or ZRL (F.2.2.2)
            let mut k = 1;
            while k < 64 {
                let rs = ac.decode(&mut reader)?;
                let (r, size) = (usize::from(rs >> 4), u32::from(rs & 15));
                if size == 0 {
                    if r == 15 {
                        k += 16;
                        continue;
                    }
                    break; // end of block
                }
                k += r;
                if k > 63 || size > max_ac {
                    return Err(bad(format!(
                        "AC code run {r} size {size} past the end of the block"
                    )));
                }
                coefs[ZIGZAG[k]] = reader.receive_extend(size);
                k += 1;
            }
            sink.block(index, mx * h + x, my * v + y, &coefs)?;
        }
        if reader.overrun() {
            return Err(bad(format!(
                "entropy-coded data cut short in MCU {mcu} of {total}"
            )));
        }
    }
    Ok(reader.next_marker().unwrap_or(data.len()))
}
