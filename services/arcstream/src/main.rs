//! arcstream: the one binary — `serve` a node, `store` files into one, `reindex` a node's
//! projection from the log, `bench` against a peer.

mod bench;
mod cli_store;
mod node;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "arcstream",
    version,
    about = "An event-sourced DICOM archive on object storage"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a node: DICOMweb on the listen address, the log and store from their URIs.
    Serve(NodeArgs),
    /// Sends DICOM files and folders to an archive by STOW-RS.
    Store(cli_store::StoreArgs),
    /// Rebuilds this node's projection (state store and index) from the start of the log.
    Reindex(NodeArgs),
    /// Measures STOW, QIDO, WADO and reindex against the embedded default and Orthanc (and,
    /// with --distributed, several nodes on Kafka and S3).
    Bench(bench::BenchArgs),
}

/// Node settings; each may also come from the config file or `ARCSTREAM_*` variables.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct NodeArgs {
    /// TOML config file (settings as in `arcstream serve --help`, snake_case).
    #[arg(long, env = "ARCSTREAM_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<String>,
    /// The archive's AE title [default: ARCSTREAM].
    #[arg(long)]
    aet: Option<String>,
    /// Data folder for the embedded log, store and projection [default: ./data].
    #[arg(long)]
    data_dir: Option<String>,
    /// Event log URI (file://…, memory://, kafka://host:port/topic) [default: file://DATA_DIR/log].
    #[arg(long)]
    log: Option<String>,
    /// Object store URI (file://…, memory://, s3://bucket/prefix?endpoint=…&path_style=…&region=…)
    /// [default: file://DATA_DIR/objects].
    #[arg(long)]
    store: Option<String>,
    /// What to do with a different object under a SOP Instance UID already held: never|always.
    #[arg(long)]
    overwrite: Option<String>,
    /// This node's name in the snapshot lease and in /health [default: the host name].
    #[arg(long)]
    node_id: Option<String>,
    /// Events between two snapshots (published by one node at a time on a shared log; 0: none)
    /// [default: 10000].
    #[arg(long)]
    snapshot_events: Option<String>,
    /// /ready answers 200 while the projection is at most this many events behind the log
    /// [default: 1000].
    #[arg(long)]
    ready_max_lag: Option<String>,
}

impl NodeArgs {
    pub(crate) fn load(&self) -> Result<arc_config::NodeConfig> {
        let env: std::collections::HashMap<String, String> = std::env::vars().collect();
        let mut cfg = arc_config::NodeConfig::load(self.config.as_deref(), &env)?;
        let flags = [
            ("listen", &self.listen),
            ("aet", &self.aet),
            ("data_dir", &self.data_dir),
            ("log", &self.log),
            ("store", &self.store),
            ("overwrite", &self.overwrite),
            ("node_id", &self.node_id),
            ("snapshot_events", &self.snapshot_events),
            ("ready_max_lag", &self.ready_max_lag),
        ];
        for (key, value) in flags {
            if let Some(v) = value {
                cfg.set(key, v)?;
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "arcstream=info,arc_=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => node::serve(args.load()?).await,
            Command::Store(args) => cli_store::run(args).await,
            Command::Reindex(args) => node::reindex(args.load()?).await,
            Command::Bench(args) => bench::run(args).await,
        }
    })
}
