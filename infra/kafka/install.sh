#!/usr/bin/env bash
# Installs tansu, the Kafka-compatible broker the Kafka event-log tests run against, with
# its `dynostore` feature: that feature holds the memory storage engine (`memory://`) that
# start.sh uses; a default build has no storage engine at all.
# Idempotent: does nothing when the installed tansu already has it. Building it from
# crates.io takes 15 to 40 minutes on 2 cores the first time.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
has_memory_engine() {
  command -v tansu >/dev/null 2>&1 || return 1
  # cargo records the features of every installed package.
  python3 - "$HOME/.cargo/.crates2.json" <<'PY' 2>/dev/null
import json, sys
installs = json.load(open(sys.argv[1]))["installs"]
ok = any(k.startswith("tansu ") and "dynostore" in v.get("features", []) for k, v in installs.items())
sys.exit(0 if ok else 1)
PY
}
if has_memory_engine; then
  echo "tansu: $(command -v tansu) (with the memory storage engine)"
  exit 0
fi
echo "installing tansu with cargo (first time only, takes a long while)"
# Its own target dir, kept, so a reinstall only rebuilds what changed; --locked uses
# tansu's own lockfile.
build_dir="${TANSU_TARGET_DIR:-$HOME/.cache/arcstream/tansu-build}"
CARGO_TARGET_DIR="$build_dir" cargo install tansu --locked --features dynostore --force
# the build folder is over a GB and only a reinstall would use it
rm -rf "$build_dir"
has_memory_engine || { echo "tansu installed without the dynostore feature" >&2; exit 1; }
command -v tansu
