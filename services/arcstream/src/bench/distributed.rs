//! `arcstream bench --distributed`: the same plan against N nodes on one Kafka topic and one
//! S3 prefix. STOW-RS requests go round the nodes; after each answer on node A, a probe asks
//! node A+1 for that series with `Arc-Min-Sequence` (the time until it lists the write is the
//! projection lag a client sees); every node's reported lag (events) is sampled meanwhile.
//! QIDO-RS queries go round the nodes too, WADO-RS reads on the next node. Then the newest
//! snapshot's size, and how a fresh node fares that starts from it.

use super::measure::{
    self, percentile, Errors, Measured, Plan, Shape, StowLevel, StowRequest, WadoLevel,
};
use super::servers::{self, Server};
use super::testservers;
use anyhow::Result;
use clap::Args;
use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Options of the distributed measurement.
#[derive(Debug, Args)]
pub(crate) struct DistributedArgs {
    /// Also measure the distributed mode: `--nodes` nodes on one Kafka topic and one S3
    /// prefix, next to the embedded default.
    #[arg(long)]
    distributed: bool,
    /// Nodes of the distributed measurement.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Kafka log for the distributed nodes, `kafka://host:port/topic?…` (a fresh topic named
    /// after it is used) [default: a local tansu broker started with infra/kafka/start.sh].
    #[arg(long)]
    log: Option<String>,
    /// S3 store for the distributed nodes, `s3://bucket/prefix?…` (a fresh prefix under it;
    /// credentials from the AWS variables) [default: a local s3s-fs started with infra/s3/start.sh].
    #[arg(long)]
    store: Option<String>,
    /// Events between snapshots on the distributed nodes [default: a quarter of the workload].
    #[arg(long)]
    snapshot_events: Option<u64>,
}

impl DistributedArgs {
    pub(crate) fn enabled(&self) -> bool {
        self.distributed || self.log.is_some() || self.store.is_some()
    }
}

/// What only the distributed mode has.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    pub nodes: usize,
    pub backends: String,
    /// ms from a STOW-RS answer on one node until the next node listed the series.
    pub visible_ms: Vec<f64>,
    /// Lag in events the nodes reported during the STOW-RS load.
    pub lag_events: Vec<f64>,
    /// Newest snapshot: (position, files, bytes) and the log's length then.
    pub snapshot: Option<(u64, usize, u64, u64)>,
    /// Publication times (stage ms, upload ms) from the nodes' logs.
    pub publish_ms: Vec<(u64, u64)>,
    /// A fresh node: seconds to serve, events replayed, log length, restored position.
    pub fresh: Option<(f64, u64, u64, Option<u64>)>,
    pub bucket_bytes: Option<u64>,
}

fn root_of(server: &Server) -> String {
    server
        .base
        .split("/aets/")
        .next()
        .unwrap_or(&server.base)
        .to_string()
}

async fn status(client: &reqwest::Client, server: &Server) -> Option<serde_json::Value> {
    let r = client
        .get(format!("{}/health", root_of(server)))
        .send()
        .await
        .ok()?;
    r.json().await.ok()
}

/// Measures `nodes` nodes; `dir` holds their folders (and the local test servers').
pub(crate) async fn bench(
    exe: &Path,
    args: &DistributedArgs,
    dir: &Path,
    client: &reqwest::Client,
    plan: &Plan,
) -> Result<(Measured, Extra)> {
    let n = args.nodes.max(1);
    let backends = testservers::prepare(args.log.as_deref(), args.store.as_deref(), dir)?;
    let total: usize = plan
        .stow
        .iter()
        .flat_map(|(_, r)| r)
        .map(|r| r.instances)
        .sum();
    let snapshot_events = args.snapshot_events.unwrap_or((total as u64 / 4).max(10));
    let node_args = |name: &str| -> Vec<String> {
        [
            "--log",
            &backends.log,
            "--store",
            &backends.store,
            "--node-id",
            name,
            "--snapshot-events",
            &snapshot_events.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut nodes = Vec::new();
    for i in 0..n {
        let name = format!("node{}", i + 1);
        eprintln!(
            "bench: starting distributed {name} ({})",
            backends.description
        );
        let data = dir.join(&name);
        let log = dir.join(format!("{name}.log"));
        nodes.push(
            servers::start_arcstream_with(exe, &data, &log, &node_args(&name), &backends.env)
                .await?,
        );
    }
    let label = format!("arcstream ×{n} (Kafka + S3)");
    let mut m = Measured::new(
        &label,
        format!(
            "{} ({}), {}",
            env!("CARGO_PKG_VERSION"),
            super::build_kind(),
            backends.description
        ),
    );
    let mut extra = Extra {
        nodes: n,
        backends: backends.description.clone(),
        ..Extra::default()
    };
    let outcome = run(&mut nodes, client, plan, &mut m, &mut extra).await;
    m.peak_rss_kib = nodes.iter().filter_map(Server::vm_hwm_kib).max();
    if let Err(e) = outcome {
        m.errors.add(format!("measurement stopped: {e:#}"));
        m.errors
            .add(format!("node1 log tail:\n{}", nodes[0].log_tail(30)));
        return Ok((m, extra));
    }
    snapshot_figures(dir, &mut extra, snapshot_events, &nodes, client).await;
    extra.publish_ms = (0..n)
        .flat_map(|i| published(&dir.join(format!("node{}.log", i + 1))))
        .map(|p| (p.stage_ms, p.upload_ms))
        .collect();
    // A fresh node: restore the newest snapshot, replay the tail, serve.
    let name = format!("node{}", n + 1);
    eprintln!("bench: starting a fresh {name} from the newest snapshot");
    let started = Instant::now();
    match servers::start_arcstream_with(
        exe,
        &dir.join(&name),
        &dir.join(format!("{name}.log")),
        &node_args(&name),
        &backends.env,
    )
    .await
    {
        Ok(mut fresh) => {
            let secs = started.elapsed().as_secs_f64();
            if let Some(s) = status(client, &fresh).await {
                extra.fresh = Some((
                    secs,
                    s["replayed"].as_u64().unwrap_or(0),
                    s["log_end"].as_u64().unwrap_or(0),
                    s["snapshot"]["position"].as_u64(),
                ));
            }
            let _ = fresh.terminate(Duration::from_secs(30)).await;
        }
        Err(e) => m.errors.add(format!("a fresh node did not start: {e:#}")),
    }
    for node in &mut nodes {
        if let Err(e) = node.terminate(Duration::from_secs(30)).await {
            m.errors.add(format!("a node did not stop cleanly: {e:#}"));
        }
    }
    m.disk_bytes = Some(
        (0..n)
            .map(|i| servers::dir_size(&dir.join(format!("node{}", i + 1))))
            .sum(),
    );
    extra.bucket_bytes = backends.bucket_dir.as_deref().map(servers::dir_size);
    Ok((m, extra))
}

async fn run(
    nodes: &mut [Server],
    client: &reqwest::Client,
    plan: &Plan,
    m: &mut Measured,
    extra: &mut Extra,
) -> Result<()> {
    let bases: Vec<String> = nodes.iter().map(|s| s.base.clone()).collect();
    // Every node's reported lag, every 100 ms, while the STOW-RS load runs.
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampling = {
        let (samples, client, roots) = (
            samples.clone(),
            client.clone(),
            nodes.iter().map(root_of).collect::<Vec<_>>(),
        );
        tokio::spawn(async move {
            loop {
                for root in &roots {
                    if let Ok(r) = client.get(format!("{root}/health")).send().await {
                        if let Some(lag) = r
                            .json::<serde_json::Value>()
                            .await
                            .ok()
                            .and_then(|v| v["lag"].as_f64())
                        {
                            samples.lock().expect("samples").push(lag);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut first = 0;
    for (c, requests) in &plan.stow {
        for node in nodes.iter_mut() {
            super::ensure_alive(node)?;
        }
        if requests.is_empty() {
            continue;
        }
        eprintln!(
            "bench: distributed: STOW-RS, {} requests at concurrency {c} over {} nodes",
            requests.len(),
            bases.len()
        );
        let level = stow(
            client,
            &bases,
            *c,
            requests,
            &plan.series[first..],
            &mut m.errors,
            &mut extra.visible_ms,
        )
        .await;
        first += requests.len();
        eprintln!(
            "bench: distributed:   {} of {} stored in {:.2} s",
            level.stored, level.sent, level.secs
        );
        m.stow.push(level);
    }
    sampling.abort();
    extra.lag_events = std::mem::take(&mut *samples.lock().expect("samples"));
    m.visibility = Some(
        measure::visibility(client, &bases[1 % bases.len()], &plan.series, &mut m.errors).await,
    );
    eprintln!(
        "bench: distributed: QIDO-RS, {} queries one at a time, round the nodes",
        plan.queries.len()
    );
    let mut qido: Vec<(Shape, Vec<f64>)> = Shape::ALL.iter().map(|&s| (s, Vec::new())).collect();
    for (i, q) in plan.queries.iter().enumerate() {
        let t = Instant::now();
        let got = measure::qido_one(client, &bases[i % bases.len()], &q.path).await;
        if let Some((_, v)) = qido.iter_mut().find(|(s, _)| *s == q.shape) {
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
        match got {
            Ok(k) if k == q.expected => {}
            Ok(k) => m.errors.add(format!(
                "QIDO-RS {}: {k} results, expected {}",
                q.path, q.expected
            )),
            Err(e) => m.errors.add(format!("QIDO-RS {}: {e}", q.path)),
        }
    }
    m.qido = qido;
    for (i, &c) in plan.levels.iter().enumerate() {
        let base = &bases[(i + 1) % bases.len()];
        eprintln!(
            "bench: distributed: WADO-RS, {} studies at concurrency {c}",
            plan.studies.len()
        );
        let level: WadoLevel = measure::wado(client, base, c, &plan.studies, &mut m.errors).await;
        m.wado.push(level);
    }
    Ok(())
}

/// STOW-RS at concurrency `c`, request k to node k mod N, each answer followed by a probe on
/// the next node for the same series (`series[k]`), timed from the answer.
async fn stow(
    client: &reqwest::Client,
    bases: &[String],
    c: usize,
    requests: &[StowRequest],
    series: &[(String, String, usize)],
    errors: &mut Errors,
    visible_ms: &mut Vec<f64>,
) -> StowLevel {
    let start = Instant::now();
    let probes = Arc::new(Mutex::new(Vec::new()));
    let mut results = futures::stream::iter(requests.iter().enumerate().map(|(k, r)| {
        let (base, next) = (
            &bases[k % bases.len()],
            bases[(k + 1) % bases.len()].clone(),
        );
        let probes = probes.clone();
        let (study, se, count) = series.get(k).cloned().unwrap_or_default();
        async move {
            let t = Instant::now();
            let out = stow_one(client, base, r).await;
            let took = t.elapsed();
            if let Ok((_, Some(seq))) = &out {
                let (client, seq) = (client.clone(), *seq);
                let probe = tokio::spawn(async move {
                    let answered = Instant::now();
                    let url = format!("{next}/studies/{study}/series/{se}/instances");
                    let r = client
                        .get(url)
                        .header("Arc-Min-Sequence", seq.to_string())
                        .header(ACCEPT, "application/dicom+json")
                        .send()
                        .await;
                    let listed = match r {
                        Ok(r) if r.status().is_success() => r
                            .json::<Vec<serde_json::Value>>()
                            .await
                            .map_or(0, |v| v.len()),
                        _ => 0,
                    };
                    (listed == count).then(|| answered.elapsed().as_secs_f64() * 1e3)
                });
                probes.lock().expect("probes").push(probe);
            }
            (out, took)
        }
    }))
    .buffer_unordered(c);
    let (mut stored, mut latencies) = (0, Vec::with_capacity(requests.len()));
    while let Some((out, took)) = results.next().await {
        latencies.push(took.as_secs_f64() * 1e3);
        match out {
            Ok((k, _)) => stored += k,
            Err(e) => errors.add(format!("STOW-RS at concurrency {c}: {e}")),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let handles = std::mem::take(&mut *probes.lock().expect("probes"));
    for h in handles {
        match h.await {
            Ok(Some(ms)) => visible_ms.push(ms),
            _ => errors.add("a probe did not find a stored series on the next node".into()),
        }
    }
    StowLevel {
        concurrency: c,
        requests: requests.len(),
        sent: requests.iter().map(|r| r.instances).sum(),
        stored,
        bytes: requests.iter().map(|r| r.payload).sum(),
        secs,
        latencies,
    }
}

/// One STOW-RS request: instances stored and the answer's `Arc-Sequence`.
async fn stow_one(
    client: &reqwest::Client,
    base: &str,
    req: &StowRequest,
) -> Result<(usize, Option<u64>), String> {
    let resp = client
        .post(format!("{base}/studies"))
        .header(CONTENT_TYPE, &req.content_type)
        .header(ACCEPT, "application/dicom+json")
        .body(req.body.clone())
        .send()
        .await
        .map_err(|e| format!("request failed: {e:#}"))?;
    let status = resp.status();
    let seq = resp
        .headers()
        .get("arc-sequence")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let text = resp
        .text()
        .await
        .map_err(|e| format!("HTTP {status}, body not read: {e:#}"))?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", measure::snippet(&text)));
    }
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("answer is not JSON ({e})"))?;
    let stored = doc["00081199"]["Value"].as_array().map_or(0, Vec::len);
    if stored != req.instances {
        return Err(format!(
            "HTTP {status}: {stored} of {} stored: {}",
            req.instances,
            measure::snippet(&text)
        ));
    }
    Ok((stored, seq))
}

/// Waits (up to a minute) for a snapshot within `every` events of the log's end, as the
/// nodes' logs report them.
async fn snapshot_figures(
    dir: &Path,
    extra: &mut Extra,
    every: u64,
    nodes: &[Server],
    client: &reqwest::Client,
) {
    let Some(end) = status(client, &nodes[0])
        .await
        .and_then(|s| s["log_end"].as_u64())
    else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let newest = (0..nodes.len())
            .flat_map(|i| published(&dir.join(format!("node{}.log", i + 1))))
            .max_by_key(|p| p.position);
        if let Some(p) = newest.filter(|p| p.position + every >= end) {
            extra.snapshot = Some((p.position, p.files, p.bytes, end));
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One "snapshot published" line of a node's log.
struct PublishedLine {
    position: u64,
    files: usize,
    bytes: u64,
    stage_ms: u64,
    upload_ms: u64,
}

/// The line without terminal colour sequences (`ESC [ … letter`).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every "snapshot published" line of a node's log.
fn published(log: &Path) -> Vec<PublishedLine> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let field = |line: &str, name: &str| -> Option<u64> {
        let rest = &line[line.find(&format!(" {name}="))? + name.len() + 2..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    text.lines()
        .filter(|l| l.contains("snapshot published"))
        .map(plain)
        .filter_map(|l| {
            Some(PublishedLine {
                position: field(&l, "position")?,
                files: field(&l, "files")? as usize,
                bytes: field(&l, "bytes")?,
                stage_ms: field(&l, "stage_ms")?,
                upload_ms: field(&l, "upload_ms")?,
            })
        })
        .collect()
}

fn p(values: &[f64], q: f64) -> String {
    percentile(values, q).map_or("—".into(), |v| format!("{v:.0}"))
}

/// The markdown section of what only the distributed mode has.
pub(crate) fn render(e: &Extra) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "#### Distributed mode: {} nodes on {}\n",
        e.nodes, e.backends
    );
    let _ = writeln!(
        s,
        "- Projection lag under the STOW-RS load, from a STOW-RS answer on one node until the next node lists the \
         series (`Arc-Min-Sequence`): p50 {} ms, p99 {} ms, max {} ms ({} writes)",
        p(&e.visible_ms, 50.0),
        p(&e.visible_ms, 99.0),
        p(&e.visible_ms, 100.0),
        e.visible_ms.len()
    );
    let _ = writeln!(
        s,
        "- Lag the nodes reported meanwhile (`/health`, events behind the log's end, every 100 ms): p50 {}, p99 {}, max {} ({} samples)",
        p(&e.lag_events, 50.0),
        p(&e.lag_events, 99.0),
        p(&e.lag_events, 100.0),
        e.lag_events.len()
    );
    match e.snapshot {
        Some((pos, files, bytes, end)) => {
            let _ = writeln!(s, "- Newest snapshot: position {pos} of a log of {end} events, {files} files, {:.2} MB", bytes as f64 / 1e6);
        }
        None => {
            let _ = writeln!(
                s,
                "- No snapshot near the log's end within a minute of the load"
            );
        }
    }
    if !e.publish_ms.is_empty() {
        let stage: Vec<f64> = e.publish_ms.iter().map(|x| x.0 as f64).collect();
        let upload: Vec<f64> = e.publish_ms.iter().map(|x| x.1 as f64).collect();
        let _ = writeln!(
            s,
            "- Snapshots published during the run: {}; staging (projector lock held for part of it) p50 {} ms, max {} ms; upload p50 {} ms, max {} ms",
            e.publish_ms.len(),
            p(&stage, 50.0),
            p(&stage, 100.0),
            p(&upload, 50.0),
            p(&upload, 100.0)
        );
    }
    if let Some((secs, replayed, end, from)) = e.fresh {
        let _ = writeln!(
            s,
            "- A fresh node served after {secs:.2} s: restored the snapshot at {}, replayed {replayed} of the {end} events in the log",
            from.map_or("— (none)".into(), |p| p.to_string())
        );
    }
    if let Some(b) = e.bucket_bytes {
        let _ = writeln!(
            s,
            "- Bucket prefix after the run: {:.1} MB (blobs, headers, snapshots, studies/ layout)",
            b as f64 / 1e6
        );
    }
    let _ = writeln!(s, "- \"Disk used\" of this column is the nodes' local projections (their data folders) together.\n");
    s
}
