//! URI resolution owns the choice of backend by scheme (`file://`, plain path, `mem://`, `s3://`).

use crate::{FolderStore, MemoryStore, ObjectStore, Result, StoreError};
use std::path::Path;
use std::sync::Arc;

/// Opens the store a URI names: everything [`open_uri`] opens, and
/// `s3://bucket[/prefix][?endpoint=…&path_style=…&region=…]` (an S3 store, when built with
/// the `s3` feature), whose opening talks to the server: it checks the bucket at open.
pub async fn open(uri: &str) -> Result<Arc<dyn ObjectStore>> {
    match uri.split_once("://") {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("s3") => open_s3(uri).await,
        _ => open_uri(uri),
    }
}

#[cfg(feature = "s3")]
async fn open_s3(uri: &str) -> Result<Arc<dyn ObjectStore>> {
    Ok(Arc::new(crate::S3Store::open_uri(uri).await?))
}

#[cfg(not(feature = "s3"))]
async fn open_s3(uri: &str) -> Result<Arc<dyn ObjectStore>> {
    Err(s3_not_built(uri))
}

#[cfg(not(feature = "s3"))]
fn s3_not_built(uri: &str) -> StoreError {
    StoreError::Unsupported(format!(
        "{uri}: s3:// needs the `s3` feature (this build of arc-objstore was made without it)"
    ))
}

/// Opens a store of a local scheme: `file:///path` or a plain path (a folder store),
/// `memory://` or `mem://` (a new, empty memory store per call). `s3://` stores open with
/// [`open`], since opening one talks to the server.
pub fn open_uri(uri: &str) -> Result<Arc<dyn ObjectStore>> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        if uri.is_empty() {
            return Err(StoreError::Unsupported(
                "(empty): give a path or a URI".into(),
            ));
        }
        check_not_a_scheme(uri)?;
        return Ok(Arc::new(FolderStore::open(Path::new(uri))?));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "memory" | "mem" => Ok(Arc::new(MemoryStore::new())),
        "file" => Ok(Arc::new(FolderStore::open(Path::new(&file_uri_path(
            uri, rest,
        )?))?)),
        #[cfg(feature = "s3")]
        "s3" => Err(StoreError::Unsupported(format!(
            "{uri}: s3:// stores open asynchronously, with arc_objstore::open"
        ))),
        #[cfg(not(feature = "s3"))]
        "s3" => Err(s3_not_built(uri)),
        _ => Err(StoreError::Unsupported(format!(
            "{uri}: unknown scheme {scheme}:// ({ACCEPTED})"
        ))),
    }
}

/// The forms a store URI may take, for error messages.
const ACCEPTED: &str = "expected a folder path, file:///path, memory://, mem:// or \
s3://bucket/prefix?endpoint=…&path_style=…&region=…";

/// Refuses a value without `://` that starts like a URI (`word:` before any `/`): a typo such
/// as `s3:/bucket` would otherwise become a local folder named `s3:` and take writes silently.
/// Plain relative and absolute paths pass. Schemes of one letter are left alone (drive-like).
fn check_not_a_scheme(uri: &str) -> Result<()> {
    let Some((head, _)) = uri.split_once(':') else {
        return Ok(());
    };
    let looks_like_scheme = head.len() > 1
        && head.starts_with(|c: char| c.is_ascii_alphabetic())
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !looks_like_scheme {
        return Ok(());
    }
    let known = ["file", "memory", "mem", "s3"];
    Err(StoreError::Unsupported(
        if known.iter().any(|k| head.eq_ignore_ascii_case(k)) {
            format!("{uri}: malformed {head}: URI, it needs `{head}://` ({ACCEPTED})")
        } else {
            format!("{uri}: unknown scheme {head}: ({ACCEPTED})")
        },
    ))
}

/// The local path of a `file://` URI: `file:///p` or `file://localhost/p`, percent-decoded.
fn file_uri_path(uri: &str, rest: &str) -> Result<String> {
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err(StoreError::Unsupported(format!(
            "{uri} (a file URI needs an absolute path on this host: file:///path)"
        )));
    }
    percent_decode(path)
        .ok_or_else(|| StoreError::Unsupported(format!("{uri} (bad percent-encoding)")))
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_the_backend() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a b");
        let encoded = format!("file://{}", root.display()).replace(' ', "%20");
        assert_eq!(
            open_uri(&encoded).unwrap().uri(),
            format!("file://{}", root.display())
        );
        let local = format!("file://localhost{}", root.display());
        assert_eq!(
            open_uri(&local).unwrap().uri(),
            format!("file://{}", root.display())
        );
        let plain = dir.path().join("plain");
        let plain_uri = open_uri(plain.to_str().unwrap()).unwrap().uri();
        assert_eq!(plain_uri, format!("file://{}", plain.display()));
        assert!(plain.is_dir());
        assert_eq!(open_uri("memory://").unwrap().uri(), "memory://");
        assert_eq!(open_uri("mem://").unwrap().uri(), "memory://");
    }

    #[cfg(not(feature = "s3"))]
    #[tokio::test]
    async fn s3_without_the_feature_names_it() {
        let err = open("s3://bucket/prefix").await.unwrap_err();
        assert!(err.to_string().contains("needs the `s3` feature"), "{err}");
        let err = open_uri("s3://bucket/prefix").unwrap_err();
        assert!(err.to_string().contains("needs the `s3` feature"), "{err}");
    }

    #[cfg(feature = "s3")]
    #[tokio::test]
    async fn s3_uris_are_parsed_before_anything_is_sent() {
        // A bad URI fails at once, without a server.
        let err = open("s3://Bad_Bucket/x").await.unwrap_err();
        assert!(err.to_string().contains("bucket name"), "{err}");
        let err = open_uri("s3://bucket/prefix").unwrap_err();
        assert!(err.to_string().contains("arc_objstore::open"), "{err}");
    }

    #[tokio::test]
    async fn open_takes_local_schemes_too() {
        assert_eq!(open("mem://").await.unwrap().uri(), "memory://");
    }

    #[test]
    fn unknown_or_unbuilt_schemes_say_why() {
        for bad in [
            "gs://b",
            "",
            "file://host/x",
            "file://rel",
            "file:///a%zz",
            "s3:/mybucket/prefix",
            "s3:mybucket",
            "file:/tmp/x",
            "bogus:thing",
            "ftp:/x",
        ] {
            assert!(
                matches!(open_uri(bad), Err(StoreError::Unsupported(_))),
                "{bad:?}"
            );
        }
        let err = open_uri("s3:/mybucket/prefix").unwrap_err().to_string();
        assert!(
            err.contains("malformed") && err.contains("s3://bucket"),
            "{err}"
        );
        let err = open_uri("bogus:x").unwrap_err().to_string();
        assert!(
            err.contains("unknown scheme") && err.contains("file:///path"),
            "{err}"
        );
    }

    #[test]
    fn paths_with_colons_after_a_slash_stay_paths() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("a:b");
        assert!(open_uri(odd.to_str().unwrap()).is_ok());
        assert!(odd.is_dir());
        assert!(check_not_a_scheme("./s3:x").is_ok());
        assert!(check_not_a_scheme("data/objects").is_ok());
        assert!(check_not_a_scheme("C:x").is_ok());
    }
}
