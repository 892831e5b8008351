//! multipart/related bodies (RFC 2046 5.1, RFC 2387) as STOW-RS requests and WADO-RS
//! responses use them (PS3.18 8.6.1.2): splitting a received body, building a new one.

use crate::error::DicomError;
use bytes::{Bytes, BytesMut};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// One body part: its header fields in order, and its content as a zero-copy slice of
/// the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Header fields as `(name, value)`, value trimmed; names as written.
    pub headers: Vec<(String, String)>,
    /// The part content.
    pub body: Bytes,
}

impl Part {
    /// The first header with this name (case-insensitive, RFC 5322 1.2.2).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The part's Content-Type, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }
}

/// Finds `needle` in `hay` from `from` (first byte scan, then compare).
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let j = i + hay[i..=hay.len() - needle.len()]
            .iter()
            .position(|&b| b == first)?;
        if hay[j..].starts_with(needle) {
            return Some(j);
        }
        i = j + 1;
    }
    None
}

/// Skips transport padding (RFC 2046 5.1.1) and the line break after a delimiter;
/// returns the offset after it, or `None` if the delimiter is not followed by one.
fn after_line_break(body: &[u8], mut at: usize) -> Option<usize> {
    while matches!(body.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    match (body.get(at), body.get(at + 1)) {
        (Some(b'\r'), Some(b'\n')) => Some(at + 2),
        (Some(b'\n'), _) => Some(at + 1),
        _ => None,
    }
}

/// Splits a multipart body on `boundary`. The delimiter is `--boundary` at the start
/// of the body or after a line break (CRLF, bare LF tolerated); text before the first
/// one (preamble) and after the closing `--boundary--` (epilogue) is ignored. A body
/// without the closing delimiter is an error: it was cut short.
pub fn split_multipart(body: &Bytes, boundary: &str) -> Result<Vec<Part>, DicomError> {
    let bad = |why: &str| DicomError::BadMultipart(why.to_string());
    if boundary.is_empty() {
        return Err(bad("empty boundary"));
    }
    let dash = format!("--{boundary}");
    let dash = dash.as_bytes();
    let nl_dash = [b"\n".as_slice(), dash].concat();
    let data = body.as_ref();
    // position just after the first delimiter's `--boundary`
    let mut pos = if data.starts_with(dash) {
        dash.len()
    } else {
        find(data, &nl_dash, 0).ok_or_else(|| bad("no boundary delimiter found"))? + nl_dash.len()
    };
    let mut parts = Vec::new();
    loop {
        if data[pos..].starts_with(b"--") {
            return Ok(parts); // close delimiter
        }
        let start = after_line_break(data, pos)
            .ok_or_else(|| bad("boundary delimiter not followed by a line break"))?;
        // the next delimiter; searching from the line break just consumed lets an
        // empty part (a delimiter right after a delimiter) be found too
        let nl = find(data, &nl_dash, start - 1)
            .ok_or_else(|| bad("missing closing boundary delimiter"))?;
        let end = if nl > start && data[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl.max(start)
        };
        parts.push(parse_part(body, start, end)?);
        pos = nl + nl_dash.len();
    }
}

/// Splits one part `body[start..end]` into header fields and content (RFC 2045 3).
fn parse_part(body: &Bytes, start: usize, end: usize) -> Result<Part, DicomError> {
    let raw = &body[start..end];
    // headers end at the first empty line; a part may have no headers at all
    let (head_len, content_start) = if raw.is_empty() {
        (0, 0)
    } else if raw.starts_with(b"\r\n") {
        (0, 2)
    } else if raw.starts_with(b"\n") {
        (0, 1)
    } else {
        match (find(raw, b"\r\n\r\n", 0), find(raw, b"\n\n", 0)) {
            (Some(a), Some(b)) if b + 1 < a => (b + 1, b + 2),
            (Some(a), _) => (a + 2, a + 4),
            (None, Some(b)) => (b + 1, b + 2),
            (None, None) => {
                return Err(DicomError::BadMultipart(
                    "part without an empty line after its headers".into(),
                ))
            }
        }
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in raw[..head_len].split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned();
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // obsolete line folding (RFC 5322 3.2.2): continue the previous field
            let last = headers
                .last_mut()
                .ok_or_else(|| DicomError::BadMultipart("folded first header".into()))?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| DicomError::BadMultipart(format!("malformed part header {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Part {
        headers,
        body: body.slice(start + content_start..end),
    })
}

/// A fresh boundary: `arcstream-` and 32 hex digits, random enough never to occur in a
/// body (RFC 2046 5.1.1 allows 70 characters).
pub fn new_boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::from("arcstream-");
    for _ in 0..2 {
        // each RandomState is seeded from OS randomness (per thread, then advanced)
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// Builds a multipart/related body part by part. The framing can also be taken piece by
/// piece ([`part_head`](Self::part_head), [`close`](Self::close)) to stream large parts.
#[derive(Debug)]
pub struct MultipartWriter {
    boundary: String,
    root_type: String,
    chunks: Vec<Bytes>,
    parts: usize,
}

impl MultipartWriter {
    /// A writer whose parts are of `root_type` (the `type` parameter, e.g.
    /// `application/dicom`), with a fresh boundary.
    pub fn new(root_type: &str) -> Self {
        Self::with_boundary(root_type, new_boundary())
    }

    /// A writer with a given boundary (tests, or a client that chose one).
    pub fn with_boundary(root_type: &str, boundary: impl Into<String>) -> Self {
        MultipartWriter {
            boundary: boundary.into(),
            root_type: root_type.to_string(),
            chunks: Vec::new(),
            parts: 0,
        }
    }

    /// The boundary in use.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The Content-Type of the whole body:
    /// `multipart/related; type="application/dicom"; boundary=…` (PS3.18 8.6.1.2).
    pub fn content_type(&self) -> String {
        crate::media_type::MediaType {
            type_: "multipart".into(),
            subtype: "related".into(),
            params: vec![
                ("type".into(), self.root_type.clone()),
                ("boundary".into(), self.boundary.clone()),
            ],
        }
        .to_string()
    }

    /// The bytes that open the next part: delimiter, Content-Type, extra headers, empty
    /// line. The part content must follow.
    pub fn part_head(&mut self, content_type: &str, extra_headers: &[(&str, &str)]) -> Bytes {
        let mut head = BytesMut::new();
        if self.parts > 0 {
            head.extend_from_slice(b"\r\n");
        }
        self.parts += 1;
        head.extend_from_slice(
            format!("--{}\r\nContent-Type: {content_type}\r\n", self.boundary).as_bytes(),
        );
        for (name, value) in extra_headers {
            head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        head.freeze()
    }

    /// The closing delimiter that ends the body.
    pub fn close(&self) -> Bytes {
        let lead = if self.parts > 0 { "\r\n" } else { "" };
        Bytes::from(format!("{lead}--{}--\r\n", self.boundary))
    }

    /// Appends a whole part.
    pub fn part(
        &mut self,
        content_type: &str,
        extra_headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) {
        let head = self.part_head(content_type, extra_headers);
        self.chunks.push(head);
        self.chunks.push(body.into());
    }

    /// The body as chunks (no copy of part contents), closing delimiter included.
    pub fn finish_chunks(mut self) -> Vec<Bytes> {
        let close = self.close();
        self.chunks.push(close);
        self.chunks
    }

    /// The whole body in one buffer.
    pub fn finish(self) -> Bytes {
        let chunks = self.finish_chunks();
        let mut out = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
        for c in chunks {
            out.extend_from_slice(&c);
        }
        out.freeze()
    }
}
