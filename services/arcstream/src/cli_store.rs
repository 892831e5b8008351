//! `arcstream store PATH…`: sends files and folders to an archive by STOW-RS, in batches,
//! with a progress bar and a summary of what was stored and what failed and why.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Options of `arcstream store`.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// Files or folders (searched recursively) to send.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The archive's DICOMweb base URL.
    #[arg(
        long,
        default_value = "http://127.0.0.1:8080/aets/ARCSTREAM/rs",
        env = "ARCSTREAM_URL"
    )]
    url: String,
    /// Files per STOW-RS request.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Requests in flight at once.
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
}

pub(crate) fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Builds a `multipart/related; type="application/dicom"` body; returns (content type, body).
pub(crate) fn multipart(files: &[Vec<u8>]) -> (String, Vec<u8>) {
    let boundary = format!("arcstream-{:016x}", rand::random::<u64>());
    let mut body =
        Vec::with_capacity(files.iter().map(Vec::len).sum::<usize>() + 128 * files.len());
    for f in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(f);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/related; type=\"application/dicom\"; boundary={boundary}"),
        body,
    )
}

struct BatchOutcome {
    stored: usize,
    failed: Vec<String>,
}

async fn send(client: &reqwest::Client, url: &str, files: &[PathBuf]) -> Result<BatchOutcome> {
    let mut bodies = Vec::with_capacity(files.len());
    for f in files {
        bodies.push(
            tokio::fs::read(f)
                .await
                .with_context(|| format!("cannot read {}", f.display()))?,
        );
    }
    let (ct, body) = multipart(&bodies);
    let resp = client
        .post(format!("{url}/studies"))
        .header("content-type", ct)
        .header("accept", "application/dicom+json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}; is `arcstream serve` running?"))?;
    let status = resp.status();
    let warnings: Vec<String> = resp
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let text = resp.text().await.unwrap_or_default();
    if !matches!(status.as_u16(), 200 | 202 | 409) {
        bail!("the archive answered {status}: {}", text.trim());
    }
    let doc: serde_json::Value =
        serde_json::from_str(&text).context("the archive's answer is not DICOM JSON")?;
    let stored = doc["00081199"]["Value"].as_array().map_or(0, Vec::len);
    let mut failed: Vec<String> = warnings
        .iter()
        .map(|w| {
            w.splitn(3, ' ')
                .nth(2)
                .unwrap_or(w)
                .trim_matches('"')
                .to_string()
        })
        .collect();
    let n_failed = doc["00081198"]["Value"].as_array().map_or(0, Vec::len);
    failed.resize(
        n_failed.max(failed.len().min(n_failed)),
        "failed (no reason given)".to_string(),
    );
    Ok(BatchOutcome { stored, failed })
}

/// Runs `arcstream store`.
pub(crate) async fn run(args: StoreArgs) -> Result<()> {
    let files = collect_files(&args.paths)?;
    if files.is_empty() {
        bail!("no files found under the paths given");
    }
    let url = args.url.trim_end_matches('/').to_string();
    let client = reqwest::Client::new();
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files  {per_sec}  {msg}")
            .expect("template"),
    );
    let batches: Vec<Vec<PathBuf>> = files
        .chunks(args.batch.max(1))
        .map(<[PathBuf]>::to_vec)
        .collect();
    let mut stored = 0;
    let mut failed = Vec::new();
    let mut results = futures::stream::iter(batches.into_iter().map(|b| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let r = send(&client, &url, &b).await;
            (b.len(), r)
        }
    }))
    .buffer_unordered(args.jobs.max(1));
    use futures::StreamExt;
    while let Some((n, r)) = results.next().await {
        let outcome = r?;
        stored += outcome.stored;
        failed.extend(outcome.failed);
        bar.inc(n as u64);
        bar.set_message(format!("{stored} stored, {} failed", failed.len()));
    }
    bar.finish();
    println!(
        "{stored} instances stored, {} failed, from {} files",
        failed.len(),
        files.len()
    );
    for f in &failed {
        println!("  failed: {f}");
    }
    Ok(())
}
