//! The DICOMweb groups' workload: a study with one large series made from the core workload's
//! first (CT/MR) template for metadata, and a study of pixel series made from compressed and
//! multi-frame corpus files for frames and rendering. Every instance gets fresh UIDs; the
//! bytes are built in memory before anything is timed.

use crate::bench::corpus::{fresh_uid, Template};
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use dicom_core::value::{PixelFragmentSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use std::path::{Path, PathBuf};

/// Single-frame compressed sources for frame retrieval and rendering: (file, label).
pub(crate) const COMPRESSED: &[(&str, &str)] = &[
    ("MR_small_RLE.dcm", "MR 64×64 RLE"),
    ("MR_small_jpeg_ls_lossless.dcm", "MR 64×64 JPEG-LS"),
    ("MR_small_jp2klossless.dcm", "MR 64×64 JPEG 2000"),
];

/// Multi-frame sources for frame lists: (file, label); their frames are repeated up to the
/// frame count asked for.
pub(crate) const MULTIFRAME: &[(&str, &str)] = &[
    ("emri_small.dcm", "MR 64×64 native"),
    ("emri_small_jpeg_ls_lossless.dcm", "MR 64×64 JPEG-LS"),
];

/// A corpus file a series is made from, with the facts the checks need.
pub(crate) struct Source {
    pub name: String,
    pub label: String,
    obj: DefaultDicomObject,
    pub frames: u32,
    /// Bytes of one native frame (what `application/octet-stream` frames must hold).
    pub frame_bytes: usize,
}

/// One generated instance's address.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub study: String,
    pub series: String,
    pub sop: String,
}

impl Target {
    /// The instance's path under the DICOMweb base.
    pub fn path(&self) -> String {
        format!(
            "/studies/{}/series/{}/instances/{}",
            self.study, self.series, self.sop
        )
    }
}

/// A generated series.
pub(crate) struct SeriesOf {
    pub label: String,
    pub study: String,
    pub uid: String,
    pub instances: Vec<Bytes>,
    pub targets: Vec<Target>,
    pub frames: u32,
    pub frame_bytes: usize,
}

/// Reads `name` from the first folder holding it, keeping compressed transfer syntaxes.
pub(crate) fn source(dirs: &[PathBuf], name: &str, label: &str) -> Result<Source> {
    let path = dirs
        .iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| format!("{name} is in none of {dirs:?}"))?;
    from_obj(
        name,
        label,
        dicom_object::open_file(&path)
            .with_context(|| format!("cannot parse {}", path.display()))?,
    )
}

/// The core workload's (uncompressed) template as a source, labelled by what it is: `CT
/// 128×128 native`.
pub(crate) fn from_template(t: &Template) -> Result<Source> {
    let text = |tag| {
        t.obj
            .element(tag)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
    };
    let label = match (text(tags::MODALITY), text(tags::COLUMNS), text(tags::ROWS)) {
        (Some(m), Some(c), Some(r)) => format!("{m} {c}×{r} native"),
        _ => format!("{} native", t.name),
    };
    from_obj(&t.name, &label, t.obj.clone())
}

fn from_obj(name: &str, label: &str, obj: DefaultDicomObject) -> Result<Source> {
    let int = |tag, what: &str| -> Result<usize> {
        obj.element(tag)
            .ok()
            .and_then(|e| e.to_str().ok())
            .and_then(|s| s.trim().parse::<usize>().ok())
            .with_context(|| format!("{name} has no usable {what}"))
    };
    let frames = obj
        .element_opt(tags::NUMBER_OF_FRAMES)?
        .and_then(|e| e.to_str().ok())
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1);
    let bits = int(tags::ROWS, "Rows")?
        * int(tags::COLUMNS, "Columns")?
        * int(tags::SAMPLES_PER_PIXEL, "SamplesPerPixel").unwrap_or(1)
        * int(tags::BITS_ALLOCATED, "BitsAllocated")?;
    if obj.element_opt(tags::PIXEL_DATA)?.is_none() {
        bail!("{name} has no Pixel Data");
    }
    Ok(Source {
        name: name.to_string(),
        label: label.to_string(),
        obj,
        frames,
        frame_bytes: bits.div_ceil(8),
    })
}

impl Source {
    /// The source with `n` frames: its own frames repeated in order (native bytes, or one
    /// fragment per frame with a Basic Offset Table, PS3.5 A.4).
    pub fn with_frames(&self, n: u32) -> Result<Source> {
        let mut obj = self.obj.clone();
        let f = self.frames as usize;
        let pick = |k: u32| k as usize % f;
        let pixel = obj.element(tags::PIXEL_DATA)?.value().clone();
        let element = match pixel {
            Value::PixelSequence(seq) => {
                let frags = seq.fragments();
                if frags.len() != f {
                    bail!(
                        "{}: {} fragments for {f} frames; need one fragment per frame",
                        self.name,
                        frags.len()
                    );
                }
                let fragments: Vec<Vec<u8>> = (0..n).map(|k| frags[pick(k)].clone()).collect();
                let mut offsets = Vec::with_capacity(fragments.len());
                let mut at = 0u32;
                for frag in &fragments {
                    offsets.push(at);
                    at += 8 + frag.len() as u32;
                }
                DataElement::new(
                    tags::PIXEL_DATA,
                    VR::OB,
                    PixelFragmentSequence::new(offsets, fragments),
                )
            }
            Value::Primitive(p) => {
                let all = p.to_bytes();
                if all.len() < f * self.frame_bytes {
                    bail!(
                        "{}: Pixel Data holds {} bytes, too few for {f} frames",
                        self.name,
                        all.len()
                    );
                }
                let mut data = Vec::with_capacity(n as usize * self.frame_bytes);
                for k in 0..n {
                    let s = pick(k) * self.frame_bytes;
                    data.extend_from_slice(&all[s..s + self.frame_bytes]);
                }
                DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::from(data))
            }
            Value::Sequence(_) => bail!("{}: Pixel Data is a sequence", self.name),
        };
        obj.put(element);
        obj.put_str(tags::NUMBER_OF_FRAMES, VR::IS, n.to_string());
        Ok(Source {
            name: self.name.clone(),
            label: self.label.clone(),
            obj,
            frames: n,
            frame_bytes: self.frame_bytes,
        })
    }
}

/// A generated study's patient and identifiers.
pub(crate) struct StudyIds {
    pub uid: String,
    pub patient_id: String,
    pub patient_name: String,
    pub date: String,
    pub number: usize,
}

impl StudyIds {
    pub fn new(number: usize, date: String) -> Self {
        StudyIds {
            uid: fresh_uid(),
            patient_id: format!("BENCHDW{number:03}"),
            patient_name: format!("BENCHDW^P{number:03}"),
            date,
            number,
        }
    }
}

/// Makes `count` instances of a new series of `study` from `src`.
pub(crate) fn series(
    src: &Source,
    study: &StudyIds,
    series_number: usize,
    count: usize,
) -> Result<SeriesOf> {
    let uid = fresh_uid();
    let mut instances = Vec::with_capacity(count);
    let mut targets = Vec::with_capacity(count);
    for i in 0..count {
        let mut obj = src.obj.clone();
        let sop = fresh_uid();
        obj.put_str(tags::STUDY_INSTANCE_UID, VR::UI, study.uid.clone());
        obj.put_str(tags::SERIES_INSTANCE_UID, VR::UI, uid.clone());
        obj.put_str(tags::SOP_INSTANCE_UID, VR::UI, sop.clone());
        obj.put_str(tags::PATIENT_ID, VR::LO, study.patient_id.clone());
        obj.put_str(tags::PATIENT_NAME, VR::PN, study.patient_name.clone());
        obj.put_str(tags::STUDY_DATE, VR::DA, study.date.clone());
        obj.put_str(tags::SERIES_DATE, VR::DA, study.date.clone());
        obj.put_str(tags::STUDY_ID, VR::SH, format!("DW{}", study.number));
        obj.put_str(
            tags::ACCESSION_NUMBER,
            VR::SH,
            format!("ACCDW{:03}", study.number),
        );
        obj.put_str(tags::STUDY_DESCRIPTION, VR::LO, "arcstream bench dicomweb");
        obj.put_str(tags::SERIES_DESCRIPTION, VR::LO, src.label.clone());
        obj.put_str(tags::SERIES_NUMBER, VR::IS, series_number.to_string());
        obj.put_str(tags::INSTANCE_NUMBER, VR::IS, (i + 1).to_string());
        obj.update_meta(|m| m.media_storage_sop_instance_uid = sop.clone());
        let mut buf = Vec::new();
        obj.write_all(&mut buf)
            .with_context(|| format!("cannot write an instance made from {}", src.name))?;
        instances.push(Bytes::from(buf));
        targets.push(Target {
            study: study.uid.clone(),
            series: uid.clone(),
            sop,
        });
    }
    Ok(SeriesOf {
        label: src.label.clone(),
        study: study.uid.clone(),
        uid,
        instances,
        targets,
        frames: src.frames,
        frame_bytes: src.frame_bytes,
    })
}

/// The folders compressed and multi-frame sources are looked for in.
pub(crate) fn source_dirs(corpus: &Path, pixels: &Path) -> Vec<PathBuf> {
    vec![corpus.to_path_buf(), pixels.to_path_buf()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        vec![root.join("pydicom"), root.join("pixels")]
    }

    #[test]
    fn multiframe_sources_repeat_their_frames() {
        for (name, label) in MULTIFRAME {
            let src = source(&fixtures(), name, label).unwrap();
            let big = src.with_frames(25).unwrap();
            let study = StudyIds::new(1, "20200101".into());
            let s = series(&big, &study, 1, 1).unwrap();
            let back = dicom_object::from_reader(&s.instances[0][128..]).unwrap();
            assert_eq!(
                back.element(tags::NUMBER_OF_FRAMES)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .trim(),
                "25"
            );
            match back.element(tags::PIXEL_DATA).unwrap().value() {
                Value::PixelSequence(seq) => {
                    assert_eq!(seq.fragments().len(), 25);
                    assert_eq!(seq.offset_table().len(), 25);
                    assert_eq!(
                        seq.fragments()[10],
                        seq.fragments()[0],
                        "frame 11 repeats frame 1 of 10"
                    );
                }
                Value::Primitive(p) => {
                    let b = p.to_bytes();
                    assert_eq!(b.len(), 25 * src.frame_bytes);
                    assert_eq!(
                        b[10 * src.frame_bytes..11 * src.frame_bytes],
                        b[..src.frame_bytes]
                    );
                }
                Value::Sequence(_) => panic!("Pixel Data became a sequence"),
            }
            assert_eq!(
                back.element(tags::SOP_INSTANCE_UID)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .trim_end_matches('\0'),
                s.targets[0].sop
            );
        }
    }
}
