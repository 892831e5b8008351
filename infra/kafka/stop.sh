#!/usr/bin/env bash
# Stops the broker start.sh started. Usage: stop.sh [RUN_DIR] (or ARCSTREAM_KAFKA_RUN).
# Safe to call twice, and on a broker a test left stopped (SIGSTOP).
set -uo pipefail
RUN_DIR="${1:-${ARCSTREAM_KAFKA_RUN:-}}"
[ -n "$RUN_DIR" ] || { echo "usage: stop.sh RUN_DIR" >&2; exit 2; }
[ -s "$RUN_DIR/pid" ] || exit 0
PID=$(cat "$RUN_DIR/pid")
if kill -0 "$PID" 2>/dev/null; then
  # A stopped process keeps SIGTERM pending until it runs again.
  kill -CONT "$PID" 2>/dev/null
  kill -TERM "$PID" 2>/dev/null
  for _ in $(seq 1 50); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$PID" 2>/dev/null && kill -KILL "$PID" 2>/dev/null
fi
rm -f "$RUN_DIR/pid"
echo "tansu broker $PID stopped" >&2
