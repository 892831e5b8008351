//! Tests of the file log: conformance on real and simulated disks, reopening, and how
//! damage and torn tails found on open are told apart.

use super::frame;
use super::{FileLog, FileLogOptions, OpenReport};
use crate::testsuite::{self, read_all};
use crate::{EventLog, LogError};
use anyhow::Result;
use arc_fs::{Fs, RealFs, SimFs};
use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn small_segments() -> FileLogOptions {
    FileLogOptions {
        segment_bytes: 512,
        max_batch_bytes: 256,
    }
}

fn rec(i: u64) -> Bytes {
    Bytes::from(format!("record number {i}"))
}

async fn append_n(log: &FileLog, n: u64) -> Result<()> {
    let start = log.end().await?;
    for i in start..start + n {
        assert_eq!(log.append(vec![rec(i)]).await?, vec![i]);
    }
    Ok(())
}

fn segments(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?;
    out.retain(|p| p.extension().is_some_and(|e| e == "seg"));
    out.sort();
    Ok(out)
}

/// Offset of the frame of record `i` in a segment of `rec(..)` records starting at `first`.
fn offset_of(first: u64, i: u64) -> u64 {
    (first..i)
        .map(|k| frame::frame_len(rec(k).len()) as u64)
        .sum()
}

fn open_real(dir: &Path, opts: FileLogOptions) -> Result<(FileLog, OpenReport), LogError> {
    FileLog::open_with(Arc::new(RealFs), dir, opts)
}

#[test]
fn file_log_is_debug_send_sync() {
    fn check<T: std::fmt::Debug + Send + Sync + 'static>() {}
    check::<FileLog>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_real_fs() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (log, report) = FileLog::open(&dir.path().join("log"))?;
    assert_eq!(
        report,
        OpenReport {
            records: 0,
            torn_tail_cut: None
        }
    );
    testsuite::run(&log).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_real_fs_small_segments_then_reopen() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (log, _) = open_real(dir.path(), small_segments())?;
    testsuite::run(&log).await;
    let before = read_all(&log, 0, 100).await;
    drop(log);
    assert!(
        segments(dir.path())?.len() > 5,
        "small segments must roll: {:?}",
        segments(dir.path())?
    );
    let (log, report) = open_real(dir.path(), small_segments())?;
    assert_eq!(
        report,
        OpenReport {
            records: before.len() as u64,
            torn_tail_cut: None
        }
    );
    assert_eq!(read_all(&log, 0, 100).await, before);
    Ok(())
}

#[tokio::test]
async fn conformance_sim_fs() -> Result<()> {
    for opts in [FileLogOptions::default(), small_segments()] {
        let fs = SimFs::new();
        let (log, _) = FileLog::open_with(fs.clone(), Path::new("/data/log"), opts.clone())?;
        testsuite::run(&log).await;
        let before = read_all(&log, 0, 100).await;
        drop(log);
        // Everything acknowledged survives power loss.
        let after = fs.restart(true);
        let (log, report) = FileLog::open_with(after, Path::new("/data/log"), opts)?;
        assert_eq!(
            report,
            OpenReport {
                records: before.len() as u64,
                torn_tail_cut: None
            }
        );
        assert_eq!(read_all(&log, 0, 100).await, before);
    }
    Ok(())
}

#[tokio::test]
async fn reopen_after_clean_shutdown_continues() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (log, _) = FileLog::open(dir.path())?;
    append_n(&log, 10).await?;
    drop(log);
    let (log, report) = FileLog::open(dir.path())?;
    assert_eq!(
        report,
        OpenReport {
            records: 10,
            torn_tail_cut: None
        }
    );
    append_n(&log, 5).await?;
    let all = read_all(&log, 0, 4).await;
    assert_eq!(all.len(), 15);
    for r in all {
        assert_eq!(r.data, rec(r.seq));
    }
    assert!(log.uri().starts_with("file:///"));
    Ok(())
}

#[tokio::test]
async fn flipped_byte_in_middle_record_is_corrupt() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (log, _) = FileLog::open(dir.path())?;
    append_n(&log, 5).await?;
    drop(log);
    let seg = &segments(dir.path())?[0];
    let at = offset_of(0, 2);
    let mut bytes = std::fs::read(seg)?;
    bytes[at as usize + frame::HEADER + 3] ^= 0x10;
    std::fs::write(seg, &bytes)?;
    match FileLog::open(dir.path()) {
        Err(LogError::Corrupt { location, detail }) => {
            assert_eq!(location, format!("{}:{at}", seg.display()));
            assert!(detail.contains("checksum mismatch"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // The damaged file is left as it was for repair.
    assert_eq!(std::fs::read(seg)?, bytes);
    Ok(())
}

#[tokio::test]
async fn flipped_length_in_middle_record_is_corrupt() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (log, _) = FileLog::open(dir.path())?;
    append_n(&log, 5).await?;
    drop(log);
    let seg = &segments(dir.path())?[0];
    let mut bytes = std::fs::read(seg)?;
    bytes[offset_of(0, 1) as usize + 3] = 0x80; // an impossible length
    std::fs::write(seg, &bytes)?;
    assert!(matches!(
        FileLog::open(dir.path()),
        Err(LogError::Corrupt { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn damage_in_a_non_last_segment_is_corrupt() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let opts = FileLogOptions {
        segment_bytes: 64,
        ..FileLogOptions::default()
    };
    let (log, _) = open_real(dir.path(), opts.clone())?;
    append_n(&log, 12).await?;
    drop(log);
    let segs = segments(dir.path())?;
    assert!(segs.len() >= 3);
    // Cut the end of the first segment: a torn tail anywhere but the last segment is damage.
    let len = std::fs::metadata(&segs[0])?.len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segs[0])?
        .set_len(len - 2)?;
    match open_real(dir.path(), opts) {
        Err(LogError::Corrupt { location, detail }) => {
            assert!(
                location.starts_with(&segs[0].display().to_string()),
                "{location}"
            );
            assert!(detail.contains("not the last"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn missing_segment_is_corrupt() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let opts = FileLogOptions {
        segment_bytes: 64,
        ..FileLogOptions::default()
    };
    let (log, _) = open_real(dir.path(), opts.clone())?;
    append_n(&log, 12).await?;
    drop(log);
    let segs = segments(dir.path())?;
    std::fs::remove_file(&segs[1])?;
    match open_real(dir.path(), opts.clone()) {
        Err(LogError::Corrupt { detail, .. }) => assert!(detail.contains("missing"), "{detail}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Losing the first segment is a gap too.
    std::fs::remove_file(&segs[0])?;
    assert!(matches!(
        open_real(dir.path(), opts),
        Err(LogError::Corrupt { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn strange_segment_name_is_corrupt_other_files_ignored() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("README.txt"), b"not a segment")?;
    let (log, _) = FileLog::open(dir.path())?;
    append_n(&log, 2).await?;
    drop(log);
    assert_eq!(FileLog::open(dir.path())?.1.records, 2);
    std::fs::write(dir.path().join("12.seg"), b"")?;
    assert!(matches!(
        FileLog::open(dir.path()),
        Err(LogError::Corrupt { .. })
    ));
    Ok(())
}

/// Damages the end of the only segment with `damage`, reopens, and checks the report.
async fn torn_case(damage: impl FnOnce(&mut Vec<u8>), records: u64, cut: u64) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (log, _) = FileLog::open(dir.path())?;
    append_n(&log, 5).await?;
    drop(log);
    let seg = segments(dir.path())?.remove(0);
    let mut bytes = std::fs::read(&seg)?;
    damage(&mut bytes);
    std::fs::write(&seg, &bytes)?;

    let (log, report) = FileLog::open(dir.path())?;
    assert_eq!(report.records, records);
    assert_eq!(report.torn_tail_cut, Some((seg.display().to_string(), cut)));
    assert_eq!(std::fs::metadata(&seg)?.len(), offset_of(0, records));
    // Appends continue right after the last good record.
    assert_eq!(log.append(vec![rec(records)]).await?, vec![records]);
    drop(log);
    let (log, report) = FileLog::open(dir.path())?;
    assert_eq!(
        report,
        OpenReport {
            records: records + 1,
            torn_tail_cut: None
        }
    );
    let all = read_all(&log, 0, 100).await;
    assert!(all.iter().all(|r| r.data == rec(r.seq)));
    Ok(())
}

#[tokio::test]
async fn truncated_last_frame_is_cut() -> Result<()> {
    let last_frame = frame::frame_len(rec(4).len()) as u64;
    torn_case(|b| b.truncate(b.len() - 3), 4, last_frame - 3).await?;
    // Torn inside the header.
    torn_case(|b| b.truncate(b.len() - last_frame as usize + 5), 4, 5).await
}

#[tokio::test]
async fn bad_checksum_of_last_frame_is_cut() -> Result<()> {
    let last_frame = frame::frame_len(rec(4).len()) as u64;
    torn_case(|b| *b.last_mut().expect("bytes") ^= 1, 4, last_frame).await
}

#[tokio::test]
async fn zero_filled_tail_is_cut() -> Result<()> {
    torn_case(|b| b.extend_from_slice(&[0; 4096]), 5, 4096).await
}

#[tokio::test]
async fn open_syncs_bytes_a_dead_process_left_unsynced() -> Result<()> {
    let fs = SimFs::new();
    let dir = Path::new("/log");
    let (log, _) = FileLog::open_with(fs.clone(), dir, FileLogOptions::default())?;
    append_n(&log, 2).await?;
    drop(log);
    // A process that wrote a whole frame and died before its fsync.
    let mut frame_bytes = Vec::new();
    frame::encode_into(&mut frame_bytes, &rec(2));
    let mut file = fs.open_append(&dir.join("00000000000000000000.seg"))?;
    file.write_all(&frame_bytes)?;
    let (log, report) = FileLog::open_with(fs.clone(), dir, FileLogOptions::default())?;
    assert_eq!(report.records, 3);
    assert_eq!(log.read(2, 1, Duration::ZERO).await?[0].data, rec(2));
    drop(log);
    // What a reader was shown must survive power loss.
    let (_, report) = FileLog::open_with(fs.restart(false), dir, FileLogOptions::default())?;
    assert_eq!(report.records, 3);
    Ok(())
}

#[tokio::test]
async fn failed_write_refuses_further_appends() -> Result<()> {
    let fs = SimFs::new();
    let (log, _) = FileLog::open_with(fs.clone(), Path::new("/log"), FileLogOptions::default())?;
    append_n(&log, 3).await?;
    // The write succeeds, its fsync fails.
    fs.crash_after(1);
    assert!(matches!(
        log.append(vec![rec(3)]).await,
        Err(LogError::Unavailable(_))
    ));
    assert!(matches!(
        log.append(vec![rec(3)]).await,
        Err(LogError::Unavailable(_))
    ));
    assert!(matches!(
        log.append(Vec::new()).await,
        Err(LogError::Unavailable(_))
    ));
    assert_eq!(log.end().await?, 3, "nothing unacknowledged is visible");
    drop(log);
    let after = fs.restart(true);
    let (log, report) = FileLog::open_with(after, Path::new("/log"), FileLogOptions::default())?;
    assert_eq!(report.records, 3);
    assert!(
        report.torn_tail_cut.is_some(),
        "the torn unsynced write is cut"
    );
    assert_eq!(log.append(vec![rec(3)]).await?, vec![3]);
    Ok(())
}
