//! The one error type of arc-dicom: every failure to read, convert or split DICOM data.

use std::error::Error as StdError;

/// A boxed underlying error (a dicom-rs error, an I/O error) kept as the `source`.
pub type BoxedSource = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong in this crate. Input is never trusted: malformed data
/// yields one of these, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum DicomError {
    /// The bytes carry no File Meta Information (PS3.10 7.1): neither the 128-byte preamble
    /// followed by `DICM`, nor `DICM`, nor a (0002,xxxx) group at the start.
    #[error("no DICOM file meta information (PS3.10 7.1)")]
    NoMetaHeader,
    /// The File Meta Information has no Transfer Syntax UID (0002,0010).
    #[error("file meta information has no transfer syntax UID (0002,0010)")]
    MissingTransferSyntax,
    /// The data could not be decoded: truncated, malformed, or an unknown transfer syntax.
    #[error("unreadable DICOM data: {reason}")]
    Unreadable {
        /// What went wrong, with the underlying causes spelled out.
        reason: String,
        /// The dicom-rs (or I/O) error behind it, if any.
        #[source]
        source: Option<BoxedSource>,
    },
    /// A required attribute is absent or empty in the data set (named by keyword).
    #[error("missing attribute {0}")]
    MissingAttribute(&'static str),
    /// A UID attribute holds no valid UID (PS3.5 9.1), e.g. `../../x`.
    #[error("invalid {keyword} {value:?}: {problem} (PS3.5 9.1)")]
    InvalidUid {
        /// The attribute's keyword.
        keyword: &'static str,
        /// The value (its first 80 characters).
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A value handed over as text is not one the attribute may hold (PS3.5 6.2), or names
    /// no attribute; the message says why.
    #[error("{0}")]
    InvalidValue(String),
    /// The object's Image Pixel Module or Pixel Data does not hold together (PS3.3 C.7.6.3):
    /// Number of Frames that is not a number, Rows missing or out of range, fewer pixel
    /// bytes than the frames need. The object as a whole is still readable.
    #[error("the object's image cannot be read: {0}")]
    BadImage(String),
    /// The operation is not implemented for this input (e.g. encapsulated pixel data).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The data set is in an encapsulated (compressed) transfer syntax and would have to
    /// be decompressed first (PS3.5 A.4).
    #[error("transfer syntax {0} is encapsulated and needs decompression")]
    NeedsDecompression(String),
    /// Writing a data set failed.
    #[error("could not encode DICOM data: {reason}")]
    Encode {
        /// What went wrong.
        reason: String,
        /// The dicom-rs error behind it.
        #[source]
        source: Option<BoxedSource>,
    },
    /// The object has no Pixel Data, or not the attributes that describe it (PS3.3 C.7.6.3).
    #[error("not an image: {0}")]
    NotAnImage(String),
    /// A frame number outside 1..=Number of Frames (PS3.18 8.3.5.1.1 uses 1-based numbers).
    #[error("no frame {frame}: the object has {frames} frame(s)")]
    NoSuchFrame {
        /// The frame asked for (1-based).
        frame: u32,
        /// Number of Frames of the object.
        frames: u32,
    },
    /// Compressed pixel data could not be decoded (corrupt stream, unsupported codec).
    #[error("cannot decode pixel data: {0}")]
    Decode(String),
    /// What was asked for would be too large to make (a rendered image scaled up past
    /// [`crate::pixels::MAX_UPSCALED_PIXELS`]).
    #[error("too large: {0}")]
    TooLarge(String),
    /// A bulk data path (`7FE00010`, `00540016/0/00181072`) is malformed.
    #[error("bad bulk data path {0:?}")]
    BadPath(String),
    /// A Content-Type value could not be parsed (RFC 9110 8.3.1).
    #[error("bad content type: {0}")]
    BadContentType(String),
    /// A multipart body is malformed (RFC 2046 5.1.1, RFC 2387).
    #[error("malformed multipart body: {0}")]
    BadMultipart(String),
}

impl DicomError {
    /// An `Unreadable` error from a dicom-rs error, the whole cause chain in the reason.
    pub(crate) fn unreadable<E: StdError + Send + Sync + 'static>(err: E) -> Self {
        DicomError::Unreadable {
            reason: chain(&err),
            source: Some(Box::new(err)),
        }
    }

    /// An `Unreadable` error with a reason only.
    pub(crate) fn unreadable_msg(reason: impl Into<String>) -> Self {
        DicomError::Unreadable {
            reason: reason.into(),
            source: None,
        }
    }

    /// An `Encode` error from a dicom-rs error.
    pub(crate) fn encode<E: StdError + Send + Sync + 'static>(err: E) -> Self {
        DicomError::Encode {
            reason: chain(&err),
            source: Some(Box::new(err)),
        }
    }
}

/// Renders an error and its causes as `outer: inner: innermost`.
pub(crate) fn chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.ends_with(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}
