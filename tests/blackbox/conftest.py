"""Starts the real arcstream binary on a free port with its own data folder."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
AET = "ARCSTREAM"


def binary():
    path = os.environ.get("ARCSTREAM_BIN")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
        path = os.path.join(target, "debug", "arcstream")
    if not os.path.exists(path):
        raise RuntimeError(f"arcstream binary not found at {path}; build it or set ARCSTREAM_BIN")
    return path


class Server:
    """One arcstream node: start, stop, kill -9, restart on the same data folder."""

    def __init__(self, data_dir, extra=()):
        self.data_dir = Path(data_dir)
        self.extra = list(extra)
        self.proc = None
        self.base = None
        self.log = None

    def start(self, timeout=60):
        self.log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")
        self.proc = subprocess.Popen(
            [binary(), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir), *self.extra],
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        deadline = time.time() + timeout
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(rb"listening on (http://[0-9.:]+)", line)
            if m:
                self.url = m.group(1).decode()
                self.base = f"{self.url}/aets/{AET}/rs"
                return self
        raise RuntimeError(f"arcstream did not start (exit {self.proc.poll()}); see {self.log.name}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def run(self, *args, check=True):
        return subprocess.run([binary(), *args, "--data-dir", str(self.data_dir)], capture_output=True, text=True, check=check)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data").start()
    yield s
    s.kill()


def multipart(parts, boundary="arcstream-test-boundary", quoted=True, preamble=b""):
    """A multipart/related body of application/dicom parts; returns (content_type, body)."""
    body = bytearray(preamble)
    for p in parts:
        body += f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + p + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    t = '"application/dicom"' if quoted else "application/dicom"
    b = f'"{boundary}"' if quoted else boundary
    return f"multipart/related; type={t}; boundary={b}", bytes(body)


def stow(base, parts, study=None, **kw):
    ct, body = multipart(parts, **kw)
    url = f"{base}/studies" + (f"/{study}" if study else "")
    return requests.post(url, data=body, headers={"Content-Type": ct, "Accept": "application/dicom+json"}, timeout=120)


def parse_multipart(resp):
    """Splits a multipart/related answer into (headers, body) parts."""
    ct = resp.headers["Content-Type"]
    m = re.search(r'boundary="?([^";]+)"?', ct)
    assert m, ct
    delim = b"--" + m.group(1).encode()
    parts = []
    for chunk in resp.content.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, body = chunk.partition(b"\r\n\r\n")
        headers = dict(
            (k.strip().lower(), v.strip()) for k, v in (line.split(":", 1) for line in head.decode().strip().split("\r\n") if ":" in line)
        )
        parts.append((headers, body[:-2] if body.endswith(b"\r\n") else body))
    return parts
