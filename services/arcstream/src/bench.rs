//! `arcstream bench`: the benchmark harness.
//!
//! It builds a synthetic workload in memory (distinct instances made from uncompressed corpus
//! files with fresh UIDs and patients), starts this binary's `serve` on a temporary data folder
//! and, unless `--peer none`, an Orthanc with its DICOMweb plugin on a temporary folder, and
//! measures each in turn with the same workload: STOW-RS throughput at several concurrencies,
//! QIDO-RS latency over a few query shapes, WADO-RS throughput retrieving whole studies, peak
//! memory, disk use, and (arcstream only) `reindex` speed. It prints a markdown table.
//! `--groups` adds the DICOMweb groups (`bench::dicomweb`): metadata of a large series, frames
//! and rendered images.
//! `--distributed` also measures several nodes on one Kafka topic and one S3 prefix (see
//! `distributed`), in a column of their own and a section on projection lag and snapshots.
//!
//! It is a command, not a test: nothing here asserts on timings. Errors a server returns are
//! counted and reported, not fatal, because how a server misbehaves under load is a result.

mod corpus;
mod dicomweb;
mod distributed;
mod measure;
mod report;
mod servers;
mod testservers;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use measure::Measured;
use servers::Server;

/// Options of `arcstream bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Instances in the workload, split across the concurrency levels (each level stores its
    /// own studies, so nothing is sent twice).
    #[arg(long, default_value_t = 2000)]
    instances: usize,
    /// STOW-RS and WADO-RS concurrency levels (requests in flight), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    concurrency: Vec<usize>,
    /// The server to compare with.
    #[arg(long, value_enum, default_value_t = Peer::Orthanc)]
    peer: Peer,
    /// Folder of DICOM files to make the workload from (uncompressed little-endian files with
    /// pixel data are used).
    #[arg(long, default_value = "tests/fixtures/pydicom")]
    corpus: PathBuf,
    /// Also write the markdown report to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// QIDO-RS queries per server (spread over the query shapes).
    #[arg(long, default_value_t = 500)]
    queries: usize,
    /// Keep the servers' temporary folders (data and logs) and print where they are.
    #[arg(long)]
    keep: bool,
    #[command(flatten)]
    dicomweb: dicomweb::DicomwebArgs,
    #[command(flatten)]
    distributed: distributed::DistributedArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Peer {
    Orthanc,
    None,
}

/// Instances per series, and so per STOW-RS request.
const PER_SERIES: usize = 10;
/// Series per study.
const SERIES_PER_STUDY: usize = 2;

/// Runs the benchmark.
pub(crate) async fn run(args: BenchArgs) -> Result<()> {
    if args.instances == 0 {
        bail!("--instances must be at least 1");
    }
    let mut levels = args.concurrency.clone();
    levels.retain(|&c| c > 0);
    if levels.is_empty() {
        bail!("--concurrency needs at least one level above 0");
    }
    let command_line = report::command_line();
    let load_before = report::load_average();
    let templates = corpus::load_templates(&args.corpus)?;
    eprintln!(
        "bench: templates {}",
        templates
            .iter()
            .map(|t| format!("{} ({} B)", t.name, t.size))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let selected = args.dicomweb.selected();
    let started = Instant::now();
    let core_instances = if selected.core { args.instances } else { 0 };
    let workload = corpus::generate(&templates, core_instances, PER_SERIES, SERIES_PER_STUDY)?;
    eprintln!(
        "bench: generated {} instances ({:.1} MB) in {} studies, {} series, {} patients in {:.1} s",
        workload.instances(),
        workload.bytes() as f64 / 1e6,
        workload.studies.len(),
        workload.series_count(),
        workload.studies.len(),
        started.elapsed().as_secs_f64()
    );
    if args.distributed.enabled() && !selected.core {
        bail!("--distributed measures the core group; select it with --groups core,...");
    }
    let plan = selected
        .core
        .then(|| measure::Plan::new(&workload, &levels, args.queries));
    let started = Instant::now();
    let dw = dicomweb::Plan::new(&args.dicomweb, &args.corpus, &templates)?;
    if selected.any_dicomweb() {
        eprintln!(
            "bench: DICOMweb groups: generated {} instances in {:.1} s",
            dw.instances(),
            started.elapsed().as_secs_f64()
        );
    }

    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(300))
        .build()
        .context("cannot build the HTTP client")?;

    let exe = std::env::current_exe().context("cannot find this executable to start `serve`")?;
    let mut results = Vec::new();

    // The servers are measured one after the other, each alone on the machine.
    let arc_dir = tempfile::Builder::new()
        .prefix("arcstream-bench-arc-")
        .tempdir()?;
    let arc = bench_arcstream(&exe, arc_dir.path(), &client, plan.as_ref(), &dw).await;
    results.push(report::unwrap_or_failed("arcstream", arc));

    let mut dist = None;
    // The distributed column runs the core group's plan; without it there is nothing to compare.
    if let (true, Some(plan)) = (args.distributed.enabled(), plan.as_ref()) {
        let dir = tempfile::Builder::new()
            .prefix("arcstream-bench-dist-")
            .tempdir()?;
        match distributed::bench(&exe, &args.distributed, dir.path(), &client, plan).await {
            Ok((m, extra)) => {
                results.push(m);
                dist = Some((extra, dir));
            }
            Err(e) => results.push(report::unwrap_or_failed("arcstream distributed", Err(e))),
        }
    }

    let mut peer_dir = None;
    if args.peer == Peer::Orthanc {
        let dir = tempfile::Builder::new()
            .prefix("arcstream-bench-orthanc-")
            .tempdir()?;
        let orthanc = bench_orthanc(dir.path(), &client, plan.as_ref(), &dw).await;
        results.push(report::unwrap_or_failed("Orthanc", orthanc));
        peer_dir = Some(dir);
    }

    let mut md = report::render(&report::Context {
        command_line,
        instances: workload.instances(),
        bytes: workload.bytes(),
        studies: workload.studies.len(),
        series: workload.series_count(),
        templates: templates
            .iter()
            .map(|t| format!("{} ({} B)", t.name, t.size))
            .collect(),
        levels: levels.clone(),
        queries: plan.as_ref().map_or(0, |p| p.queries.len()),
        release: !cfg!(debug_assertions),
        load: (load_before, report::load_average()),
        results: &results,
        core: selected.core,
        dicomweb_note: dicomweb::note(&dw),
    });
    if let Some((extra, _)) = &dist {
        md.push_str(&distributed::render(extra));
    }
    println!("{md}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &md).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    if args.keep {
        eprintln!("bench: kept {}", arc_dir.keep().display());
        if let Some((_, d)) = dist {
            eprintln!("bench: kept {}", d.keep().display());
        }
        if let Some(d) = peer_dir {
            eprintln!("bench: kept {}", d.keep().display());
        }
    }
    Ok(())
}

/// Measures arcstream: serve, load, query, retrieve, then stop and reindex.
async fn bench_arcstream(
    exe: &std::path::Path,
    dir: &std::path::Path,
    client: &reqwest::Client,
    plan: Option<&measure::Plan>,
    dw: &dicomweb::Plan,
) -> Result<Measured> {
    let data = dir.join("data");
    let log = dir.join("serve.log");
    eprintln!(
        "bench: starting arcstream (data {}, log {})",
        data.display(),
        log.display()
    );
    let mut server = servers::start_arcstream(exe, &data, &log).await?;
    let mut m = Measured::new(
        "arcstream",
        format!("{} ({})", env!("CARGO_PKG_VERSION"), build_kind()),
    );
    let outcome = run_groups(&mut server, client, plan, dw, &mut m).await;
    m.peak_rss_kib = server.vm_hwm_kib();
    m.disk_bytes = Some(servers::dir_size(&data));
    if let Err(e) = outcome {
        m.errors.add(format!("measurement stopped: {e:#}"));
        m.errors
            .add(format!("server log tail:\n{}", server.log_tail(30)));
        return Ok(m);
    }
    eprintln!("bench: stopping arcstream (SIGTERM)");
    match server.terminate(Duration::from_secs(30)).await {
        Ok(status) if !status.success() => m
            .errors
            .add(format!("arcstream exited with {status} on SIGTERM")),
        Ok(_) => {}
        Err(e) => m
            .errors
            .add(format!("arcstream did not stop cleanly: {e:#}")),
    }
    eprintln!("bench: reindexing");
    match servers::reindex(exe, &data, &dir.join("reindex.log")).await {
        Ok(r) => m.reindex = Some(r),
        Err(e) => m.errors.add(format!("reindex failed: {e:#}")),
    }
    Ok(m)
}

/// Measures Orthanc with its DICOMweb plugin.
async fn bench_orthanc(
    dir: &std::path::Path,
    client: &reqwest::Client,
    plan: Option<&measure::Plan>,
    dw: &dicomweb::Plan,
) -> Result<Measured> {
    eprintln!("bench: starting Orthanc (folder {})", dir.display());
    let (mut server, version) = servers::start_orthanc(dir, client).await?;
    let mut m = Measured::new("Orthanc", version);
    let outcome = run_groups(&mut server, client, plan, dw, &mut m).await;
    m.peak_rss_kib = server.vm_hwm_kib();
    m.disk_bytes =
        Some(servers::dir_size(&dir.join("storage")) + servers::dir_size(&dir.join("index")));
    if let Err(e) = outcome {
        m.errors.add(format!("measurement stopped: {e:#}"));
        m.errors
            .add(format!("server log tail:\n{}", server.log_tail(30)));
        return Ok(m);
    }
    eprintln!("bench: stopping Orthanc (SIGTERM)");
    if let Err(e) = server.terminate(Duration::from_secs(30)).await {
        m.errors.add(format!("Orthanc did not stop cleanly: {e:#}"));
    }
    Ok(m)
}

/// The core group (when selected), then the DICOMweb groups.
async fn run_groups(
    server: &mut Server,
    client: &reqwest::Client,
    plan: Option<&measure::Plan>,
    dw: &dicomweb::Plan,
    m: &mut Measured,
) -> Result<()> {
    if let Some(plan) = plan {
        measure::run_all(server, client, plan, m).await?;
    }
    dicomweb::run_all(server, client, dw, m).await
}

pub(crate) fn build_kind() -> &'static str {
    if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    }
}

/// Makes sure a server we started is still alive before measuring it further.
fn ensure_alive(server: &mut Server) -> Result<()> {
    if let Some(status) = server.exited() {
        bail!(
            "{} exited ({status}); log tail:\n{}",
            server.name,
            server.log_tail(30)
        );
    }
    Ok(())
}
