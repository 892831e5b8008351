//! A push parser for multipart/related bodies (RFC 2046 5.1, PS3.18 8.6.1.2) that never
//! holds more than one chunk plus a delimiter's length of a part: body chunks go in, part
//! headers and content pieces come out, so a 2 GB STOW request streams through flat memory.
//! It accepts what [`crate::split_multipart`] accepts, and also a part whose header block
//! is followed at once by the next delimiter (a part with empty content).

use crate::error::DicomError;
use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem::Finder;
use std::collections::VecDeque;

/// Header blocks larger than this are refused (no real part header comes close).
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// What the parser found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartEvent {
    /// A part begins; its header fields as `(name, value)`, values trimmed.
    PartStart(Vec<(String, String)>),
    /// A piece of the current part's content.
    Data(Bytes),
    /// The current part ended.
    PartEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter: preamble, ignored.
    Preamble,
    /// Just after `--boundary`: close marker, padding, line break.
    AfterDelimiter,
    /// At the `\n` that ends a delimiter line; the part's headers follow.
    Headers,
    /// In a part's content; `bool`: nothing of it was emitted yet.
    Body(bool),
    /// After the close delimiter: epilogue, ignored.
    Done,
}

/// The streaming parser. Feed chunks with [`feed`](Self::feed), take events with
/// [`next_event`](Self::next_event) until it answers `None`, and call
/// [`finish`](Self::finish) at the end of the body.
#[derive(Debug)]
pub struct MultipartParser {
    /// `\n--boundary`: a delimiter is `--boundary` at the start of the body or after a line
    /// break; the buffer starts with a virtual `\n` so both cases are one search.
    delimiter: Vec<u8>,
    finder: Finder<'static>,
    buf: BytesMut,
    state: State,
    pending: VecDeque<MultipartEvent>,
    ended: bool,
}

fn bad(why: &str) -> DicomError {
    DicomError::BadMultipart(why.to_string())
}

impl MultipartParser {
    /// A parser for bodies delimited by `boundary` (the Content-Type parameter, unquoted).
    pub fn new(boundary: &str) -> Result<Self, DicomError> {
        if boundary.is_empty() {
            return Err(bad("empty boundary"));
        }
        let delimiter = format!("\n--{boundary}").into_bytes();
        let finder = Finder::new(&delimiter).into_owned();
        let mut buf = BytesMut::with_capacity(64 * 1024);
        buf.extend_from_slice(b"\n");
        Ok(MultipartParser {
            delimiter,
            finder,
            buf,
            state: State::Preamble,
            pending: VecDeque::new(),
            ended: false,
        })
    }

    /// Appends a chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.state != State::Done {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// Whether the close delimiter was seen (the rest of the body is epilogue).
    pub fn is_done(&self) -> bool {
        self.state == State::Done && self.pending.is_empty()
    }

    /// Declares the end of the body: an error if the body was cut short.
    pub fn finish(&mut self) -> Result<(), DicomError> {
        self.ended = true;
        match self.state {
            State::Done => Ok(()),
            State::Preamble => Err(bad("no boundary delimiter found")),
            _ => Err(bad("missing closing boundary delimiter")),
        }
    }

    /// The next event, or `None` when more input is needed (or the body is done).
    pub fn next_event(&mut self) -> Result<Option<MultipartEvent>, DicomError> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            if !self.step()? {
                return Ok(None);
            }
        }
    }

    /// Advances the state machine once; false when it needs more input.
    fn step(&mut self) -> Result<bool, DicomError> {
        let dlen = self.delimiter.len();
        match self.state {
            State::Done => Ok(false),
            State::Preamble => match self.finder.find(&self.buf) {
                Some(i) => {
                    self.buf.advance(i + dlen);
                    self.state = State::AfterDelimiter;
                    Ok(true)
                }
                None => {
                    // keep what could be the start of a delimiter
                    let keep = self.buf.len().min(dlen - 1);
                    let drop = self.buf.len() - keep;
                    self.buf.advance(drop);
                    Ok(false)
                }
            },
            State::AfterDelimiter => {
                if self.buf.len() < 2 {
                    return Ok(false);
                }
                if self.buf.starts_with(b"--") {
                    self.state = State::Done;
                    self.buf.clear();
                    return Ok(true);
                }
                // transport padding (RFC 2046 5.1.1), then CRLF or a bare LF
                let pad = self
                    .buf
                    .iter()
                    .take_while(|&&b| b == b' ' || b == b'\t')
                    .count();
                match (self.buf.get(pad), self.buf.get(pad + 1)) {
                    (None, _) | (Some(b'\r'), None) => Ok(false),
                    (Some(b'\r'), Some(b'\n')) => {
                        self.buf.advance(pad + 1);
                        self.state = State::Headers;
                        Ok(true)
                    }
                    (Some(b'\n'), _) => {
                        self.buf.advance(pad);
                        self.state = State::Headers;
                        Ok(true)
                    }
                    _ => Err(bad("boundary delimiter not followed by a line break")),
                }
            }
            State::Headers => self.headers(),
            State::Body(fresh) => self.body(fresh),
        }
    }

    /// The buffer starts at the `\n` of the delimiter line: headers up to an empty line.
    fn headers(&mut self) -> Result<bool, DicomError> {
        // an empty part: the next delimiter follows at once
        if self.buf.starts_with(&self.delimiter) {
            self.pending
                .push_back(MultipartEvent::PartStart(Vec::new()));
            self.pending.push_back(MultipartEvent::PartEnd);
            self.buf.advance(self.delimiter.len());
            self.state = State::AfterDelimiter;
            return Ok(true);
        }
        if self.buf.len() < self.delimiter.len()
            && self.delimiter.starts_with(&self.buf)
            && !self.ended
        {
            return Ok(false);
        }
        let end = find_blank_line(&self.buf);
        let delim = self.finder.find(&self.buf);
        match (end, delim) {
            (Some((head_end, content_start)), d) if d.is_none_or(|d| d >= head_end) => {
                let headers = parse_headers(&self.buf[1..head_end])?;
                self.buf.advance(content_start);
                self.pending.push_back(MultipartEvent::PartStart(headers));
                self.state = State::Body(true);
                Ok(true)
            }
            (_, Some(_)) | (Some(_), None) => {
                Err(bad("part without an empty line after its headers"))
            }
            (None, None) if self.buf.len() > MAX_HEADER_BYTES => {
                Err(bad("part headers longer than 64 KiB"))
            }
            (None, None) => Ok(false),
        }
    }

    fn body(&mut self, fresh: bool) -> Result<bool, DicomError> {
        let dash = &self.delimiter[1..];
        if fresh && self.buf.len() < dash.len() && dash.starts_with(&self.buf) {
            return Ok(false);
        }
        if fresh && self.buf.starts_with(dash) {
            // content empty and the delimiter right after the header's empty line
            self.buf.advance(dash.len());
            self.pending.push_back(MultipartEvent::PartEnd);
            self.state = State::AfterDelimiter;
            return Ok(true);
        }
        match self.finder.find(&self.buf) {
            Some(i) => {
                // the CRLF before the delimiter belongs to it (RFC 2046 5.1.1)
                let content = if i > 0 && self.buf[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                let data = self.buf.split_to(content).freeze();
                self.buf.advance(i - content + self.delimiter.len());
                if !data.is_empty() {
                    self.pending.push_back(MultipartEvent::Data(data));
                }
                self.pending.push_back(MultipartEvent::PartEnd);
                self.state = State::AfterDelimiter;
                Ok(true)
            }
            None => {
                // keep a possible partial delimiter and the CR before it
                let keep = self.delimiter.len();
                if self.buf.len() <= keep {
                    return Ok(false);
                }
                let n = self.buf.len() - keep;
                let data = self.buf.split_to(n).freeze();
                self.pending.push_back(MultipartEvent::Data(data));
                self.state = State::Body(false);
                Ok(true)
            }
        }
    }
}

/// In a buffer starting with the `\n` of a delimiter line: the end of the header block
/// (exclusive) and the start of the content, at the first empty line (CRLF or bare LF).
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(j) = memchr::memchr(b'\n', &buf[i..]) {
        let nl = i + j;
        match (buf.get(nl + 1), buf.get(nl + 2)) {
            (Some(b'\n'), _) => return Some((nl + 1, nl + 2)),
            (Some(b'\r'), Some(b'\n')) => return Some((nl + 1, nl + 3)),
            _ => {}
        }
        i = nl + 1;
    }
    None
}

/// Header fields of a part (RFC 5322 2.2), obsolete folding joined.
pub(crate) fn parse_headers(raw: &[u8]) -> Result<Vec<(String, String)>, DicomError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned();
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let last = headers
                .last_mut()
                .ok_or_else(|| bad("folded first header"))?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(&format!("malformed part header {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split_multipart;

    /// (headers, content) per part.
    type Parsed = Vec<(Vec<(String, String)>, Vec<u8>)>;

    /// Parses `body` fed in chunks of `size`; returns (headers, content) per part.
    fn parse(body: &[u8], boundary: &str, size: usize) -> Result<Parsed, DicomError> {
        let mut p = MultipartParser::new(boundary)?;
        let mut out: Parsed = Vec::new();
        let mut open = false;
        let mut drain = |p: &mut MultipartParser, out: &mut Parsed| -> Result<(), DicomError> {
            while let Some(e) = p.next_event()? {
                match e {
                    MultipartEvent::PartStart(h) => {
                        assert!(!open);
                        open = true;
                        out.push((h, Vec::new()));
                    }
                    MultipartEvent::Data(d) => {
                        out.last_mut().expect("a part").1.extend_from_slice(&d)
                    }
                    MultipartEvent::PartEnd => open = false,
                }
            }
            Ok(())
        };
        for chunk in body.chunks(size.max(1)) {
            p.feed(chunk);
            drain(&mut p, &mut out)?;
        }
        p.finish()?;
        drain(&mut p, &mut out)?;
        Ok(out)
    }

    const BODIES: &[(&[u8], &str)] = &[
        (
            b"--b\r\nContent-Type: application/dicom\r\n\r\nabc\r\n--b--\r\n",
            "b",
        ),
        (
            b"preamble\r\n--b\r\nX: 1\r\n\r\n\r\n--b\r\n\r\nxy\r\n--b\r\n--b--",
            "b",
        ),
        (
            b"--b\nA: 1\n\ncontent\n--b  \t\r\nB:2\r\n folded\r\n\r\n\r\n\r\n--b--epilogue",
            "b",
        ),
        (b"--bb\r\n\r\n--b\r\n--bb\r\n\r\n\r\r\n--bb--", "bb"),
        (b"--b\r\nC: x\r\n\r\n--b--\r\n", "b"),
        (b"--b\r\n\r\n\n--b\r\n\r\n--b\r\n--b--", "b"),
    ];

    #[test]
    fn agrees_with_split_multipart_at_every_chunking() {
        for (body, boundary) in BODIES {
            let want: Option<Parsed> = split_multipart(&Bytes::copy_from_slice(body), boundary)
                .ok()
                .map(|parts| {
                    parts
                        .into_iter()
                        .map(|p| (p.headers, p.body.to_vec()))
                        .collect()
                })
                // one leniency more: headers, their empty line, and the delimiter at once
                // are a part with empty content
                .or_else(|| {
                    (body.starts_with(b"--b\r\nC: x"))
                        .then(|| vec![(vec![("C".into(), "x".into())], Vec::new())])
                });
            for size in 1..=body.len() {
                let got = parse(body, boundary, size).ok();
                assert_eq!(
                    got,
                    want,
                    "{:?} in chunks of {size}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }

    #[test]
    fn refuses_what_split_multipart_refuses() {
        let bad_bodies: &[&[u8]] = &[
            b"no delimiter",
            b"--b\r\nA: 1\r\n\r\nabc",
            b"--bx\r\n\r\n--b--",
            b"--b\r\nno blank line\r\n--b--",
        ];
        for body in bad_bodies {
            assert!(
                split_multipart(&Bytes::copy_from_slice(body), "b").is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
            for size in 1..=body.len() {
                assert!(
                    parse(body, "b", size).is_err(),
                    "{:?} at {size}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }

    #[test]
    fn big_parts_stream_in_pieces() {
        let content: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        let mut body = b"--xyz\r\nContent-Type: application/dicom\r\n\r\n".to_vec();
        body.extend_from_slice(&content);
        body.extend_from_slice(b"\r\n--xyz--\r\n");
        let mut p = MultipartParser::new("xyz").unwrap();
        let mut got = Vec::new();
        let mut max_piece = 0;
        for chunk in body.chunks(8192) {
            p.feed(chunk);
            while let Some(e) = p.next_event().unwrap() {
                if let MultipartEvent::Data(d) = e {
                    max_piece = max_piece.max(d.len());
                    got.extend_from_slice(&d);
                }
            }
            assert!(
                p.buf.len() <= 8192 + 16,
                "the parser holds no more than a chunk"
            );
        }
        p.finish().unwrap();
        assert_eq!(got, content);
        assert!(max_piece <= 8192);
    }
}
