//! Decoding every compressed fixture, checked against what pydicom decodes from the same
//! files (`tests/fixtures/pixels/expected.json`, written by `make_expected.py` there):
//! lossless syntaxes must match bit for bit, lossy ones block by block within a rounding
//! tolerance (decoders may round the inverse DCT/wavelet differently).

use arc_dicom::pixels::{self, ImageFormat, RenderParams};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn expected() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(root().join("pixels/expected.json")).expect("expected.json");
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

/// Samples as pydicom gives them: Bits Stored applied, sign-extended, LE, Bits Allocated wide.
fn canonical(frame: &[u8], ba: usize, bs: u32, signed: bool) -> Vec<u8> {
    let size = ba / 8;
    let mask = if bs >= 64 { u64::MAX } else { (1u64 << bs) - 1 };
    frame
        .chunks_exact(size)
        .flat_map(|c| {
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(c);
            let mut v = u64::from_le_bytes(b) & mask;
            if signed && v >> (bs - 1) & 1 == 1 {
                v |= !mask;
            }
            v.to_le_bytes()[..size].to_vec()
        })
        .collect()
}

fn blocks(frame: &[u8], rows: usize, cols: usize, spp: usize, ba: usize, signed: bool) -> Vec<f64> {
    let size = ba / 8;
    let value = |i: usize| -> f64 {
        let mut b = [0u8; 8];
        b[..size].copy_from_slice(&frame[i * size..(i + 1) * size]);
        let v = u64::from_le_bytes(b);
        if signed {
            let shift = 64 - ba;
            (((v << shift) as i64) >> shift) as f64
        } else {
            v as f64
        }
    };
    let (bh, bw) = (rows.div_ceil(8), cols.div_ceil(8));
    let mut out = Vec::new();
    for by in (0..rows).step_by(bh) {
        for bx in (0..cols).step_by(bw) {
            for s in 0..spp {
                let (mut sum, mut n) = (0.0, 0.0);
                for y in by..(by + bh).min(rows) {
                    for x in bx..(bx + bw).min(cols) {
                        sum += value((y * cols + x) * spp + s);
                        n += 1.0;
                    }
                }
                out.push(sum / n);
            }
        }
    }
    out
}

/// How far a lossy fixture's 8 x 8 block means may be from pydicom's: 1% of the sample
/// range, but 12-bit JPEG (process 4), decoded by arcstream's own decoder within ±1 of
/// libjpeg per sample (errors that average out), must be within half a level in grayscale
/// and 1.5 levels in colour (chroma upsampling and the YCbCr conversion round differently).
fn tolerance(ts: &str, bits_stored: u32, samples: usize) -> f64 {
    match (ts, bits_stored > 8, samples) {
        (arc_dicom::ts::JPEG_EXTENDED, true, 1) => 0.5,
        (arc_dicom::ts::JPEG_EXTENDED, true, _) => 1.5,
        _ => 2.0f64.powi(bits_stored as i32) / 100.0,
    }
}

#[test]
fn every_compressed_fixture_decodes_like_pydicom() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, exp) in expected() {
        let bytes = std::fs::read(root().join(&name)).unwrap();
        if let Some(reason) = exp.get("error") {
            // pydicom cannot decode it either: we must fail cleanly or decode, never panic
            let r = pixels::frames(&bytes, &[1], true);
            eprintln!(
                "{name}: pydicom fails ({reason}); arcstream: {}",
                r.as_ref()
                    .map(|_| "decodes".to_string())
                    .unwrap_or_else(|e| e.to_string())
            );
            continue;
        }
        let n = exp["frames"].as_u64().unwrap() as u32;
        let numbers: Vec<u32> = (1..=n).collect();
        let data = match pixels::frames(&bytes, &numbers, true) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let (rows, cols, spp) = (
            exp["rows"].as_u64().unwrap() as usize,
            exp["columns"].as_u64().unwrap() as usize,
            exp["samples"].as_u64().unwrap() as usize,
        );
        let ba = exp["bits_allocated"].as_u64().unwrap() as usize;
        let bs = exp["bits_stored"].as_u64().unwrap() as u32;
        let signed = exp["signed"].as_bool().unwrap();
        let lossy = exp["lossy"].as_bool().unwrap();
        assert!(!data.compressed);
        for (i, frame) in data.frames.iter().enumerate() {
            let canon = canonical(frame, ba, bs, signed);
            let sha = hex::encode(Sha256::digest(&canon));
            if sha == exp["frame_sha256"][i].as_str().unwrap() {
                continue;
            }
            let want: Vec<f64> = exp["frame_blocks"][i]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let got = blocks(&canon, rows, cols, spp, ba, signed);
            let worst = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let tolerance = tolerance(exp["transfer_syntax"].as_str().unwrap(), bs, spp);
            if !lossy || worst > tolerance || want.len() != got.len() {
                failures.push(format!("{name} frame {}: {} (lossy {lossy}), block means differ by up to {worst:.2} (tolerance {tolerance:.2})", i + 1, if lossy { "differs" } else { "not bit-exact" }));
            }
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 46, "only {checked} fixtures checked");
}

/// pydicom's JPEG-lossy.dcm is JPGExtended.dcm ("fixed version", its README says) with
/// Se = 0 in the scan header, which pylibjpeg refuses; IJG libjpeg (dcmtk, GDCM) reads
/// such a scan as sequential and so does arcstream: its pixels are JPGExtended's.
#[test]
fn jpeg_lossy_decodes_as_its_fixed_version() {
    let exp = expected();
    assert!(
        exp["pydicom/JPEG-lossy.dcm"].get("error").is_some(),
        "pydicom now decodes JPEG-lossy.dcm"
    );
    let fixed = &exp["pydicom/JPGExtended.dcm"];
    let bytes = std::fs::read(root().join("pydicom/JPEG-lossy.dcm")).unwrap();
    let data = pixels::frames(&bytes, &[1], true).unwrap();
    let got = blocks(&data.frames[0], 1024, 256, 1, 16, false);
    let want: Vec<f64> = fixed["frame_blocks"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let worst = want
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1.0, "block means differ by {worst}");
}

#[test]
fn transcoded_objects_are_native_and_complete() {
    for name in [
        "pydicom/JPGExtended.dcm",
        "pixels/SC_rgb_jpeg_ext12_422.dcm",
        "pixels/emri_small_jpeg_ext12.dcm",
        "pydicom/SC_rgb_jpeg_dcmtk.dcm",
        "pydicom/MR_small_jp2klossless.dcm",
        "pixels/emri_small_jpeg_ls_lossless.dcm",
        "pydicom/SC_rgb_rle_2frame.dcm",
        "pydicom/SC_rgb_jpeg_gdcm.dcm",
        "pydicom/rtdose_rle.dcm",
    ] {
        let bytes = std::fs::read(root().join(name)).unwrap();
        let out = pixels::transcode(&bytes, arc_dicom::ts::EXPLICIT_VR_LE)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let parsed = arc_dicom::parse_instance(&out).unwrap();
        assert_eq!(parsed.transfer_syntax, arc_dicom::ts::EXPLICIT_VR_LE);
        let before = arc_dicom::parse_instance(&bytes).unwrap();
        assert_eq!(parsed.sop_instance_uid, before.sop_instance_uid);
        let info = pixels::image_info(&out).unwrap().unwrap();
        let orig = pixels::image_info(&bytes).unwrap().unwrap();
        assert_eq!(
            (info.rows, info.columns, info.frames),
            (orig.rows, orig.columns, orig.frames)
        );
        assert!(!info.encapsulated());
        // the native frames equal the decoded ones
        let all: Vec<u32> = (1..=info.frames).collect();
        assert_eq!(
            pixels::frames(&out, &all, false).unwrap().frames,
            pixels::frames(&bytes, &all, true).unwrap().frames,
            "{name}"
        );
        let json = arc_dicom::header_json(&out).unwrap();
        if name.contains("jpeg_dcmtk") || name.contains("JPGExtended") {
            // PS3.3 C.7.6.1.1.5: once lossy, always lossy
            assert_eq!(json["00282110"]["Value"][0], "01", "{name}");
        }
        if info.samples_per_pixel == 3 {
            assert_eq!(json["00280006"]["Value"][0], 0);
        }
    }
}

#[test]
fn transcode_refuses_compressed_targets_and_bad_input() {
    let bytes = std::fs::read(root().join("pydicom/MR_small.dcm")).unwrap();
    assert!(pixels::transcode(&bytes, arc_dicom::ts::JPEG_BASELINE).is_err());
    let short =
        std::fs::read(root().join("pixels/emri_small_jpeg_2k_lossless_too_short.dcm")).unwrap();
    // must be an error or a result, never a panic
    let _ = pixels::transcode(&short, arc_dicom::ts::EXPLICIT_VR_LE);
    let sr = std::fs::read(root().join("pydicom/rtplan.dcm")).unwrap();
    assert!(matches!(
        pixels::frames(&sr, &[1], true),
        Err(arc_dicom::DicomError::NotAnImage(_))
    ));
    let mr = std::fs::read(root().join("pydicom/MR_small.dcm")).unwrap();
    assert!(matches!(
        pixels::frames(&mr, &[2], true),
        Err(arc_dicom::DicomError::NoSuchFrame {
            frame: 2,
            frames: 1
        })
    ));
    assert!(matches!(
        pixels::frames(&mr, &[0], true),
        Err(arc_dicom::DicomError::NoSuchFrame { .. })
    ));
}

#[test]
fn every_image_fixture_renders_in_every_format() {
    let mut failures = Vec::new();
    for dir in ["pydicom", "pixels"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "dcm") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let Ok(Some(info)) = pixels::image_info(&bytes) else {
                continue;
            };
            for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif] {
                let mut params = RenderParams::new(format);
                params.viewport = Some(pixels::Viewport {
                    width: Some(64),
                    height: Some(64),
                    source: None,
                });
                match pixels::render(&bytes, info.frames, &params) {
                    Ok(out) => assert!(out.len() > 20),
                    Err(e) => failures.push(format!("{}: {format:?}: {e}", path.display())),
                }
            }
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    // the few that cannot render must be the known-broken or unsupported ones
    assert!(
        failures
            .iter()
            .all(|f| ["JPEG2000-embedded", "badVR", "MR_truncated"]
                .iter()
                .any(|k| f.contains(k))),
        "{failures:#?}"
    );
}
