//! The measurements: STOW-RS throughput, QIDO-RS latency, WADO-RS throughput. The same plan
//! (requests, queries, their order) is run against every server.

use super::corpus::{self, Workload};
use super::servers::{Reindex, Server};
use anyhow::Result;
use bytes::Bytes;
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::time::{Duration, Instant};

/// Errors a server caused: counted, identical messages grouped, the first kinds kept.
#[derive(Debug, Default)]
pub(crate) struct Errors {
    pub count: usize,
    /// (message, occurrences), in order of first occurrence.
    pub kinds: Vec<(String, usize)>,
    /// Occurrences of messages not kept (beyond `KEEP` kinds).
    pub dropped: usize,
}

impl Errors {
    const KEEP: usize = 25;

    pub fn add(&mut self, msg: String) {
        self.count += 1;
        if let Some((_, n)) = self.kinds.iter_mut().find(|(m, _)| *m == msg) {
            *n += 1;
        } else if self.kinds.len() < Self::KEEP {
            eprintln!("bench: error: {msg}");
            self.kinds.push((msg, 1));
        } else {
            self.dropped += 1;
        }
    }
}

/// One STOW-RS concurrency level.
#[derive(Debug)]
pub(crate) struct StowLevel {
    pub concurrency: usize,
    pub requests: usize,
    pub sent: usize,
    pub stored: usize,
    /// DICOM bytes sent (the Part 10 files, not the multipart framing).
    pub bytes: usize,
    pub secs: f64,
    /// Per request, in ms.
    pub latencies: Vec<f64>,
}

/// One WADO-RS concurrency level.
#[derive(Debug)]
pub(crate) struct WadoLevel {
    pub concurrency: usize,
    pub studies: usize,
    pub instances: usize,
    /// Response body bytes received.
    pub bytes: usize,
    pub secs: f64,
    /// Per study, in ms.
    pub latencies: Vec<f64>,
}

/// How long after the last STOW-RS answer every instance was found by QIDO-RS.
#[derive(Debug)]
pub(crate) struct Visibility {
    pub secs: f64,
    /// Passes over the series needed (1: complete at the first look).
    pub passes: usize,
    pub missing: usize,
    pub series: usize,
}

/// Everything measured on one server.
#[derive(Debug)]
pub(crate) struct Measured {
    pub name: String,
    pub version: String,
    pub stow: Vec<StowLevel>,
    pub visibility: Option<Visibility>,
    /// Latencies in ms per query shape, in `Shape::ALL` order.
    pub qido: Vec<(Shape, Vec<f64>)>,
    pub wado: Vec<WadoLevel>,
    pub peak_rss_kib: Option<u64>,
    pub disk_bytes: Option<u64>,
    pub reindex: Option<Reindex>,
    /// The DICOMweb groups (metadata, frames, rendered), when run.
    pub dicomweb: super::dicomweb::Results,
    pub errors: Errors,
}

impl Measured {
    pub fn new(name: &str, version: String) -> Self {
        Measured {
            name: name.to_string(),
            version,
            stow: Vec::new(),
            visibility: None,
            qido: Vec::new(),
            wado: Vec::new(),
            peak_rss_kib: None,
            disk_bytes: None,
            reindex: None,
            dicomweb: Default::default(),
            errors: Errors::default(),
        }
    }
}

/// The QIDO-RS query shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    PatientId,
    PatientName,
    StudyDate,
    StudySeries,
    SeriesInstances,
}

impl Shape {
    pub const ALL: [Shape; 5] = [
        Shape::PatientId,
        Shape::PatientName,
        Shape::StudyDate,
        Shape::StudySeries,
        Shape::SeriesInstances,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Shape::PatientId => "`/studies?PatientID=…` (1 hit)",
            Shape::PatientName => "`/studies?PatientName=BENCH^P0000n*` (≤10 hits)",
            Shape::StudyDate => "`/studies?StudyDate=d1-d7` (≤7 hits)",
            Shape::StudySeries => "`/studies/{s}/series` (2 hits)",
            Shape::SeriesInstances => "`/studies/{s}/series/{se}/instances` (10 hits)",
        }
    }
}

/// One QIDO-RS query and the number of results it must return.
pub(crate) struct Query {
    pub shape: Shape,
    /// Path and query string under the DICOMweb base. Values are written as they are, not
    /// percent-encoded: they only hold `[A-Z0-9^*.-]`, and Orthanc 1.10 / DICOMweb plugin 1.7
    /// does not decode percent-escapes in QIDO-RS values (`PatientName=A%5EB` finds nothing).
    pub path: String,
    pub expected: usize,
}

/// One STOW-RS request, built before timing starts.
pub(crate) struct StowRequest {
    pub(crate) content_type: String,
    pub(crate) body: Bytes,
    pub(crate) instances: usize,
    pub(crate) payload: usize,
}

impl StowRequest {
    /// One request storing `files` (whole Part 10 files).
    pub fn new(files: &[Vec<u8>]) -> StowRequest {
        let (content_type, body) = crate::cli_store::multipart(files);
        StowRequest {
            content_type,
            body: Bytes::from(body),
            instances: files.len(),
            payload: files.iter().map(Vec::len).sum(),
        }
    }
}

/// The plan every server runs.
pub(crate) struct Plan {
    /// Per concurrency level: the requests (one per series) of its share of the studies.
    pub stow: Vec<(usize, Vec<StowRequest>)>,
    pub levels: Vec<usize>,
    pub queries: Vec<Query>,
    /// (study UID, instances) of every study.
    pub studies: Vec<(String, usize)>,
    /// (study UID, series UID, instances) of every series.
    pub series: Vec<(String, String, usize)>,
}

impl Plan {
    pub fn new(w: &Workload, levels: &[usize], queries: usize) -> Plan {
        let n = w.studies.len();
        let mut stow = Vec::new();
        for (k, &c) in levels.iter().enumerate() {
            let share = &w.studies[k * n / levels.len()..(k + 1) * n / levels.len()];
            let requests = share
                .iter()
                .flat_map(|s| &s.series)
                .map(|se| {
                    StowRequest::new(&se.instances.iter().map(|b| b.to_vec()).collect::<Vec<_>>())
                })
                .collect();
            stow.push((c, requests));
        }
        let studies = w
            .studies
            .iter()
            .map(|s| {
                (
                    s.uid.clone(),
                    s.series.iter().map(|se| se.instances.len()).sum(),
                )
            })
            .collect();
        let series = w
            .studies
            .iter()
            .flat_map(|s| {
                s.series
                    .iter()
                    .map(move |se| (s.uid.clone(), se.uid.clone(), se.instances.len()))
            })
            .collect();
        Plan {
            stow,
            levels: levels.to_vec(),
            queries: plan_queries(w, queries),
            studies,
            series,
        }
    }
}

fn plan_queries(w: &Workload, count: usize) -> Vec<Query> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x00a2_c57e);
    let n = w.studies.len();
    (0..count)
        .map(|i| {
            let shape = Shape::ALL[i % Shape::ALL.len()];
            let s = rng.random_range(0..n);
            let study = &w.studies[s];
            match shape {
                Shape::PatientId => Query {
                    shape,
                    path: format!("/studies?PatientID={}", study.patient_id),
                    expected: 1,
                },
                Shape::PatientName => {
                    // Names are BENCH^P{s:06}: this prefix matches the ten studies of s's decade.
                    let decade = s / 10;
                    Query {
                        shape,
                        path: format!("/studies?PatientName=BENCH^P{decade:05}*"),
                        expected: (n - decade * 10).min(10),
                    }
                }
                Shape::StudyDate => {
                    let last = s + 6;
                    Query {
                        shape,
                        path: format!(
                            "/studies?StudyDate={}-{}",
                            corpus::study_date(s),
                            corpus::study_date(last)
                        ),
                        expected: last.min(n - 1) - s + 1,
                    }
                }
                Shape::StudySeries => Query {
                    shape,
                    path: format!("/studies/{}/series", study.uid),
                    expected: study.series.len(),
                },
                Shape::SeriesInstances => {
                    let se = &study.series[rng.random_range(0..study.series.len())];
                    Query {
                        shape,
                        path: format!("/studies/{}/series/{}/instances", study.uid, se.uid),
                        expected: se.instances.len(),
                    }
                }
            }
        })
        .collect()
}

/// Runs the whole plan against one server, filling `m`. An `Err` means the server stopped
/// answering (or died) and the rest was skipped; request-level errors go to `m.errors`.
pub(crate) async fn run_all(
    server: &mut Server,
    client: &reqwest::Client,
    plan: &Plan,
    m: &mut Measured,
) -> Result<()> {
    for (c, requests) in &plan.stow {
        super::ensure_alive(server)?;
        if requests.is_empty() {
            continue;
        }
        eprintln!(
            "bench: {}: STOW-RS, {} requests at concurrency {c}",
            server.name,
            requests.len()
        );
        let level = stow(client, &server.base, *c, requests, &mut m.errors).await;
        eprintln!(
            "bench: {}:   {} of {} stored in {:.2} s ({:.0} instances/s)",
            server.name,
            level.stored,
            level.sent,
            level.secs,
            level.stored as f64 / level.secs
        );
        m.stow.push(level);
    }
    super::ensure_alive(server)?;
    eprintln!(
        "bench: {}: checking every series is visible to QIDO-RS",
        server.name
    );
    m.visibility = Some(visibility(client, &server.base, &plan.series, &mut m.errors).await);
    super::ensure_alive(server)?;
    eprintln!(
        "bench: {}: QIDO-RS, {} queries one at a time",
        server.name,
        plan.queries.len()
    );
    m.qido = qido(client, &server.base, &plan.queries, &mut m.errors).await;
    for &c in &plan.levels {
        super::ensure_alive(server)?;
        eprintln!(
            "bench: {}: WADO-RS, {} studies at concurrency {c}",
            server.name,
            plan.studies.len()
        );
        let level = wado(client, &server.base, c, &plan.studies, &mut m.errors).await;
        eprintln!(
            "bench: {}:   {:.1} MB in {:.2} s",
            server.name,
            level.bytes as f64 / 1e6,
            level.secs
        );
        m.wado.push(level);
    }
    super::ensure_alive(server)?;
    Ok(())
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub(crate) fn snippet(text: &str) -> String {
    let t = text.trim();
    let cut: String = t.chars().take(300).collect();
    if cut.len() < t.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Sends one STOW-RS request; returns the number of instances stored.
async fn stow_one(client: &reqwest::Client, url: &str, req: &StowRequest) -> Result<usize, String> {
    let resp = client
        .post(url)
        .header(CONTENT_TYPE, &req.content_type)
        .header(ACCEPT, "application/dicom+json")
        .body(req.body.clone())
        .send()
        .await
        .map_err(|e| format!("request failed: {e:#}"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("HTTP {status}, body not read: {e:#}"))?;
    if !status.is_success() && status.as_u16() != 409 {
        return Err(format!("HTTP {status}: {}", snippet(&text)));
    }
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "HTTP {status}, answer is not JSON ({e}): {}",
            snippet(&text)
        )
    })?;
    let stored = doc["00081199"]["Value"].as_array().map_or(0, Vec::len);
    let failed = doc["00081198"]["Value"].as_array().map_or(0, Vec::len);
    if stored != req.instances {
        return Err(format!(
            "HTTP {status}: {stored} of {} stored, {failed} failed: {}",
            req.instances,
            snippet(&text)
        ));
    }
    Ok(stored)
}

pub(super) async fn stow(
    client: &reqwest::Client,
    base: &str,
    c: usize,
    requests: &[StowRequest],
    errors: &mut Errors,
) -> StowLevel {
    let url = format!("{base}/studies");
    let start = Instant::now();
    let mut results = futures::stream::iter(requests.iter().map(|r| {
        let url = &url;
        async move {
            let t = Instant::now();
            let out = stow_one(client, url, r).await;
            (out, t.elapsed())
        }
    }))
    .buffer_unordered(c);
    let mut stored = 0;
    let mut latencies = Vec::with_capacity(requests.len());
    while let Some((out, took)) = results.next().await {
        latencies.push(ms(took));
        match out {
            Ok(n) => stored += n,
            Err(e) => errors.add(format!("STOW-RS at concurrency {c}: {e}")),
        }
    }
    let secs = start.elapsed().as_secs_f64();
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

/// Runs a QIDO-RS query; returns the number of results.
pub(crate) async fn qido_one(
    client: &reqwest::Client,
    base: &str,
    path_and_query: &str,
) -> Result<usize, String> {
    let resp = client
        .get(format!("{base}{path_and_query}"))
        .header(ACCEPT, "application/dicom+json")
        .send()
        .await
        .map_err(|e| format!("request failed: {e:#}"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("HTTP {status}, body not read: {e:#}"))?;
    if status.as_u16() == 204 {
        return Ok(0);
    }
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", snippet(&text)));
    }
    if text.trim().is_empty() {
        return Ok(0);
    }
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "HTTP {status}, answer is not JSON ({e}): {}",
            snippet(&text)
        )
    })?;
    doc.as_array().map(Vec::len).ok_or_else(|| {
        format!(
            "HTTP {status}, answer is not a JSON array: {}",
            snippet(&text)
        )
    })
}

pub(crate) async fn visibility(
    client: &reqwest::Client,
    base: &str,
    series: &[(String, String, usize)],
    errors: &mut Errors,
) -> Visibility {
    let start = Instant::now();
    let mut pending: Vec<&(String, String, usize)> = series.iter().collect();
    let mut last_err = Vec::new();
    let mut passes = 0;
    loop {
        passes += 1;
        let checks = futures::stream::iter(pending.iter().map(|(st, se, n)| async move {
            let path = format!("/studies/{st}/series/{se}/instances");
            (qido_one(client, base, &path).await, *n, path)
        }))
        .buffered(4)
        .collect::<Vec<_>>()
        .await;
        let mut still = Vec::new();
        last_err.clear();
        for ((got, n, path), s) in checks.into_iter().zip(pending) {
            match got {
                Ok(k) if k == n => {}
                Ok(k) => {
                    last_err.push(format!("{path}: {k} of {n} instances"));
                    still.push(s);
                }
                Err(e) => {
                    last_err.push(format!("{path}: {e}"));
                    still.push(s);
                }
            }
        }
        pending = still;
        if pending.is_empty() || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let missing = pending.iter().map(|s| s.2).sum();
    for e in last_err.iter().take(5) {
        errors.add(format!("not visible 60 s after STOW-RS: {e}"));
    }
    Visibility {
        secs: start.elapsed().as_secs_f64(),
        passes,
        missing,
        series: series.len(),
    }
}

async fn qido(
    client: &reqwest::Client,
    base: &str,
    queries: &[Query],
    errors: &mut Errors,
) -> Vec<(Shape, Vec<f64>)> {
    let mut out: Vec<(Shape, Vec<f64>)> = Shape::ALL.iter().map(|&s| (s, Vec::new())).collect();
    for q in queries {
        let t = Instant::now();
        let got = qido_one(client, base, &q.path).await;
        let took = ms(t.elapsed());
        if let Some((_, v)) = out.iter_mut().find(|(s, _)| *s == q.shape) {
            v.push(took);
        }
        match got {
            Ok(k) if k == q.expected => {}
            Ok(k) => errors.add(format!(
                "QIDO-RS {}: {k} results, expected {}",
                q.path, q.expected
            )),
            Err(e) => errors.add(format!("QIDO-RS {}: {e}", q.path)),
        }
    }
    out
}

pub(super) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').map(str::trim).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn count_parts(body: &[u8], boundary: &str) -> usize {
    let delim = format!("--{boundary}");
    let d = delim.as_bytes();
    let mut count = 0;
    let mut i = 0;
    while i + d.len() <= body.len() {
        if body[i] == d[0] && &body[i..i + d.len()] == d {
            // The closing delimiter is followed by "--".
            if body.get(i + d.len()..i + d.len() + 2) != Some(b"--") {
                count += 1;
            }
            i += d.len();
        } else {
            i += 1;
        }
    }
    count
}

/// Retrieves one study; returns (bytes, parts).
async fn wado_one(
    client: &reqwest::Client,
    base: &str,
    study: &str,
) -> Result<(usize, usize), String> {
    let resp = client
        .get(format!("{base}/studies/{study}"))
        .header(
            ACCEPT,
            "multipart/related; type=\"application/dicom\"; transfer-syntax=*",
        )
        .send()
        .await
        .map_err(|e| format!("request failed: {e:#}"))?;
    let status = resp.status();
    let ct = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("HTTP {status}, body not read: {e:#}"))?;
    if !status.is_success() {
        return Err(format!(
            "HTTP {status}: {}",
            snippet(&String::from_utf8_lossy(&body))
        ));
    }
    let b = boundary(&ct)
        .ok_or_else(|| format!("HTTP {status}, no multipart boundary in content type {ct:?}"))?;
    Ok((body.len(), count_parts(&body, &b)))
}

pub(crate) async fn wado(
    client: &reqwest::Client,
    base: &str,
    c: usize,
    studies: &[(String, usize)],
    errors: &mut Errors,
) -> WadoLevel {
    let start = Instant::now();
    let mut results = futures::stream::iter(studies.iter().map(|(uid, n)| async move {
        let t = Instant::now();
        (wado_one(client, base, uid).await, *n, uid, t.elapsed())
    }))
    .buffer_unordered(c);
    let (mut bytes, mut instances) = (0, 0);
    let mut latencies = Vec::with_capacity(studies.len());
    while let Some((out, n, uid, took)) = results.next().await {
        latencies.push(ms(took));
        match out {
            Ok((b, parts)) => {
                bytes += b;
                instances += parts;
                if parts != n {
                    errors.add(format!(
                        "WADO-RS at concurrency {c}: study {uid}: {parts} instances, expected {n}"
                    ));
                }
            }
            Err(e) => errors.add(format!("WADO-RS at concurrency {c}: study {uid}: {e}")),
        }
    }
    WadoLevel {
        concurrency: c,
        studies: studies.len(),
        instances,
        bytes,
        secs: start.elapsed().as_secs_f64(),
        latencies,
    }
}

/// Nearest-rank percentile of unsorted values.
pub(crate) fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    Some(v[rank.min(v.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_percentiles() {
        let body =
            b"--b1\r\nContent-Type: application/dicom\r\n\r\nxx\r\n--b1\r\n\r\nyy\r\n--b1--\r\n";
        assert_eq!(count_parts(body, "b1"), 2);
        assert_eq!(
            boundary("multipart/related; type=\"application/dicom\"; boundary=\"b1\""),
            Some("b1".into())
        );
        assert_eq!(percentile(&[3.0, 1.0, 2.0, 4.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0, 4.0], 99.0), Some(4.0));
    }
}
