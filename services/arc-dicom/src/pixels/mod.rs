//! Pixel data: what an image is made of (PS3.3 C.7.6.3 Image Pixel Module), decoding
//! compressed frames (dicom-pixeldata codecs, and arcstream's own RLE and 12-bit JPEG
//! decoders), transcoding to a native transfer syntax,
//! single frames for WADO-RS `frames`, and rendering to JPEG, PNG and GIF.

mod attrs;
mod codecs;
mod encode;
mod frames;
mod jpeg;
mod render;
mod samples;
mod scale;
mod transcode;
mod voi;

pub use encode::ImageFormat;
pub use frames::{frames, FrameData};
pub use render::{
    render, render_animation, RenderParams, Viewport, Window, WindowFunction, MAX_UPSCALED_PIXELS,
};
pub use transcode::{can_decode, transcode, NATIVE_TARGETS};

use crate::error::DicomError;
use crate::read::open;
use attrs::{int_attr, str_attr};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// The Image Pixel Module attributes of an object (PS3.3 C.7.6.3) and its transfer syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// Transfer Syntax UID of the stored object.
    pub transfer_syntax: String,
    /// Rows (0028,0010).
    pub rows: u16,
    /// Columns (0028,0011).
    pub columns: u16,
    /// Number of Frames (0028,0008), 1 when absent.
    pub frames: u32,
    /// Samples per Pixel (0028,0002).
    pub samples_per_pixel: u16,
    /// Bits Allocated (0028,0100).
    pub bits_allocated: u16,
    /// Bits Stored (0028,0101).
    pub bits_stored: u16,
    /// Pixel Representation (0028,0103): 0 unsigned, 1 two's complement.
    pub pixel_representation: u16,
    /// Photometric Interpretation (0028,0004), e.g. `MONOCHROME2`, `RGB`.
    pub photometric: String,
    /// Planar Configuration (0028,0006): 0 interleaved, 1 colour-by-plane.
    pub planar_configuration: u16,
}

impl ImageInfo {
    /// Whether the stored Pixel Data is encapsulated (compressed, PS3.5 A.4).
    pub fn encapsulated(&self) -> bool {
        crate::ts::is_encapsulated(&self.transfer_syntax)
    }

    /// The size in bytes of one native frame (PS3.5 8.1.1); YBR_FULL_422 carries two
    /// samples per pixel (PS3.3 C.7.6.3.1.2), 1-bit data is packed.
    pub fn native_frame_bits(&self) -> u64 {
        let samples = if self.photometric == "YBR_FULL_422" && self.samples_per_pixel == 3 {
            2
        } else {
            u64::from(self.samples_per_pixel)
        };
        u64::from(self.rows) * u64::from(self.columns) * samples * u64::from(self.bits_allocated)
    }

    pub(crate) fn from_obj(obj: &InMemDicomObject, ts: &str) -> Result<Option<Self>, DicomError> {
        if obj.get(tags::PIXEL_DATA).is_none() {
            return Ok(None);
        }
        let need = |tag, name: &'static str| -> Result<i64, DicomError> {
            int_attr(obj, tag).ok_or_else(|| DicomError::BadImage(format!("{name} is missing")))
        };
        let rows = need(tags::ROWS, "Rows")?;
        let columns = need(tags::COLUMNS, "Columns")?;
        let bits_allocated = need(tags::BITS_ALLOCATED, "BitsAllocated")?;
        let samples = int_attr(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
        let bits_stored = int_attr(obj, tags::BITS_STORED).unwrap_or(bits_allocated);
        let frames = match str_attr(obj, tags::NUMBER_OF_FRAMES) {
            None => 1,
            Some(s) => s.trim().parse::<i64>().map_err(|_| {
                DicomError::BadImage(format!("Number of Frames {s:?} is not a number"))
            })?,
        };
        let small = |v: i64, name: &str, max: i64| -> Result<u16, DicomError> {
            if (1..=max).contains(&v) {
                Ok(v as u16)
            } else {
                Err(DicomError::BadImage(format!("{name} {v} is out of range")))
            }
        };
        if !(1..=i64::from(u32::MAX)).contains(&frames) {
            return Err(DicomError::BadImage(format!(
                "Number of Frames {frames} is out of range"
            )));
        }
        let photometric = str_attr(obj, tags::PHOTOMETRIC_INTERPRETATION)
            .map(|s| s.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "MONOCHROME2".into());
        let info = ImageInfo {
            transfer_syntax: ts.to_string(),
            rows: small(rows, "Rows", 65535)?,
            columns: small(columns, "Columns", 65535)?,
            frames: frames as u32,
            samples_per_pixel: small(samples, "Samples per Pixel", 4)?,
            bits_allocated: small(bits_allocated, "Bits Allocated", 64)?,
            bits_stored: small(bits_stored.min(bits_allocated), "Bits Stored", 64)?,
            pixel_representation: int_attr(obj, tags::PIXEL_REPRESENTATION)
                .unwrap_or(0)
                .clamp(0, 1) as u16,
            photometric,
            planar_configuration: int_attr(obj, tags::PLANAR_CONFIGURATION)
                .unwrap_or(0)
                .clamp(0, 1) as u16,
        };
        Ok(Some(info))
    }
}

/// The Image Pixel Module of a Part 10 object, `None` when it has no Pixel Data (not an
/// image: SR, RT plan, waveform…).
pub fn image_info(bytes: &[u8]) -> Result<Option<ImageInfo>, DicomError> {
    let (meta, file) = open(bytes)?;
    ImageInfo::from_obj(&file, &meta.transfer_syntax)
}
