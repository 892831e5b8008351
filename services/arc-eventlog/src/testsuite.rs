//! testsuite owns the conformance suite every [`EventLog`] backend must pass.
//!
//! Call [`run`] on an empty log from a tokio test (any flavour); it panics on the first
//! broken rule. Enable the `testsuite` feature to use it from another crate's tests.
//!
//! The suite is the only writer of the log it checks, so sequences must come out dense;
//! with other writers (several nodes on one Kafka partition) only their order is promised.

use crate::{EventLog, LogError, Record};
use bytes::Bytes;
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn payload(tag: &str) -> Bytes {
    Bytes::from(tag.as_bytes().to_vec())
}

/// Reads every record from `from` to the end, paging with `page`.
pub async fn read_all(log: &dyn EventLog, from: u64, page: usize) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut next = from;
    loop {
        let batch = log
            .read(next, page, Duration::ZERO)
            .await
            .expect("read while paging");
        if batch.is_empty() {
            return out;
        }
        assert!(batch.len() <= page, "read returned more than max");
        for record in batch {
            assert_eq!(
                record.seq, next,
                "records must come back dense and in order"
            );
            next += 1;
            out.push(record);
        }
    }
}

/// Runs every check against `log`, which must be empty.
pub async fn run(log: &dyn EventLog) {
    starts_empty(log).await;
    appends_and_reads(log).await;
    empty_appends(log).await;
    read_at_end_waits(log).await;
    read_at_end_wakes_on_append(log).await;
    concurrent_appends(log).await;
    large_records(log).await;
    everything_reads_back(log).await;
    concurrent_reads(log).await;
}

async fn starts_empty(log: &dyn EventLog) {
    assert_eq!(
        log.end().await.expect("end"),
        0,
        "the suite needs an empty log"
    );
    let batch = log.read(0, 10, Duration::ZERO).await.expect("read at 0");
    assert!(batch.is_empty());
    match log.read(1, 10, Duration::ZERO).await {
        Err(LogError::OutOfRange(1, 0)) => {}
        other => panic!("read beyond the end must be OutOfRange(1, 0), got {other:?}"),
    }
}

async fn appends_and_reads(log: &dyn EventLog) {
    assert_eq!(
        log.append(vec![payload("a")]).await.expect("append a"),
        vec![0]
    );
    let seqs = log
        .append(vec![payload("b"), payload("c"), payload("d")])
        .await
        .expect("append bcd");
    assert_eq!(seqs, vec![1, 2, 3], "one sequence per record, dense");
    assert_eq!(log.end().await.expect("end"), 4);

    let all = log.read(0, 100, Duration::ZERO).await.expect("read all");
    let seqs: Vec<u64> = all.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3]);
    let data: Vec<&[u8]> = all.iter().map(|r| r.data.as_ref()).collect();
    assert_eq!(data, vec![&b"a"[..], b"b", b"c", b"d"]);

    let part = log.read(1, 2, Duration::ZERO).await.expect("partial read");
    assert_eq!(
        part,
        vec![
            Record {
                seq: 1,
                data: payload("b")
            },
            Record {
                seq: 2,
                data: payload("c")
            }
        ]
    );
    let one = log
        .read(3, 1, Duration::from_secs(5))
        .await
        .expect("read last");
    assert_eq!(
        one,
        vec![Record {
            seq: 3,
            data: payload("d")
        }]
    );
    let none = log.read(2, 0, Duration::from_secs(5)).await.expect("max 0");
    assert!(none.is_empty(), "max 0 returns nothing");
    match log.read(5, 1, Duration::ZERO).await {
        Err(LogError::OutOfRange(5, 4)) => {}
        other => panic!("read beyond the end must be OutOfRange(5, 4), got {other:?}"),
    }

    // An empty record is a record like any other.
    let seq = log
        .append(vec![Bytes::new()])
        .await
        .expect("append empty record");
    assert_eq!(seq, vec![4]);
    let back = log
        .read(4, 1, Duration::ZERO)
        .await
        .expect("read empty record");
    assert_eq!(
        back,
        vec![Record {
            seq: 4,
            data: Bytes::new()
        }]
    );
}

async fn empty_appends(log: &dyn EventLog) {
    let end = log.end().await.expect("end");
    let answer = log
        .append(Vec::new())
        .await
        .expect("an empty append is fine");
    assert!(answer.is_empty(), "an empty append returns no sequence");
    assert_eq!(
        log.end().await.expect("end"),
        end,
        "an empty append adds nothing"
    );
}

async fn read_at_end_waits(log: &dyn EventLog) {
    let end = log.end().await.expect("end");
    let wait = Duration::from_millis(200);
    let started = Instant::now();
    let batch = log.read(end, 10, wait).await.expect("read at end");
    let took = started.elapsed();
    assert!(batch.is_empty(), "nothing was appended");
    assert!(
        took >= wait - Duration::from_millis(10),
        "read at the end returned after {took:?}, before its wait"
    );
    assert!(
        took < wait + Duration::from_secs(5),
        "read at the end overslept: {took:?}"
    );

    let started = Instant::now();
    let batch = log
        .read(end, 10, Duration::ZERO)
        .await
        .expect("read at end, no wait");
    assert!(batch.is_empty());
    assert!(started.elapsed() < Duration::from_secs(1));
}

async fn read_at_end_wakes_on_append(log: &dyn EventLog) {
    let end = log.end().await.expect("end");
    let started = Instant::now();
    let reader = log.read(end, 10, Duration::from_secs(30));
    let writer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        log.append(vec![payload("wake")])
            .await
            .expect("append while a reader waits")
    };
    let (batch, seq) = tokio::join!(reader, writer);
    let batch = batch.expect("waiting read");
    assert_eq!(seq, vec![end]);
    assert_eq!(
        batch,
        vec![Record {
            seq: end,
            data: payload("wake")
        }]
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the reader was not woken by the append"
    );
}

async fn concurrent_appends(log: &dyn EventLog) {
    let start = log.end().await.expect("end");
    let tasks: Vec<_> = (0..48usize)
        .map(|task| {
            let records: Vec<Bytes> = (0..=task % 3)
                .map(|i| payload(&format!("task-{task}-record-{i}")))
                .collect();
            async move {
                let n = records.len();
                let seqs = log.append(records).await.expect("concurrent append");
                assert_eq!(seqs.len(), n, "one sequence per record");
                assert!(
                    seqs.windows(2).all(|w| w[0] < w[1]),
                    "the records of one append keep their order: {seqs:?}"
                );
                (task, seqs)
            }
        })
        .collect();
    let results = futures::future::join_all(tasks).await;

    let mut taken = HashSet::new();
    let mut total = 0;
    for (_, seqs) in &results {
        for &seq in seqs {
            assert!(seq >= start);
            assert!(taken.insert(seq), "sequence {seq} given twice");
        }
        total += seqs.len() as u64;
    }
    let end = log.end().await.expect("end");
    assert_eq!(end, start + total, "sequences are dense");

    let records = read_all(log, start, 7).await;
    assert_eq!(records.len() as u64, total);
    for (task, seqs) in results {
        for (i, seq) in seqs.into_iter().enumerate() {
            let record = &records[(seq - start) as usize];
            assert_eq!(
                record.data,
                payload(&format!("task-{task}-record-{i}")),
                "record {seq} of task {task}"
            );
        }
    }
}

async fn large_records(log: &dyn EventLog) {
    let big = |fill: u8| Bytes::from(vec![fill; 1 << 20]);
    let first = log.append(vec![big(1)]).await.expect("append 1 MiB")[0];
    let next = log
        .append(vec![big(2), payload("small"), big(3)])
        .await
        .expect("append 2 MiB batch");
    assert_eq!(next, vec![first + 1, first + 2, first + 3]);
    let back = read_all(log, first, 10).await;
    assert_eq!(back.len(), 4);
    assert_eq!(back[0].data, big(1));
    assert_eq!(back[1].data, big(2));
    assert_eq!(back[2].data, payload("small"));
    assert_eq!(back[3].data, big(3));
    let one = log
        .read(first + 3, 1, Duration::ZERO)
        .await
        .expect("read one large record");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].data.len(), 1 << 20);
}

async fn everything_reads_back(log: &dyn EventLog) {
    let end = log.end().await.expect("end");
    for page in [1, 3, 1000] {
        let records = read_all(log, 0, page).await;
        assert_eq!(records.len() as u64, end, "paging by {page}");
    }
    // Reads from every position see the same records.
    let all = read_all(log, 0, 1000).await;
    for from in 0..end {
        let batch = log
            .read(from, 2, Duration::ZERO)
            .await
            .expect("read from any position");
        assert!(!batch.is_empty());
        assert_eq!(batch[0], all[from as usize]);
    }
}

/// Reads from many positions at once see the right records, and a read waiting at the end
/// holds up none of them: the append that wakes it is made only after they all returned.
async fn concurrent_reads(log: &dyn EventLog) {
    let all = read_all(log, 0, 1000).await;
    let end = all.len() as u64;
    assert!(end >= 8, "the earlier checks leave records to read");
    let waiting = log.read(end, 10, Duration::from_secs(30));
    let others = async {
        let reads = (0..16u64).map(|i| {
            let from = (i * 7) % end;
            async move { (from, log.read(from, 3, Duration::ZERO).await) }
        });
        for (from, batch) in futures::future::join_all(reads).await {
            let batch = batch.expect("concurrent read");
            assert!(!batch.is_empty(), "read from {from} found nothing");
            for (k, record) in batch.iter().enumerate() {
                assert_eq!(
                    record,
                    &all[from as usize + k],
                    "concurrent read from {from}"
                );
            }
        }
        log.append(vec![payload("after concurrent reads")])
            .await
            .expect("append after concurrent reads")
    };
    let (woken, seqs) = tokio::join!(waiting, others);
    assert_eq!(
        woken.expect("waiting read"),
        vec![Record {
            seq: seqs[0],
            data: payload("after concurrent reads")
        }],
        "the waiting read returned before the append, or missed it"
    );
}
