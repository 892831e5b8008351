//! Crash tests of the file log: a concurrent workload on a `SimFs` that crashes after every
//! possible number of operations, then power loss (with and without torn writes), then the
//! checks that matter: the log opens, keeps every acknowledged record intact and in order,
//! holds nothing that was never appended, and continues durably.

use super::{FileLog, FileLogOptions};
use crate::testsuite::read_all;
use crate::EventLog;
use anyhow::{ensure, Context, Result};
use arc_fs::SimFs;
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

const DIR: &str = "/data/log";
const ROUNDS: usize = 6;
const TASKS: usize = 5;

fn opts() -> FileLogOptions {
    // Small segments so the workload rolls several times: rolls are crash points too.
    FileLogOptions {
        segment_bytes: 400,
        max_batch_bytes: 256,
    }
}

/// A unique payload; lengths vary so torn writes cut frames at different places.
fn payload(round: usize, task: usize, i: usize) -> Bytes {
    let tag = format!("r{round}-t{task}-i{i}:");
    let pad = (round * 7 + task * 13 + i * 5) % 90;
    Bytes::from(format!("{tag}{}", "x".repeat(pad)))
}

/// What the workload asked for and what the log acknowledged.
#[derive(Default)]
struct Outcome {
    submitted: HashSet<Bytes>,
    /// Acknowledged appends: the sequence of each record, and the records.
    acked: Vec<(Vec<u64>, Vec<Bytes>)>,
}

async fn workload(fs: Arc<SimFs>) -> Outcome {
    let mut outcome = Outcome::default();
    let Ok((log, _)) = FileLog::open_with(fs, Path::new(DIR), opts()) else {
        return outcome;
    };
    for round in 0..ROUNDS {
        let batches: Vec<Vec<Bytes>> = (0..TASKS)
            .map(|task| {
                (0..=(task + round) % 3)
                    .map(|i| payload(round, task, i))
                    .collect()
            })
            .collect();
        outcome.submitted.extend(batches.iter().flatten().cloned());
        let log = &log;
        let answers = futures::future::join_all(batches.into_iter().map(|records| async move {
            let answer = log.append(records.clone()).await;
            (records, answer)
        }))
        .await;
        let mut failed = false;
        for (records, answer) in answers {
            match answer {
                Ok(seqs) => outcome.acked.push((seqs, records)),
                Err(_) => failed = true,
            }
        }
        if failed {
            break;
        }
    }
    outcome
}

/// Reopens the restarted disk and checks it against what the workload saw. Returns whether
/// a torn tail was cut.
async fn check_recovery(fs: Arc<SimFs>, outcome: &Outcome, what: &str) -> Result<bool> {
    let (log, report) = FileLog::open_with(fs.clone(), Path::new(DIR), opts())
        .with_context(|| format!("{what}: reopen failed"))?;
    let records = read_all(&log, 0, 64).await;
    ensure!(
        report.records == records.len() as u64,
        "{what}: report says {} records, read {}",
        report.records,
        records.len()
    );

    let mut seen = HashSet::new();
    for record in &records {
        ensure!(
            outcome.submitted.contains(&record.data),
            "{what}: record {} was never appended",
            record.seq
        );
        ensure!(
            seen.insert(record.data.clone()),
            "{what}: record {} appears twice",
            record.seq
        );
    }
    let by_seq: HashMap<u64, &Bytes> = records.iter().map(|r| (r.seq, &r.data)).collect();
    for (seqs, batch) in &outcome.acked {
        ensure!(seqs.len() == batch.len(), "{what}: one sequence per record");
        for (&seq, data) in seqs.iter().zip(batch) {
            ensure!(
                by_seq.get(&seq) == Some(&data),
                "{what}: acknowledged record {seq} lost or changed"
            );
        }
    }

    // The reopened log continues, durably.
    let extra = Bytes::from_static(b"after recovery");
    let seqs = log
        .append(vec![extra.clone()])
        .await
        .with_context(|| format!("{what}: append after reopen"))?;
    ensure!(
        seqs == [report.records],
        "{what}: append after reopen got {seqs:?}, expected {}",
        report.records
    );
    let seq = seqs[0];
    drop(log);
    let (log, again) = FileLog::open_with(fs.restart(true), Path::new(DIR), opts())
        .with_context(|| format!("{what}: second reopen failed"))?;
    ensure!(
        again.records == seq + 1 && again.torn_tail_cut.is_none(),
        "{what}: second reopen found {again:?}"
    );
    let last = log.read(seq, 1, std::time::Duration::ZERO).await?;
    ensure!(
        last.first().map(|r| &r.data) == Some(&extra),
        "{what}: record appended after recovery lost"
    );
    Ok(report.torn_tail_cut.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_crash_after_any_operation() -> Result<()> {
    // How many operations the whole workload takes (it varies a little with batching).
    let baseline = SimFs::new();
    let full = workload(baseline.clone()).await;
    let total_ops = baseline.ops();
    ensure!(
        full.acked.len() == ROUNDS * TASKS,
        "the workload without a crash must succeed"
    );
    check_recovery(baseline.restart(false), &full, "no crash").await?;

    let mut torn_cuts = 0;
    let mut partly_acked = 0;
    for k in 0..total_ops + 4 {
        let fs = SimFs::new();
        fs.crash_after(k);
        let outcome = workload(fs.clone()).await;
        if !outcome.acked.is_empty() && outcome.acked.len() < ROUNDS * TASKS {
            partly_acked += 1;
        }
        for torn in [false, true] {
            let what = format!("crash after {k} of {total_ops} ops, torn tail {torn}");
            if check_recovery(fs.restart(torn), &outcome, &what).await? {
                torn_cuts += 1;
            }
        }
    }
    eprintln!(
        "crash points: {total_ops} ops, {partly_acked} mid-workload, {torn_cuts} torn tails cut"
    );
    // The loop must really have crashed mid-workload and produced torn writes.
    ensure!(
        partly_acked > total_ops / 2,
        "only {partly_acked} of {total_ops} crash points fell mid-workload"
    );
    ensure!(torn_cuts > 0, "no torn tail was ever cut");
    Ok(())
}
