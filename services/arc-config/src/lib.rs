//! arc-config turns a config file and the environment into a validated node configuration.
//! Precedence, lowest first: built-in defaults, the TOML file, `ARCSTREAM_*` variables,
//! then command-line flags (applied by the binary through [`NodeConfig::set`]).

use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Errors of loading or validating configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, as the TOML parser says it.
        message: String,
    },
    /// A value is not acceptable.
    #[error("setting `{key}` = {value:?}: {why}")]
    Invalid {
        /// The setting's name.
        key: String,
        /// The value given.
        value: String,
        /// What is acceptable.
        why: String,
    },
}

pub use arc_model::OverwritePolicy as Overwrite;

/// The validated settings of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// The archive's AE title; DICOMweb is served under `/aets/{aet}/rs`.
    pub aet: String,
    /// Folder for the embedded log, the folder store and the node's projection.
    pub data_dir: PathBuf,
    /// Event log URI; default the folder `{data_dir}/log`.
    pub log_uri: Option<String>,
    /// Object store URI; default the folder `{data_dir}/objects`.
    pub store_uri: Option<String>,
    /// Overwrite policy for SOP Instance UIDs already held.
    pub overwrite: Overwrite,
    /// How long a write waits for its own projection before answering (milliseconds).
    pub write_wait_ms: u64,
    /// QIDO results returned when the client sends no `limit`.
    pub qido_default_limit: u64,
    /// The most QIDO results one answer carries.
    pub qido_max_limit: u64,
    /// The largest request body accepted (bytes). STOW-RS streams bodies to disk, so this
    /// bounds disk use per request, not memory; the default 4 GiB admits the 2 GB requests
    /// dcm4chee-arc-light accepts.
    pub max_request_bytes: u64,
    /// How long a client may take to send a request's headers, how long a kept-alive
    /// connection may sit idle before its next request, and the longest pause inside a
    /// STOW-RS body (milliseconds); then the connection is closed (the body: 408). Bounds
    /// what slow or stalled clients hold open (slowloris).
    pub header_read_timeout_ms: u64,
    /// This node's name in the snapshot lease, in manifests and in `/health`; `None`: the
    /// host name (see [`NodeConfig::node_id`]).
    pub node_id: Option<String>,
    /// Events between two snapshots the lease holder publishes; 0: none. Only nodes on a
    /// shared log (not `file://` or `memory://`) publish.
    pub snapshot_events: u64,
    /// `/ready` answers 200 while the projection is at most this many events behind the
    /// log's end.
    pub ready_max_lag: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            aet: "ARCSTREAM".to_string(),
            data_dir: PathBuf::from("./data"),
            log_uri: None,
            store_uri: None,
            overwrite: Overwrite::Never,
            write_wait_ms: 10_000,
            qido_default_limit: 1000,
            qido_max_limit: 10_000,
            max_request_bytes: 4 << 30,
            header_read_timeout_ms: 30_000,
            node_id: None,
            snapshot_events: 10_000,
            ready_max_lag: 1000,
        }
    }
}

/// Every setting, by the name used in the file, the environment (`ARCSTREAM_` + upper case)
/// and on the command line (`--` + kebab case).
pub const KEYS: &[&str] = &[
    "listen",
    "aet",
    "data_dir",
    "log",
    "store",
    "overwrite",
    "write_wait_ms",
    "qido_default_limit",
    "qido_max_limit",
    "max_request_bytes",
    "header_read_timeout_ms",
    "node_id",
    "snapshot_events",
    "ready_max_lag",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    aet: Option<String>,
    data_dir: Option<String>,
    log: Option<String>,
    store: Option<String>,
    overwrite: Option<String>,
    write_wait_ms: Option<u64>,
    qido_default_limit: Option<u64>,
    qido_max_limit: Option<u64>,
    max_request_bytes: Option<u64>,
    header_read_timeout_ms: Option<u64>,
    node_id: Option<String>,
    snapshot_events: Option<u64>,
    ready_max_lag: Option<u64>,
}

impl NodeConfig {
    /// Loads defaults, then the file (if given), then `ARCSTREAM_*` entries of `env`.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut cfg = NodeConfig::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let parsed: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            let FileConfig {
                listen,
                aet,
                data_dir,
                log,
                store,
                overwrite,
                write_wait_ms,
                qido_default_limit,
                qido_max_limit,
                max_request_bytes,
                header_read_timeout_ms,
                node_id,
                snapshot_events,
                ready_max_lag,
            } = parsed;
            let pairs = [
                ("listen", listen),
                ("aet", aet),
                ("data_dir", data_dir),
                ("log", log),
                ("store", store),
                ("overwrite", overwrite),
                ("write_wait_ms", write_wait_ms.map(|v| v.to_string())),
                (
                    "qido_default_limit",
                    qido_default_limit.map(|v| v.to_string()),
                ),
                ("qido_max_limit", qido_max_limit.map(|v| v.to_string())),
                (
                    "max_request_bytes",
                    max_request_bytes.map(|v| v.to_string()),
                ),
                (
                    "header_read_timeout_ms",
                    header_read_timeout_ms.map(|v| v.to_string()),
                ),
                ("node_id", node_id),
                ("snapshot_events", snapshot_events.map(|v| v.to_string())),
                ("ready_max_lag", ready_max_lag.map(|v| v.to_string())),
            ];
            for (key, value) in pairs {
                if let Some(value) = value {
                    cfg.set(key, &value)?;
                }
            }
        }
        for key in KEYS {
            if let Some(value) = env.get(&format!("ARCSTREAM_{}", key.to_uppercase())) {
                cfg.set(key, value)?;
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Sets one setting from text, as the file, the environment and flags give it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let invalid = |why: &str| ConfigError::Invalid {
            key: key.to_string(),
            value: value.to_string(),
            why: why.to_string(),
        };
        let number = || {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| invalid("expected a whole number"))
        };
        match key {
            "listen" => {
                self.listen = value
                    .parse()
                    .map_err(|_| invalid("expected HOST:PORT, e.g. 127.0.0.1:8080"))?
            }
            // PS3.5 Table 6.2-1: leading and trailing spaces of an AE are not significant.
            "aet" => self.aet = value.trim_matches(' ').to_string(),
            "data_dir" => self.data_dir = PathBuf::from(value),
            "log" => self.log_uri = Some(value.to_string()),
            "store" => self.store_uri = Some(value.to_string()),
            "overwrite" => {
                self.overwrite = match value.to_ascii_lowercase().as_str() {
                    "never" | "no" => Overwrite::Never,
                    "always" => Overwrite::Always,
                    _ => return Err(invalid("expected `never` or `always`")),
                }
            }
            "write_wait_ms" => self.write_wait_ms = number()?,
            "qido_default_limit" => self.qido_default_limit = number()?,
            "qido_max_limit" => self.qido_max_limit = number()?,
            "max_request_bytes" => self.max_request_bytes = number()?,
            "header_read_timeout_ms" => {
                self.header_read_timeout_ms = match number()? {
                    0 => return Err(invalid("expected at least 1 (milliseconds)")),
                    n => n,
                }
            }
            "node_id" => {
                let v = value.trim();
                // It goes into logs, JSON and the lease object: printable, no spaces.
                if v.is_empty() || v.len() > 128 || !v.chars().all(|c| c.is_ascii_graphic()) {
                    return Err(invalid(
                        "expected 1 to 128 printable ASCII characters without spaces",
                    ));
                }
                self.node_id = Some(v.to_string())
            }
            "snapshot_events" => self.snapshot_events = number()?,
            "ready_max_lag" => self.ready_max_lag = number()?,
            _ => {
                return Err(invalid(&format!(
                    "unknown setting; known: {}",
                    KEYS.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// Checks the settings that depend on each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Err(why) = check_aet(&self.aet) {
            return Err(ConfigError::Invalid {
                key: "aet".into(),
                value: self.aet.clone(),
                why: why.into(),
            });
        }
        if self.qido_default_limit == 0 || self.qido_default_limit > self.qido_max_limit {
            return Err(ConfigError::Invalid {
                key: "qido_default_limit".into(),
                value: self.qido_default_limit.to_string(),
                why: format!(
                    "must be between 1 and qido_max_limit ({})",
                    self.qido_max_limit
                ),
            });
        }
        Ok(())
    }

    /// The event log URI in force.
    pub fn log_uri(&self) -> String {
        self.log_uri
            .clone()
            .unwrap_or_else(|| self.data_path("log"))
    }

    /// The object store URI in force.
    pub fn store_uri(&self) -> String {
        self.store_uri
            .clone()
            .unwrap_or_else(|| self.data_path("objects"))
    }

    /// A folder of the data folder as an absolute plain path, the form every local backend
    /// takes: a `file://` URI would need an absolute path (`./data` is the default) and
    /// percent-encoding of a `%` or space in it.
    fn data_path(&self, name: &str) -> String {
        let dir = self.data_dir.join(name);
        std::path::absolute(&dir)
            .unwrap_or(dir)
            .display()
            .to_string()
    }

    /// The folder of this node's projection (state store and index).
    pub fn projection_dir(&self) -> PathBuf {
        self.data_dir.join("projection")
    }

    /// This node's id: the setting, else the host name (unique per container and pod),
    /// else `arcstream`.
    pub fn node_id(&self) -> String {
        if let Some(id) = &self.node_id {
            return id.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
            .unwrap_or_else(|| "arcstream".to_string())
    }

    /// Whether the log is shared with other nodes (so snapshots are worth publishing): any
    /// log but the embedded `file://` and the process-local `memory://`.
    pub fn shared_log(&self) -> bool {
        let uri = self.log_uri();
        !(uri.starts_with("file://")
            || uri.starts_with("memory://")
            || uri.starts_with("mem://")
            || !uri.contains("://"))
    }
}

/// Why an AE title cannot be this node's, if it cannot. PS3.5 Table 6.2-1 (AE): 1 to 16
/// characters of the default repertoire, no backslash or control characters, spaces at
/// either end not significant. The title is also a URL path segment (`/aets/{AET}/rs`), so
/// spaces inside and `/`, `?`, `#`, `%` are refused too.
pub fn check_aet(aet: &str) -> Result<(), &'static str> {
    let aet = aet.trim_matches(' ');
    if aet.is_empty() {
        return Err("an AE title needs 1 to 16 characters (PS3.5 Table 6.2-1)");
    }
    if aet.len() > 16 {
        return Err("an AE title has at most 16 characters (PS3.5 Table 6.2-1)");
    }
    if aet.contains('\\') || aet.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err("an AE title has ASCII characters only, no backslash or control characters (PS3.5 Table 6.2-1)");
    }
    if aet.contains([' ', '/', '?', '#', '%']) {
        return Err("the AE title is a path segment of /aets/{AET}/rs: no spaces inside and no /, ?, # or %");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_file_then_env() {
        let dir = std::env::temp_dir().join(format!("arc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.toml");
        std::fs::write(
            &file,
            "aet = \"FILEAE\"\nlisten = \"127.0.0.1:9000\"\noverwrite = \"always\"\n",
        )
        .unwrap();
        let env = HashMap::from([("ARCSTREAM_LISTEN".to_string(), "127.0.0.1:9100".to_string())]);
        let cfg = NodeConfig::load(Some(&file), &env).unwrap();
        assert_eq!(cfg.aet, "FILEAE");
        assert_eq!(cfg.listen.port(), 9100);
        assert_eq!(cfg.overwrite, Overwrite::Always);
        assert_eq!(
            NodeConfig::load(None, &HashMap::new()).unwrap(),
            NodeConfig::default()
        );
        let env = HashMap::from([
            ("ARCSTREAM_NODE_ID".to_string(), "node-2".to_string()),
            ("ARCSTREAM_SNAPSHOT_EVENTS".to_string(), "500".to_string()),
            ("ARCSTREAM_READY_MAX_LAG".to_string(), "20".to_string()),
        ]);
        let cfg = NodeConfig::load(None, &env).unwrap();
        assert_eq!(
            (cfg.node_id(), cfg.snapshot_events, cfg.ready_max_lag),
            ("node-2".to_string(), 500, 20)
        );
        assert!(!NodeConfig::default().node_id().is_empty());
        assert!(NodeConfig::default().set("node_id", "a b").is_err());
    }

    #[test]
    fn bad_values_name_the_setting() {
        let env = HashMap::from([("ARCSTREAM_OVERWRITE".to_string(), "sometimes".to_string())]);
        let err = NodeConfig::load(None, &env).unwrap_err().to_string();
        assert!(err.contains("overwrite") && err.contains("always"), "{err}");
        let mut cfg = NodeConfig::default();
        assert!(cfg.set("aet", "A\\B").is_ok());
        assert!(cfg.validate().is_err());
        for bad in [
            "has space/slash",
            "A B",
            "A/B",
            "A?B",
            "A#B",
            "A%20",
            "",
            "   ",
            "SEVENTEEN_CHARS_X",
            "A\tB",
            "ÄRC",
        ] {
            cfg.set("aet", bad).unwrap();
            let err = cfg.validate().unwrap_err().to_string();
            assert!(
                err.contains("aet") && err.contains("AE title"),
                "{bad:?}: {err}"
            );
        }
        for good in ["ARCSTREAM", "  PADDED ", "A-B_C.D@E:F", "SIXTEEN_CHARS_XX"] {
            cfg.set("aet", good).unwrap();
            assert!(cfg.validate().is_ok(), "{good:?}");
        }
        assert_eq!(cfg.aet, "SIXTEEN_CHARS_XX");
        cfg.set("aet", " PADDED ").unwrap();
        assert_eq!(cfg.aet, "PADDED");
        assert!(cfg.set("nonsense", "1").is_err());
        let err = cfg
            .set("header_read_timeout_ms", "0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("header_read_timeout_ms"), "{err}");
        cfg.set("header_read_timeout_ms", "1500").unwrap();
        assert_eq!(cfg.header_read_timeout_ms, 1500);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("arc-config-u-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("b.toml");
        std::fs::write(&file, "aet = \"X\"\nlistn = \"1\"\n").unwrap();
        let err = NodeConfig::load(Some(&file), &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("listn"), "{err}");
    }
}
