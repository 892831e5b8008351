//! Tests of the whole decoder: real streams of the fixtures rewritten with restart
//! intervals, non-interleaved scans and 16-bit tables must decode to the same samples;
//! made-up blocks must decode as the IDCT formula says; malformed streams are errors.

use super::markers::{Component, Frame};
use super::test_encoder::{encode, Coefs, Layout};
use super::{decode, walk};
use crate::error::DicomError;

/// Frame 1 of a fixture's encapsulated Pixel Data.
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (_, obj) = crate::read::open(&bytes).unwrap();
    crate::pixels::frames::encapsulated_frame(&obj, 1, 0).unwrap()
}

fn coefficients(stream: &[u8]) -> Coefs {
    let mut c = Coefs::new();
    walk(stream, None, &mut c).unwrap();
    c
}

fn samples(stream: &[u8]) -> Vec<u16> {
    decode(stream, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .samples(false)
}

fn layout(sof: u8, scans: Vec<Vec<usize>>, restart: usize) -> Layout {
    Layout {
        sof,
        scans,
        restart,
        dqt16: false,
    }
}

fn markers(stream: &[u8], marker: u8) -> usize {
    stream
        .windows(2)
        .filter(|w| w[0] == 0xFF && w[1] == marker)
        .count()
}

#[test]
fn twelve_bit_stream_with_restart_intervals() {
    let original = fixture("pydicom/JPGExtended.dcm");
    let want = samples(&original);
    assert_eq!(want.len(), 256 * 1024);
    let c = coefficients(&original);
    let blocks = 32 * 128;
    for restart in [0, 1, 7, 8, 9, 100, blocks - 1, blocks, blocks + 5] {
        let stream = encode(&c, &layout(0xC1, vec![vec![0]], restart));
        let rst: usize = (0xD0..=0xD7).map(|m| markers(&stream, m)).sum();
        let want_rst = (blocks - 1).checked_div(restart).unwrap_or(0);
        assert_eq!(rst, want_rst, "restart {restart}");
        assert_eq!(samples(&stream), want, "restart interval {restart}");
    }
    // 16-bit quantization tables (DQT Pq = 1)
    let mut l = layout(0xC1, vec![vec![0]], 3);
    l.dqt16 = true;
    assert_eq!(samples(&encode(&c, &l)), want);
}

#[test]
fn colour_streams_interleaved_or_not() {
    // 8-bit 4:2:0 (dcmtk), 12-bit 4:2:2 and 4:4:4 (dcmtk, IJG 12-bit)
    for name in [
        "pydicom/SC_rgb_dcmtk_+eb+cy+n1.dcm",
        "pixels/SC_rgb_jpeg_ext12_422.dcm",
        "pixels/SC_rgb_jpeg_ext12_444.dcm",
    ] {
        let original = fixture(name);
        let want = samples(&original);
        let c = coefficients(&original);
        for l in [
            layout(0xC1, vec![vec![0, 1, 2]], 0),
            layout(0xC1, vec![vec![0, 1, 2]], 1),
            layout(0xC1, vec![vec![0, 1, 2]], 5),
            layout(0xC1, vec![vec![0], vec![1], vec![2]], 0),
            layout(0xC1, vec![vec![2], vec![0, 1]], 3),
            layout(0xC1, vec![vec![0], vec![1, 2]], 4),
        ] {
            let stream = encode(&c, &l);
            assert_eq!(
                samples(&stream),
                want,
                "{name}: scans {:?} restart {}",
                l.scans,
                l.restart
            );
        }
    }
}

/// A deterministic pseudo-random sequence (xorshift).
fn rng(seed: &mut u64) -> i32 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed % 1_000_003) as i32
}

/// Made-up blocks of an odd-sized frame: the decoded samples are what T.81 A.3.3 gives
/// for them, computed here in f64, level-shifted and clamped.
#[test]
fn made_up_blocks_decode_as_the_formula_says() {
    for precision in [8u8, 12] {
        let frame = Frame {
            precision,
            height: 13,
            width: 21,
            components: vec![Component {
                id: 1,
                h: 1,
                v: 1,
                tq: 0,
            }],
            hmax: 1,
            vmax: 1,
        };
        let mut seed = 0x2545_F491_4F6C_DD1D;
        let quant: [u16; 64] = std::array::from_fn(|i| (1 + i / 4) as u16);
        let range = if precision == 8 { 200 } else { 3000 };
        let blocks: Vec<[i32; 64]> = (0..6)
            .map(|_| {
                std::array::from_fn(|i| match i {
                    0 => rng(&mut seed) % (2 * range) - range,
                    _ if i < 20 => rng(&mut seed) % (range / 4) - range / 8,
                    _ => 0,
                })
            })
            .collect();
        let c = Coefs {
            frame: Some(frame),
            quant: vec![quant],
            blocks: vec![blocks.clone()],
        };
        let stream = encode(
            &c,
            &layout(if precision == 8 { 0xC0 } else { 0xC1 }, vec![vec![0]], 2),
        );
        let got = samples(&stream);
        assert_eq!(got.len(), 21 * 13);
        let (mut worst, mut exact) = (0i64, 0);
        for y in 0..13 {
            for x in 0..21 {
                let b = &blocks[(y / 8) * 3 + x / 8];
                let (u0, v0) = (x % 8, y % 8);
                let mut s = 0f64;
                for v in 0..8 {
                    for u in 0..8 {
                        let cu = if u == 0 {
                            std::f64::consts::FRAC_1_SQRT_2
                        } else {
                            1.0
                        };
                        let cv = if v == 0 {
                            std::f64::consts::FRAC_1_SQRT_2
                        } else {
                            1.0
                        };
                        let f = f64::from(b[v * 8 + u]) * f64::from(quant[v * 8 + u]);
                        s += cu
                            * cv
                            * f
                            * (((2 * u0 + 1) * u) as f64 * std::f64::consts::PI / 16.0).cos()
                            * (((2 * v0 + 1) * v) as f64 * std::f64::consts::PI / 16.0).cos();
                    }
                }
                let max = f64::from((1u32 << precision) - 1);
                let want = (s / 4.0 + f64::from(1u32 << (precision - 1)))
                    .round()
                    .clamp(0.0, max) as i64;
                let d = (i64::from(got[y * 21 + x]) - want).abs();
                worst = worst.max(d);
                exact += usize::from(d == 0);
            }
        }
        assert!(
            worst <= 1 && exact * 100 >= 21 * 13 * 99,
            "{precision}-bit: worst {worst}, exact {exact}"
        );
    }
}

fn error_of(stream: &[u8]) -> String {
    match decode(stream, None) {
        Ok(_) => panic!("decoded a bad stream"),
        Err(e) => e.to_string(),
    }
}

/// Position of the first `FF marker` in a stream.
fn find(stream: &[u8], marker: u8) -> usize {
    stream.windows(2).position(|w| w == [0xFF, marker]).unwrap()
}

#[test]
fn cut_short_anywhere_is_an_error() {
    let stream = encode(
        &coefficients(&fixture("pixels/SC_rgb_jpeg_ext12_422.dcm")),
        &layout(0xC1, vec![vec![0, 1, 2]], 4),
    );
    let eoi = stream.len() - 2;
    for cut in 0..eoi {
        assert!(
            decode(&stream[..cut], None).is_err(),
            "cut at {cut} of {}",
            stream.len()
        );
    }
    // without its EOI the data is complete
    assert!(decode(&stream[..eoi], None).is_ok());
}

#[test]
fn corrupt_bytes_never_panic() {
    let streams = [
        fixture("pixels/emri_small_jpeg_ext12.dcm"),
        fixture("pixels/SC_rgb_jpeg_ext12_420.dcm"),
    ];
    let mut seed = 0x1234_5678_9ABC_DEF0;
    for stream in &streams {
        // every byte of the headers, then every fifth of the entropy-coded data
        let sos = find(stream, 0xDA);
        for i in (0..stream.len()).filter(|&i| i < sos + 16 || i % 5 == 0) {
            let mut s = stream.clone();
            s[i] ^= 1 << (rng(&mut seed) % 8);
            let _ = decode(&s, None);
            s[i] = if i % 2 == 0 { 0xFF } else { 0x00 };
            let _ = decode(&s, None);
        }
    }
}

#[test]
fn bad_tables_and_headers_are_errors() {
    let good = encode(
        &coefficients(&fixture("pixels/emri_small_jpeg_ext12.dcm")),
        &layout(0xC1, vec![vec![0]], 0),
    );
    assert!(decode(&good, None).is_ok());
    let patched = |marker: u8, offset: usize, value: u8| {
        let mut s = good.clone();
        let at = find(&s, marker) + offset;
        s[at] = value;
        s
    };
    // DHT class 2, destination 4; DQT precision 2, destination 4
    assert!(error_of(&patched(0xC4, 4, 0x20)).contains("Huffman table class 2"));
    assert!(error_of(&patched(0xC4, 4, 0x04)).contains("destination 4"));
    assert!(error_of(&patched(0xDB, 4, 0x20)).contains("precision 2"));
    assert!(error_of(&patched(0xDB, 4, 0x04)).contains("destination 4"));
    // the scan selects DC table 1, which was never defined; a component the frame lacks
    assert!(error_of(&patched(0xDA, 6, 0x10)).contains("not defined"));
    assert!(error_of(&patched(0xDA, 5, 9)).contains("lacks"));
    // frame header: quantization table 4, sampling 0, precision 16, 0 lines (DNL)
    assert!(error_of(&patched(0xC1, 12, 4)).contains("quantization table 4"));
    assert!(error_of(&patched(0xC1, 11, 0x01)).contains("sampling 0x1"));
    assert!(error_of(&patched(0xC1, 4, 16)).contains("precision 16"));
    let mut dnl = good.clone();
    let sof = find(&dnl, 0xC1);
    dnl[sof + 5..sof + 7].copy_from_slice(&[0, 0]);
    assert!(error_of(&dnl).contains("DNL"));
    // no SOI, nothing but SOI, a scan before any frame header
    assert!(error_of(&good[2..]).contains("SOI"));
    assert!(error_of(&[0xFF, 0xD8, 0xFF, 0xD9]).contains("no frame header"));
    let sos = find(&good, 0xDA);
    let mut early = vec![0xFF, 0xD8];
    early.extend_from_slice(&good[sos..]);
    assert!(error_of(&early).contains("before the frame header"));
    // a segment length that runs past the end
    assert!(error_of(&patched(0xC4, 2, 0x7F)).contains("past the end"));
}

#[test]
fn huge_frames_and_wrong_sizes_are_refused_before_allocating() {
    let good = encode(
        &coefficients(&fixture("pixels/emri_small_jpeg_ext12.dcm")),
        &layout(0xC1, vec![vec![0]], 0),
    );
    let sof = find(&good, 0xC1);
    let mut huge = good.clone();
    huge[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    assert!(error_of(&huge).contains("cannot be coded"));
    assert!(decode(&good, Some((64, 64, 1))).is_ok());
    let e = decode(&good, Some((64, 65, 1)))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("the object 64x65 with 1"), "{e}");
    assert!(decode(&good, Some((64, 64, 3))).is_err());
}

#[test]
fn other_processes_are_refused_by_name() {
    let good = encode(
        &coefficients(&fixture("pixels/emri_small_jpeg_ext12.dcm")),
        &layout(0xC1, vec![vec![0]], 0),
    );
    for (marker, what) in [
        (0xC2, "progressive"),
        (0xC3, "lossless"),
        (0xC9, "arithmetic"),
        (0xCA, "arithmetic"),
        (0xC5, "hierarchical"),
    ] {
        let mut s = good.clone();
        let sof = find(&s, 0xC1);
        s[sof + 1] = marker;
        let err = decode(&s, None).err().expect("refused");
        assert!(
            matches!(err, DicomError::Unsupported(_)) && err.to_string().contains(what),
            "{marker:02X}: {err}"
        );
    }
    // SOF0 (baseline) decodes like SOF1
    let c = coefficients(&good);
    assert_eq!(
        samples(&encode(&c, &layout(0xC0, vec![vec![0]], 0))),
        samples(&good)
    );
}

#[test]
fn restart_markers_out_of_order_or_missing_are_errors() {
    let c = coefficients(&fixture("pixels/emri_small_jpeg_ext12.dcm"));
    let stream = encode(&c, &layout(0xC1, vec![vec![0]], 4));
    let first = find(&stream, 0xD0);
    let mut wrong = stream.clone();
    wrong[first + 1] = 0xD3;
    assert!(error_of(&wrong).contains("where RST0 was due"));
    let mut missing = stream.clone();
    missing.drain(first..first + 2);
    assert!(decode(&missing, None).is_err());
}

#[test]
fn zeros_in_ss_se_are_read_as_sequential() {
    // pydicom's JPEG-lossy.dcm is JPGExtended.dcm with Se = 0; IJG libjpeg (dcmtk, GDCM)
    // decodes it as sequential, and so do we
    assert_eq!(
        samples(&fixture("pydicom/JPEG-lossy.dcm")),
        samples(&fixture("pydicom/JPGExtended.dcm"))
    );
}

#[test]
fn frame_type_peeks_the_frame_header() {
    assert_eq!(
        super::frame_type(&fixture("pydicom/JPGExtended.dcm")),
        Some((0xC1, 12))
    );
    assert_eq!(
        super::frame_type(&fixture("pydicom/SC_rgb_jpeg_dcmtk.dcm")),
        Some((0xC0, 8))
    );
    assert_eq!(
        super::frame_type(&fixture("pydicom/SC_rgb_jpeg_gdcm.dcm")),
        Some((0xC3, 8))
    );
    assert_eq!(super::frame_type(b"\xFF\xD8\xFF"), None);
    assert_eq!(super::frame_type(b"not a jpeg"), None);
}
