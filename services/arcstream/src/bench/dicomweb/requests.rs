//! The DICOMweb groups' requests and the checks of their answers: series and study metadata
//! (cold and warm), frames and frame lists as `application/octet-stream`, rendered images and
//! thumbnails, each case run at every concurrency level after one probe request.

use crate::bench::measure::{boundary, ms, snippet, Errors};
use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::time::Instant;

/// What a good answer holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    /// `multipart/related` of `count` native frames of `bytes_each` bytes.
    Frames { count: usize, bytes_each: usize },
    /// A single image of this media type.
    Image(&'static str),
}

/// One GET, planned before timing starts.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    /// Path and query under the DICOMweb base.
    pub path: String,
    pub accept: &'static str,
    pub expect: Expect,
}

/// A case: one kind of request over a set of instances.
#[derive(Debug)]
pub(crate) struct Case {
    pub label: String,
    /// What one good answer counts as: frames or instances.
    pub unit: &'static str,
    pub reqs: Vec<Req>,
}

/// One case at one concurrency level. Latencies are of good answers only.
#[derive(Debug)]
pub(crate) struct Level {
    pub concurrency: usize,
    pub requests: usize,
    pub ok: usize,
    /// Frames or instances in good answers.
    pub items: usize,
    pub bytes: usize,
    pub secs: f64,
    pub latencies: Vec<f64>,
}

/// A case on one server: its levels, or why it was not measured.
#[derive(Debug)]
pub(crate) struct CaseResult {
    pub label: String,
    pub unit: &'static str,
    /// The probe request failed: the server does not offer this (the error is counted once).
    pub unsupported: Option<String>,
    pub levels: Vec<Level>,
}

/// Metadata of one level (series or study).
#[derive(Debug)]
pub(crate) struct MetaResult {
    pub label: String,
    /// The first request after the load, in ms.
    pub cold_ms: Option<f64>,
    /// The following requests, one at a time, in ms.
    pub warm: Vec<f64>,
    pub warm_bytes: usize,
    /// Size of one answer and the attributes of its first instance.
    pub answer_bytes: Option<usize>,
    pub attributes: Option<usize>,
}

/// Sends a GET; returns (content type, body) of a 2xx answer.
async fn get(
    client: &reqwest::Client,
    url: &str,
    accept: &str,
) -> Result<(String, bytes::Bytes), String> {
    let resp = client
        .get(url)
        .header(ACCEPT, accept)
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
    Ok((ct, body))
}

/// The bodies of the parts of a `multipart/related` body (RFC 2046 5.1.1).
pub(crate) fn parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delim = format!("--{boundary}");
    let d = delim.as_bytes();
    // Positions of delimiter lines: at the start or after CRLF.
    let mut at = Vec::new();
    let mut i = 0;
    while i + d.len() <= body.len() {
        if body[i..].starts_with(d) && (i == 0 || body[..i].ends_with(b"\r\n")) {
            at.push(i);
            i += d.len();
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for w in at.windows(2) {
        let part = &body[w[0] + d.len()..w[1].saturating_sub(2).max(w[0] + d.len())];
        if let Some(h) = part.windows(4).position(|x| x == b"\r\n\r\n") {
            out.push(&part[h + 4..]);
        }
    }
    out
}

/// Checks an answer; returns the frames or images it holds.
fn check(expect: Expect, ct: &str, body: &[u8]) -> Result<usize, String> {
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match expect {
        Expect::Frames { count, bytes_each } => {
            if essence != "multipart/related" {
                return Err(format!("content type {ct:?}, expected multipart/related"));
            }
            let b = boundary(ct).ok_or_else(|| format!("no boundary in {ct:?}"))?;
            let p = parts(body, &b);
            if p.len() != count {
                return Err(format!("{} parts, expected {count}", p.len()));
            }
            if let Some(bad) = p.iter().find(|x| x.len() != bytes_each) {
                return Err(format!(
                    "a frame of {} bytes, expected {bytes_each}",
                    bad.len()
                ));
            }
            Ok(count)
        }
        Expect::Image(media) => {
            if essence != media {
                return Err(format!("content type {ct:?}, expected {media}"));
            }
            let magic: &[u8] = if media == "image/png" {
                b"\x89PNG"
            } else {
                b"\xFF\xD8"
            };
            if !body.starts_with(magic) {
                return Err(format!("the body does not start like {media}"));
            }
            Ok(1)
        }
    }
}

async fn one(client: &reqwest::Client, base: &str, r: &Req) -> Result<(usize, usize), String> {
    let (ct, body) = get(client, &format!("{base}{}", r.path), r.accept).await?;
    check(r.expect, &ct, &body).map(|n| (n, body.len()))
}

/// Runs a case at each level; a failing probe marks it unsupported.
pub(crate) async fn run_case(
    client: &reqwest::Client,
    base: &str,
    case: &Case,
    levels: &[usize],
    errors: &mut Errors,
) -> CaseResult {
    let mut out = CaseResult {
        label: case.label.clone(),
        unit: case.unit,
        unsupported: None,
        levels: Vec::new(),
    };
    let Some(first) = case.reqs.first() else {
        return out;
    };
    if let Err(e) = one(client, base, first).await {
        // one line: servers answer errors as indented JSON
        let e = e.split_whitespace().collect::<Vec<_>>().join(" ");
        errors.add(format!("{}: {} (probe; case skipped)", case.label, e));
        out.unsupported = Some(e);
        return out;
    }
    for &c in levels {
        let start = Instant::now();
        let mut results = futures::stream::iter(case.reqs.iter().map(|r| async move {
            let t = Instant::now();
            (one(client, base, r).await, t.elapsed(), r)
        }))
        .buffer_unordered(c);
        let mut level = Level {
            concurrency: c,
            requests: case.reqs.len(),
            ok: 0,
            items: 0,
            bytes: 0,
            secs: 0.0,
            latencies: Vec::new(),
        };
        while let Some((got, took, r)) = results.next().await {
            match got {
                Ok((n, b)) => {
                    level.ok += 1;
                    level.items += n;
                    level.bytes += b;
                    level.latencies.push(ms(took));
                }
                Err(e) => errors.add(format!("{}, {c} in flight: {}: {e}", case.label, r.path)),
            }
        }
        level.secs = start.elapsed().as_secs_f64();
        out.levels.push(level);
    }
    out
}

/// One metadata request: (ms, bytes, instances, attributes of the first).
async fn metadata_one(
    client: &reqwest::Client,
    url: &str,
) -> Result<(f64, usize, usize, usize), String> {
    let t = Instant::now();
    let (_, body) = get(client, url, "application/dicom+json").await?;
    let took = ms(t.elapsed());
    let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        format!(
            "answer is not JSON ({e}): {}",
            snippet(&String::from_utf8_lossy(&body))
        )
    })?;
    let items = doc.as_array().ok_or("answer is not a JSON array")?;
    if let Some(i) = items.iter().position(|v| v.get("00080018").is_none()) {
        return Err(format!("instance {i} of the answer has no SOPInstanceUID"));
    }
    let attrs = items
        .first()
        .and_then(|v| v.as_object())
        .map_or(0, |o| o.len());
    Ok((took, body.len(), items.len(), attrs))
}

/// Series and study metadata of the `(label, path, instances)` targets: first each one once
/// (cold), then `repeats` rounds over all of them (warm).
pub(crate) async fn metadata(
    client: &reqwest::Client,
    base: &str,
    targets: &[(String, String, usize)],
    repeats: usize,
    errors: &mut Errors,
) -> Vec<MetaResult> {
    let mut out: Vec<MetaResult> = targets
        .iter()
        .map(|(label, _, _)| MetaResult {
            label: label.clone(),
            cold_ms: None,
            warm: Vec::new(),
            warm_bytes: 0,
            answer_bytes: None,
            attributes: None,
        })
        .collect();
    for round in 0..=repeats {
        for ((label, path, n), res) in targets.iter().zip(out.iter_mut()) {
            match metadata_one(client, &format!("{base}{path}")).await {
                Ok((took, bytes, k, attrs)) if k == *n => {
                    if round == 0 {
                        res.cold_ms = Some(took);
                        res.answer_bytes = Some(bytes);
                        res.attributes = Some(attrs);
                    } else {
                        res.warm.push(took);
                        res.warm_bytes += bytes;
                    }
                }
                Ok((_, _, k, _)) => {
                    errors.add(format!("{label} metadata: {k} instances, expected {n}"))
                }
                Err(e) => errors.add(format!("{label} metadata: {e}")),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked() {
        let body = b"--b\r\nContent-Type: application/octet-stream\r\n\r\nabcd\r\n--b\r\nContent-Type: x\r\n\r\n\r\n--b\r\nefgh\r\n--b--\r\n";
        // the second part is empty, the third has no header block: neither is a frame
        assert_eq!(parts(body, "b"), vec![&b"abcd"[..], &b""[..]]);
        let two = b"--b\r\nContent-Type: application/octet-stream\r\n\r\nab\r\n--b\r\n\r\ncd\r\n--b--\r\n";
        let ct = "multipart/related; type=\"application/octet-stream\"; boundary=b";
        assert_eq!(
            check(
                Expect::Frames {
                    count: 2,
                    bytes_each: 2
                },
                ct,
                two
            ),
            Ok(2)
        );
        assert!(check(
            Expect::Frames {
                count: 2,
                bytes_each: 3
            },
            ct,
            two
        )
        .is_err());
        assert!(check(
            Expect::Frames {
                count: 1,
                bytes_each: 2
            },
            ct,
            two
        )
        .is_err());
        assert_eq!(
            check(Expect::Image("image/png"), "image/png", b"\x89PNG\r\n"),
            Ok(1)
        );
        assert!(check(Expect::Image("image/jpeg"), "image/jpeg", b"\x89PNG").is_err());
        assert!(check(Expect::Image("image/jpeg"), "image/png", b"\xFF\xD8").is_err());
    }
}
