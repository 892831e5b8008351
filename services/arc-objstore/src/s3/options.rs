//! S3 options own what an `s3://bucket[/prefix][?endpoint=…&path_style=…&region=…]` URI
//! says, and the settings a program (tests) may add that no URI carries.

use crate::{validate_key, Result, StoreError};
use std::time::Duration;

/// Default size of one multipart-upload part: big enough that a 1 GiB object is 128
/// requests, small enough that a few parts in flight stay a few tens of MiB.
pub const DEFAULT_PART_SIZE: u64 = 8 << 20;
/// S3 refuses parts below 5 MiB (except the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// S3 allows at most this many parts per upload; bigger objects get bigger parts.
pub const MAX_PARTS: u64 = 10_000;

/// An access key pair given by the program instead of the AWS credential chain.
#[derive(Clone)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log.
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Everything needed to open an S3 store.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// The bucket.
    pub bucket: String,
    /// Key prefix under the bucket, without leading or trailing `/` (empty: the bucket root).
    pub prefix: String,
    /// Endpoint of an S3-compatible server (`http://host:port`); `None`: AWS, or
    /// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` when set.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`) instead of virtual hosts
    /// (`bucket.endpoint/key`); `None`: on when an endpoint is given, off for AWS.
    pub path_style: Option<bool>,
    /// Region; `None`: `AWS_REGION` / the profile, else `us-east-1`.
    pub region: Option<String>,
    /// Credentials; `None`: the standard AWS chain (env, profile, web identity, ECS, IMDS).
    pub credentials: Option<StaticCredentials>,
    /// Conditional create (`If-None-Match: *`): `None` probes the server at open.
    pub conditional_put: Option<bool>,
    /// Multipart part size (at least [`MIN_PART_SIZE`]); files larger than one part go
    /// up in parts.
    pub part_size: u64,
    /// Limit on opening a TCP connection.
    pub connect_timeout: Duration,
    /// Limit on waiting for the first byte of an answer to a request without a large body
    /// (uploads get more, in proportion to their size).
    pub read_timeout: Duration,
}

impl S3Options {
    /// Options for a bucket and prefix with every default.
    pub fn new(bucket: &str, prefix: &str) -> Result<Self> {
        check_bucket(bucket)?;
        let prefix = prefix.trim_matches('/').to_string();
        if !prefix.is_empty() {
            validate_key(&prefix).map_err(|_| {
                StoreError::Unsupported(format!(
                    "s3://{bucket}/{prefix}: the prefix must be plain /-separated segments"
                ))
            })?;
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
            endpoint: None,
            path_style: None,
            region: None,
            credentials: None,
            conditional_put: None,
            part_size: DEFAULT_PART_SIZE,
            connect_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(20),
        })
    }

    /// Parses the part of an `s3://` URI after the scheme: `bucket[/prefix][?query]`.
    pub fn from_uri_rest(rest: &str) -> Result<Self> {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let path = crate::uri::percent_decode(path).ok_or_else(|| {
            StoreError::Unsupported(format!("s3://{rest} (bad percent-encoding)"))
        })?;
        let (bucket, prefix) = path.split_once('/').unwrap_or((&path, ""));
        let mut opts = Self::new(bucket, prefix)?;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "endpoint" => {
                    if !(value.starts_with("http://") || value.starts_with("https://")) {
                        return Err(bad(rest, "endpoint must be an http:// or https:// URL"));
                    }
                    opts.endpoint = Some(value.trim_end_matches('/').to_string());
                }
                "path_style" => {
                    opts.path_style = Some(match &*value {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        _ => return Err(bad(rest, "path_style must be true or false")),
                    })
                }
                "region" if !value.is_empty() => opts.region = Some(value.into_owned()),
                _ => {
                    return Err(bad(
                        rest,
                        &format!(
                        "unknown or empty parameter {name:?} (known: endpoint, path_style, region)"
                    ),
                    ))
                }
            }
        }
        Ok(opts)
    }

    /// The URI these options stand for (credentials never appear in it).
    pub fn uri(&self) -> String {
        let mut uri = format!("s3://{}", self.bucket);
        if !self.prefix.is_empty() {
            uri.push('/');
            // What `from_uri_rest` decodes or splits on, escaped so the URI opens the same store.
            uri.push_str(
                &self
                    .prefix
                    .replace('%', "%25")
                    .replace('?', "%3F")
                    .replace('#', "%23"),
            );
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(e) = &self.endpoint {
            query.append_pair("endpoint", e);
        }
        if let Some(p) = self.path_style {
            query.append_pair("path_style", if p { "true" } else { "false" });
        }
        if let Some(r) = &self.region {
            query.append_pair("region", r);
        }
        let query = query.finish();
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&query);
        }
        uri
    }

    /// The multipart part size for an object of `size` bytes: the configured size, grown
    /// so the object fits in [`MAX_PARTS`] parts.
    pub fn part_size_for(&self, size: u64) -> u64 {
        self.part_size
            .max(MIN_PART_SIZE)
            .max(size.div_ceil(MAX_PARTS))
    }
}

fn bad(rest: &str, why: &str) -> StoreError {
    StoreError::Unsupported(format!("s3://{rest}: {why}"))
}

/// Bucket names per S3's rules, loosely (S3-compatible servers allow a little more, such
/// as `_`): what matters here is that no name can smuggle a path or a host.
fn check_bucket(bucket: &str) -> Result<()> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b".-_".contains(&c))
        && !bucket.starts_with(['.', '-'])
        && !bucket.ends_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(StoreError::Unsupported(format!(
            "s3://{bucket}: a bucket name is 3 to 63 lower-case letters, digits, '.', '-' or '_' (s3://bucket/prefix)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_give_bucket_prefix_and_parameters() {
        let o = S3Options::from_uri_rest(
            "arc/a/b/?endpoint=http://127.0.0.1:9000&path_style=true&region=eu-west-1",
        )
        .unwrap();
        assert_eq!((o.bucket.as_str(), o.prefix.as_str()), ("arc", "a/b"));
        assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(
            (o.path_style, o.region.as_deref()),
            (Some(true), Some("eu-west-1"))
        );
        assert_eq!(
            o.uri(),
            "s3://arc/a/b?endpoint=http%3A%2F%2F127.0.0.1%3A9000&path_style=true&region=eu-west-1"
        );
        // The URI it gives opens the same options.
        let again = S3Options::from_uri_rest(o.uri().strip_prefix("s3://").unwrap()).unwrap();
        assert_eq!(again.uri(), o.uri());

        let plain = S3Options::from_uri_rest("my-bucket").unwrap();
        assert_eq!(
            (
                plain.prefix.as_str(),
                plain.endpoint.clone(),
                plain.path_style
            ),
            ("", None, None)
        );
        assert_eq!(plain.uri(), "s3://my-bucket");
        assert_eq!(S3Options::from_uri_rest("b12/x%20y").unwrap().prefix, "x y");
        let odd = S3Options::new("b12", "a?b/50%").unwrap();
        assert_eq!(
            S3Options::from_uri_rest(odd.uri().strip_prefix("s3://").unwrap())
                .unwrap()
                .prefix,
            "a?b/50%"
        );
    }

    #[test]
    fn bad_uris_say_what_is_wrong() {
        for (rest, says) in [
            ("", "bucket name"),
            ("Upper", "bucket name"),
            ("ab", "bucket name"),
            ("b:1/x", "bucket name"),
            ("bucket/a//b", "prefix"),
            ("bucket/../x", "prefix"),
            ("bucket?endpoint=ftp://h", "http://"),
            ("bucket?path_style=maybe", "true or false"),
            ("bucket?secret=x", "unknown"),
            ("bucket/%zz", "percent"),
        ] {
            let err = S3Options::from_uri_rest(rest).unwrap_err().to_string();
            assert!(err.contains(says), "{rest:?}: {err}");
        }
    }

    #[test]
    fn parts_grow_so_any_object_fits_in_ten_thousand() {
        let o = S3Options::new("bucket", "").unwrap();
        assert_eq!(o.part_size_for(1), DEFAULT_PART_SIZE);
        assert_eq!(
            o.part_size_for(DEFAULT_PART_SIZE * MAX_PARTS),
            DEFAULT_PART_SIZE
        );
        let huge = DEFAULT_PART_SIZE * MAX_PARTS + 1;
        assert!(huge.div_ceil(o.part_size_for(huge)) <= MAX_PARTS);
        let small = S3Options { part_size: 1, ..o };
        assert_eq!(small.part_size_for(10), MIN_PART_SIZE);
    }
}
