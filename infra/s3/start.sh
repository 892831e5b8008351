#!/usr/bin/env bash
# Starts a local S3 server (s3s-fs) for tests on a free loopback port.
#
#   infra/s3/start.sh [RUN_DIR]      (default: a new temp folder)
#
# RUN_DIR gets: data/ (the server's folder; one sub-folder per bucket), s3s-fs.log, pid,
# endpoint, and env: a shell file to source, exporting ARCSTREAM_TEST_S3_ENDPOINT,
# ARCSTREAM_TEST_S3_BUCKET, ARCSTREAM_TEST_S3_ACCESS_KEY, ARCSTREAM_TEST_S3_SECRET_KEY,
# ARCSTREAM_TEST_S3_REGION and ARCSTREAM_TEST_S3_DATA (the data folder). Waits until a
# signed HEAD of the bucket answers 200, so the bucket, the credentials and the server are
# all proven before it returns. Prints RUN_DIR.
# Stop it with infra/s3/stop.sh RUN_DIR.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
command -v s3s-fs >/dev/null || { echo "s3s-fs is not installed: run infra/s3/install.sh" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed (apt-get install curl)" >&2; exit 1; }

RUN="${1:-$(mktemp -d -t arcstream-s3.XXXXXX)}"
mkdir -p "$RUN"
RUN="$(cd "$RUN" && pwd)"
if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
  echo "an S3 server already runs for $RUN (pid $(cat "$RUN/pid")); stop it with infra/s3/stop.sh $RUN" >&2
  exit 1
fi
BUCKET="${ARCSTREAM_S3_BUCKET:-arcstream-test}"
ACCESS_KEY="arcstream-test"
SECRET_KEY="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
REGION="us-east-1"
# s3s-fs keeps each bucket as a folder of its data folder: making the folder creates the bucket.
mkdir -p "$RUN/data/$BUCKET"

# Port 0: the kernel picks a free port and the server logs it, so parallel runs never clash.
RUST_LOG="${RUST_LOG:-s3s_fs=info,s3s=warn}" NO_COLOR=1 \
  s3s-fs --host 127.0.0.1 --port 0 --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" "$RUN/data" \
  >"$RUN/s3s-fs.log" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$RUN/pid"

fail() {
  echo "S3 server did not start: $*; log: $RUN/s3s-fs.log" >&2
  tail -20 "$RUN/s3s-fs.log" >&2 || true
  kill "$PID" 2>/dev/null || true
  exit 1
}

ENDPOINT=""
for _ in $(seq 300); do
  kill -0 "$PID" 2>/dev/null || fail "it exited"
  ENDPOINT="$(grep -ao 'running at http://127\.0\.0\.1:[0-9]*' "$RUN/s3s-fs.log" | head -1 | sed 's/running at //')" || true
  [ -n "$ENDPOINT" ] && break
  sleep 0.1
done
[ -n "$ENDPOINT" ] || fail "no listening address in its log after 30 s"

# s3s wants the payload hash header; curl signs it along.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
status=""
for _ in $(seq 100); do
  status="$(curl -s -o /dev/null -w '%{http_code}' -I --max-time 2 \
    -H "x-amz-content-sha256: $EMPTY_SHA256" \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" "$ENDPOINT/$BUCKET")" || true
  [ "$status" = 200 ] && break
  sleep 0.1
done
[ "$status" = 200 ] || fail "a signed HEAD of bucket $BUCKET answered ${status:-nothing}"

echo "$ENDPOINT" >"$RUN/endpoint"
cat >"$RUN/env" <<ENV
export ARCSTREAM_TEST_S3_ENDPOINT='$ENDPOINT'
export ARCSTREAM_TEST_S3_BUCKET='$BUCKET'
export ARCSTREAM_TEST_S3_ACCESS_KEY='$ACCESS_KEY'
export ARCSTREAM_TEST_S3_SECRET_KEY='$SECRET_KEY'
export ARCSTREAM_TEST_S3_REGION='$REGION'
export ARCSTREAM_TEST_S3_DATA='$RUN/data'
ENV
echo "$RUN"
