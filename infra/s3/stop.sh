#!/usr/bin/env bash
# Stops the S3 server that infra/s3/start.sh started for RUN_DIR and removes its data
# (KEEP_DATA=1 keeps it). Stopping a server that is not running is not an error.
#
#   infra/s3/stop.sh RUN_DIR
set -euo pipefail
RUN="${1:?usage: infra/s3/stop.sh RUN_DIR}"
if [ -f "$RUN/pid" ]; then
  PID="$(cat "$RUN/pid")"
  if kill -0 "$PID" 2>/dev/null; then
    kill -INT "$PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$PID" 2>/dev/null || true
  fi
  rm -f "$RUN/pid"
fi
[ "${KEEP_DATA:-0}" = 1 ] || rm -rf "$RUN/data"
