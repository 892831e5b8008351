//! multipart/related (RFC 2046 5.1, RFC 2387, PS3.18 8.6.1.2): writer and splitter
//! round trips, tricky boundaries, tolerated and refused framing.

use arc_dicom::{new_boundary, parse_content_type, split_multipart, DicomError, MultipartWriter};
use bytes::Bytes;

fn split(body: &[u8], boundary: &str) -> Result<Vec<arc_dicom::Part>, DicomError> {
    split_multipart(&Bytes::copy_from_slice(body), boundary)
}

#[test]
fn writer_and_splitter_round_trip() {
    let bodies: Vec<Vec<u8>> = vec![
        b"DICM first".to_vec(),
        Vec::new(),
        b"\r\n--not-the-boundary\r\n\r\n--\r\n".to_vec(),
        (0..=255u8).cycle().take(5000).collect(),
        b"\n\n\r\n".to_vec(),
    ];
    let mut writer = MultipartWriter::new("application/dicom");
    for (i, body) in bodies.iter().enumerate() {
        let location = format!("/studies/1/series/2/instances/{i}");
        writer.part(
            "application/dicom",
            &[("Content-Location", &location)],
            body.clone(),
        );
    }
    let content_type = writer.content_type();
    let body = writer.finish();
    let media = parse_content_type(&content_type).unwrap();
    assert_eq!(media.essence(), "multipart/related");
    assert_eq!(media.param("type"), Some("application/dicom"));
    let parts = split_multipart(&body, media.param("boundary").unwrap()).unwrap();
    assert_eq!(parts.len(), bodies.len());
    for (i, (part, want)) in parts.iter().zip(&bodies).enumerate() {
        assert_eq!(&part.body[..], &want[..], "part {i}");
        assert_eq!(part.content_type(), Some("application/dicom"));
        assert_eq!(
            part.header("content-location"),
            Some(format!("/studies/1/series/2/instances/{i}").as_str())
        );
        // zero copy: the part is a slice of the body
        let range = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
        assert!(want.is_empty() || range.contains(&(part.body.as_ptr() as usize)));
    }
}

#[test]
fn tricky_boundaries_round_trip() {
    let boundaries = [
        "a",
        "----WebKitFormBoundary7MA4YWxkTrZu0gW",
        "with space",
        "'()+_,-./:=?",
        "--",
        "boundary\"quote",
        &"x".repeat(70),
    ];
    for boundary in boundaries {
        let mut writer = MultipartWriter::with_boundary("application/dicom", boundary);
        writer.part("application/dicom", &[], Bytes::from_static(b"one"));
        writer.part(
            "application/octet-stream",
            &[],
            Bytes::from_static(b"two\r\n"),
        );
        let content_type = writer.content_type();
        let body = writer.finish();
        let media = parse_content_type(&content_type).unwrap();
        assert_eq!(media.param("boundary"), Some(boundary));
        let parts =
            split_multipart(&body, boundary).unwrap_or_else(|e| panic!("{boundary:?}: {e}"));
        let got: Vec<&[u8]> = parts.iter().map(|p| &p.body[..]).collect();
        assert_eq!(got, [&b"one"[..], b"two\r\n"], "{boundary:?}");
        assert_eq!(parts[1].content_type(), Some("application/octet-stream"));
    }
}

#[test]
fn preamble_epilogue_padding_and_bare_lf_are_tolerated() {
    let body =
        b"This is a preamble.\r\n--b1 \t\r\nContent-Type: application/dicom\r\n\r\nAAA\r\n--b1\r\n\
Content-Type: application/json\r\nX-Folded: one\r\n two\r\n\r\n{}\r\n--b1--  \r\nepilogue";
    let parts = split(body, "b1").unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(&parts[0].body[..], b"AAA");
    assert_eq!(parts[1].header("x-folded"), Some("one two"));
    assert_eq!(&parts[1].body[..], b"{}");

    let lf = b"--b\nContent-Type: application/dicom\n\nLF body\n--b\n\nno headers\n--b--\n";
    let parts = split(lf, "b").unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(&parts[0].body[..], b"LF body");
    assert!(parts[1].headers.is_empty());
    assert_eq!(&parts[1].body[..], b"no headers");
}

#[test]
fn empty_parts_and_empty_bodies() {
    assert!(split(b"--b--\r\n", "b").unwrap().is_empty());
    let parts = split(b"--b\r\n\r\n\r\n--b\r\n--b--", "b").unwrap();
    assert_eq!(parts.len(), 2);
    assert!(parts
        .iter()
        .all(|p| p.body.is_empty() && p.headers.is_empty()));
}

#[test]
fn malformed_bodies_are_refused() {
    let cases: [(&[u8], &str); 8] = [
        (b"", "b"),
        (b"no delimiter here", "b"),
        (b"--b\r\nContent-Type: a/b\r\n\r\nbody never closed", "b"),
        (b"--b\r\nContent-Type: a/b\r\n\r\nbody\r\n--b", "b"),
        (b"--b\r\nContent-Type: a/b\r\n\r\nbody\r\n--b\r\n", "b"),
        (b"--bX\r\n\r\nbody\r\n--b--", "b"),
        (b"--b\r\nno colon header\r\n\r\nbody\r\n--b--", "b"),
        (b"--b\r\n\r\nbody\r\n--b--", ""),
    ];
    for (body, boundary) in cases {
        let result = split(body, boundary);
        assert!(
            matches!(result, Err(DicomError::BadMultipart(_))),
            "{:?}: {result:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn streaming_framing_matches_the_whole_body() {
    let mut a = MultipartWriter::with_boundary("application/dicom", "xyz");
    a.part("application/dicom", &[], Bytes::from_static(b"1"));
    a.part("application/dicom", &[], Bytes::from_static(b"2"));
    let whole = a.finish();
    let mut b = MultipartWriter::with_boundary("application/dicom", "xyz");
    let mut streamed = Vec::new();
    for body in [b"1", b"2"] {
        streamed.extend_from_slice(&b.part_head("application/dicom", &[]));
        streamed.extend_from_slice(body);
    }
    streamed.extend_from_slice(&b.close());
    assert_eq!(&whole[..], &streamed[..]);
    assert_eq!(&whole[..], b"--xyz\r\nContent-Type: application/dicom\r\n\r\n1\r\n--xyz\r\nContent-Type: application/dicom\r\n\r\n2\r\n--xyz--\r\n");
    assert_eq!(
        &MultipartWriter::with_boundary("a/b", "q").finish()[..],
        b"--q--\r\n"
    );
}

#[test]
fn boundaries_are_fresh_and_valid() {
    let all: std::collections::HashSet<String> = (0..1000).map(|_| new_boundary()).collect();
    assert_eq!(all.len(), 1000);
    for b in &all {
        assert!(b.len() <= 70 && !b.is_empty());
        assert!(
            b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{b}"
        );
    }
}
