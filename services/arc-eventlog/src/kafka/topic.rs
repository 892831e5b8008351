//! topic owns the start-up check of the log's topic: create it when missing (one partition,
//! infinite retention, the configured replication and `min.insync.replicas`), otherwise
//! refuse a topic whose settings could reorder or lose events.

use super::options::KafkaOptions;
use crate::{LogError, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) type Admin = AdminClient<DefaultClientContext>;

/// Largest record the topic is created to take (`max.message.bytes`); events are small, the
/// margin is for unusual headers. Matches the producer's `message.max.bytes`.
pub(crate) const MAX_MESSAGE_BYTES: usize = 8 << 20;

/// What the topic looks like to the brokers.
enum Found {
    Missing,
    Partitions(usize),
}

fn metadata(admin: &Admin, topic: &str, timeout: Duration) -> Result<Found> {
    let md = admin
        .inner()
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| {
            LogError::Unavailable(format!("cannot read metadata of kafka topic {topic}: {e}"))
        })?;
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
        return Ok(Found::Missing);
    };
    match t.error().map(RDKafkaErrorCode::from) {
        None => Ok(Found::Partitions(t.partitions().len())),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) => Ok(Found::Missing),
        // Being created by someone else right now: its partitions are not listed yet.
        Some(RDKafkaErrorCode::LeaderNotAvailable) if t.partitions().is_empty() => {
            Ok(Found::Partitions(0))
        }
        Some(code) => Err(LogError::Unavailable(format!(
            "kafka topic {topic}: {code}"
        ))),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| LogError::Unavailable(format!("kafka task failed: {e}")))?
}

/// Creates the topic if it is missing, then checks it; any mismatch is an error that says
/// what is wrong and how to fix it.
pub(crate) async fn prepare(admin: Arc<Admin>, o: &KafkaOptions, timeout: Duration) -> Result<()> {
    let topic = o.topic.clone();
    let a = admin.clone();
    let found = blocking(move || metadata(&a, &topic, timeout)).await?;
    if matches!(found, Found::Missing) {
        create(&admin, o, timeout).await?;
    }
    // CreateTopics returns when the controller has the topic; brokers learn of it a moment
    // later. Wait for the partition to show in the metadata.
    let deadline = Instant::now() + timeout;
    let partitions = loop {
        let (a, topic) = (admin.clone(), o.topic.clone());
        match blocking(move || metadata(&a, &topic, timeout)).await? {
            Found::Partitions(n) if n > 0 => break n,
            _ if Instant::now() >= deadline => {
                return Err(LogError::Unavailable(format!(
                    "kafka topic {} shows no partition {} s after it was created",
                    o.topic,
                    timeout.as_secs()
                )))
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    if partitions != 1 {
        return Err(LogError::Misconfigured(format!(
            "kafka topic {topic} has {partitions} partitions, but the event log needs exactly 1 (the offset orders every change). \
             Kafka cannot remove partitions: point --log at a new topic name (arcstream creates it with 1 partition) or recreate {topic} with 1 partition",
            topic = o.topic
        )));
    }
    let configs = describe(&admin, o, timeout).await?;
    let problems = check_configs(&configs, o);
    if !problems.is_empty() {
        return Err(LogError::Misconfigured(format!(
            "kafka topic {}: {}",
            o.topic,
            problems.join("; ")
        )));
    }
    Ok(())
}

async fn create(admin: &Admin, o: &KafkaOptions, timeout: Duration) -> Result<()> {
    let min_isr = o.min_insync_replicas.to_string();
    let max_bytes = MAX_MESSAGE_BYTES.to_string();
    let new = NewTopic::new(&o.topic, 1, TopicReplication::Fixed(o.replication_factor))
        // The log is the archive: it must never expire.
        .set("retention.ms", "-1")
        .set("retention.bytes", "-1")
        .set("cleanup.policy", "delete")
        .set("min.insync.replicas", &min_isr)
        .set("max.message.bytes", &max_bytes);
    let opts = AdminOptions::new()
        .request_timeout(Some(timeout))
        .operation_timeout(Some(timeout));
    let results = admin.create_topics([&new], &opts).await.map_err(|e| {
        LogError::Unavailable(format!("cannot create kafka topic {}: {e}", o.topic))
    })?;
    for r in results {
        match r {
            Ok(_) => {
                tracing::info!(topic = %o.topic, replication_factor = o.replication_factor, min_insync_replicas = o.min_insync_replicas, "created the event log topic")
            }
            // Another node created it at the same moment: check it like any existing topic.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(LogError::Unavailable(format!(
                    "cannot create kafka topic {} (1 partition, replication factor {}): {code}",
                    o.topic, o.replication_factor
                )))
            }
        }
    }
    Ok(())
}

/// The topic's configuration as the brokers report it (DescribeConfigs).
async fn describe(
    admin: &Admin,
    o: &KafkaOptions,
    timeout: Duration,
) -> Result<HashMap<String, String>> {
    let opts = AdminOptions::new().request_timeout(Some(timeout));
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(&o.topic)], &opts)
        .await
        .map_err(|e| {
            LogError::Unavailable(format!(
                "cannot read the configuration of kafka topic {}: {e}",
                o.topic
            ))
        })?;
    let mut out = HashMap::new();
    for r in results {
        let resource = r.map_err(|code| {
            LogError::Unavailable(format!(
                "cannot read the configuration of kafka topic {}: {code}",
                o.topic
            ))
        })?;
        for e in resource.entries {
            if let Some(v) = e.value {
                out.insert(e.name, v);
            }
        }
    }
    Ok(out)
}

/// Every setting of the topic that the log cannot live with, each with its fix.
pub(crate) fn check_configs(configs: &HashMap<String, String>, o: &KafkaOptions) -> Vec<String> {
    let topic = &o.topic;
    let brokers = o.brokers.join(",");
    let fix = |setting: &str| {
        format!("kafka-configs.sh --bootstrap-server {brokers} --alter --entity-type topics --entity-name {topic} --add-config {setting}")
    };
    let mut problems = Vec::new();
    let get = |k: &str| configs.get(k).map(String::as_str);
    match get("retention.ms") {
        Some("-1") => {}
        Some(v) => problems.push(format!(
            "retention.ms={v} would delete events, and the log is the archive; set it to -1 ({})",
            fix("retention.ms=-1")
        )),
        None => problems.push(format!(
            "the brokers do not report retention.ms, so infinite retention cannot be checked; set it to -1 ({})",
            fix("retention.ms=-1")
        )),
    }
    if let Some(v) = get("retention.bytes").filter(|v| *v != "-1") {
        problems.push(format!(
            "retention.bytes={v} would delete events once the log grows; set it to -1 ({})",
            fix("retention.bytes=-1")
        ));
    }
    if let Some(v) = get("cleanup.policy").filter(|v| v.split(',').any(|p| p.trim() == "compact")) {
        problems.push(format!(
            "cleanup.policy={v} would compact the log away; set it to delete ({})",
            fix("cleanup.policy=delete")
        ));
    }
    let want = o.min_insync_replicas.to_string();
    match get("min.insync.replicas") {
        Some(v) if v == want => {}
        Some(v) => problems.push(format!(
            "min.insync.replicas={v} but the URI asks for min_insync_replicas={want}; alter the topic ({}) or change min_insync_replicas in --log",
            fix(&format!("min.insync.replicas={want}"))
        )),
        None => problems.push(format!(
            "the brokers do not report min.insync.replicas, so it cannot be checked against min_insync_replicas={want}"
        )),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn accepts_a_right_topic_and_names_each_wrong_setting() {
        let o = KafkaOptions::parse("kafka://b:9092/ev?replication_factor=3&min_insync_replicas=2")
            .unwrap();
        let good = [
            ("retention.ms", "-1"),
            ("retention.bytes", "-1"),
            ("cleanup.policy", "delete"),
            ("min.insync.replicas", "2"),
        ];
        assert!(check_configs(&configs(&good), &o).is_empty());

        let bad = [
            ("retention.ms", "604800000"),
            ("retention.bytes", "1000"),
            ("cleanup.policy", "compact,delete"),
            ("min.insync.replicas", "1"),
        ];
        let problems = check_configs(&configs(&bad), &o);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems[0].contains("retention.ms=604800000")
                && problems[0].contains("--add-config retention.ms=-1")
        );
        assert!(problems[1].contains("retention.bytes=1000"));
        assert!(problems[2].contains("cleanup.policy=compact,delete"));
        assert!(
            problems[3].contains("min.insync.replicas=1")
                && problems[3].contains("min_insync_replicas=2")
        );

        let silent = check_configs(&configs(&[]), &o);
        assert_eq!(
            silent.len(),
            2,
            "unreported retention.ms and min.insync.replicas: {silent:?}"
        );
    }
}
