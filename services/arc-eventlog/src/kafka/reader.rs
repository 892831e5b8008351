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
        f.debug_struct("Pool").field("idle", &self.lock().len()).finish()
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
        Ok(Reader { consumer: consumer(o)?, next: None })
    }

    fn put(&self, reader: Reader) {
        let mut idle = self.lock();
        if idle.len() < POOL {
            idle.push(reader);
        }
    }

    /// Reads up to `max` records from `from`, given the partition's current `end` (high
    /// watermark, already checked to be >= `from`). Blocking: run off the async workers.
    pub(crate) fn read(&self, o: &KafkaOptions, from: u64, end: u64, max: usize, wait: Duration) -> Result<Vec<Record>> {
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

fn consumer(o: &KafkaOptions) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", o.brokers.join(","))
        .set("client.id", "arcstream-log-reader")
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
    /// Makes the consumer's next message the one at `from`.
    fn position(&mut self, o: &KafkaOptions, from: u64) -> Result<()> {
        if self.next == Some(from) {
            return Ok(());
        }
        let offset = Offset::Offset(from as i64);
        if self.next.is_some() {
            // Already assigned and fetching: a seek moves the fetcher and drops what it
            // fetched ahead.
            match self.consumer.seek(&o.topic, 0, offset, o.delivery_timeout) {
                Ok(()) => {
                    self.next = Some(from);
                    return Ok(());
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
        Ok(())
    }

    fn read(&mut self, o: &KafkaOptions, from: u64, end: u64, max: usize, wait: Duration) -> Result<Vec<Record>> {
        self.position(o, from)?;
        // Records below `end` exist and must arrive within the request timeout; at the end
        // the read waits up to `wait` for the first new one.
        let (target, deadline) = if from < end {
            (end.min(from.saturating_add(max as u64)), Instant::now() + o.delivery_timeout)
        } else {
            (from.saturating_add(max as u64), Instant::now().checked_add(wait).unwrap_or_else(far_future))
        };
        let mut out: Vec<Record> = Vec::new();
        let mut bytes = 0usize;
        let mut next = from;
        while next < target && out.len() < max && bytes < READ_BUDGET {
            // Once something came at the end, take only what is already here.
            let timeout = if from >= end && !out.is_empty() {
                Duration::ZERO
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            let Some(polled) = self.consumer.poll(timeout) else {
                if timeout.is_zero() || Instant::now() >= deadline {
                    break;
                }
                continue;
            };
            let msg = match polled {
                Ok(msg) => msg,
                Err(e) => {
                    if matches!(
                        e.rdkafka_error_code(),
                        Some(RDKafkaErrorCode::OffsetOutOfRange | RDKafkaErrorCode::AutoOffsetReset)
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
            let offset = msg.offset() as u64;
            if msg.partition() != 0 || offset < next {
                // Fetched before a seek: not the record asked for.
                continue;
            }
            let data = Bytes::copy_from_slice(msg.payload().unwrap_or_default());
            bytes += data.len();
            out.push(Record { seq: offset, data });
            // Offsets are dense for a log only arcstream writes; a gap (transaction markers
            // of a foreign writer) is stepped over.
            next = offset + 1;
        }
        if from < end && out.is_empty() {
            return Err(LogError::Unavailable(format!(
                "kafka topic {}: records {from}..{end} did not arrive within {} ms",
                o.topic,
                o.delivery_timeout.as_millis()
            )));
        }
        self.next = Some(next);
        Ok(out)
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

fn log_consumer_error(e: &KafkaError) {
    tracing::warn!(error = %e, "kafka consumer error");
}
