//! The benchmark's DICOMweb groups beside the core (STOW/QIDO/WADO/reindex): `metadata`
//! (series and study metadata of a large series, cold and warm), `frames` (single frames as
//! `application/octet-stream` from native and compressed instances, and whole frame lists of
//! multi-frame objects) and `rendered` (JPEG and PNG renderings and thumbnails). `--groups`
//! selects what runs; the default is the core alone, so the default run stays short.
//!
//! Each group's instances are made in memory from corpus files with fresh UIDs, stored by
//! STOW-RS after the core measurements (the load is timed and reported, not compared), and
//! then every server gets the same requests in the same order.

mod report;
mod requests;
mod workload;

pub(crate) use report::{details, note, rows};

use super::corpus::Template;
use super::measure::{self, Measured, StowRequest};
use super::servers::Server;
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use requests::{Case, CaseResult, Expect, MetaResult, Req};
use std::path::PathBuf;
use std::time::Instant;
use workload::{SeriesOf, StudyIds};

/// What `--groups` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Group {
    /// STOW-RS, QIDO-RS, WADO-RS of whole studies, memory, disk, reindex.
    Core,
    /// Series and study metadata of one large series.
    Metadata,
    /// Frames and multi-frame frame lists as `application/octet-stream`.
    Frames,
    /// Rendered JPEG and PNG, and thumbnails.
    Rendered,
    /// Every group.
    All,
}

/// Options of the DICOMweb groups.
#[derive(Debug, Args)]
pub(crate) struct DicomwebArgs {
    /// Groups to run, comma-separated: core, metadata, frames, rendered, all.
    #[arg(long, value_delimiter = ',', default_value = "core")]
    groups: Vec<Group>,
    /// Instances of the metadata group's one series (and so of its study).
    #[arg(long, default_value_t = 1000)]
    metadata_instances: usize,
    /// Warm metadata requests per level, after the first (cold) one.
    #[arg(long, default_value_t = 10)]
    metadata_repeats: usize,
    /// Instances of each single-frame pixel series (frames and rendered groups).
    #[arg(long, default_value_t = 50)]
    pixel_instances: usize,
    /// Requests per case and concurrency level in the frames and rendered groups.
    #[arg(long, default_value_t = 200)]
    pixel_requests: usize,
    /// Concurrency levels of the frames and rendered groups, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    pixel_concurrency: Vec<usize>,
    /// Frames of the generated multi-frame objects (their frames repeated to this count).
    #[arg(long, default_value_t = 100)]
    multiframe_frames: u32,
    /// Second folder the compressed and multi-frame sources are looked for in (after --corpus).
    #[arg(long, default_value = "tests/fixtures/pixels")]
    pixels_corpus: PathBuf,
}

/// The groups selected.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Selected {
    pub core: bool,
    pub metadata: bool,
    pub frames: bool,
    pub rendered: bool,
}

impl DicomwebArgs {
    pub fn selected(&self) -> Selected {
        let has = |g| self.groups.contains(&g) || self.groups.contains(&Group::All);
        Selected {
            core: has(Group::Core),
            metadata: has(Group::Metadata),
            frames: has(Group::Frames),
            rendered: has(Group::Rendered),
        }
    }
}

impl Selected {
    pub fn any_dicomweb(&self) -> bool {
        self.metadata || self.frames || self.rendered
    }

    pub fn names(&self) -> String {
        let all = [
            ("core", self.core),
            ("metadata", self.metadata),
            ("frames", self.frames),
            ("rendered", self.rendered),
        ];
        all.iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the DICOMweb groups measured on one server.
#[derive(Debug, Default)]
pub(crate) struct Results {
    /// (instances stored, instances sent, seconds) of the groups' load.
    pub load: Option<(usize, usize, f64)>,
    pub metadata: Vec<MetaResult>,
    pub frames: Vec<CaseResult>,
    pub multiframe: Vec<CaseResult>,
    pub rendered: Vec<CaseResult>,
}

/// The plan every server runs.
pub(crate) struct Plan {
    pub selected: Selected,
    stow: Vec<StowRequest>,
    /// (study, series, instances) of every series stored.
    series: Vec<(String, String, usize)>,
    /// (label, path, instances) of the metadata requests.
    metadata: Vec<(String, String, usize)>,
    repeats: usize,
    frames: Vec<Case>,
    multiframe: Vec<Case>,
    rendered: Vec<Case>,
    pub levels: Vec<usize>,
    /// What was made, for the workload note.
    pub made: Vec<String>,
    /// Sources that could not be used, and why.
    pub skipped: Vec<String>,
}

/// Instances per STOW-RS request of the load, and requests in flight.
const LOAD_BATCH: usize = 25;
const LOAD_CONCURRENCY: usize = 4;
/// Multi-frame objects per multi-frame source.
const MULTIFRAME_OBJECTS: usize = 10;

const OCTET: &str = "multipart/related; type=\"application/octet-stream\"";

impl Plan {
    /// Builds the workload of the selected groups; `templates[0]` is the CT/MR template.
    pub fn new(
        args: &DicomwebArgs,
        corpus: &std::path::Path,
        templates: &[Template],
    ) -> Result<Plan> {
        let selected = args.selected();
        let mut levels = args.pixel_concurrency.clone();
        levels.retain(|&c| c > 0);
        if (selected.frames || selected.rendered) && (levels.is_empty() || args.pixel_requests == 0)
        {
            bail!("--pixel-concurrency needs a level above 0 and --pixel-requests at least 1");
        }
        if selected.frames && args.multiframe_frames == 0 {
            bail!("--multiframe-frames must be at least 1");
        }
        let mut plan = Plan {
            selected,
            stow: Vec::new(),
            series: Vec::new(),
            metadata: Vec::new(),
            repeats: args.metadata_repeats,
            frames: Vec::new(),
            multiframe: Vec::new(),
            rendered: Vec::new(),
            levels,
            made: Vec::new(),
            skipped: Vec::new(),
        };
        let Some(template) = templates.first() else {
            return Ok(plan);
        };
        let dirs = workload::source_dirs(corpus, &args.pixels_corpus);
        let date = super::corpus::study_date(9000);
        let mut stored: Vec<SeriesOf> = Vec::new();

        if selected.metadata {
            if args.metadata_instances == 0 {
                bail!("--metadata-instances must be at least 1");
            }
            let src = workload::from_template(template)?;
            let study = StudyIds::new(1, date.clone());
            let s = workload::series(&src, &study, 1, args.metadata_instances)?;
            let n = s.instances.len();
            plan.metadata.push((
                format!("Series ({n} instances)"),
                format!("/studies/{}/series/{}/metadata", s.study, s.uid),
                n,
            ));
            plan.metadata.push((
                format!("Study (1 series, {n} instances)"),
                format!("/studies/{}/metadata", s.study),
                n,
            ));
            plan.made.push(format!(
                "metadata: one study with one series of {n} instances made from {} ({})",
                template.name, src.label
            ));
            stored.push(s);
        }

        if selected.frames || selected.rendered {
            let study = StudyIds::new(2, date.clone());
            let native = workload::from_template(template)?;
            let mut singles = vec![native];
            for (name, label) in workload::COMPRESSED {
                match workload::source(&dirs, name, label) {
                    Ok(s) => singles.push(s),
                    Err(e) => plan.skipped.push(format!("{name}: {e:#}")),
                }
            }
            let mut pixel_series = Vec::new();
            for (k, src) in singles.iter().enumerate() {
                pixel_series.push(workload::series(
                    src,
                    &study,
                    k + 1,
                    args.pixel_instances.max(1),
                )?);
            }
            if selected.frames {
                for s in &pixel_series {
                    plan.frames.push(frame_case(
                        s,
                        &format!("frame 1 of {}", s.label),
                        args.pixel_requests,
                        false,
                    ));
                }
                for (k, (name, label)) in workload::MULTIFRAME.iter().enumerate() {
                    let src = match workload::source(&dirs, name, label)
                        .and_then(|s| s.with_frames(args.multiframe_frames))
                    {
                        Ok(s) => s,
                        Err(e) => {
                            plan.skipped.push(format!("{name}: {e:#}"));
                            continue;
                        }
                    };
                    let s = workload::series(&src, &study, 10 + k, MULTIFRAME_OBJECTS)?;
                    let label = format!("all {} frames of {}", s.frames, s.label);
                    plan.multiframe.push(frame_case(
                        &s,
                        &label,
                        args.pixel_requests.div_ceil(4),
                        true,
                    ));
                    stored.push(s);
                }
            }
            if selected.rendered {
                let ct = &pixel_series[0];
                let jls = pixel_series
                    .iter()
                    .find(|s| s.label.contains("JPEG-LS"))
                    .unwrap_or(ct);
                let n = args.pixel_requests;
                plan.rendered.push(image_case(
                    ct,
                    &format!("rendered JPEG of {}", ct.label),
                    "rendered",
                    "image/jpeg",
                    n,
                ));
                plan.rendered.push(image_case(
                    ct,
                    &format!("rendered PNG of {}", ct.label),
                    "rendered",
                    "image/png",
                    n,
                ));
                plan.rendered.push(image_case(
                    jls,
                    &format!("rendered JPEG of {}", jls.label),
                    "rendered",
                    "image/jpeg",
                    n,
                ));
                plan.rendered.push(image_case(
                    ct,
                    &format!("thumbnail JPEG of {}", ct.label),
                    "thumbnail",
                    "image/jpeg",
                    n,
                ));
            }
            let labels: Vec<String> = pixel_series.iter().map(|s| s.label.clone()).collect();
            plan.made.push(format!(
                "pixels: one study with a series of {} instances from each of {}{}",
                args.pixel_instances.max(1),
                labels.join(", "),
                if plan.multiframe.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", and {MULTIFRAME_OBJECTS} objects of {} frames from each of {}",
                        args.multiframe_frames,
                        workload::MULTIFRAME
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
            stored.extend(pixel_series);
        }

        for s in &stored {
            plan.series
                .push((s.study.clone(), s.uid.clone(), s.instances.len()));
            for chunk in s.instances.chunks(LOAD_BATCH) {
                let files: Vec<Vec<u8>> = chunk.iter().map(|b| b.to_vec()).collect();
                plan.stow.push(StowRequest::new(&files));
            }
        }
        Ok(plan)
    }

    /// Instances the groups store.
    pub fn instances(&self) -> usize {
        self.series.iter().map(|s| s.2).sum()
    }
}

/// Frame requests over a series' instances, round robin: frame 1, or all frames (`all`).
fn frame_case(s: &SeriesOf, label: &str, n: usize, all: bool) -> Case {
    let (list, count) = if all {
        (
            (1..=s.frames)
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(","),
            s.frames as usize,
        )
    } else {
        ("1".to_string(), 1)
    };
    let expect = Expect::Frames {
        count,
        bytes_each: s.frame_bytes,
    };
    let reqs = (0..n)
        .map(|i| Req {
            path: format!("{}/frames/{list}", s.targets[i % s.targets.len()].path()),
            accept: OCTET,
            expect,
        })
        .collect();
    Case {
        label: label.to_string(),
        unit: "frames",
        reqs,
    }
}

/// Rendered or thumbnail requests over a series' instances, round robin.
fn image_case(s: &SeriesOf, label: &str, resource: &str, media: &'static str, n: usize) -> Case {
    let reqs = (0..n)
        .map(|i| Req {
            path: format!("{}/{resource}", s.targets[i % s.targets.len()].path()),
            accept: media,
            expect: Expect::Image(media),
        })
        .collect();
    Case {
        label: label.to_string(),
        unit: "instances",
        reqs,
    }
}

/// Stores the groups' instances, waits until QIDO-RS lists them, then runs the groups.
pub(crate) async fn run_all(
    server: &mut Server,
    client: &reqwest::Client,
    plan: &Plan,
    m: &mut Measured,
) -> Result<()> {
    if plan.stow.is_empty() {
        return Ok(());
    }
    super::ensure_alive(server)?;
    let name = server.name;
    eprintln!(
        "bench: {name}: DICOMweb groups: storing {} instances in {} requests",
        plan.instances(),
        plan.stow.len()
    );
    let level = measure::stow(
        client,
        &server.base,
        LOAD_CONCURRENCY,
        &plan.stow,
        &mut m.errors,
    )
    .await;
    m.dicomweb.load = Some((level.stored, level.sent, level.secs));
    super::ensure_alive(server)?;
    visible(client, &server.base, &plan.series, &mut m.errors).await;
    if !plan.metadata.is_empty() {
        super::ensure_alive(server)?;
        eprintln!(
            "bench: {name}: metadata, 1 + {} requests per level",
            plan.repeats
        );
        m.dicomweb.metadata = requests::metadata(
            client,
            &server.base,
            &plan.metadata,
            plan.repeats,
            &mut m.errors,
        )
        .await;
    }
    for (cases, out) in [
        (&plan.frames, &mut m.dicomweb.frames),
        (&plan.multiframe, &mut m.dicomweb.multiframe),
        (&plan.rendered, &mut m.dicomweb.rendered),
    ] {
        for case in cases {
            super::ensure_alive(server)?;
            eprintln!(
                "bench: {name}: {}, {} requests at each of {:?} in flight",
                case.label,
                case.reqs.len(),
                plan.levels
            );
            let r =
                requests::run_case(client, &server.base, case, &plan.levels, &mut m.errors).await;
            for l in &r.levels {
                eprintln!(
                    "bench: {name}:   {} in flight: {:.0} {}/s",
                    l.concurrency,
                    l.items as f64 / l.secs,
                    r.unit
                );
            }
            out.push(r);
        }
    }
    super::ensure_alive(server)
}

/// Waits (up to 60 s) until QIDO-RS lists every instance of each series; reports the rest.
async fn visible(
    client: &reqwest::Client,
    base: &str,
    series: &[(String, String, usize)],
    errors: &mut measure::Errors,
) {
    let start = Instant::now();
    for (st, se, n) in series {
        let path = format!("/studies/{st}/series/{se}/instances?limit={n}");
        loop {
            let got = measure::qido_one(client, base, &path).await;
            if got.as_ref().is_ok_and(|k| k == n) {
                break;
            }
            if start.elapsed().as_secs() > 60 {
                errors.add(format!(
                    "not visible 60 s after STOW-RS: {path}: {got:?} of {n}"
                ));
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}
