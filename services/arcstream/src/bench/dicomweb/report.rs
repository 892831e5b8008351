//! The DICOMweb groups in the report: their table rows (same columns and ratios as the core
//! rows), the workload note and the per-server details.

use super::requests::{CaseResult, Level};
use super::Plan;
use crate::bench::measure::{percentile, Measured};
use crate::bench::report::{fmt_num, Better, Row};
use std::fmt::Write as _;

fn row(metric: String, better: Better, values: Vec<Option<f64>>) -> Row {
    Row {
        metric,
        better,
        values,
        count: false,
    }
}

/// Labels in first-seen order across servers, so a case one server skipped keeps its row.
fn labels<'a>(r: &'a [Measured], of: impl Fn(&'a Measured) -> Vec<&'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for m in r {
        for l in of(m) {
            if !out.contains(&l) {
                out.push(l);
            }
        }
    }
    out
}

fn cases_rows(r: &[Measured], rows: &mut Vec<Row>, pick: impl Fn(&Measured) -> &Vec<CaseResult>) {
    let names = labels(r, |m| pick(m).iter().map(|c| c.label.as_str()).collect());
    let mut levels: Vec<usize> = r
        .iter()
        .flat_map(|m| {
            pick(m)
                .iter()
                .flat_map(|c| c.levels.iter().map(|l| l.concurrency))
        })
        .collect();
    levels.sort_unstable();
    levels.dedup();
    for name in names {
        let unit = r
            .iter()
            .flat_map(|m| pick(m).iter())
            .find(|c| c.label == name)
            .map_or("items", |c| c.unit);
        for &c in &levels {
            let vals = |f: &dyn Fn(&Level) -> Option<f64>| {
                r.iter()
                    .map(|m| find_level(pick(m), name, c).and_then(f))
                    .collect::<Vec<_>>()
            };
            rows.push(row(
                format!("{name}: {unit}/s, {c} in flight"),
                Better::Higher,
                vals(&|l| (l.secs > 0.0 && l.ok > 0).then(|| l.items as f64 / l.secs)),
            ));
            for p in [50.0, 99.0] {
                rows.push(row(
                    format!("{name}: p{p:.0} ms, {c} in flight"),
                    Better::Lower,
                    vals(&|l| percentile(&l.latencies, p)),
                ));
            }
        }
    }
}

fn find_level<'a>(cases: &'a [CaseResult], name: &str, c: usize) -> Option<&'a Level> {
    cases
        .iter()
        .find(|x| x.label == name)?
        .levels
        .iter()
        .find(|l| l.concurrency == c)
}

/// The rows of the DICOMweb groups (none when no server ran them).
pub(crate) fn rows(r: &[Measured]) -> Vec<Row> {
    let mut rows = Vec::new();
    for name in labels(r, |m| {
        m.dicomweb
            .metadata
            .iter()
            .map(|x| x.label.as_str())
            .collect()
    }) {
        let per = |f: &dyn Fn(&super::MetaResult) -> Option<f64>| {
            r.iter()
                .map(|m| {
                    m.dicomweb
                        .metadata
                        .iter()
                        .find(|x| x.label == name)
                        .and_then(f)
                })
                .collect()
        };
        rows.push(row(
            format!("{name} metadata: first request ms (cold)"),
            Better::Lower,
            per(&|x| x.cold_ms),
        ));
        for p in [50.0, 99.0] {
            rows.push(row(
                format!("{name} metadata: warm p{p:.0} ms"),
                Better::Lower,
                per(&|x| percentile(&x.warm, p)),
            ));
        }
        rows.push(row(
            format!("{name} metadata: warm MB/s"),
            Better::Higher,
            per(&|x| {
                let secs: f64 = x.warm.iter().sum::<f64>() / 1e3;
                (secs > 0.0).then(|| x.warm_bytes as f64 / 1e6 / secs)
            }),
        ));
    }
    cases_rows(r, &mut rows, |m| &m.dicomweb.frames);
    cases_rows(r, &mut rows, |m| &m.dicomweb.multiframe);
    cases_rows(r, &mut rows, |m| &m.dicomweb.rendered);
    rows
}

/// The workload note of the DICOMweb groups.
pub(crate) fn note(plan: &Plan) -> String {
    let mut s = format!("Groups run: {}.", plan.selected.names());
    if !plan.selected.any_dicomweb() {
        return s;
    }
    let _ = write!(
        s,
        " The DICOMweb groups store their own instances after the core measurements ({}; STOW-RS, 25 instances a \
         request, 4 in flight) and wait until QIDO-RS lists them all.",
        plan.made.join("; ")
    );
    if plan.selected.metadata {
        let _ = write!(
            s,
            " Metadata: `GET …/series/{{se}}/metadata` and `GET /studies/{{s}}/metadata` as `application/dicom+json`, \
             one at a time; \"cold\" is the first request of each after the load (server caches empty, the OS page \
             cache warm), \"warm\" the {} rounds after it; MB/s is answer bytes over the warm requests' time. \
             Orthanc runs its DICOMweb plugin's default metadata mode, \"Full\" (every instance read from storage; \
             `StudiesMetadata`/`SeriesMetadata` unset).",
            plan.repeats
        );
    }
    if plan.selected.frames {
        let _ = write!(
            s,
            " Frames: `GET …/instances/{{i}}/frames/1` (and the whole frame list `frames/1,2,…,N` of the multi-frame \
             objects) with `Accept: multipart/related; type=\"application/octet-stream\"`, compressed sources \
             decompressed by the server; each answer is checked (part count, each part the native frame size)."
        );
    }
    if plan.selected.rendered {
        let _ = write!(
            s,
            " Rendered: `GET …/instances/{{i}}/rendered` with `Accept: image/jpeg` or `image/png` and \
             `…/instances/{{i}}/thumbnail` with `Accept: image/jpeg`, default parameters; answers checked for media \
             type and signature."
        );
    }
    if plan.selected.frames || plan.selected.rendered {
        let _ = write!(
            s,
            " Each case sends the same {} requests ({} for the frame lists; instances round robin) at each of {:?} in \
             flight, after one probe request: a case whose probe fails is reported as not offered and skipped (one error). Latencies are of \
             good answers.",
            plan.frames.first().or(plan.rendered.first()).map_or(0, |c| c.reqs.len()),
            plan.multiframe.first().map_or(0, |c| c.reqs.len()),
            plan.levels
        );
    }
    if !plan.skipped.is_empty() {
        let _ = write!(
            s,
            " Sources not found or not usable: {}.",
            plan.skipped.join("; ")
        );
    }
    s
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("—".into(), fmt_num)
}

/// The details of one server's DICOMweb groups.
pub(crate) fn details(s: &mut String, m: &Measured) {
    let d = &m.dicomweb;
    if let Some((stored, sent, secs)) = d.load {
        let _ = writeln!(
            s,
            "- DICOMweb groups' load: {stored} of {sent} instances stored in {secs:.2} s ({:.0} instances/s)",
            stored as f64 / secs.max(1e-9)
        );
    }
    for x in &d.metadata {
        let _ = writeln!(
            s,
            "- {} metadata: answer {} MB, {} attributes in the first instance; first request {} ms, warm p50 {} ms, p99 {} ms over {} requests",
            x.label,
            x.answer_bytes.map_or("—".into(), |b| format!("{:.2}", b as f64 / 1e6)),
            x.attributes.map_or("—".into(), |a| a.to_string()),
            fmt_opt(x.cold_ms),
            fmt_opt(percentile(&x.warm, 50.0)),
            fmt_opt(percentile(&x.warm, 99.0)),
            x.warm.len()
        );
    }
    for c in d.frames.iter().chain(&d.multiframe).chain(&d.rendered) {
        if let Some(why) = &c.unsupported {
            let _ = writeln!(s, "- {}: not offered ({})", c.label, why.replace('\n', " "));
            continue;
        }
        for l in &c.levels {
            let _ = writeln!(
                s,
                "- {}, {} in flight: {} of {} answers good, {} {}, {:.1} MB in {:.2} s",
                c.label,
                l.concurrency,
                l.ok,
                l.requests,
                l.items,
                c.unit,
                l.bytes as f64 / 1e6,
                l.secs
            );
        }
    }
}
