//! The broker and the S3 server of `arcstream bench --distributed` when the command line
//! names none: the local test servers (tansu, s3s-fs) started with the repository's
//! `infra/kafka/start.sh` and `infra/s3/start.sh` on free ports, stopped when dropped.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where the distributed nodes keep their log and objects, and what they need to reach them.
pub(crate) struct Backends {
    /// `kafka://…/topic` (a fresh topic).
    pub log: String,
    /// `s3://bucket/prefix…` (a fresh prefix).
    pub store: String,
    /// Environment the nodes need (S3 credentials of a local server).
    pub env: Vec<(String, String)>,
    /// In words, for the report.
    pub description: String,
    /// The local S3 server's folder of this prefix, when we started it (its size is the bucket's).
    pub bucket_dir: Option<PathBuf>,
    /// Servers we started, stopped on drop.
    started: Vec<(PathBuf, PathBuf)>,
}

impl Drop for Backends {
    fn drop(&mut self) {
        for (stop, run) in self.started.iter().rev() {
            let _ = std::process::Command::new(stop)
                .arg(run)
                .stdout(std::process::Stdio::null())
                .status();
        }
    }
}

/// The repository root: the first of the current folder and its parents with `infra/`.
fn repo_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    cwd.ancestors()
        .find(|d| d.join("infra/kafka/start.sh").is_file() && d.join("infra/s3/start.sh").is_file())
        .map(Path::to_path_buf)
        .context("infra/kafka/start.sh not found here or above: run from the repository, or give --log kafka://… and --store s3://…")
}

/// `export K='V'` lines of a start script's env file.
fn read_env(path: &Path) -> Result<HashMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect())
}

fn run(script: &Path, run_dir: &Path) -> Result<()> {
    let out = std::process::Command::new(script)
        .arg(run_dir)
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Appends `-suffix` to the path of a URI (before its query), or `/suffix` when it has no
/// path (a bare bucket): a fresh topic or prefix.
fn with_suffix(uri: &str, suffix: &str) -> String {
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p.trim_end_matches('/'), format!("?{q}")),
        None => (uri.trim_end_matches('/'), String::new()),
    };
    let has_path = path
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    let sep = if has_path { '-' } else { '/' };
    format!("{path}{sep}{suffix}{query}")
}

/// The given log and store (a fresh topic and prefix under them), or local test servers
/// started in `dir`.
pub(crate) fn prepare(log: Option<&str>, store: Option<&str>, dir: &Path) -> Result<Backends> {
    let tag = format!("bench{:08x}", rand::random::<u32>());
    let mut b = Backends {
        log: String::new(),
        store: String::new(),
        env: Vec::new(),
        description: String::new(),
        bucket_dir: None,
        started: Vec::new(),
    };
    let mut said = Vec::new();
    match log {
        Some(uri) => {
            b.log = with_suffix(uri, &tag);
            said.push(format!("Kafka topic {}", b.log));
        }
        None => {
            let root = repo_root()?;
            let run_dir = dir.join("kafka");
            eprintln!("bench: starting a local tansu broker (infra/kafka/start.sh)");
            b.started
                .push((root.join("infra/kafka/stop.sh"), run_dir.clone()));
            run(&root.join("infra/kafka/start.sh"), &run_dir)?;
            let env = read_env(&run_dir.join("env"))?;
            let addr = env
                .get("ARCSTREAM_TEST_KAFKA")
                .context("start.sh wrote no ARCSTREAM_TEST_KAFKA")?;
            b.log = format!("kafka://{addr}/arcstream-{tag}");
            said.push("a local tansu broker (memory engine, infra/kafka)".to_string());
        }
    }
    match store {
        Some(uri) => {
            b.store = with_suffix(uri, &tag);
            said.push(format!("S3 store {}", b.store));
        }
        None => {
            let root = repo_root()?;
            let run_dir = dir.join("s3");
            eprintln!("bench: starting a local S3 server (infra/s3/start.sh)");
            b.started
                .push((root.join("infra/s3/stop.sh"), run_dir.clone()));
            run(&root.join("infra/s3/start.sh"), &run_dir)?;
            let env = read_env(&run_dir.join("env"))?;
            let get = |k: &str| {
                env.get(k)
                    .cloned()
                    .with_context(|| format!("start.sh wrote no {k}"))
            };
            let bucket = get("ARCSTREAM_TEST_S3_BUCKET")?;
            b.store = format!(
                "s3://{bucket}/{tag}?endpoint={}&path_style=true&region={}",
                get("ARCSTREAM_TEST_S3_ENDPOINT")?,
                get("ARCSTREAM_TEST_S3_REGION")?
            );
            b.env = vec![
                (
                    "AWS_ACCESS_KEY_ID".into(),
                    get("ARCSTREAM_TEST_S3_ACCESS_KEY")?,
                ),
                (
                    "AWS_SECRET_ACCESS_KEY".into(),
                    get("ARCSTREAM_TEST_S3_SECRET_KEY")?,
                ),
                ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ];
            b.bucket_dir = Some(
                PathBuf::from(get("ARCSTREAM_TEST_S3_DATA")?)
                    .join(bucket)
                    .join(&tag),
            );
            said.push("a local s3s-fs server (a folder, infra/s3)".to_string());
        }
    }
    b.description = said.join(" and ");
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_go_before_the_query() {
        assert_eq!(
            with_suffix("kafka://b:9092/events?x=1", "t"),
            "kafka://b:9092/events-t?x=1"
        );
        assert_eq!(with_suffix("s3://bucket/p/", "t"), "s3://bucket/p-t");
        assert_eq!(
            with_suffix("s3://bucket?region=x", "t"),
            "s3://bucket/t?region=x"
        );
    }
}
