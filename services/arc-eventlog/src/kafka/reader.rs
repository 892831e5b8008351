//! reader owns reading the log's partition: a small pool of consumers, each `assign`ed to the
//! one partition and `seek`ed to where a read starts. No consumer group and no committed
//! offsets: the position lives with the projection that asks for it.
//!
//! A consumer fetches ahead of what it hands out, so the pool keeps each consumer with the
//! offset it stands at; a read takes the consumer already standing at its `from` (the
//! projector's next read, normally) and seeks only when none does. Concurrent reads each
//! take their own consumer, so a read waiting at the end never holds up another.

use super::options::KafkaOptions;
use crate::{LogError, Record, Result};
use bytes::Bytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest amount of record bytes one read gathers (at least one record is always
/// returned), as the file log does.
const READ_BUDGET: usize = 16 << 20;
/// Idle consumers kept for later reads; more are made when reads run at the same time.
const POOL: usize = 4;
/// How far before `from` a read that must move seeks first.
const FIRST_BACK: u64 = 64;
/// How long a read waits for a record known to exist before it seeks further back.
const QUIET: Duration = Duration::from_millis(300);

/// One consumer and the offset its next message will have (`None`: not assigned yet).
pub(crate) struct Reader {
    consumer: BaseConsumer,
    next: Option<u64>,
}

/// The consumers not in use.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<Reader>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("idle", &self.lock().len())
            .finish()
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Reader>> {
        // Only whole readers are pushed and popped: a poisoned pool is still consistent.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A reader standing at `from` if one is idle, else any idle one, else a new one.
    fn take(&self, o: &KafkaOptions, from: u64) -> Result<Reader> {
        let mut idle = self.lock();
        if let Some(i) = idle.iter().position(|r| r.next == Some(from)) {
            return Ok(idle.swap_remove(i));
        }
        if let Some(r) = idle.pop() {
            return Ok(r);
        }
        drop(idle);
        Ok(Reader {
            consumer: consumer(o)?,
            next: None,
        })
    }

    fn put(&self, reader: Reader) {
        let mut idle = self.lock();
        if idle.len() < POOL {
            idle.push(reader);
        }
    }

    /// Reads up to `max` records from `from`, given the partition's current `end` (high
    /// watermark, already checked to be >= `from`). Blocking: run off the async workers.
    pub(crate) fn read(
        &self,
        o: &KafkaOptions,
        from: u64,
        end: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Record>> {
        let mut reader = self.take(o, from)?;
        let result = reader.read(o, from, end, max, wait);
        if result.is_err() {
            // Its fetch state is unknown now: position it afresh next time.
            reader.next = None;
        }
        self.put(reader);
        result
    }
}

impl Pool {
    /// The true end of the partition, given its high watermark `high` as ListOffsets
    /// reported it: reads the record at `high - 1` and whatever was fetched with it. On Kafka
    /// that is the last record, so the answer is `high`; tansu 0.6 reports the base offset of
    /// the last batch plus one, and the rest of that batch comes back with its first record.
    /// One fetch that finds data at once: no wait at the end. Blocking.
    pub(crate) fn probe_end(&self, o: &KafkaOptions, high: u64) -> Result<u64> {
        if high == 0 {
            return Ok(0);
        }
        let from = high - 1;
        let mut reader = self.take(o, from)?;
        let result = reader.probe(o, from);
        if result.is_err() {
            reader.next = None;
        }
        self.put(reader);
        result.map(|last| last.map_or(high, |l| (l + 1).max(high)))
    }
}

fn consumer(o: &KafkaOptions) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", o.brokers.join(","))
        .set("client.id", "arcstream-log-reader")
        // librdkafka's assign() wants a group id; the consumer never joins the group (no
        // subscribe) and never commits, so the name is only a label.
        .set("group.id", "arcstream-log-reader")
        // Positions live with the projection: nothing is committed or stored here.
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        // Never jump silently: an offset the brokers no longer hold is an error.
        .set("auto.offset.reset", "error")
        .set("allow.auto.create.topics", "false")
        // A waiting read learns of new records within this, even from a broker that does
        // not answer a fetch as soon as data arrives.
        .set("fetch.wait.max.ms", "100")
        .set("queued.max.messages.kbytes", "16384")
        .set("socket.timeout.ms", socket_timeout_ms(o).to_string())
        .create()
        .map_err(|e| LogError::Unavailable(format!("cannot create a kafka consumer: {e}")))
}

/// librdkafka's timeout for requests other than produce requests; produce requests are
/// bounded by the delivery timeout already.
pub(crate) fn socket_timeout_ms(o: &KafkaOptions) -> u128 {
    o.delivery_timeout.as_millis().max(10_000)
}

impl Reader {
    /// Makes the consumer's next message the one at `from`; true when it had to move.
    fn position(&mut self, o: &KafkaOptions, from: u64) -> Result<bool> {
        if self.next == Some(from) {
            return Ok(false);
        }
        let offset = Offset::Offset(from as i64);
        if self.next.is_some() {
            // Already assigned and fetching: a seek moves the fetcher and drops what it
            // fetched ahead.
            match self.consumer.seek(&o.topic, 0, offset, o.delivery_timeout) {
                Ok(()) => {
                    self.next = Some(from);
                    return Ok(true);
                }
                Err(e) => tracing::debug!(error = %e, from, "kafka seek failed; assigning again"),
            }
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&o.topic, 0, offset)
            .map_err(|e| LogError::Unavailable(format!("kafka assign: {e}")))?;
        self.consumer
            .assign(&tpl)
            .map_err(|e| LogError::Unavailable(format!("kafka assign: {e}")))?;
        self.next = Some(from);
        Ok(true)
    }

    /// The offset of the last record that arrives with the one at `from` (None when even
    /// that one does not come within the delivery timeout: a transaction marker, say).
    fn probe(&mut self, o: &KafkaOptions, from: u64) -> Result<Option<u64>> {
        self.position(o, from)?;
        let deadline = Instant::now() + o.delivery_timeout;
        let mut last = None;
        loop {
            let timeout = if last.is_some() {
                Duration::ZERO
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            match self.consumer.poll(timeout) {
                Some(Ok(msg)) if msg.partition() == 0 && msg.offset() as u64 >= from => {
                    last = Some(msg.offset() as u64);
                    self.next = Some(msg.offset() as u64 + 1);
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => log_consumer_error(&e),
                None if last.is_some() || Instant::now() >= deadline => return Ok(last),
                None => {}
            }
        }
    }

    /// Reads `from..` as the pool's `read` describes.
    ///
    /// After a seek the stream is trusted only once it starts at or before the seek point.
    /// Kafka answers a fetch at an offset inside a batch with that whole batch (the records
    /// before the offset are dropped here), so this holds at once. tansu 0.6 answers with
    /// the batches that *start* at or after the offset, leaving out the rest of the batch
    /// the offset lies in: the first record then comes from past the seek point, or nothing
    /// comes at all. Either way the read seeks further back (64, 512, 4096, … records
    /// before `from`: each seek costs a fetch round trip, a few small records more cost
    /// nothing) until it lands on a batch start, and drops what lies before `from`.
    fn read(
        &mut self,
        o: &KafkaOptions,
        from: u64,
        end: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Record>> {
        // A reader standing at `from` goes on; one that must move seeks a little before it,
        // so on tansu the first seek mostly lands on a batch start already (see above).
        let mut back = if self.next == Some(from) {
            0
        } else {
            FIRST_BACK.min(from)
        };
        let mut seek_point = from - back;
        let mut anchored = !self.position(o, seek_point)?;
        let mut quiet_since = Instant::now();
        // Records below `end` exist and must arrive within the request timeout; at the end
        // the read waits up to `wait` for the first new one.
        let (target, deadline) = if from < end {
            (
                end.min(from.saturating_add(max as u64)),
                Instant::now() + o.delivery_timeout,
            )
        } else {
            (
                from.saturating_add(max as u64),
                Instant::now().checked_add(wait).unwrap_or_else(far_future),
            )
        };
        let mut out: Vec<Record> = Vec::new();
        let mut bytes = 0usize;
        let mut next = from;
        while next < target && out.len() < max && bytes < READ_BUDGET {
            // A record known to exist that does not come within QUIET after a seek: the seek
            // point lies inside the last batch (see above).
            let may_step_back = !anchored && from < end && seek_point > 0;
            let mut timeout = if from >= end && !out.is_empty() {
                // Once something came at the end, take only what is already here.
                Duration::ZERO
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            if may_step_back {
                timeout = timeout.min(QUIET.saturating_sub(quiet_since.elapsed()));
            }
            let Some(polled) = self.consumer.poll(timeout) else {
                if may_step_back && quiet_since.elapsed() >= QUIET && Instant::now() < deadline {
                    back = step_back(back, from);
                    seek_point = from - back;
                    self.position(o, seek_point)?;
                    quiet_since = Instant::now();
                    continue;
                }
                if (timeout.is_zero() && !may_step_back) || Instant::now() >= deadline {
                    break;
                }
                continue;
            };
            let msg = match polled {
                Ok(msg) => msg,
                Err(e) => {
                    if matches!(
                        e.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::OffsetOutOfRange | RDKafkaErrorCode::AutoOffsetReset
                        )
                    ) {
                        return Err(LogError::Corrupt {
                            location: format!("kafka topic {} partition 0 offset {next}", o.topic),
                            detail: format!("the brokers no longer hold this offset ({e}); was the topic's retention finite?"),
                        });
                    }
                    // Transport errors are reported here too; librdkafka reconnects by itself.
                    log_consumer_error(&e);
                    if Instant::now() >= deadline {
                        break;
                    }
                    continue;
                }
            };
            if msg.partition() != 0 {
                continue;
            }
            let offset = msg.offset() as u64;
            if !anchored {
                if offset <= seek_point || seek_point == 0 {
                    anchored = true;
                } else {
                    back = step_back(back, from);
                    seek_point = from - back;
                    self.position(o, seek_point)?;
                    quiet_since = Instant::now();
                    continue;
                }
            }
            if offset < next {
                // Before `from`: read only to find the start of its batch.
                continue;
            }
            let data = Bytes::copy_from_slice(msg.payload().unwrap_or_default());
            bytes += data.len();
            out.push(Record { seq: offset, data });
            // Offsets are dense for a log only arcstream writes; a gap (transaction markers
            // of a foreign writer) is stepped over.
            next = offset + 1;
        }
        // The consumer has handed out everything before `next`; after a step back it may
        // still hold older records, which the next read drops as before its `from`.
        self.next = if anchored { Some(next) } else { None };
        if from < end && out.is_empty() {
            return Err(LogError::Unavailable(format!(
                "kafka topic {}: records {from}..{end} did not arrive within {} ms",
                o.topic,
                o.delivery_timeout.as_millis()
            )));
        }
        Ok(out)
    }
}

/// The next distance before `from` to seek to after `back` did not land on a batch start.
fn step_back(back: u64, from: u64) -> u64 {
    back.saturating_mul(8).max(FIRST_BACK).min(from)
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

fn log_consumer_error(e: &KafkaError) {
    tracing::warn!(error = %e, "kafka consumer error");
}
