#!/usr/bin/env python3
"""Measures what one stored instance costs in the log, the store and a node's projection.

Starts the real binary (embedded default: file log and folder store, which hold the same
records the Kafka log and the S3 store do) on a free port, stores N distinct instances
made from a fixture, and prints bytes per instance for each part, the node's memory and its replay rate.
The figures in docs/operations.md ("Sizing") come from this script:

    ARCSTREAM_BIN=target/debug/arcstream .venv/bin/python infra/scripts/sizing.py 2000
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "blackbox"))

from conftest import Server, stow  # noqa: E402
from make_instances import distinct_instances  # noqa: E402


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except FileNotFoundError:
                pass
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    batch = 50
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        server = Server(data).start()
        try:
            rss0 = rss_kib(server.proc.pid)
            parts, dicom_bytes = [], 0
            for _, blob in distinct_instances(n):
                parts.append(blob)
                dicom_bytes += len(blob)
                if len(parts) == batch:
                    r = stow(server.base, parts)
                    assert r.status_code == 200, (r.status_code, r.text[:300])
                    parts = []
            if parts:
                assert stow(server.base, parts).status_code == 200
            rss1 = rss_kib(server.proc.pid)
        finally:
            server.stop()
        log, objects, projection = du(data / "log"), du(data / "objects"), du(data / "projection")
        blobs, meta = du(data / "objects" / "blobs"), du(data / "objects" / "meta")
        print(f"instances                 {n}")
        print(f"DICOM bytes per instance  {dicom_bytes / n:10.0f}")
        print(f"log bytes per instance    {log / n:10.0f}")
        print(f"objects per instance      {objects / n:10.0f}  (blobs {blobs / n:.0f}, header blobs {meta / n:.0f})")
        print(f"projection per instance   {projection / n:10.0f}")
        for sub in sorted(p for p in (data / "projection").iterdir() if p.is_dir() or p.is_file()):
            print(f"  {sub.name:22s}  {(du(sub) if sub.is_dir() else sub.stat().st_size) / n:10.0f}")
        print(f"node RSS before / after   {rss0 / 1024:.0f} MiB / {rss1 / 1024:.0f} MiB")
        # How fast one node applies the log: what a new node without a snapshot, or any
        # node after a burst, catches up at (the projector, not Kafka, is the usual limit).
        out = server.run("reindex").stdout.strip().splitlines()[-1]
        print(f"reindex                   {out}")


if __name__ == "__main__":
    main()
