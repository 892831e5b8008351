//! The benchmark's workload: distinct instances made in memory from a few corpus files by
//! giving them fresh Study/Series/SOP Instance UIDs, a patient per study and a study date.

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use std::path::Path;

/// Corpus files tried first, in this order: uncompressed images of a few modalities.
const PREFERRED: &[&str] = &[
    "CT_small.dcm",
    "MR_small.dcm",
    "liver_1frame.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "MR_small_implicit.dcm",
    "rtdose_1frame.dcm",
    "SC_rgb_small_odd.dcm",
];

/// Implicit and explicit VR little endian: the files are sent as they are, no transcoding.
const UNCOMPRESSED: &[&str] = &["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"];

/// First day of the synthetic study dates (days since 1970-01-01 of 2020-01-01).
const FIRST_DAY: i64 = 18_262;

/// A corpus file the instances are made from.
pub(crate) struct Template {
    pub name: String,
    pub size: usize,
    pub(crate) obj: DefaultDicomObject,
}

/// A generated series: its UID and its instances' bytes (whole Part 10 files).
pub(crate) struct Series {
    pub uid: String,
    pub instances: Vec<Bytes>,
}

/// A generated study, with its own patient.
pub(crate) struct Study {
    pub uid: String,
    pub patient_id: String,
    pub patient_name: String,
    /// StudyDate, YYYYMMDD.
    pub date: String,
    pub series: Vec<Series>,
}

/// The whole workload.
pub(crate) struct Workload {
    pub studies: Vec<Study>,
}

impl Workload {
    pub fn instances(&self) -> usize {
        self.studies
            .iter()
            .flat_map(|s| &s.series)
            .map(|s| s.instances.len())
            .sum()
    }

    pub fn bytes(&self) -> usize {
        self.studies
            .iter()
            .flat_map(|s| &s.series)
            .flat_map(|s| &s.instances)
            .map(Bytes::len)
            .sum()
    }

    pub fn series_count(&self) -> usize {
        self.studies.iter().map(|s| s.series.len()).sum()
    }
}

/// Loads the usable templates of the corpus folder: the preferred files if present, else any
/// file that qualifies.
pub(crate) fn load_templates(dir: &Path) -> Result<Vec<Template>> {
    if !dir.is_dir() {
        bail!(
            "the corpus folder {} does not exist; run from the workspace root or pass --corpus",
            dir.display()
        );
    }
    let mut out = Vec::new();
    for name in PREFERRED {
        let path = dir.join(name);
        if path.is_file() {
            match usable(&path) {
                Ok(t) => out.push(t),
                Err(e) => eprintln!("bench: skipping {}: {e:#}", path.display()),
            }
        }
    }
    if out.is_empty() {
        let mut paths: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for path in paths {
            if let Ok(t) = usable(&path) {
                out.push(t);
                if out.len() == PREFERRED.len() {
                    break;
                }
            }
        }
    }
    if out.is_empty() {
        bail!(
            "no usable file in {} (need uncompressed little-endian DICOM files with pixel data)",
            dir.display()
        );
    }
    Ok(out)
}

fn usable(path: &Path) -> Result<Template> {
    let obj = dicom_object::open_file(path).context("cannot parse")?;
    let ts = obj.meta().transfer_syntax().to_string();
    if !UNCOMPRESSED.contains(&ts.as_str()) {
        bail!("transfer syntax {ts} is not uncompressed little endian");
    }
    for (tag, name) in [
        (tags::PIXEL_DATA, "PixelData"),
        (tags::SOP_CLASS_UID, "SOPClassUID"),
    ] {
        if obj.element_opt(tag)?.is_none() {
            bail!("no {name}");
        }
    }
    // Round trip once, so a file dicom-rs cannot write back is skipped here, not later.
    let mut buf = Vec::new();
    obj.write_all(&mut buf).context("cannot write back")?;
    dicom_object::from_reader(&buf[128..]).context("cannot read back what was written")?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Template {
        name,
        size: buf.len(),
        obj,
    })
}

/// A fresh UID under the UUID-derived root 2.25 (PS3.5 B.2).
pub(crate) fn fresh_uid() -> String {
    format!("2.25.{}", rand::random::<u128>())
}

/// Makes `n` instances: `per_series` per series, `series_per_study` series per study, one
/// patient per study; each series is made from one template (round robin).
pub(crate) fn generate(
    templates: &[Template],
    n: usize,
    per_series: usize,
    series_per_study: usize,
) -> Result<Workload> {
    let per_study = per_series * series_per_study;
    let n_studies = n.div_ceil(per_study);
    let mut studies = Vec::with_capacity(n_studies);
    let mut made = 0;
    let mut series_no = 0;
    for s in 0..n_studies {
        let mut study = Study {
            uid: fresh_uid(),
            patient_id: format!("BENCH{s:06}"),
            patient_name: format!("BENCH^P{s:06}"),
            date: study_date(s),
            series: Vec::new(),
        };
        for se in 0..series_per_study {
            if made == n {
                break;
            }
            let template = &templates[series_no % templates.len()];
            series_no += 1;
            let uid = fresh_uid();
            let count = per_series.min(n - made);
            let mut instances = Vec::with_capacity(count);
            for i in 0..count {
                let mut obj = template.obj.clone();
                let sop = fresh_uid();
                obj.put_str(tags::STUDY_INSTANCE_UID, VR::UI, study.uid.clone());
                obj.put_str(tags::SERIES_INSTANCE_UID, VR::UI, uid.clone());
                obj.put_str(tags::SOP_INSTANCE_UID, VR::UI, sop.clone());
                obj.put_str(tags::PATIENT_ID, VR::LO, study.patient_id.clone());
                obj.put_str(tags::PATIENT_NAME, VR::PN, study.patient_name.clone());
                obj.put_str(tags::STUDY_DATE, VR::DA, study.date.clone());
                obj.put_str(tags::SERIES_DATE, VR::DA, study.date.clone());
                obj.put_str(tags::STUDY_ID, VR::SH, format!("{s}"));
                obj.put_str(tags::ACCESSION_NUMBER, VR::SH, format!("ACC{s:06}"));
                obj.put_str(tags::STUDY_DESCRIPTION, VR::LO, "arcstream bench");
                obj.put_str(tags::SERIES_NUMBER, VR::IS, format!("{}", se + 1));
                obj.put_str(tags::INSTANCE_NUMBER, VR::IS, format!("{}", i + 1));
                obj.update_meta(|m| m.media_storage_sop_instance_uid = sop);
                let mut buf = Vec::with_capacity(template.size + 256);
                obj.write_all(&mut buf).with_context(|| {
                    format!("cannot write an instance made from {}", template.name)
                })?;
                instances.push(Bytes::from(buf));
            }
            made += count;
            study.series.push(Series { uid, instances });
        }
        studies.push(study);
    }
    Ok(Workload { studies })
}

/// Days since 1970-01-01 to YYYYMMDD (proleptic Gregorian; H. Hinnant's civil_from_days).
fn yyyymmdd(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}")
}

/// The synthetic study date of study number `s`.
pub(crate) fn study_date(s: usize) -> String {
    yyyymmdd(FIRST_DAY + s as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(yyyymmdd(FIRST_DAY), "20200101");
        assert_eq!(yyyymmdd(FIRST_DAY + 59), "20200229");
        assert_eq!(yyyymmdd(FIRST_DAY + 366), "20210101");
    }
}
