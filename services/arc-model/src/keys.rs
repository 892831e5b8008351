//! Object keys of the layout in ARCHITECTURE.md section 5: content-addressed blobs and headers.

/// A SHA-256 digest as 64 lower-case hex digits.
pub type Sha256Hex = String;

/// Key of an instance's bytes as received: `blobs/sha256/ab/abcdef….dcm`.
pub fn blob_key(sha256: &str) -> String {
    format!("blobs/sha256/{}/{}.dcm", &sha256[..2], sha256)
}

/// Key of an instance header (DICOM JSON without bulk data, zstd): `meta/sha256/cd/cdef….json.zst`.
pub fn meta_key(sha256: &str) -> String {
    format!("meta/sha256/{}/{}.json.zst", &sha256[..2], sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fan_out_on_the_first_byte() {
        let d = "ab".repeat(32);
        assert_eq!(blob_key(&d), format!("blobs/sha256/ab/{d}.dcm"));
        assert_eq!(meta_key(&d), format!("meta/sha256/ab/{d}.json.zst"));
    }
}
