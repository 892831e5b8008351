#!/usr/bin/env bash
# Starts a tansu broker (Kafka-compatible, memory storage engine) on a free loopback port and
# waits until it answers. Usage: start.sh [RUN_DIR]  (or ARCSTREAM_KAFKA_RUN=RUN_DIR; a
# temporary folder otherwise). Writes into RUN_DIR: `bootstrap` (host:port), `pid`,
# `broker.log` and `env` (the exports the tests read), and prints the exports:
#   ARCSTREAM_TEST_KAFKA=127.0.0.1:PORT   ARCSTREAM_TEST_KAFKA_PID=PID
# Stop it with stop.sh RUN_DIR. Install tansu first with install.sh.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
RUN_DIR="${1:-${ARCSTREAM_KAFKA_RUN:-}}"
if [ -z "$RUN_DIR" ]; then
  RUN_DIR=$(mktemp -d -t arcstream-kafka.XXXXXX)
fi
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
command -v tansu >/dev/null || { echo "tansu is not installed: run infra/kafka/install.sh" >&2; exit 1; }
if [ -s "$RUN_DIR/pid" ] && kill -0 "$(cat "$RUN_DIR/pid")" 2>/dev/null; then
  echo "a broker already runs from $RUN_DIR (pid $(cat "$RUN_DIR/pid")); stop it with stop.sh $RUN_DIR" >&2
  exit 1
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Another process may take the port between choosing and binding it: try a few.
for try in 1 2 3 4 5; do
  PORT=$(free_port)
  # Settings come from the command line only; the broker's env fallbacks are cleared.
  env -u LISTENER_URL -u ADVERTISED_LISTENER_URL -u STORAGE_ENGINE -u CLUSTER_ID \
    nohup tansu broker \
      --cluster-id arcstream-test \
      --listener-url "tcp://127.0.0.1:$PORT" \
      --advertised-listener-url "tcp://127.0.0.1:$PORT" \
      --storage-engine "memory://tansu/" \
      >"$RUN_DIR/broker.log" 2>&1 </dev/null &
  PID=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "$PID" 2>/dev/null; then break; fi
    if answers "$PORT"; then
      echo "$PID" >"$RUN_DIR/pid"
      echo "127.0.0.1:$PORT" >"$RUN_DIR/bootstrap"
      printf 'export ARCSTREAM_TEST_KAFKA=127.0.0.1:%s\nexport ARCSTREAM_TEST_KAFKA_PID=%s\n' "$PORT" "$PID" >"$RUN_DIR/env"
      echo "ARCSTREAM_TEST_KAFKA=127.0.0.1:$PORT"
      echo "ARCSTREAM_TEST_KAFKA_PID=$PID"
      echo "tansu broker running (run folder $RUN_DIR; log $RUN_DIR/broker.log)" >&2
      exit 0
    fi
    sleep 0.1
  done
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  echo "tansu did not answer on port $PORT (try $try):" >&2
  tail -n 5 "$RUN_DIR/broker.log" >&2 || true
done
echo "could not start tansu; see $RUN_DIR/broker.log" >&2
exit 1
