//! options owns the `kafka://` URI: brokers, topic and the settings its query may carry.

use crate::{LogError, Result};
use std::time::Duration;

/// Settings of a [`super::KafkaLog`], parsed from
/// `kafka://host:port[,host:port]/topic[?replication_factor=N&min_insync_replicas=M&delivery_timeout_ms=T&append_attempts=A]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaOptions {
    /// Bootstrap brokers, `host:port` each.
    pub brokers: Vec<String>,
    /// The topic holding the log (one partition).
    pub topic: String,
    /// Replicas of the partition when the topic is created (`replication_factor`, default 1).
    pub replication_factor: i32,
    /// `min.insync.replicas` of the topic: created with it, and a topic with another value is
    /// refused (`min_insync_replicas`, default 1; 2 or more in production).
    pub min_insync_replicas: i32,
    /// How long one delivery attempt may take before its outcome counts as unknown
    /// (librdkafka's `message.timeout.ms`; `delivery_timeout_ms`, default 5000).
    pub delivery_timeout: Duration,
    /// Delivery attempts of one append, each with the same bytes (`append_attempts`,
    /// default 2). An append fails after about `append_attempts × delivery_timeout`.
    pub append_attempts: u32,
}

const PARAMS: &str =
    "replication_factor, min_insync_replicas, delivery_timeout_ms, append_attempts";

fn bad(uri: &str, why: impl std::fmt::Display) -> LogError {
    LogError::Unsupported(format!("{uri}: {why}"))
}

impl KafkaOptions {
    /// Parses a `kafka://` URI; every mistake is named in the error.
    pub fn parse(uri: &str) -> Result<KafkaOptions> {
        let rest = uri
            .strip_prefix("kafka://")
            .ok_or_else(|| bad(uri, "not a kafka:// URI"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (hosts, topic) = rest
            .split_once('/')
            .ok_or_else(|| bad(uri, "expected kafka://host:port[,host:port]/topic"))?;
        let mut brokers = Vec::new();
        for host in hosts.split(',') {
            let (name, port) = host
                .rsplit_once(':')
                .ok_or_else(|| bad(uri, format!("broker {host:?} needs a port (host:port)")))?;
            if name.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(bad(uri, format!("broker {host:?} is not host:port")));
            }
            brokers.push(host.to_string());
        }
        // Kafka's own rule for topic names.
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if topic.is_empty()
            || topic.len() > 249
            || !topic.chars().all(legal)
            || topic == "."
            || topic == ".."
        {
            return Err(bad(
                uri,
                format!(
                    "topic {topic:?} is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)"
                ),
            ));
        }
        let mut opts = KafkaOptions {
            brokers,
            topic: topic.to_string(),
            replication_factor: 1,
            min_insync_replicas: 1,
            delivery_timeout: Duration::from_secs(5),
            append_attempts: 2,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = |min: u64, max: u64| -> Result<u64> {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| {
                        bad(
                            uri,
                            format!("{key}={value:?}: expected a whole number from {min} to {max}"),
                        )
                    })
            };
            match key {
                "replication_factor" => opts.replication_factor = number(1, 32)? as i32,
                "min_insync_replicas" => opts.min_insync_replicas = number(1, 32)? as i32,
                // librdkafka takes message.timeout.ms up to 2^31-1; a minute is plenty.
                "delivery_timeout_ms" => {
                    opts.delivery_timeout = Duration::from_millis(number(100, 600_000)?)
                }
                "append_attempts" => opts.append_attempts = number(1, 10)? as u32,
                _ => {
                    return Err(bad(
                        uri,
                        format!("unknown setting {key:?} (known: {PARAMS})"),
                    ))
                }
            }
        }
        if opts.min_insync_replicas > opts.replication_factor {
            return Err(bad(
                uri,
                format!(
                    "min_insync_replicas={} exceeds replication_factor={}: no append could ever be acknowledged",
                    opts.min_insync_replicas, opts.replication_factor
                ),
            ));
        }
        Ok(opts)
    }

    /// The URI these options stand for, with every setting spelled out.
    pub fn uri(&self) -> String {
        format!(
            "kafka://{}/{}?replication_factor={}&min_insync_replicas={}&delivery_timeout_ms={}&append_attempts={}",
            self.brokers.join(","),
            self.topic,
            self.replication_factor,
            self.min_insync_replicas,
            self.delivery_timeout.as_millis(),
            self.append_attempts
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_brokers_topic_and_settings() {
        let o = KafkaOptions::parse("kafka://a:9092,b.example:19092/arc.events-1?replication_factor=3&min_insync_replicas=2&delivery_timeout_ms=2500&append_attempts=4").unwrap();
        assert_eq!(o.brokers, vec!["a:9092", "b.example:19092"]);
        assert_eq!(o.topic, "arc.events-1");
        assert_eq!((o.replication_factor, o.min_insync_replicas), (3, 2));
        assert_eq!(o.delivery_timeout, Duration::from_millis(2500));
        assert_eq!(o.append_attempts, 4);
        assert_eq!(KafkaOptions::parse(&o.uri()).unwrap(), o);

        let d = KafkaOptions::parse("kafka://localhost:9092/events").unwrap();
        assert_eq!(
            (
                d.replication_factor,
                d.min_insync_replicas,
                d.append_attempts
            ),
            (1, 1, 2)
        );
        assert_eq!(d.delivery_timeout, Duration::from_secs(5));
    }

    #[test]
    fn names_what_is_wrong() {
        for (uri, needle) in [
            ("kafka://localhost:9092", "host:port"),
            ("kafka://localhost/events", "needs a port"),
            ("kafka://localhost:0/events", "not host:port"),
            ("kafka://:9092/events", "not host:port"),
            ("kafka://h:1/", "not a Kafka topic name"),
            ("kafka://h:1/a b", "not a Kafka topic name"),
            ("kafka://h:1/t?replicas=3", "unknown setting"),
            ("kafka://h:1/t?replication_factor=0", "replication_factor"),
            (
                "kafka://h:1/t?delivery_timeout_ms=abc",
                "delivery_timeout_ms",
            ),
            (
                "kafka://h:1/t?min_insync_replicas=2",
                "exceeds replication_factor",
            ),
        ] {
            match KafkaOptions::parse(uri) {
                Err(LogError::Unsupported(msg)) => assert!(msg.contains(needle), "{uri}: {msg}"),
                other => panic!("{uri}: expected an error, got {other:?}"),
            }
        }
    }
}
