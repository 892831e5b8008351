//! The markdown report: the table, the machine, the workload and the details behind them.

use super::measure::{percentile, Measured, Shape};
use std::fmt::Write as _;

/// What the report needs besides the measurements.
pub(crate) struct Context<'a> {
    pub command_line: String,
    pub instances: usize,
    pub bytes: usize,
    pub studies: usize,
    pub series: usize,
    pub templates: Vec<String>,
    pub levels: Vec<usize>,
    pub queries: usize,
    pub release: bool,
    /// 1-minute load average before and after the run.
    pub load: (String, String),
    pub results: &'a [Measured],
    /// Whether the core group (STOW, QIDO, WADO of whole studies, reindex) ran.
    pub core: bool,
    /// The DICOMweb groups' part of the workload note.
    pub dicomweb_note: String,
}

/// A server that could not be measured at all still gets a column, with the reason.
pub(crate) fn unwrap_or_failed(name: &str, r: anyhow::Result<Measured>) -> Measured {
    match r {
        Ok(m) => m,
        Err(e) => {
            let mut m = Measured::new(name, "not started".into());
            m.errors.add(format!("could not start: {e:#}"));
            m
        }
    }
}

/// The command line as typed (program name shortened to `arcstream`).
pub(crate) fn command_line() -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        *first = "arcstream".into();
    }
    args.iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// nproc, memory, CPU model and kernel.
pub(crate) fn machine() -> String {
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_string()))
        })
        .and_then(|v| {
            v.split_whitespace()
                .next()
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or("?".to_string(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!("{nproc} CPUs (nproc), {mem} memory, {cpu}, Linux {kernel}")
}

/// The 1-minute load average, to show whether something else was running.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

#[derive(Clone, Copy)]
pub(super) enum Better {
    Higher,
    Lower,
}

pub(super) struct Row {
    pub metric: String,
    pub better: Better,
    pub values: Vec<Option<f64>>,
    /// A count: shown as an integer, no ratio.
    pub count: bool,
}

pub(super) fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn rows(ctx: &Context<'_>) -> Vec<Row> {
    let r = ctx.results;
    let mut rows = Vec::new();
    let per = |f: &dyn Fn(&Measured) -> Option<f64>| r.iter().map(f).collect::<Vec<_>>();
    for &c in &ctx.levels {
        let level = |m: &Measured| {
            m.stow
                .iter()
                .find(|l| l.concurrency == c)
                .filter(|l| l.secs > 0.0)
                .map(|l| (l.stored, l.bytes, l.secs))
        };
        rows.push(Row {
            count: false,
            metric: format!("STOW-RS instances/s, {c} in flight"),
            better: Better::Higher,
            values: per(&|m| level(m).map(|(n, _, s)| n as f64 / s)),
        });
        rows.push(Row {
            count: false,
            metric: format!("STOW-RS MB/s, {c} in flight"),
            better: Better::Higher,
            values: per(&|m| level(m).map(|(_, b, s)| b as f64 / 1e6 / s)),
        });
    }
    let all = |m: &Measured| {
        m.qido
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .collect::<Vec<f64>>()
    };
    rows.push(Row {
        count: false,
        metric: "QIDO-RS p50 ms, all shapes".into(),
        better: Better::Lower,
        values: per(&|m| percentile(&all(m), 50.0)),
    });
    rows.push(Row {
        count: false,
        metric: "QIDO-RS p99 ms, all shapes".into(),
        better: Better::Lower,
        values: per(&|m| percentile(&all(m), 99.0)),
    });
    for shape in Shape::ALL {
        let of = |m: &Measured| {
            m.qido
                .iter()
                .find(|(s, _)| *s == shape)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        for p in [50.0, 99.0] {
            rows.push(Row {
                count: false,
                metric: format!("QIDO-RS p{p:.0} ms, {}", shape.label()),
                better: Better::Lower,
                values: per(&|m| percentile(&of(m), p)),
            });
        }
    }
    for &c in &ctx.levels {
        rows.push(Row {
            count: false,
            metric: format!("WADO-RS MB/s (whole studies), {c} in flight"),
            better: Better::Higher,
            values: per(&|m| {
                m.wado
                    .iter()
                    .find(|l| l.concurrency == c)
                    .filter(|l| l.secs > 0.0)
                    .map(|l| l.bytes as f64 / 1e6 / l.secs)
            }),
        });
    }
    rows.extend(super::dicomweb::rows(r));
    rows.push(Row {
        count: false,
        metric: "Peak memory of the server (VmHWM), MiB".into(),
        better: Better::Lower,
        values: per(&|m| m.peak_rss_kib.map(|k| k as f64 / 1024.0)),
    });
    rows.push(Row {
        count: false,
        metric: "Disk used after the load, MiB".into(),
        better: Better::Lower,
        values: per(&|m| m.disk_bytes.map(|b| b as f64 / 1024.0 / 1024.0)),
    });
    rows.push(Row {
        count: false,
        metric: "Reindex events/s (`arcstream reindex`)".into(),
        better: Better::Higher,
        values: per(&|m| m.reindex.as_ref().map(|x| x.events_per_sec)),
    });
    rows.push(Row {
        count: true,
        metric: "Errors (failed requests, wrong result counts)".into(),
        better: Better::Lower,
        values: per(&|m| Some(m.errors.count as f64)),
    });
    rows
}

/// Renders the whole report.
pub(crate) fn render(ctx: &Context<'_>) -> String {
    let mut s = String::new();
    let r = ctx.results;
    let _ = writeln!(s, "### arcstream bench\n");
    let _ = writeln!(s, "- Command: `{}`", ctx.command_line);
    let _ = writeln!(
        s,
        "- Machine: {}; 1-minute load average {} before the run, {} after",
        machine(),
        ctx.load.0,
        ctx.load.1
    );
    let _ = writeln!(
        s,
        "- Build: {}",
        if ctx.release {
            "release"
        } else {
            "debug (dependencies at opt-level 2, arcstream's own crates unoptimised)"
        }
    );
    for m in r {
        let _ = writeln!(s, "- {}: {}", m.name, m.version);
    }
    if !ctx.core {
        let _ = writeln!(s, "- Workload: core group not run. {}\n", ctx.dicomweb_note);
    } else {
        let _ = writeln!(
            s,
            "- Workload: N = {} instances ({:.1} MB of DICOM), {} studies × {} series × ≤10 instances, one patient per study, \
             made from {}; STOW-RS sends one series (≤10 instances) per request, the studies split evenly across the \
             concurrency levels {:?}; {} QIDO-RS queries one at a time; WADO-RS retrieves every study at each level. {}\n",
            ctx.instances,
            ctx.bytes as f64 / 1e6,
            ctx.studies,
            ctx.series.checked_div(ctx.studies).unwrap_or(0),
            ctx.templates.join(", "),
            ctx.levels,
            ctx.queries,
            ctx.dicomweb_note
        );
    }

    // Every column but the last (the peer when there is one) gets its ratio to the last.
    let names: Vec<&str> = r.iter().map(|m| m.name.as_str()).collect();
    let (last, others) = names.split_last().expect("at least one server measured");
    let ratio_heads: Vec<String> = others.iter().map(|n| format!("{n} / {last}")).collect();
    let _ = writeln!(
        s,
        "| metric | better | {} |",
        names
            .iter()
            .map(|n| n.to_string())
            .chain(ratio_heads.iter().cloned())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        s,
        "|---|---|{}",
        "---:|".repeat(names.len() + ratio_heads.len())
    );
    // Without the core group its rows would all be empty: leave them out.
    for row in rows(ctx)
        .into_iter()
        .filter(|r| ctx.core || r.values.iter().any(Option::is_some))
    {
        let mut cells: Vec<String> = row
            .values
            .iter()
            .map(|v| {
                v.map_or("—".into(), |v| {
                    if row.count {
                        format!("{v:.0}")
                    } else {
                        fmt_num(v)
                    }
                })
            })
            .collect();
        let base = row.values[row.values.len() - 1];
        for a in &row.values[..row.values.len() - 1] {
            cells.push(match (*a, base) {
                (Some(a), Some(b)) if b > 0.0 && a >= 0.0 && !row.count => {
                    format!("{}×", fmt_num(a / b))
                }
                _ => "—".into(),
            });
        }
        let better = match row.better {
            Better::Higher => "higher",
            Better::Lower => "lower",
        };
        let _ = writeln!(s, "| {} | {better} | {} |", row.metric, cells.join(" | "));
    }
    if !others.is_empty() {
        let _ = writeln!(
            s,
            "\nA ratio is that column ÷ {last}: where higher is better a ratio above 1 favours the \
             column; where lower is better a ratio below 1 favours it."
        );
    }

    let _ = writeln!(s, "\n#### Details\n");
    for m in r {
        let _ = writeln!(s, "**{}** ({})\n", m.name, m.version);
        for l in &m.stow {
            let _ = writeln!(
                s,
                "- STOW-RS, {} in flight: {} of {} instances stored in {} requests, {:.2} s; request latency p50 {} ms, p99 {} ms",
                l.concurrency,
                l.stored,
                l.sent,
                l.requests,
                l.secs,
                percentile(&l.latencies, 50.0).map_or("—".into(), fmt_num),
                percentile(&l.latencies, 99.0).map_or("—".into(), fmt_num),
            );
        }
        if let Some(v) = &m.visibility {
            if v.missing == 0 && v.passes == 1 {
                let _ = writeln!(
                    s,
                    "- Read-your-writes: right after the last STOW-RS answer, QIDO-RS already listed every instance of all {} series (one pass, {:.2} s)",
                    v.series, v.secs
                );
            } else if v.missing == 0 {
                let _ = writeln!(
                    s,
                    "- After the last STOW-RS answer, QIDO-RS listed every instance of all {} series only after {} passes ({:.2} s)",
                    v.series, v.passes, v.secs
                );
            } else {
                let _ = writeln!(
                    s,
                    "- {} instances still missing from QIDO-RS {:.0} s after the last STOW-RS answer",
                    v.missing, v.secs
                );
            }
        }
        for l in &m.wado {
            let _ = writeln!(
                s,
                "- WADO-RS, {} in flight: {} studies, {} instances, {:.1} MB in {:.2} s; per study p50 {} ms, p99 {} ms",
                l.concurrency,
                l.studies,
                l.instances,
                l.bytes as f64 / 1e6,
                l.secs,
                percentile(&l.latencies, 50.0).map_or("—".into(), fmt_num),
                percentile(&l.latencies, 99.0).map_or("—".into(), fmt_num),
            );
        }
        super::dicomweb::details(&mut s, m);
        if let Some(x) = &m.reindex {
            let _ = writeln!(
                s,
                "- Reindex: {} events in {:.2} s as reported ({:.0} events/s); {:.2} s for the whole command; peak RSS {}",
                x.events,
                x.secs,
                x.events_per_sec,
                x.wall_secs,
                x.peak_rss_kib.map_or("?".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
            );
        }
        if m.errors.count == 0 {
            let _ = writeln!(s, "- No errors.");
        } else {
            let _ = writeln!(s, "- {} errors:", m.errors.count);
            for (e, n) in &m.errors.kinds {
                let times = if *n > 1 {
                    format!(" (×{n})")
                } else {
                    String::new()
                };
                let _ = writeln!(s, "  - {}{times}", e.replace('\n', "\n    "));
            }
            if m.errors.dropped > 0 {
                let _ = writeln!(s, "  - … and {} more of other kinds", m.errors.dropped);
            }
        }
        let _ = writeln!(s);
    }
    s
}
