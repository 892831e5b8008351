//! frame owns the on-disk record framing of log segments: encoding a frame, decoding one,
//! and scanning a whole segment to find where its valid records end.
//!
//! A frame is `u32 LE length | u32 LE checksum | payload`. The checksum is CRC32C over the
//! four length bytes followed by the payload. Covering the length matters twice: a flipped
//! bit in a length field is caught like any other damage, and a zero-filled tail (what a
//! file system can leave after a crash that extended a file) never decodes as a run of
//! valid empty records, because the checksum of an all-zero empty frame is not zero.

/// Bytes of a frame header (length + checksum).
pub(crate) const HEADER: usize = 8;

/// The largest payload a frame may carry. Anything larger in a length field is damage.
pub(crate) const MAX_RECORD_LEN: usize = 1 << 30;

/// The checksum stored in a frame's header.
pub(crate) fn checksum(len: u32, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&len.to_le_bytes()), payload)
}

/// Size of the frame that carries `payload_len` bytes.
pub(crate) fn frame_len(payload_len: usize) -> usize {
    HEADER + payload_len
}

/// Appends the frame of `payload` to `out`; the caller has checked the length limit.
pub(crate) fn encode_into(out: &mut Vec<u8>, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(len, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What is found at one offset of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A whole frame whose checksum matches; the payload is `len` bytes after the header.
    Valid { len: usize },
    /// The buffer ends inside the header or the payload.
    Incomplete,
    /// The length field is larger than any record may be.
    BadLength(u32),
    /// The whole frame is there but its checksum does not match.
    BadChecksum,
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

/// Decodes the frame starting at `at` in `buf`.
pub(crate) fn decode(buf: &[u8], at: usize) -> Frame {
    let (Some(len), Some(sum)) = (u32_at(buf, at), u32_at(buf, at + 4)) else {
        return Frame::Incomplete;
    };
    let n = len as usize;
    if n > MAX_RECORD_LEN {
        return Frame::BadLength(len);
    }
    let start = at + HEADER;
    let Some(payload) = buf.get(start..start + n) else {
        return Frame::Incomplete;
    };
    if checksum(len, payload) == sum {
        Frame::Valid { len: n }
    } else {
        Frame::BadChecksum
    }
}

/// Where and how a segment stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damage {
    /// Offset of the first frame that is not valid.
    pub offset: u64,
    /// What is wrong with it.
    pub detail: String,
    /// Offset of a valid frame found somewhere after it, which makes the damage more than
    /// a torn write: a crash tears only the end of what was being written.
    pub valid_frame_after: Option<u64>,
}

/// The valid frames of a segment and the damage after them, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Offset of each valid frame, in order.
    pub offsets: Vec<u64>,
    /// Bytes covered by the valid frames (where the damage, if any, starts).
    pub valid_len: u64,
    pub damage: Option<Damage>,
}

/// Validates every frame of a segment's bytes.
pub(crate) fn scan(buf: &[u8]) -> Scan {
    let mut offsets = Vec::new();
    let mut at = 0usize;
    while at < buf.len() {
        let detail = match decode(buf, at) {
            Frame::Valid { len } => {
                offsets.push(at as u64);
                at += frame_len(len);
                continue;
            }
            Frame::Incomplete => {
                format!(
                    "incomplete frame ({} bytes left in the file)",
                    buf.len() - at
                )
            }
            Frame::BadLength(len) => format!("impossible record length {len}"),
            Frame::BadChecksum => "checksum mismatch".to_string(),
        };
        let damage = Damage {
            offset: at as u64,
            detail,
            valid_frame_after: find_valid_frame(buf, at + 1),
        };
        return Scan {
            offsets,
            valid_len: at as u64,
            damage: Some(damage),
        };
    }
    Scan {
        offsets,
        valid_len: at as u64,
        damage: None,
    }
}

/// The first offset at or after `from` where a valid frame starts. Only run on damage, so
/// its cost (a checksum per plausible offset) is paid when something is already wrong.
fn find_valid_frame(buf: &[u8], from: usize) -> Option<u64> {
    (from..buf.len().saturating_sub(HEADER - 1))
        .find(|&at| matches!(decode(buf, at), Frame::Valid { .. }))
        .map(|at| at as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            encode_into(&mut out, p);
        }
        out
    }

    #[test]
    fn round_trip() {
        let buf = frames(&[b"a", b"", b"hello"]);
        let scan = scan(&buf);
        assert_eq!(scan.offsets, vec![0, 9, 17]);
        assert_eq!(scan.valid_len, buf.len() as u64);
        assert_eq!(scan.damage, None);
        assert_eq!(decode(&buf, 17), Frame::Valid { len: 5 });
    }

    #[test]
    fn zero_fill_is_not_a_valid_frame() {
        assert_ne!(checksum(0, b""), 0);
        let mut buf = frames(&[b"a"]);
        buf.extend_from_slice(&[0; 64]);
        let scan = scan(&buf);
        assert_eq!(scan.offsets, vec![0]);
        let damage = scan.damage.expect("zero tail is damage");
        assert_eq!(damage.offset, 9);
        assert_eq!(damage.valid_frame_after, None);
    }

    #[test]
    fn torn_last_frame() {
        let buf = frames(&[b"first", b"second"]);
        for cut in 1..frame_len(6) {
            let scan = scan(&buf[..buf.len() - cut]);
            assert_eq!(scan.offsets, vec![0]);
            let damage = scan.damage.expect("torn");
            assert_eq!(damage.offset, 13);
            assert_eq!(damage.valid_frame_after, None);
        }
    }

    #[test]
    fn damage_before_valid_frames_is_found() {
        let mut buf = frames(&[b"first", b"second", b"third"]);
        buf[13 + HEADER + 2] ^= 0x40;
        let scan = scan(&buf);
        let damage = scan.damage.expect("damaged");
        assert_eq!(damage.offset, 13);
        assert_eq!(damage.detail, "checksum mismatch");
        assert_eq!(damage.valid_frame_after, Some(27));
    }

    #[test]
    fn flipped_length_is_caught() {
        let mut buf = frames(&[b"first", b"second", b"third"]);
        buf[13] ^= 0x01; // length 6 -> 7: still plausible, the checksum catches it
        let damage = scan(&buf).damage.expect("damaged");
        assert_eq!(damage.offset, 13);
        assert_eq!(damage.valid_frame_after, Some(27));
        buf[13 + 3] = 0x7f; // now larger than any record
        let damage = scan(&buf).damage.expect("damaged");
        assert!(damage.detail.starts_with("impossible record length"));
        assert_eq!(damage.valid_frame_after, Some(27));
    }
}
