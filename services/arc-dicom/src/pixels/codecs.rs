//! Decoders arcstream drives itself rather than through dicom-pixeldata: RLE Lossless
//! for every Bits Allocated (PS3.5 Annex G; dicom-rs stops at 16), and the JPEG family
//! (`jpeg-decoder`, and `super::jpeg` for 12-bit DCT) with the colour transform chosen
//! from the stream's markers, else from the Photometric Interpretation.

use super::ImageInfo;
use crate::error::DicomError;

/// One RLE frame (PS3.5 G.3-G.5) to native little-endian bytes, Planar Configuration 0.
pub(crate) fn decode_rle(frame: &[u8], info: &ImageInfo) -> Result<Vec<u8>, DicomError> {
    let bad = |why: String| DicomError::Decode(format!("RLE: {why}"));
    let pixels = info.rows as usize * info.columns as usize;
    let spp = info.samples_per_pixel as usize;
    let bytes_per_sample = (info.bits_allocated as usize).div_ceil(8);
    let segments_expected = spp * bytes_per_sample;
    if frame.len() < 64 {
        return Err(bad("frame shorter than the 64-byte header".into()));
    }
    let word = |i: usize| {
        u32::from_le_bytes([
            frame[i * 4],
            frame[i * 4 + 1],
            frame[i * 4 + 2],
            frame[i * 4 + 3],
        ]) as usize
    };
    let count = word(0);
    if count != segments_expected || count > 15 {
        return Err(bad(format!(
            "{count} segments, {segments_expected} expected"
        )));
    }
    let mut out = vec![0u8; pixels * spp * bytes_per_sample];
    for seg in 0..count {
        let start = word(seg + 1);
        let end = if seg + 1 < count {
            word(seg + 2)
        } else {
            frame.len()
        };
        if start < 64 || start > end || end > frame.len() {
            return Err(bad(format!(
                "segment {seg} offsets {start}..{end} out of range"
            )));
        }
        let plane = unpack_bits(&frame[start..end], pixels);
        if plane.len() < pixels {
            return Err(bad(format!(
                "segment {seg} decodes to {} of {pixels} bytes",
                plane.len()
            )));
        }
        // segments run sample by sample, most significant byte first (PS3.5 G.2)
        let (sample, byte) = (
            seg / bytes_per_sample,
            bytes_per_sample - 1 - seg % bytes_per_sample,
        );
        for (p, &v) in plane.iter().take(pixels).enumerate() {
            out[(p * spp + sample) * bytes_per_sample + byte] = v;
        }
    }
    Ok(out)
}

/// PackBits (PS3.5 G.3.1), stopping once `limit` bytes are out.
fn unpack_bits(data: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit);
    let mut i = 0;
    while i < data.len() && out.len() < limit {
        let n = data[i] as i8;
        i += 1;
        if n >= 0 {
            let len = n as usize + 1;
            let end = (i + len).min(data.len());
            out.extend_from_slice(&data[i..end]);
            i = end;
        } else if n != -128 {
            if let Some(&v) = data.get(i) {
                out.extend(std::iter::repeat_n(v, (1 - n as isize) as usize));
            }
            i += 1;
        }
    }
    out
}

/// Whether a JPEG stream declares a colour transform before its first scan: JFIF (APP0)
/// means YCbCr, a complete Adobe (APP14) segment says so in its transform byte;
/// `None` when neither is there (a truncated Adobe segment says nothing).
fn declared_transform(frame: &[u8]) -> Option<bool> {
    let mut i = 2; // after SOI
    while i + 4 <= frame.len() && frame[i] == 0xFF {
        let marker = frame[i + 1];
        if marker == 0xDA {
            break; // start of scan
        }
        let len = u16::from_be_bytes([frame[i + 2], frame[i + 3]]) as usize;
        let body = &frame[(i + 4).min(frame.len())..(i + 2 + len).min(frame.len())];
        if marker == 0xE0 && body.starts_with(b"JFIF") {
            return Some(true);
        }
        if marker == 0xEE && body.starts_with(b"Adobe") && body.len() >= 12 {
            return Some(body[11] != 0);
        }
        i += 2 + len;
    }
    None
}

/// One JPEG frame to native bytes: 8-bit samples as they are, up to 16-bit ones little
/// endian. 12-bit DCT frames (process 4) go to the decoder of `super::jpeg`, everything
/// else (baseline, extended 8-bit, progressive, lossless) to `jpeg-decoder`. The colour
/// transform is the stream's (JFIF, Adobe); without one, `RGB` objects are taken as coded,
/// as pydicom does.
pub(crate) fn decode_jpeg(frame: &[u8], info: &ImageInfo) -> Result<Vec<u8>, DicomError> {
    let colour = info.samples_per_pixel == 3;
    let rgb = info.photometric == "RGB";
    if matches!(super::jpeg::frame_type(frame), Some((marker, 12)) if marker != 0xC3) {
        return decode_dct(frame, info, colour, rgb);
    }
    let mut decoder = jpeg_decoder::Decoder::new(frame);
    if colour && !declared_transform(frame).unwrap_or(!rgb) {
        // `RGB` interleaves the components as coded (`None` would leave them planar)
        decoder.set_color_transform(jpeg_decoder::ColorTransform::RGB);
    }
    let data = decoder
        .decode()
        .map_err(|e| DicomError::Decode(format!("JPEG: {e}")))?;
    // jpeg-decoder gives 16-bit samples in native byte order; make them little endian
    let is16 = decoder
        .info()
        .is_some_and(|i| i.pixel_format == jpeg_decoder::PixelFormat::L16);
    if is16 && cfg!(target_endian = "big") {
        return Ok(data.chunks_exact(2).flat_map(|c| [c[1], c[0]]).collect());
    }
    Ok(data)
}

/// A sequential DCT frame through arcstream's own decoder, to Bits Allocated wide samples.
fn decode_dct(
    frame: &[u8],
    info: &ImageInfo,
    colour: bool,
    rgb: bool,
) -> Result<Vec<u8>, DicomError> {
    let expect = (
        usize::from(info.columns),
        usize::from(info.rows),
        usize::from(info.samples_per_pixel),
    );
    let decoded = super::jpeg::decode(frame, Some(expect))?;
    let samples = decoded.samples(colour && decoded.declared_transform().unwrap_or(!rgb));
    let precision = decoded.geometry().3;
    match info.bits_allocated {
        8 if precision <= 8 => Ok(samples.iter().map(|&v| v as u8).collect()),
        16 => Ok(samples.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ba => Err(DicomError::Decode(format!(
            "JPEG: {precision}-bit samples with Bits Allocated {ba}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_literals_runs_and_noop() {
        // 2 literals, a run of 3, a no-op, 1 literal
        let data = [1, 10, 20, (-2i8) as u8, 7, 0x80, 0, 99];
        assert_eq!(unpack_bits(&data, 100), vec![10, 20, 7, 7, 7, 99]);
        assert_eq!(unpack_bits(&data, 3), vec![10, 20, 7, 7, 7]);
        // truncated input ends without panicking
        assert_eq!(unpack_bits(&[5, 1], 10), vec![1]);
        assert_eq!(unpack_bits(&[(-3i8) as u8], 10), Vec::<u8>::new());
    }
}
