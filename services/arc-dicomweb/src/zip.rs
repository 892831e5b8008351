//! A streaming ZIP writer (APPNOTE 6.3.x) for `application/zip` downloads: entries are
//! stored (DICOM pixel data rarely deflates and the CPU is better spent elsewhere), each
//! followed by a data descriptor so nothing has to be known before its bytes stream by, with
//! ZIP64 records when an entry, an offset or the count exceeds the classic limits. Only the
//! central directory (a few dozen bytes per entry) is held until the end.

use bytes::{BufMut, Bytes, BytesMut};

/// 1980-01-01 00:00 in MS-DOS form: entries carry no meaningful time.
const DOS_DATE: u16 = 0x0021;
const FLAGS: u16 = 0x0008 | 0x0800; // data descriptor follows; names are UTF-8
const VERSION: u16 = 45; // ZIP64

struct Entry {
    name: String,
    crc: u32,
    size: u64,
    offset: u64,
}

/// Writes one archive; each method returns the bytes to send next.
#[derive(Default)]
pub(crate) struct ZipWriter {
    entries: Vec<Entry>,
    offset: u64,
    current: Option<(String, crc32fast::Hasher, u64, u64)>,
}

impl ZipWriter {
    /// Opens an entry named `name` (`/`-separated).
    pub(crate) fn start(&mut self, name: &str) -> Bytes {
        let mut b = BytesMut::with_capacity(30 + name.len());
        b.put_u32_le(0x0403_4b50);
        b.put_u16_le(VERSION);
        b.put_u16_le(FLAGS);
        b.put_u16_le(0); // stored
        b.put_u16_le(0);
        b.put_u16_le(DOS_DATE);
        b.put_u32_le(0); // crc, sizes: in the data descriptor
        b.put_u32_le(0);
        b.put_u32_le(0);
        b.put_u16_le(name.len() as u16);
        b.put_u16_le(0);
        b.put_slice(name.as_bytes());
        self.current = Some((name.to_string(), crc32fast::Hasher::new(), 0, self.offset));
        self.offset += b.len() as u64;
        b.freeze()
    }

    /// Passes a piece of the open entry's content through, hashing it.
    pub(crate) fn data(&mut self, data: Bytes) -> Bytes {
        if let Some((_, crc, size, _)) = self.current.as_mut() {
            crc.update(&data);
            *size += data.len() as u64;
        }
        self.offset += data.len() as u64;
        data
    }

    /// Closes the open entry: its data descriptor.
    pub(crate) fn end(&mut self) -> Bytes {
        let Some((name, crc, size, offset)) = self.current.take() else {
            return Bytes::new();
        };
        let crc = crc.finalize();
        let mut b = BytesMut::with_capacity(24);
        b.put_u32_le(0x0807_4b50);
        b.put_u32_le(crc);
        if needs64(size, offset) {
            b.put_u64_le(size);
            b.put_u64_le(size);
        } else {
            b.put_u32_le(size as u32);
            b.put_u32_le(size as u32);
        }
        self.offset += b.len() as u64;
        self.entries.push(Entry {
            name,
            crc,
            size,
            offset,
        });
        b.freeze()
    }

    /// The central directory and end records.
    pub(crate) fn finish(&mut self) -> Bytes {
        let cd_start = self.offset;
        let mut b = BytesMut::new();
        for e in &self.entries {
            let big = needs64(e.size, e.offset);
            let mut extra = BytesMut::new();
            if big {
                extra.put_u16_le(0x0001);
                extra.put_u16_le(24);
                extra.put_u64_le(e.size);
                extra.put_u64_le(e.size);
                extra.put_u64_le(e.offset);
            }
            let small = |v: u64| if big { u32::MAX } else { v as u32 };
            b.put_u32_le(0x0201_4b50);
            b.put_u16_le(VERSION | (3 << 8)); // made by: Unix
            b.put_u16_le(VERSION);
            b.put_u16_le(FLAGS);
            b.put_u16_le(0);
            b.put_u16_le(0);
            b.put_u16_le(DOS_DATE);
            b.put_u32_le(e.crc);
            b.put_u32_le(small(e.size));
            b.put_u32_le(small(e.size));
            b.put_u16_le(e.name.len() as u16);
            b.put_u16_le(extra.len() as u16);
            b.put_u16_le(0); // comment
            b.put_u16_le(0); // disk
            b.put_u16_le(0); // internal attributes
            b.put_u32_le(0o100644 << 16); // external: a regular file, rw-r--r--
            b.put_u32_le(small(e.offset));
            b.put_slice(e.name.as_bytes());
            b.put_slice(&extra);
        }
        let cd_size = b.len() as u64;
        let count = self.entries.len() as u64;
        if count >= 0xFFFF || cd_start >= u32::MAX as u64 || cd_size >= u32::MAX as u64 {
            let zip64_end = cd_start + cd_size;
            b.put_u32_le(0x0606_4b50);
            b.put_u64_le(44);
            b.put_u16_le(VERSION);
            b.put_u16_le(VERSION);
            b.put_u32_le(0);
            b.put_u32_le(0);
            b.put_u64_le(count);
            b.put_u64_le(count);
            b.put_u64_le(cd_size);
            b.put_u64_le(cd_start);
            b.put_u32_le(0x0706_4b50);
            b.put_u32_le(0);
            b.put_u64_le(zip64_end);
            b.put_u32_le(1);
        }
        b.put_u32_le(0x0605_4b50);
        b.put_u16_le(0);
        b.put_u16_le(0);
        b.put_u16_le(count.min(0xFFFF) as u16);
        b.put_u16_le(count.min(0xFFFF) as u16);
        b.put_u32_le(cd_size.min(u32::MAX as u64) as u32);
        b.put_u32_le(cd_start.min(u32::MAX as u64) as u32);
        b.put_u16_le(0);
        self.offset += b.len() as u64;
        b.freeze()
    }
}

fn needs64(size: u64, offset: u64) -> bool {
    size >= u32::MAX as u64 || offset >= u32::MAX as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], i: usize) -> u32 {
        u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
    }

    #[test]
    fn a_small_archive_has_its_records_where_readers_look() {
        let mut z = ZipWriter::default();
        let mut out = Vec::new();
        for (name, data) in [("1/2/3.dcm", &b"hello"[..]), ("1/2/4.dcm", &b""[..])] {
            out.extend_from_slice(&z.start(name));
            out.extend_from_slice(&z.data(Bytes::copy_from_slice(data)));
            out.extend_from_slice(&z.end());
        }
        out.extend_from_slice(&z.finish());
        let eocd = out.len() - 22;
        assert_eq!(u32_at(&out, eocd), 0x0605_4b50);
        let cd = u32_at(&out, eocd + 16) as usize;
        assert_eq!(u32_at(&out, cd), 0x0201_4b50);
        assert_eq!(u32_at(&out, cd + 16), crc32fast::hash(b"hello"));
        assert_eq!(u32_at(&out, cd + 20), 5);
        assert_eq!(&out[30..39], b"1/2/3.dcm");
        assert_eq!(&out[39..44], b"hello");
        assert_eq!(u32_at(&out, 44), 0x0807_4b50);
    }

    #[test]
    fn past_4_gib_the_zip64_records_are_written() {
        let mut z = ZipWriter {
            offset: 5 << 30, // as if 5 GiB had gone before
            ..Default::default()
        };
        let mut out = Vec::new();
        out.extend_from_slice(&z.start("a.dcm"));
        out.extend_from_slice(&z.data(Bytes::from_static(b"xy")));
        let descriptor = z.end();
        assert_eq!(descriptor.len(), 24, "64-bit sizes in the data descriptor");
        let tail = z.finish();
        let find = |sig: u32| tail.windows(4).position(|w| w == sig.to_le_bytes());
        let cd = find(0x0201_4b50).unwrap();
        assert_eq!(
            u32_at(&tail, cd + 42),
            u32::MAX,
            "offset in the ZIP64 extra field"
        );
        assert_eq!(&tail[cd + 46..cd + 51], b"a.dcm");
        assert_eq!(u16::from_le_bytes([tail[cd + 51], tail[cd + 52]]), 0x0001);
        let end64 = find(0x0606_4b50).unwrap();
        let locator = find(0x0706_4b50).unwrap();
        assert!(end64 < locator && locator < find(0x0605_4b50).unwrap());
        assert_eq!(
            u64::from_le_bytes(tail[end64 + 48..end64 + 56].try_into().unwrap()),
            (5 << 30) | (35 + 2 + 24)
        );
    }
}
