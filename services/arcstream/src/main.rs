//! arcstream: the one binary — `serve` a node, `store` files into one, `reindex` a node's
//! projection from the log, `bench` against a peer.

mod bench;
mod cli_store;
mod node;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
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
    #[command(after_help = SERVE_AFTER_HELP)]
    Serve(NodeArgs),
    /// Sends DICOM files and folders to an archive by STOW-RS.
    Store(cli_store::StoreArgs),
    /// Rebuilds this node's projection (state store and index) from the start of the log.
    Reindex(ReindexArgs),
    /// Measures STOW, QIDO, WADO and reindex against the embedded default and Orthanc (and,
    /// with --distributed, several nodes on Kafka and S3).
    Bench(bench::BenchArgs),
}

/// Settings without a flag, shown under `serve --help` so their variables can be found.
const SERVE_AFTER_HELP: &str = "Settings without a flag (config file or environment): \
write_wait_ms [env: ARCSTREAM_WRITE_WAIT_MS], qido_default_limit [env: ARCSTREAM_QIDO_DEFAULT_LIMIT], \
qido_max_limit [env: ARCSTREAM_QIDO_MAX_LIMIT], max_request_bytes [env: ARCSTREAM_MAX_REQUEST_BYTES], \
header_read_timeout_ms [env: ARCSTREAM_HEADER_READ_TIMEOUT_MS]. \
Precedence, lowest first: defaults, the config file, ARCSTREAM_* variables, flags.";

/// Node settings; each may also come from the config file or `ARCSTREAM_*` variables.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct NodeArgs {
    /// TOML config file (settings as in `arcstream serve --help`, snake_case).
    #[arg(long, env = "ARCSTREAM_CONFIG", hide_env_values = true)]
    config: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "ARCSTREAM_LISTEN", hide_env_values = true)]
    listen: Option<String>,
    /// The archive's AE title [default: ARCSTREAM].
    #[arg(long, env = "ARCSTREAM_AET", hide_env_values = true)]
    aet: Option<String>,
    /// Data folder for the embedded log, store and projection [default: ./data].
    #[arg(long, env = "ARCSTREAM_DATA_DIR", hide_env_values = true)]
    data_dir: Option<String>,
    /// Event log URI (file://…, memory://, kafka://host:port/topic) [default: DATA_DIR/log].
    #[arg(long, env = "ARCSTREAM_LOG", hide_env_values = true)]
    log: Option<String>,
    /// Object store URI (file://…, memory://, s3://bucket/prefix?endpoint=…&path_style=…&region=…)
    /// [default: DATA_DIR/objects].
    #[arg(long, env = "ARCSTREAM_STORE", hide_env_values = true)]
    store: Option<String>,
    /// What to do with a different object under a SOP Instance UID already held: never|always.
    #[arg(long, env = "ARCSTREAM_OVERWRITE", hide_env_values = true)]
    overwrite: Option<String>,
    /// This node's name in the snapshot lease and in /health [default: the host name].
    #[arg(long, env = "ARCSTREAM_NODE_ID", hide_env_values = true)]
    node_id: Option<String>,
    /// Events between two snapshots (published by one node at a time on a shared log; 0: none)
    /// [default: 10000].
    #[arg(long, env = "ARCSTREAM_SNAPSHOT_EVENTS", hide_env_values = true)]
    snapshot_events: Option<String>,
    /// /ready answers 200 while the projection is at most this many events behind the log
    /// [default: 1000].
    #[arg(long, env = "ARCSTREAM_READY_MAX_LAG", hide_env_values = true)]
    ready_max_lag: Option<String>,
}

/// Settings of `reindex`: where the log and the projection are (no listener, no AE title).
#[derive(Debug, Args, Clone)]
struct ReindexArgs {
    /// TOML config file (settings as in `arcstream serve --help`, snake_case).
    #[arg(long, env = "ARCSTREAM_CONFIG", hide_env_values = true)]
    config: Option<PathBuf>,
    /// Data folder of the node whose projection is rebuilt [default: ./data].
    #[arg(long, env = "ARCSTREAM_DATA_DIR", hide_env_values = true)]
    data_dir: Option<String>,
    /// Event log URI (file://…, memory://, kafka://host:port/topic) [default: DATA_DIR/log].
    #[arg(long, env = "ARCSTREAM_LOG", hide_env_values = true)]
    log: Option<String>,
    /// Object store URI, checked at start [default: DATA_DIR/objects].
    #[arg(long, env = "ARCSTREAM_STORE", hide_env_values = true)]
    store: Option<String>,
}

impl From<ReindexArgs> for NodeArgs {
    fn from(r: ReindexArgs) -> Self {
        NodeArgs {
            config: r.config,
            data_dir: r.data_dir,
            log: r.log,
            store: r.store,
            ..NodeArgs::default()
        }
    }
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

fn main() -> std::process::ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            // The error and its causes, as `main` returning the error would print them, but
            // never a backtrace (which RUST_BACKTRACE would add): these are the user's errors,
            // each saying what to do, not the program's.
            eprintln!("Error: {e}");
            let causes: Vec<String> = e.chain().skip(1).map(ToString::to_string).collect();
            if !causes.is_empty() {
                eprintln!("\nCaused by:");
                for (i, cause) in causes.iter().enumerate() {
                    eprintln!("    {i}: {cause}");
                }
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<std::process::ExitCode> {
    let cli = Cli::parse();
    // Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // `store` parses each file as the archive will (to name the files of failures): the
    // parser's warnings about those files belong to the archive's answer, not the console.
    let default_filter = match cli.command {
        Command::Store(_) => "arcstream=info,arc_=info,dicom_object=error,dicom_parser=error,warn",
        _ => "arcstream=info,arc_=info,warn",
    };
    tracing_subscriber::fmt()
        .with_ansi(ansi)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => node::serve(args.load()?).await?,
            Command::Store(args) => {
                if !cli_store::run(args).await? {
                    return Ok(std::process::ExitCode::FAILURE);
                }
            }
            Command::Reindex(args) => node::reindex(NodeArgs::from(args).load()?).await?,
            Command::Bench(args) => bench::run(args).await?,
        }
        Ok(std::process::ExitCode::SUCCESS)
    })
}
