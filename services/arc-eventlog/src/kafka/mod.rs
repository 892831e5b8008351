//! kafka owns the Kafka event log (`kafka://…`, cargo feature `kafka`): one topic with one
//! partition, whose offsets are the sequences, written by an idempotent producer with
//! `acks=all` and read by assigned consumers that seek (see `reader`).
//!
//! An append whose outcome stays unknown (the delivery timed out: the broker may or may not
//! hold the record) is sent again with the same bytes, so the same event id; a record can
//! therefore land twice, and the projector ignores an event id it has already applied.
//! After `append_attempts` attempts the append fails with [`LogError::Unavailable`], so a
//! paused or lost broker costs a bounded wait, never a hang.

mod options;
mod reader;
mod topic;

pub use options::KafkaOptions;

use crate::{EventLog, LogError, Record, Result};
use async_trait::async_trait;
use bytes::Bytes;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use topic::{Admin, MAX_MESSAGE_BYTES};

/// The Kafka log. Cheap to share: every method takes `&self`.
pub struct KafkaLog {
    inner: Arc<Inner>,
}

struct Inner {
    opts: KafkaOptions,
    /// Replaced after a failed delivery (see `Inner::renew_producer`).
    producer: RwLock<Arc<FutureProducer>>,
    /// Admin requests and watermark queries.
    admin: Arc<Admin>,
    readers: reader::Pool,
    /// One past the highest offset this process saw acknowledged or read. The end is never
    /// below it; see `Inner::end`.
    seen_end: AtomicU64,
}

impl std::fmt::Debug for KafkaLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaLog")
            .field("uri", &self.inner.opts.uri())
            .field("readers", &self.inner.readers)
            .finish()
    }
}

fn base_config(o: &KafkaOptions, client_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", o.brokers.join(","))
        .set("client.id", client_id)
        .set(
            "socket.timeout.ms",
            reader::socket_timeout_ms(o).to_string(),
        )
        // Only the start-up check creates the topic, with the right settings.
        .set("allow.auto.create.topics", "false");
    c
}

fn producer(o: &KafkaOptions) -> Result<FutureProducer> {
    base_config(o, "arcstream-log-writer")
        // The broker drops the duplicates of librdkafka's own retries and keeps the order.
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // Produce requests in flight are bounded by this too, so a broker that stops
        // answering fails a delivery after it.
        .set(
            "message.timeout.ms",
            o.delivery_timeout.as_millis().to_string(),
        )
        // Concurrent appends share produce requests, as they share fsyncs in the file log.
        .set("linger.ms", "2")
        .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
        .create()
        .map_err(|e| LogError::Unavailable(format!("cannot create a kafka producer: {e}")))
}

/// Errors a new attempt with the same bytes cannot cure.
fn permanent(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        code,
        MessageSizeTooLarge
            | InvalidMessageSize
            | InvalidRecord
            | InvalidTopic
            | InvalidRequiredAcks
            | InvalidArgument
            | UnknownTopic
            | UnknownPartition
            | TopicAuthorizationFailed
            | ClusterAuthorizationFailed
            | UnsupportedForMessageFormat
    )
}

impl KafkaLog {
    /// Connects, creates the topic if it is missing and checks it (see `topic`). Fails with
    /// [`LogError::Misconfigured`] on a topic the log cannot use, and with
    /// [`LogError::Unavailable`] when the brokers cannot be reached in time.
    pub async fn open(opts: KafkaOptions) -> Result<KafkaLog> {
        let admin: Admin = base_config(&opts, "arcstream-log-admin")
            .create()
            .map_err(|e| {
                LogError::Unavailable(format!("cannot create a kafka admin client: {e}"))
            })?;
        let admin = Arc::new(admin);
        topic::prepare(admin.clone(), &opts, admin_timeout(&opts)).await?;
        let producer = producer(&opts)?;
        Ok(KafkaLog {
            inner: Arc::new(Inner {
                producer: RwLock::new(Arc::new(producer)),
                admin,
                readers: reader::Pool::default(),
                seen_end: AtomicU64::new(0),
                opts,
            }),
        })
    }

    /// The options the log was opened with.
    pub fn options(&self) -> &KafkaOptions {
        &self.inner.opts
    }
}

/// Bound of admin and metadata requests: as long as a delivery, and never below 10 s so a
/// slow controller can create a topic.
fn admin_timeout(o: &KafkaOptions) -> Duration {
    o.delivery_timeout.max(Duration::from_secs(10))
}

impl Inner {
    fn producer(&self) -> Arc<FutureProducer> {
        self.producer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces `failed` (unless another append already did) after one of its deliveries
    /// failed. Its idempotence state (producer id, epoch, sequence numbers) may no longer
    /// match the broker's: librdkafka recovers from a timeout by itself on Kafka, but a
    /// fatal error leaves the producer useless, and tansu 0.6 answers every later record of
    /// a producer that timed out with ProducerFenced. A fresh producer starts clean; the
    /// bytes it sends again are the same, so is the event id inside.
    fn renew_producer(&self, failed: &Arc<FutureProducer>) {
        if let Some((code, reason)) = failed.client().fatal_error() {
            tracing::warn!(%code, reason, "kafka producer hit a fatal error");
        }
        let mut slot = self.producer.write().unwrap_or_else(|p| p.into_inner());
        if Arc::ptr_eq(&slot, failed) {
            match producer(&self.opts) {
                Ok(p) => {
                    tracing::info!("replaced the kafka producer after a failed delivery");
                    *slot = Arc::new(p);
                }
                Err(e) => tracing::error!(error = %e, "cannot create a new kafka producer"),
            }
        }
    }

    /// Drops a producer handle off the async workers when it may be the last: dropping a
    /// producer purges and flushes, which blocks for a moment.
    fn release(&self, p: Arc<FutureProducer>) {
        let current = Arc::ptr_eq(&p, &self.producer());
        if !current {
            tokio::task::spawn_blocking(move || drop(p));
        }
    }

    /// Low watermark and end of the partition (blocking).
    ///
    /// The end is the high watermark (ListOffsets), or what this process already saw
    /// acknowledged or read when that is more: both count only committed records, so the
    /// larger is still a true end. On Kafka the high watermark covers every acknowledged
    /// record and the rest changes nothing. tansu 0.6 answers ListOffsets with the base
    /// offset of the last batch plus one, short of a batch of several records; so a high
    /// watermark beyond what this process has seen is checked by reading the record before
    /// it (`Pool::probe_end`, one fetch that finds data at once).
    fn watermarks(&self) -> Result<(u64, u64)> {
        let (low, high) = self
            .admin
            .inner()
            .fetch_watermarks(&self.opts.topic, 0, admin_timeout(&self.opts))
            .map_err(|e| {
                LogError::Unavailable(format!(
                    "cannot read the end of kafka topic {}: {e}",
                    self.opts.topic
                ))
            })?;
        let (low, high) = (low.max(0) as u64, high.max(0) as u64);
        let seen = self.seen_end.load(Ordering::Acquire);
        if high <= seen {
            return Ok((low, seen));
        }
        let end = self.readers.probe_end(&self.opts, high)?;
        self.seen_end.fetch_max(end, Ordering::AcqRel);
        Ok((low, end))
    }

    fn saw(&self, offset: u64) {
        self.seen_end.fetch_max(offset + 1, Ordering::AcqRel);
    }

    /// One delivery attempt of `records`: the offset of each, or for the first record whose
    /// delivery failed, its index and the error (`Err` when retrying cannot help).
    async fn attempt(&self, records: &[Bytes]) -> Result<(Vec<u64>, Option<(usize, String)>)> {
        let producer = self.producer();
        let topic = self.opts.topic.as_str();
        let mut deliveries = Vec::with_capacity(records.len());
        let mut unsent = None;
        for (i, rec) in records.iter().enumerate() {
            let mut record = FutureRecord::<(), [u8]>::to(topic)
                .partition(0)
                .payload(&rec[..]);
            // A full local queue drains within the delivery timeout; wait for room then.
            let deadline = tokio::time::Instant::now() + self.opts.delivery_timeout;
            loop {
                match producer.send_result(record) {
                    Ok(delivery) => {
                        deliveries.push(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if tokio::time::Instant::now() < deadline =>
                    {
                        record = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => {
                        if e.rdkafka_error_code().is_some_and(permanent) {
                            return Err(LogError::Unavailable(format!(
                                "kafka refused the record: {e}"
                            )));
                        }
                        unsent = Some((i, format!("not queued: {e}")));
                        break;
                    }
                }
            }
            if unsent.is_some() {
                break;
            }
        }
        // librdkafka answers every delivery within message.timeout.ms; the margin only
        // guards against a lost answer.
        let guard = self.opts.delivery_timeout + Duration::from_secs(5);
        let answers = futures::future::join_all(
            deliveries
                .into_iter()
                .map(|d| tokio::time::timeout(guard, d)),
        )
        .await;
        let mut offsets = Vec::with_capacity(records.len());
        for (i, answer) in answers.into_iter().enumerate() {
            let error = match answer {
                Ok(Ok(Ok(delivery))) => {
                    let offset = delivery.offset as u64;
                    self.saw(offset);
                    offsets.push(offset);
                    continue;
                }
                Ok(Ok(Err((e, _)))) => {
                    if e.rdkafka_error_code().is_some_and(permanent) {
                        return Err(LogError::Unavailable(format!(
                            "kafka refused the record: {e}"
                        )));
                    }
                    e.to_string()
                }
                Ok(Err(_canceled)) => "the producer went away".to_string(),
                Err(_elapsed) => format!("no delivery report within {} ms", guard.as_millis()),
            };
            self.renew_producer(&producer);
            self.release(producer);
            return Ok((offsets, Some((i, error))));
        }
        if unsent.is_some() {
            self.renew_producer(&producer);
        }
        self.release(producer);
        Ok((offsets, unsent))
    }
}

#[async_trait]
impl EventLog for KafkaLog {
    async fn append(&self, records: Vec<Bytes>) -> Result<Vec<u64>> {
        if let Some(big) = records.iter().find(|r| r.len() > MAX_MESSAGE_BYTES - 1024) {
            return Err(LogError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "record of {} bytes exceeds the kafka log's limit of {}",
                    big.len(),
                    MAX_MESSAGE_BYTES - 1024
                ),
            )));
        }
        let o = &self.inner.opts;
        let mut seqs: Vec<u64> = Vec::with_capacity(records.len());
        let mut last_error = String::new();
        for attempt in 1..=o.append_attempts {
            if seqs.len() == records.len() {
                break;
            }
            // Everything from the first record whose outcome is unknown is sent again, so
            // the acknowledged copies keep the order of `records`.
            let (offsets, failed) = self.inner.attempt(&records[seqs.len()..]).await?;
            seqs.extend(offsets);
            match failed {
                None => return Ok(seqs),
                Some((_, error)) => {
                    tracing::warn!(
                        attempt,
                        of = o.append_attempts,
                        record = seqs.len(),
                        error,
                        "kafka append outcome unknown; sending the same bytes again"
                    );
                    last_error = error;
                }
            }
        }
        if seqs.len() == records.len() {
            return Ok(seqs);
        }
        Err(LogError::Unavailable(format!(
            "kafka topic {} did not acknowledge the append in {} attempts of {} ms: {last_error}",
            o.topic,
            o.append_attempts,
            o.delivery_timeout.as_millis()
        )))
    }

    async fn read(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let (low, end) = inner.watermarks()?;
            if from > end {
                return Err(LogError::OutOfRange(from, end));
            }
            if max == 0 || (from == end && wait.is_zero()) {
                return Ok(Vec::new());
            }
            if from < low {
                return Err(LogError::Corrupt {
                    location: format!("kafka topic {} partition 0 offset {from}", inner.opts.topic),
                    detail: format!("the brokers hold the log only from offset {low}: records were deleted (finite retention?)"),
                });
            }
            let records = inner.readers.read(&inner.opts, from, end, max, wait)?;
            if let Some(last) = records.last() {
                inner.saw(last.seq);
            }
            Ok(records)
        })
        .await
        .map_err(|e| LogError::Unavailable(format!("kafka read task failed: {e}")))?
    }

    async fn end(&self) -> Result<u64> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.watermarks().map(|(_, high)| high))
            .await
            .map_err(|e| LogError::Unavailable(format!("kafka task failed: {e}")))?
    }

    fn uri(&self) -> String {
        self.inner.opts.uri()
    }
}
