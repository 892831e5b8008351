//! `arcstream store PATH…`: sends files and folders to an archive by STOW-RS, in batches,
//! with a progress bar and a summary of what was stored and what failed and why.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Options of `arcstream store`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when every file was stored; 1 when any file failed \
(the summary names each failed file and why), or when the archive could not be reached."
)]
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
    /// Files per STOW-RS request (at least 1).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    batch: u16,
    /// Requests in flight at once (at least 1).
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,
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
    /// One line per failed file: `PATH: reason`.
    failed: Vec<String>,
    /// The archive refused the request as larger than its `max_request_bytes` (413).
    too_large: bool,
}

/// Sends one batch; a batch the archive finds too large (413) is sent again one file at a
/// time, so only the files too large on their own fail.
async fn send_or_split(
    client: &reqwest::Client,
    url: &str,
    files: &[PathBuf],
) -> Result<BatchOutcome> {
    let outcome = send(client, url, files).await?;
    if !outcome.too_large || files.len() == 1 {
        return Ok(outcome);
    }
    let mut all = BatchOutcome {
        stored: 0,
        failed: Vec::new(),
        too_large: false,
    };
    for f in files {
        let one = send(client, url, std::slice::from_ref(f)).await?;
        all.stored += one.stored;
        all.failed.extend(one.failed);
    }
    Ok(all)
}

/// The SOP Instance UID (0008,0018) of a Part 10 file as the archive will see it: read by the
/// archive's own parser, as it reads a part of this size (arc-archive `parse`); for a file it
/// cannot store, the UID its failure item names, read as the archive reads it (from
/// `arc_archive::naming_head`); `None` when neither.
fn sop_instance_uid(bytes: &[u8]) -> Option<String> {
    let len = bytes.len() as u64;
    let parsed = if len <= arc_archive::FULL_PARSE_LIMIT {
        arc_dicom::parse_instance(bytes)
    } else {
        arc_dicom::parse_instance_header(bytes, len)
    };
    match parsed {
        Ok(p) => Some(p.sop_instance_uid),
        Err(_) => arc_dicom::failed_object_uids(&bytes[..arc_archive::naming_head(len) as usize]).1,
    }
}

/// The first UID of attribute `tag` in a DICOM JSON item.
fn uid_of(item: &serde_json::Value, tag: &str) -> Option<String> {
    item[tag]["Value"][0].as_str().map(str::to_string)
}

/// Names the file of each failure in a Store Instances Response (PS3.18 10.5.3). A failed item
/// carries the SOP Instance UID when the archive could read it; a part it could not read has
/// none, and its reason comes in a `Warning: 299 … "unreadable part: reason"` header. The
/// archive answers parts in the order they were sent, so the UID-less failures, in order,
/// belong to the files, in order, that are neither stored nor failed under their UID.
fn attribute_failures(
    files: &[PathBuf],
    local_uids: &[Option<String>],
    doc: &serde_json::Value,
    warnings: &[String],
) -> Vec<String> {
    let referenced: std::collections::HashSet<String> = doc["00081199"]["Value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| uid_of(i, "00081155"))
        .collect();
    // `299 arcstream "KEY: reason"`, KEY a SOP Instance UID or `unreadable part`.
    let mut reasons: Vec<Option<(String, String)>> = warnings
        .iter()
        .map(|w| {
            let text = w.splitn(3, ' ').nth(2).unwrap_or(w).trim_matches('"');
            let (key, reason) = text.split_once(": ").unwrap_or(("", text));
            Some((key.to_string(), reason.to_string()))
        })
        .collect();
    let mut take_reason = |key: &str| {
        reasons
            .iter_mut()
            .find(|r| r.as_ref().is_some_and(|(k, _)| k == key))
            .and_then(Option::take)
            .map(|(_, reason)| reason)
    };
    let mut used = vec![false; files.len()];
    // Files sharing a UID: the archive stores the first and refuses the later ones as
    // different objects, so the refusals under a UID go to its last files, in order.
    let mut refusals: std::collections::HashMap<String, usize> = Default::default();
    for item in doc["00081198"]["Value"].as_array().into_iter().flatten() {
        if let Some(uid) = uid_of(item, "00081155") {
            *refusals.entry(uid).or_default() += 1;
        }
    }
    for (uid, n) in &refusals {
        let holders: Vec<usize> = (0..files.len())
            .filter(|&i| local_uids[i].as_deref() == Some(uid.as_str()))
            .collect();
        // The first holders, beyond the refusals, are the stored ones: out of the way.
        for &i in holders.iter().take(holders.len().saturating_sub(*n)) {
            used[i] = true;
        }
    }
    let mut lines = Vec::new();
    let mut unreadable = Vec::new();
    for item in doc["00081198"]["Value"].as_array().into_iter().flatten() {
        let status = item["00081197"]["Value"][0].as_u64().unwrap_or(0);
        let Some(uid) = uid_of(item, "00081155") else {
            let reason = take_reason("unreadable part");
            unreadable.push(reason.unwrap_or_else(|| format!("failed (status {status:04X})")));
            continue;
        };
        let reason = take_reason(&uid).unwrap_or_else(|| format!("failed (status {status:04X})"));
        let file = (0..files.len()).find(|&i| !used[i] && local_uids[i].as_deref() == Some(&uid));
        match file {
            Some(i) => {
                used[i] = true;
                lines.push(format!("{}: {reason}", files[i].display()));
            }
            None => lines.push(format!("(SOP Instance {uid}): {reason}")),
        }
    }
    let rest: Vec<usize> = (0..files.len())
        .filter(|&i| {
            !used[i]
                && !local_uids[i]
                    .as_ref()
                    .is_some_and(|u| referenced.contains(u))
        })
        .collect();
    if rest.len() == unreadable.len() {
        for (i, reason) in rest.into_iter().zip(unreadable) {
            lines.push(format!("{}: {reason}", files[i].display()));
        }
    } else {
        let names: Vec<String> = rest
            .iter()
            .map(|&i| files[i].display().to_string())
            .collect();
        for reason in unreadable {
            lines.push(format!("one of {}: {reason}", names.join(", ")));
        }
    }
    lines
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
    let local_uids = tokio::task::spawn_blocking(move || {
        bodies
            .iter()
            .map(|b| sop_instance_uid(b))
            .collect::<Vec<_>>()
    });
    let resp = client
        .post(format!("{url}/studies"))
        .header("content-type", ct)
        .header("accept", "application/dicom+json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}; is `arcstream serve` running?"))?;
    let local_uids = local_uids.await?;
    let status = resp.status();
    let warnings: Vec<String> = resp
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let text = resp.text().await.unwrap_or_default();
    if !matches!(status.as_u16(), 200 | 202 | 409) {
        // The request as a whole was refused: every file of it failed, for that reason.
        let why = format!("the archive answered {status}: {}", text.trim());
        let failed = files
            .iter()
            .map(|f| format!("{}: {why}", f.display()))
            .collect();
        return Ok(BatchOutcome {
            stored: 0,
            failed,
            too_large: status == reqwest::StatusCode::PAYLOAD_TOO_LARGE,
        });
    }
    let doc: serde_json::Value =
        serde_json::from_str(&text).context("the archive's answer is not DICOM JSON")?;
    let stored = doc["00081199"]["Value"].as_array().map_or(0, Vec::len);
    let failed = attribute_failures(files, &local_uids, &doc, &warnings);
    Ok(BatchOutcome {
        stored,
        failed,
        too_large: false,
    })
}

/// Runs `arcstream store`; `Ok(false)` when any file failed (the summary names each).
pub(crate) async fn run(args: StoreArgs) -> Result<bool> {
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
        .chunks(usize::from(args.batch))
        .map(<[PathBuf]>::to_vec)
        .collect();
    let mut stored = 0;
    let mut failed = Vec::new();
    let mut results = futures::stream::iter(batches.into_iter().map(|b| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let r = send_or_split(&client, &url, &b).await;
            (b.len(), r)
        }
    }))
    .buffer_unordered(usize::from(args.jobs));
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
    Ok(failed.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failed(uid: Option<&str>) -> serde_json::Value {
        let mut item = json!({"00081197": {"vr": "US", "Value": [0xC000]}});
        item["00081155"] = match uid {
            Some(u) => json!({"vr": "UI", "Value": [u]}),
            None => json!({"vr": "UI"}),
        };
        item
    }

    #[test]
    fn failures_name_their_files() {
        let files: Vec<PathBuf> = ["a.dcm", "b.txt", "c.dcm", "d.dcm", "e.dcm"]
            .iter()
            .map(PathBuf::from)
            .collect();
        // a stored; b not DICOM; c refused under its UID; d has a UID but lacks the study's;
        // e stored.
        let uids = [Some("1.1"), None, Some("1.3"), Some("1.4"), Some("1.5")]
            .map(|u| u.map(str::to_string));
        let doc = json!({
            "00081199": {"vr": "SQ", "Value": [
                {"00081155": {"vr": "UI", "Value": ["1.1"]}},
                {"00081155": {"vr": "UI", "Value": ["1.5"]}},
            ]},
            "00081198": {"vr": "SQ", "Value": [failed(None), failed(Some("1.3")), failed(None)]},
        });
        let warnings = [
            "299 arcstream \"unreadable part: not a DICOM file\"",
            "299 arcstream \"1.3: a different object is held under this SOP Instance UID\"",
            "299 arcstream \"unreadable part: missing attribute StudyInstanceUID\"",
        ]
        .map(str::to_string);
        let mut lines = attribute_failures(&files, &uids, &doc, &warnings);
        lines.sort();
        assert_eq!(
            lines,
            [
                "b.txt: not a DICOM file",
                "c.dcm: a different object is held under this SOP Instance UID",
                "d.dcm: missing attribute StudyInstanceUID",
            ]
        );
    }

    #[test]
    fn unattributable_failures_list_the_candidates() {
        let files: Vec<PathBuf> = ["a", "b"].iter().map(PathBuf::from).collect();
        let doc = json!({"00081198": {"vr": "SQ", "Value": [failed(None)]}});
        let lines = attribute_failures(&files, &[None, None], &doc, &[]);
        assert_eq!(lines, ["one of a, b: failed (status C000)"]);
    }

    #[test]
    fn the_uid_is_read_from_the_data_set() {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pydicom");
        let ct = std::fs::read(root.join("CT_small.dcm")).unwrap();
        // The value pydicom and dcmdump show for (0008,0018) of CT_small.dcm.
        assert_eq!(
            sop_instance_uid(&ct).as_deref(),
            Some("1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322")
        );
        assert_eq!(sop_instance_uid(b"not dicom"), None);
        // cut short: the archive fails it under the UID of its meta information, and so
        // store names this file for that failure
        assert_eq!(
            sop_instance_uid(&ct[..ct.len() / 2]).as_deref(),
            Some("1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322")
        );
    }
}
