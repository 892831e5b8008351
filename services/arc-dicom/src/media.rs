//! What a bulk data part of a metadata-and-bulk-data STOW says about itself: the frame
//! header of a JPEG (ISO 10918-1 B.2.2), the pixels of a PNG (decoded: DICOM has no PNG
//! transfer syntax), the track of an MP4 (ISO 14496-12 boxes, ISO 14496-15 avcC).

use crate::error::DicomError;

/// The image module of a compressed or decoded picture (PS3.3 C.7.6.3).
#[derive(Debug, Clone, PartialEq)]
pub struct PixelModule {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub columns: u16,
    /// Samples per Pixel.
    pub samples: u16,
    /// Bits Stored (Bits Allocated is 8 or 16 from it).
    pub bits: u16,
    /// Photometric Interpretation.
    pub photometric: &'static str,
    /// Number of Frames (video), if more than one.
    pub frames: Option<u32>,
    /// Frame Time in ms (video).
    pub frame_time: Option<f64>,
}

fn bad(why: impl Into<String>) -> DicomError {
    DicomError::Unsupported(why.into())
}

/// The transfer syntax and image module of a JPEG stream, from its SOF marker.
pub fn jpeg_info(data: &[u8]) -> Result<(&'static str, PixelModule), DicomError> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(bad("not a JPEG stream (no SOI marker)"));
    }
    let mut i = 2;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return Err(bad("malformed JPEG marker segment"));
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        let ts = match marker {
            0xC0 => Some(crate::ts::JPEG_BASELINE),
            0xC1 => Some(crate::ts::JPEG_EXTENDED),
            0xC3 => Some(crate::ts::JPEG_LOSSLESS),
            0xC2 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return Err(bad(
                "progressive, hierarchical and arithmetic-coded JPEG have no DICOM transfer syntax",
            )),
            _ => None,
        };
        if let Some(ts) = ts {
            let s = data
                .get(i + 4..i + 10)
                .ok_or_else(|| bad("truncated JPEG frame header"))?;
            let bits = u16::from(s[0]);
            let rows = u16::from_be_bytes([s[1], s[2]]);
            let columns = u16::from_be_bytes([s[3], s[4]]);
            let samples = u16::from(s[5]);
            if rows == 0 || columns == 0 || !(samples == 1 || samples == 3) {
                return Err(bad(
                    "JPEG frame header without size, or not 1 or 3 components",
                ));
            }
            // PS3.5 8.2.1: baseline colour JPEG (JFIF) carries YCbCr, subsampled as a rule
            let photometric = if samples == 1 {
                "MONOCHROME2"
            } else if ts == crate::ts::JPEG_LOSSLESS {
                "RGB"
            } else {
                "YBR_FULL_422"
            };
            return Ok((
                ts,
                PixelModule {
                    rows,
                    columns,
                    samples,
                    bits,
                    photometric,
                    frames: None,
                    frame_time: None,
                },
            ));
        }
        i += 2 + len;
    }
    Err(bad("JPEG stream without a frame header"))
}

/// A PNG decoded to native pixel data (8 or 16 bits; palette expanded, alpha dropped),
/// little endian for 16 bits.
pub fn png_decode(data: &[u8]) -> Result<(PixelModule, Vec<u8>), DicomError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(data));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder
        .read_info()
        .map_err(|e| bad(format!("unreadable PNG: {e}")))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("PNG too large"))?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(format!("unreadable PNG: {e}")))?;
    buf.truncate(info.buffer_size());
    let (channels, keep) = match info.color_type {
        png::ColorType::Grayscale => (1, 1),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => return Err(bad("indexed PNG was not expanded")),
    };
    let depth = if info.bit_depth == png::BitDepth::Sixteen {
        2
    } else {
        1
    };
    let (rows, columns) = (u16::try_from(info.height), u16::try_from(info.width));
    let (Ok(rows), Ok(columns)) = (rows, columns) else {
        return Err(bad("PNG larger than 65535 pixels a side"));
    };
    let mut out = Vec::with_capacity(rows as usize * columns as usize * keep * depth);
    for px in buf.chunks_exact(channels * depth) {
        for s in px[..keep * depth].chunks_exact(depth) {
            if depth == 2 {
                out.extend_from_slice(&[s[1], s[0]]); // PNG is big endian
            } else {
                out.push(s[0]);
            }
        }
    }
    let photometric = if keep == 1 { "MONOCHROME2" } else { "RGB" };
    let bits = if depth == 2 { 16 } else { 8 };
    Ok((
        PixelModule {
            rows,
            columns,
            samples: keep as u16,
            bits,
            photometric,
            frames: None,
            frame_time: None,
        },
        out,
    ))
}

/// Boxes of an ISO base media file: `(type, content)` in order.
fn boxes(data: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 8 <= data.len() {
        let mut size = u32::from_be_bytes(data[i..i + 4].try_into().expect("4 bytes")) as u64;
        let kind: [u8; 4] = data[i + 4..i + 8].try_into().expect("4 bytes");
        let mut head = 8;
        if size == 1 && i + 16 <= data.len() {
            size = u64::from_be_bytes(data[i + 8..i + 16].try_into().expect("8 bytes"));
            head = 16;
        } else if size == 0 {
            size = (data.len() - i) as u64;
        }
        let end = i.saturating_add(size as usize).min(data.len());
        if (size as usize) < head || end < i + head {
            break;
        }
        out.push((kind, &data[i + head..end]));
        i = end;
    }
    out
}

fn child<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let (first, rest) = path.split_first()?;
    let (_, content) = boxes(data).into_iter().find(|(k, _)| k == *first)?;
    if rest.is_empty() {
        Some(content)
    } else {
        child(content, rest)
    }
}

/// The transfer syntax and image module of an MP4 file's video track (PS3.5 A.4.5–A.4.7):
/// H.264 High Profile up to level 4.1 → 1.2.840.10008.1.2.4.102, up to 4.2 → .104 (2D);
/// HEVC Main → .107, Main 10 → .108.
pub fn mp4_info(data: &[u8]) -> Result<(&'static str, PixelModule), DicomError> {
    if child(data, &[b"ftyp"]).is_none() {
        return Err(bad("not an MP4 file (no ftyp box)"));
    }
    let moov = child(data, &[b"moov"]).ok_or_else(|| bad("MP4 without a moov box"))?;
    for (kind, trak) in boxes(moov) {
        if &kind != b"trak" {
            continue;
        }
        let Some(stbl) = child(trak, &[b"mdia", b"minf", b"stbl"]) else {
            continue;
        };
        let Some(stsd) = child(stbl, &[b"stsd"]) else {
            continue;
        };
        let Some(entries) = stsd.get(8..) else {
            continue;
        };
        let Some((entry_kind, entry)) = boxes(entries).into_iter().next() else {
            continue;
        };
        // VisualSampleEntry: 6 reserved + 2 index + 16 predefined, then width, height
        let (Some(w), Some(h)) = (entry.get(24..26), entry.get(26..28)) else {
            continue;
        };
        let (columns, rows) = (
            u16::from_be_bytes([w[0], w[1]]),
            u16::from_be_bytes([h[0], h[1]]),
        );
        let ts = match &entry_kind {
            b"avc1" | b"avc3" => {
                let avcc = entry
                    .get(78..)
                    .and_then(|b| child(b, &[b"avcC"]))
                    .ok_or_else(|| bad("H.264 track without avcC"))?;
                let (profile, level) = (
                    avcc.get(1).copied().unwrap_or(0),
                    avcc.get(3).copied().unwrap_or(0),
                );
                match (profile, level) {
                    (p, l) if p <= 100 && l <= 41 => "1.2.840.10008.1.2.4.102",
                    (p, l) if p <= 100 && l <= 42 => "1.2.840.10008.1.2.4.104",
                    (p, l) => {
                        return Err(bad(format!(
                            "H.264 profile {p} level {l} has no DICOM transfer syntax"
                        )))
                    }
                }
            }
            b"hvc1" | b"hev1" => {
                let hvcc = entry
                    .get(78..)
                    .and_then(|b| child(b, &[b"hvcC"]))
                    .ok_or_else(|| bad("HEVC track without hvcC"))?;
                match hvcc.get(1).map(|b| b & 0x1F) {
                    Some(2) => "1.2.840.10008.1.2.4.108",
                    _ => "1.2.840.10008.1.2.4.107",
                }
            }
            other => {
                return Err(bad(format!(
                    "MP4 video codec {} has no DICOM transfer syntax",
                    String::from_utf8_lossy(other)
                )))
            }
        };
        let frames = child(stbl, &[b"stsz"])
            .and_then(|b| b.get(8..12))
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")));
        let frame_time = child(trak, &[b"mdia", b"mdhd"]).and_then(|m| {
            let (timescale, duration) = if m.first() == Some(&1) {
                (
                    u32::from_be_bytes(m.get(20..24)?.try_into().ok()?) as f64,
                    u64::from_be_bytes(m.get(24..32)?.try_into().ok()?) as f64,
                )
            } else {
                (
                    u32::from_be_bytes(m.get(12..16)?.try_into().ok()?) as f64,
                    u32::from_be_bytes(m.get(16..20)?.try_into().ok()?) as f64,
                )
            };
            let n = frames? as f64;
            (timescale > 0.0 && n > 0.0).then(|| duration / timescale * 1000.0 / n)
        });
        let module = PixelModule {
            rows,
            columns,
            samples: 3,
            bits: 8,
            photometric: "YBR_PARTIAL_420",
            frames,
            frame_time,
        };
        return Ok((ts, module));
    }
    Err(bad("MP4 without a video track"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_frame_headers() {
        // SOI, APP0 (2 bytes of payload), SOF0 8 bit 16x32 3 components
        let mut j = vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0, 0, 0xFF, 0xC0, 0x00, 0x11, 8, 0, 16, 0, 32, 3,
        ];
        j.extend_from_slice(&[0; 9]);
        let (ts, m) = jpeg_info(&j).unwrap();
        assert_eq!(ts, crate::ts::JPEG_BASELINE);
        assert_eq!(
            (m.rows, m.columns, m.samples, m.bits, m.photometric),
            (16, 32, 3, 8, "YBR_FULL_422")
        );
        j[9] = 0xC2;
        assert!(jpeg_info(&j).is_err(), "progressive");
        assert!(jpeg_info(b"\x89PNG").is_err());
        assert!(jpeg_info(&[0xFF, 0xD8, 0xFF]).is_err());
    }

    #[test]
    fn mp4_garbage_is_an_error_not_a_panic() {
        for data in [
            &b""[..],
            b"\0\0\0\x08ftyp",
            b"\0\0\0\x08ftyp\0\0\0\x10moov\0\0\0\x08trak",
            b"\xff\xff\xff\xffftypxxxx",
        ] {
            assert!(mp4_info(data).is_err());
        }
    }
}
