//! recover owns opening a log directory: finding its segments, validating every frame,
//! cutting a torn tail, refusing damage, and making what it found durable before use.

use super::frame::{self, Damage};
use super::OpenReport;
use crate::{LogError, Result};
use arc_fs::{Fs, FsFile};
use std::path::{Path, PathBuf};

/// Suffix of segment files.
pub(crate) const SEGMENT_SUFFIX: &str = ".seg";

/// The file name of the segment whose first record has sequence `first_seq`.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SEGMENT_SUFFIX}")
}

/// The in-memory index of one segment.
#[derive(Debug, Clone)]
pub(crate) struct SegmentIndex {
    pub first_seq: u64,
    pub path: PathBuf,
    /// Offset of each record's frame; record `first_seq + i` is at `offsets[i]`.
    pub offsets: Vec<u64>,
    /// Bytes of acknowledged (durable) frames.
    pub size: u64,
}

impl SegmentIndex {
    pub(crate) fn end_seq(&self) -> u64 {
        self.first_seq + self.offsets.len() as u64
    }
}

/// What opening a directory produced.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub segments: Vec<SegmentIndex>,
    /// An append handle on the last segment, already synced.
    pub tail: Box<dyn FsFile>,
    pub report: OpenReport,
}

fn location(path: &Path, offset: u64) -> String {
    format!("{}:{offset}", path.display())
}

fn corrupt(path: &Path, offset: u64, detail: impl Into<String>) -> LogError {
    LogError::Corrupt {
        location: location(path, offset),
        detail: detail.into(),
    }
}

/// Opens (creating if needed) the log in `dir` and returns its validated index.
pub(crate) fn recover(fs: &dyn Fs, dir: &Path) -> Result<Recovered> {
    if !fs.is_dir(dir) {
        fs.create_dir_all(dir)?;
    }
    // The directory may have been created by us or by a process that died before making
    // it durable: without this, acknowledged records could vanish with their directory.
    for ancestor in dir.ancestors().skip(1) {
        let ancestor = if ancestor.as_os_str().is_empty() {
            Path::new(".")
        } else {
            ancestor
        };
        fs.sync_dir(ancestor)?;
    }

    let mut found = Vec::new();
    for name in fs.list_dir(dir)? {
        let Some(stem) = name.strip_suffix(SEGMENT_SUFFIX) else {
            continue;
        };
        let first_seq = match stem.parse::<u64>() {
            Ok(seq) if stem.len() == 20 => seq,
            _ => {
                return Err(corrupt(
                    &dir.join(&name),
                    0,
                    "segment file name is not a 20-digit sequence",
                ))
            }
        };
        found.push((first_seq, dir.join(name)));
    }
    found.sort();

    let mut segments = Vec::with_capacity(found.len().max(1));
    let mut torn_tail_cut = None;
    let count = found.len();
    for (i, (first_seq, path)) in found.into_iter().enumerate() {
        let expected = segments.last().map_or(0, SegmentIndex::end_seq);
        if first_seq != expected {
            return Err(corrupt(
                &path,
                0,
                format!(
                    "segment starts at sequence {first_seq} but the segments before it end at \
                     {expected}: a segment is missing or damaged"
                ),
            ));
        }
        let bytes = fs.read(&path)?;
        let scan = frame::scan(&bytes);
        if let Some(damage) = scan.damage {
            let is_last = i + 1 == count;
            check_torn(&path, &damage, is_last)?;
            let cut = bytes.len() as u64 - damage.offset;
            tracing::warn!(
                file = %path.display(),
                offset = damage.offset,
                bytes_cut = cut,
                detail = %damage.detail,
                "cutting torn tail of event log"
            );
            fs.truncate(&path, damage.offset)?;
            torn_tail_cut = Some((path.display().to_string(), cut));
        }
        segments.push(SegmentIndex {
            first_seq,
            path,
            offsets: scan.offsets,
            size: scan.valid_len,
        });
    }

    if segments.is_empty() {
        let path = dir.join(segment_name(0));
        drop(fs.create(&path)?);
        segments.push(SegmentIndex {
            first_seq: 0,
            path,
            offsets: Vec::new(),
            size: 0,
        });
    }
    let last = segments.last().map(|s| s.path.clone()).unwrap_or_default();
    // A process that died after writing but before its fsync left bytes that are only in
    // the page cache: sync them before anyone reads them, or a later power loss could take
    // back records that readers already acted on. Likewise for the directory entries.
    let mut tail = fs.open_append(&last)?;
    tail.sync()?;
    fs.sync_dir(dir)?;

    let records = segments.last().map_or(0, SegmentIndex::end_seq);
    tracing::debug!(dir = %dir.display(), records, segments = segments.len(), "opened event log");
    Ok(Recovered {
        segments,
        tail,
        report: OpenReport {
            records,
            torn_tail_cut,
        },
    })
}

/// Decides whether damage is a torn tail (the end of a write a crash interrupted) or
/// damage that must stop the start.
fn check_torn(path: &Path, damage: &Damage, is_last: bool) -> Result<()> {
    if !is_last {
        // Every segment but the last was synced whole before the next was created.
        return Err(corrupt(
            path,
            damage.offset,
            format!("{} in a segment that is not the last", damage.detail),
        ));
    }
    if let Some(next) = damage.valid_frame_after {
        return Err(corrupt(
            path,
            damage.offset,
            format!(
                "{}, followed by a valid record at offset {next}",
                damage.detail
            ),
        ));
    }
    Ok(())
}
