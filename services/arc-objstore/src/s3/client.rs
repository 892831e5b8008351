//! The S3 client owns how `aws-sdk-s3` is configured: our own rustls (ring) HTTP client,
//! region and credential resolution, bounded timeouts and retries, and the settings
//! S3-compatible servers need (endpoint, path-style, no flexible checksums).

use super::options::S3Options;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use std::time::Duration;

/// Region used when neither the URI, `AWS_REGION` nor the profile names one: S3-compatible
/// servers mostly accept any, and AWS redirects (the error then says so).
const FALLBACK_REGION: &str = "us-east-1";

/// Attempts per request (the first and two retries, with jittered backoff): a dead endpoint
/// fails in seconds, a blip is ridden out.
const MAX_ATTEMPTS: u32 = 3;

/// Builds the client for `opts`; returns it with the endpoint it talks to (for messages).
pub(super) async fn build(opts: &S3Options) -> (aws_sdk_s3::Client, String) {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    // The region chain without IMDS: an instance-metadata lookup would stall every start
    // off EC2 for seconds, and the URI's `region=` covers the rest.
    let region = RegionProviderChain::first_try(opts.region.clone().map(Region::new))
        .or_else(EnvironmentVariableRegionProvider::new())
        .or_else(ProfileFileRegionProvider::new())
        .or_else(Region::from_static(FALLBACK_REGION));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(region)
        .timeout_config(timeouts(opts, opts.read_timeout))
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        // Flexible checksums (CRC trailers in aws-chunked bodies) are not understood by
        // every S3-compatible server; integrity of stored blobs rests on their SHA-256 keys.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    if let Some(endpoint) = &opts.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(c) = &opts.credentials {
        loader = loader.credentials_provider(Credentials::new(
            &c.access_key_id,
            &c.secret_access_key,
            None,
            None,
            "arcstream",
        ));
    }
    let sdk = loader.load().await;
    // An endpoint (from the URI, AWS_ENDPOINT_URL or the profile) means an S3-compatible
    // server, which mostly serves buckets by path, not by virtual host.
    let endpoint = sdk.endpoint_url().map(str::to_string);
    let path_style = opts.path_style.unwrap_or(endpoint.is_some());
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(path_style)
        .build();
    let shown = endpoint.unwrap_or_else(|| {
        let region = sdk.region().map_or(FALLBACK_REGION, |r| r.as_ref());
        format!("AWS S3 ({region})")
    });
    (aws_sdk_s3::Client::from_conf(conf), shown)
}

/// The timeouts of one request; `read` bounds the wait for the first byte of the answer,
/// which for an upload includes sending its body.
pub(super) fn timeouts(opts: &S3Options, read: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(opts.connect_timeout)
        .read_timeout(read)
        .build()
}

/// Read timeout for a request carrying `bytes` of body: the base wait plus the time to send
/// them at 1 MiB/s, so a slow but moving upload is not cut (the SDK's stalled-stream
/// protection catches a stuck one).
pub(super) fn upload_read_timeout(opts: &S3Options, bytes: u64) -> Duration {
    opts.read_timeout + Duration::from_secs(bytes >> 20)
}

/// An override of a request's config carrying the upload timeouts for `bytes` of body.
pub(super) fn upload_config(opts: &S3Options, bytes: u64) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default()
        .timeout_config(timeouts(opts, upload_read_timeout(opts, bytes)))
}
