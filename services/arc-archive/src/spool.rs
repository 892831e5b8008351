//! Spooling of request bodies: a multipart/related body arrives in chunks and leaves as
//! parts, each hashed (SHA-256) while it is written, small ones kept in memory, large ones
//! in a temp file under the node's spool folder, so a request of any size costs flat memory.

use arc_dicom::{MultipartEvent, MultipartParser};
use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::TempPath;

/// A part's content beyond this size goes to a temp file.
pub const MEMORY_PART_LIMIT: usize = 8 << 20;

/// The content of one received part.
#[derive(Debug)]
pub enum PartContent {
    /// Held in memory (small parts).
    Memory(Bytes),
    /// In a temp file, deleted when this is dropped.
    File(TempPath),
}

/// One part of a request, spooled: headers, content, digest and size.
#[derive(Debug)]
pub struct SpooledPart {
    /// Header fields as `(name, value)`.
    pub headers: Vec<(String, String)>,
    /// The content.
    pub content: PartContent,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Size of the content in bytes.
    pub size: u64,
}

impl SpooledPart {
    /// A part made in memory (e.g. an object built from JSON metadata).
    pub fn from_bytes(headers: Vec<(String, String)>, data: Bytes) -> Self {
        let sha256 = hex::encode(Sha256::digest(&data));
        SpooledPart {
            headers,
            size: data.len() as u64,
            content: PartContent::Memory(data),
            sha256,
        }
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The whole content in memory (reads a spooled file: only for parts known to be small).
    pub fn read_all(&self) -> std::io::Result<Bytes> {
        match &self.content {
            PartContent::Memory(b) => Ok(b.clone()),
            PartContent::File(p) => std::fs::read(p).map(Bytes::from),
        }
    }
}

/// Why spooling stopped.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The body is not a readable multipart/related body (HTTP 400).
    #[error("cannot read the multipart body: {0}")]
    Multipart(#[from] arc_dicom::DicomError),
    /// A temp file could not be written (HTTP 503: nothing is stored).
    #[error("cannot spool the request to {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// Where parts are being written.
struct Current {
    headers: Vec<(String, String)>,
    hasher: Sha256,
    size: u64,
    memory: BytesMut,
    file: Option<(std::io::BufWriter<std::fs::File>, TempPath)>,
}

/// Splits a body into spooled parts; runs on a blocking thread. `chunks` delivers the body,
/// each finished part goes to `parts` (a closed receiver stops the work). `memory_budget`
/// bounds the bytes of all parts kept in memory (for requests whose parts are all held to
/// the end); past it, every part goes to a file.
pub fn spool_body(
    boundary: &str,
    dir: &Path,
    mut chunks: tokio::sync::mpsc::Receiver<Bytes>,
    parts: tokio::sync::mpsc::Sender<SpooledPart>,
    memory_budget: Option<u64>,
) -> Result<(), SpoolError> {
    let mut parser = MultipartParser::new(boundary)?;
    let mut current: Option<Current> = None;
    let mut in_memory = 0u64;
    let io = |e: std::io::Error| SpoolError::Io(dir.to_path_buf(), e);
    loop {
        let chunk = chunks.blocking_recv();
        match &chunk {
            Some(c) => parser.feed(c),
            None => parser.finish()?,
        }
        while let Some(event) = parser.next_event()? {
            match event {
                MultipartEvent::PartStart(headers) => {
                    current = Some(Current {
                        headers,
                        hasher: Sha256::new(),
                        size: 0,
                        memory: BytesMut::new(),
                        file: None,
                    });
                }
                MultipartEvent::Data(data) => {
                    let Some(cur) = current.as_mut() else {
                        continue;
                    };
                    cur.hasher.update(&data);
                    cur.size += data.len() as u64;
                    let over_budget = memory_budget.is_some_and(|b| in_memory + cur.size > b);
                    if cur.file.is_none() && (cur.size as usize > MEMORY_PART_LIMIT || over_budget)
                    {
                        std::fs::create_dir_all(dir).map_err(io)?;
                        let tmp = tempfile::Builder::new()
                            .prefix("part-")
                            .tempfile_in(dir)
                            .map_err(io)?;
                        let (file, path) = tmp.into_parts();
                        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
                        w.write_all(&cur.memory).map_err(io)?;
                        cur.memory = BytesMut::new();
                        cur.file = Some((w, path));
                    }
                    match cur.file.as_mut() {
                        Some((w, _)) => w.write_all(&data).map_err(io)?,
                        None => cur.memory.extend_from_slice(&data),
                    }
                }
                MultipartEvent::PartEnd => {
                    let Some(cur) = current.take() else { continue };
                    let content = match cur.file {
                        Some((w, path)) => {
                            w.into_inner().map_err(|e| io(e.into_error()))?;
                            PartContent::File(path)
                        }
                        None => {
                            in_memory += cur.size;
                            PartContent::Memory(cur.memory.freeze())
                        }
                    };
                    let part = SpooledPart {
                        headers: cur.headers,
                        content,
                        sha256: hex::encode(cur.hasher.finalize()),
                        size: cur.size,
                    };
                    if parts.blocking_send(part).is_err() {
                        return Ok(()); // the consumer stopped; its error is the answer
                    }
                }
            }
        }
        if chunk.is_none() || parser.is_done() {
            return Ok(());
        }
    }
}

/// Removes leftovers of a previous run (temp files of requests cut by a crash).
pub fn clean_spool_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("part-") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(
        body: Vec<u8>,
        budget: Option<u64>,
    ) -> (Result<(), SpoolError>, Vec<SpooledPart>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, crx) = tokio::sync::mpsc::channel(4);
        let (ptx, mut prx) = tokio::sync::mpsc::channel(1);
        let d = dir.path().to_path_buf();
        let task = tokio::task::spawn_blocking(move || spool_body("b", &d, crx, ptx, budget));
        let feed = async move {
            for c in body.chunks(100_000) {
                if ctx.send(Bytes::copy_from_slice(c)).await.is_err() {
                    break;
                }
            }
        };
        let collect = async move {
            let mut out = Vec::new();
            while let Some(p) = prx.recv().await {
                out.push(p);
            }
            out
        };
        let ((), parts) = tokio::join!(feed, collect);
        (task.await.unwrap(), parts, dir)
    }

    #[tokio::test]
    async fn small_parts_stay_in_memory_large_ones_go_to_files() {
        let big: Vec<u8> = (0..MEMORY_PART_LIMIT + 5)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut body =
            b"--b\r\nContent-Type: application/dicom\r\n\r\nsmall\r\n--b\r\n\r\n".to_vec();
        body.extend_from_slice(&big);
        body.extend_from_slice(b"\r\n--b--\r\n");
        let (r, parts, dir) = run(body, None).await;
        r.unwrap();
        assert_eq!(parts.len(), 2);
        assert!(matches!(&parts[0].content, PartContent::Memory(b) if &b[..] == b"small"));
        assert_eq!(parts[0].header("content-type"), Some("application/dicom"));
        assert_eq!(parts[0].sha256, hex::encode(Sha256::digest(b"small")));
        let PartContent::File(path) = &parts[1].content else {
            panic!("a large part goes to a file")
        };
        assert!(path.starts_with(dir.path()));
        assert_eq!(std::fs::read(path).unwrap(), big);
        assert_eq!(parts[1].sha256, hex::encode(Sha256::digest(&big)));
        assert_eq!(parts[1].size, big.len() as u64);
        let kept = path.to_path_buf();
        drop(parts);
        assert!(!kept.exists(), "temp files go with their part");
    }

    #[tokio::test]
    async fn a_memory_budget_sends_later_parts_to_files_and_bad_bodies_fail() {
        let body = b"--b\r\n\r\n0123456789\r\n--b\r\n\r\nabcdefghij\r\n--b--".to_vec();
        let (r, parts, _dir) = run(body, Some(15)).await;
        r.unwrap();
        assert!(matches!(parts[0].content, PartContent::Memory(_)));
        assert!(matches!(parts[1].content, PartContent::File(_)));
        assert_eq!(&parts[1].read_all().unwrap()[..], b"abcdefghij");
        let (r, parts, _dir) = run(b"--b\r\n\r\nno end".to_vec(), None).await;
        assert!(matches!(r, Err(SpoolError::Multipart(_))));
        assert!(parts.is_empty());
    }
}
