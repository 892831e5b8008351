#!/usr/bin/env bash
# Installs the local S3 test server (s3s-fs, an S3 API over a plain folder) with
# `cargo install` when it is not on PATH yet. Idempotent: a second run does nothing.
# Takes about 5 minutes on 2 cores the first time.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
# Pinned so CI builds the same server the tests were written against.
# 0.14.1 is the newest release whose rust-version (1.92) the toolchain here meets.
S3S_FS_VERSION="${S3S_FS_VERSION:-0.14.1}"
if command -v s3s-fs >/dev/null 2>&1; then
  echo "s3s-fs: $(command -v s3s-fs)"
  exit 0
fi
# Its own target folder so the workspace's build cache is not disturbed.
export CARGO_TARGET_DIR="${S3S_FS_TARGET_DIR:-$HOME/.cache/arcstream/s3s-fs-target}"
args=(install s3s-fs --features binary --locked)
[ -n "$S3S_FS_VERSION" ] && args+=(--version "$S3S_FS_VERSION")
cargo "${args[@]}"
# the build folder is only useful to a reinstall
rm -rf "$CARGO_TARGET_DIR"
command -v s3s-fs
