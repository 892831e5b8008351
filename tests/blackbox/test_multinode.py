"""Several real nodes sharing one Kafka topic (the log) and one S3 bucket prefix (the
objects and the snapshots), on the broker and the S3 server tests/run starts: a write on one
node is read on the others, a node killed during a STOW load catches up and nothing
acknowledged is lost, a fourth node starts from a snapshot and answers as the others, and
a paused broker turns writes into 503 while reads go on.

Expected answers come from the files (pydicom). Needs ARCSTREAM_TEST_KAFKA(_PID) and the
ARCSTREAM_TEST_S3_* variables (infra/kafka/start.sh, infra/s3/start.sh); without them these
tests fail: nothing is skipped."""
import io
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pydicom
import pytest
import requests
import zstandard
from pydicom.uid import generate_uid

from conftest import Server, parse_multipart, stow
from make_instances import distinct_instances

HOW = "start the test servers with infra/kafka/start.sh and infra/s3/start.sh (or run ./tests/run)"
S3_NAMES = ["ENDPOINT", "BUCKET", "ACCESS_KEY", "SECRET_KEY", "REGION", "DATA"]
ANY_TS = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}


def broker():
    addr = os.environ.get("ARCSTREAM_TEST_KAFKA")
    if not addr:
        pytest.fail(f"ARCSTREAM_TEST_KAFKA (host:port of a Kafka broker) is not set: {HOW}")
    host, port = addr.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as e:
        pytest.fail(f"no Kafka broker answers at ARCSTREAM_TEST_KAFKA={addr} ({e}): {HOW}")
    return addr


@pytest.fixture
def s3(monkeypatch):
    env = {n: os.environ.get(f"ARCSTREAM_TEST_S3_{n}") for n in S3_NAMES}
    missing = [f"ARCSTREAM_TEST_S3_{n}" for n, v in env.items() if not v]
    if missing:
        pytest.fail(f"{', '.join(missing)} not set: {HOW}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", env["ACCESS_KEY"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", env["SECRET_KEY"])
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for n in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(n, raising=False)
    return env


class Cluster:
    """Nodes on one fresh topic and one fresh bucket prefix."""

    def __init__(self, tmp_path, s3, tag, snapshot_events=10_000):
        self.tmp = tmp_path
        unique = uuid.uuid4().hex[:12]
        self.log = f"kafka://{broker()}/arc-mn-{tag}-{unique}?delivery_timeout_ms=2000&append_attempts=2"
        prefix = f"mn/{tag}-{unique[:8]}"
        self.store = (f"s3://{s3['BUCKET']}/{prefix}?endpoint={s3['ENDPOINT']}"
                      f"&path_style=true&region={s3['REGION']}")
        # The S3 server keeps each object as a file: what the bucket holds, read directly.
        self.bucket = Path(s3["DATA"]) / s3["BUCKET"] / prefix
        self.snapshot_events = snapshot_events
        self.nodes = {}

    def start(self, name):
        node = Server(self.tmp / name, ["--log", self.log, "--store", self.store, "--node-id", name,
                                        "--snapshot-events", str(self.snapshot_events)])
        node.start()
        self.nodes[name] = node
        return node

    def kill_all(self):
        for node in self.nodes.values():
            node.kill()

    def manifests(self):
        found = []
        for f in (self.bucket / "snapshots").glob("*/manifest.json"):
            try:
                found.append(json.loads(f.read_text()))
            except (OSError, ValueError):
                pass  # being written
        return sorted(found, key=lambda m: m["position"])


def wait_for(what, check, timeout=90):
    """Polls `check` until it returns something true; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout} s (last: {last!r})")


def node_status(node, path="/health"):
    r = requests.get(f"{node.url}{path}", timeout=10)
    assert r.headers["Content-Type"] == "application/json", r.text
    return r.status_code, r.json()


def wait_ready(node):
    return wait_for(f"{node.url}/ready", lambda: (lambda s: s[1] if s[0] == 200 else None)(node_status(node, "/ready")))


def triples(instances):
    """(study, series, SOP Instance UID) of each file, read with pydicom."""
    out = set()
    for _, data in instances:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        out.add((ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID))
    return out


def short_uids(instances):
    """The same files with `2.25.` UIDs (at most 44 characters). The test S3 server (s3s-fs)
    names a file after the base64 of each key, so it holds no key over about 154 bytes, and
    a layout key with two 64-character UIDs is longer (S3 itself allows 1024)."""
    new = defaultdict(lambda: generate_uid(prefix=None))
    out = []
    for _, data in instances:
        ds = pydicom.dcmread(io.BytesIO(data))
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            setattr(ds, keyword, new[getattr(ds, keyword)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        out.append((ds.SOPInstanceUID, buf.getvalue()))
    return out


def first(doc, tag):
    return doc[tag]["Value"][0]


def listed(node, min_sequence=None, as_param=False):
    """What the node lists at instance level, once it applied `min_sequence`."""
    params, headers = {"limit": 10000}, {}
    if min_sequence is not None:
        if as_param:
            params["min-sequence"] = min_sequence
        else:
            headers["Arc-Min-Sequence"] = str(min_sequence)
    r = requests.get(f"{node.base}/instances", params=params, headers=headers, timeout=60)
    assert r.status_code in (200, 204), r.text
    docs = r.json() if r.status_code == 200 else []
    return {(first(d, "0020000D"), first(d, "0020000E"), first(d, "00080018")) for d in docs}, r


def retrieve(node, study, series, sop):
    r = requests.get(f"{node.base}/studies/{study}/series/{series}/instances/{sop}", headers=ANY_TS, timeout=60)
    assert r.status_code == 200, r.text
    ((_, body),) = parse_multipart(r)
    return body


def seq_of(r):
    return int(r.headers["Arc-Sequence"])


def test_a_write_on_one_node_is_read_on_the_others(tmp_path, s3):
    cluster = Cluster(tmp_path, s3, "rw")
    a, b, c = (cluster.start(n) for n in "abc")
    try:
        for node in (a, b, c):
            wait_ready(node)
        instances = short_uids(distinct_instances(6, per_series=3))
        r = stow(a.base, [data for _, data in instances])
        assert r.status_code == 200, r.text
        seq = seq_of(r)
        expected = triples(instances)

        # Read-your-writes across nodes: the query parameter on b, the header on c.
        on_b, rb = listed(b, seq, as_param=True)
        on_c, _ = listed(c, seq)
        assert on_b == on_c == expected
        assert int(rb.headers["Arc-Lag"]) >= 0
        by_sop = dict(instances)
        for study, series, sop in expected:
            assert retrieve(c, study, series, sop) == by_sop[sop]

        # Every node reports a real lag: its applied position against the log's end, which
        # holds the six events of the one write (and nothing else: the topic is new).
        for name, node in cluster.nodes.items():
            def caught_up(node=node):
                code, body = node_status(node)
                return body if code == 200 and body["lag"] == 0 else None
            body = wait_for(f"{name} reports lag 0", caught_up)
            assert body["node_id"] == name
            assert body["applied"] == body["log_end"] >= seq + 1 >= 6
            assert body["ready"] is True and body["snapshot"] is None

        # The publisher keeps studies/{study}/series/{series}/metadata.json.zst current.
        for study, series in {(st, se) for st, se, _ in expected}:
            doc = cluster.bucket / "studies" / study / "series" / series / "metadata.json.zst"
            sops = {sop for st, se, sop in expected if se == series}

            def layout(doc=doc):
                if not doc.is_file():
                    return None
                with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(doc.read_bytes())) as f:
                    headers = json.loads(f.read())
                return {first(h, "00080018") for h in headers}
            assert wait_for(f"layout document {doc.name} of series {series}", lambda: layout() == sops and sops)
    finally:
        cluster.kill_all()


def test_a_node_killed_during_a_stow_load_catches_up_and_loses_nothing_acknowledged(tmp_path, s3):
    cluster = Cluster(tmp_path, s3, "kill")
    nodes = [cluster.start(n) for n in "abc"]
    victim = nodes[1]
    instances = list(distinct_instances(60, per_series=2))
    batches = [instances[i:i + 2] for i in range(0, len(instances), 2)]
    acknowledged = {}
    lock = threading.Lock()

    def send(i, batch):
        node = nodes[i % len(nodes)]
        try:
            r = stow(node.base, [data for _, data in batch])
        except requests.ConnectionError:
            return "connection lost"
        if r.status_code == 200:
            with lock:
                for sop, _ in batch:
                    acknowledged[sop] = seq_of(r)
        return r.status_code

    try:
        for node in nodes:
            wait_ready(node)
        with ThreadPoolExecutor(3) as pool:
            results = [pool.submit(send, i, batch) for i, batch in enumerate(batches[:10])]
            wait_for("a few acknowledged writes", lambda: len(acknowledged) >= 6)
            victim.kill()  # SIGKILL, with writes in flight
            results += [pool.submit(send, i, batch) for i, batch in enumerate(batches[10:20], 10)]
            for f in results:
                f.result()
            victim.start()  # the same data folder: it resumes from its own projection
            results += [pool.submit(send, i, batch) for i, batch in enumerate(batches[20:], 20)]
            outcomes = [f.result() for f in results]
        assert "connection lost" in outcomes, "some writes went to the killed node"
        assert outcomes.count(200) >= len(batches) - 12, outcomes
        last = max(acknowledged.values())
        files = triples(instances)
        wanted = {t for t in files if t[2] in acknowledged}
        answers = []
        for node in nodes:
            found, _ = listed(node, last)
            assert wanted <= found, f"{node.url} lost acknowledged instances: {sorted(wanted - found)[:3]}"
            assert found <= files
            answers.append(found)
        assert answers[0] == answers[1] == answers[2]
        body = wait_ready(victim)
        assert body["node_id"] == "b" and body["applied"] > last, body
    finally:
        cluster.kill_all()


def test_a_fourth_node_starts_from_a_snapshot_and_answers_as_the_others(tmp_path, s3):
    cluster = Cluster(tmp_path, s3, "snap", snapshot_events=10)
    nodes = [cluster.start(n) for n in "abc"]
    instances = list(distinct_instances(63, per_series=5))
    try:
        for node in nodes:
            wait_ready(node)
        last = 0
        for i in range(0, 60, 3):
            r = stow(nodes[(i // 3) % 3].base, [data for _, data in instances[i:i + 3]])
            assert r.status_code == 200, r.text
            last = max(last, seq_of(r))
        newest = wait_for("a snapshot within 10 events of the log's end",
                          lambda: [m for m in cluster.manifests() if m["position"] >= last + 1 - 10])[-1]
        assert {f["path"] for f in newest["files"]} >= {"state.redb", "index/meta.json"}
        size = sum(f["size"] for f in newest["files"])
        # A tail the fourth node must replay (fewer events than make the next snapshot).
        r = stow(nodes[0].base, [data for _, data in instances[60:]])
        assert r.status_code == 200, r.text
        last = seq_of(r)

        fourth = cluster.start("d")
        wait_ready(fourth)
        files = triples(instances)
        on_d, _ = listed(fourth, last)
        assert on_d == files
        _, body = node_status(fourth)
        replayed, held = body["replayed"], body["log_end"]
        print(f"snapshot {newest['generation']}: {size} bytes in {len(newest['files'])} files; "
              f"the fourth node replayed {replayed} of the {held} events in the log")
        assert body["snapshot"] is not None, body
        restored = [m for m in cluster.manifests() if m["generation"] == body["snapshot"]["generation"]]
        assert restored and restored[0]["position"] == body["snapshot"]["position"] == body["opened_at"]
        assert body["opened_at"] >= newest["position"]
        assert replayed == held - body["opened_at"] >= 3 and replayed * 4 < held, body

        # It answers as the others, and as the files say.
        for level in ("studies", "series", "instances"):
            answers = []
            for node in nodes + [fourth]:
                r = requests.get(f"{node.base}/{level}", params={"includefield": "all", "limit": 10000},
                                 headers={"Arc-Min-Sequence": str(last)}, timeout=60)
                assert r.status_code == 200, r.text
                docs = r.json()
                for d in docs:
                    d.pop("00081190", None)  # Retrieve URL: names the node's own address
                answers.append(sorted(json.dumps(d, sort_keys=True) for d in docs))
            assert answers[3] == answers[0] == answers[1] == answers[2], level
        study, series, sop = sorted(files)[0]
        assert retrieve(fourth, study, series, sop) == dict(instances)[sop]
    finally:
        cluster.kill_all()


def test_a_paused_broker_fails_writes_with_503_while_reads_go_on(tmp_path, s3):
    pid = os.environ.get("ARCSTREAM_TEST_KAFKA_PID")
    if not pid:
        pytest.fail(f"ARCSTREAM_TEST_KAFKA_PID (the broker's process id) is not set: {HOW}")
    pid = int(pid)
    cluster = Cluster(tmp_path, s3, "pause")
    a, b, c = (cluster.start(n) for n in "abc")
    instances = list(distinct_instances(6, per_series=3))
    try:
        for node in (a, b, c):
            wait_ready(node)
        r = stow(a.base, [data for _, data in instances[:3]])
        assert r.status_code == 200, r.text
        before = triples(instances[:3])
        for node in (a, b, c):
            assert listed(node, seq_of(r))[0] == before
        # SIGSTOP, not a restart: the test broker keeps its log in memory only.
        os.kill(pid, signal.SIGSTOP)
        try:
            refused = stow(b.base, [instances[3][1]])
            assert refused.status_code == 503, refused.text
            assert "kafka" in refused.text.lower() and "nothing was stored" in refused.text, refused.text
            # Reads need neither the broker nor another node.
            assert listed(c)[0] == before
            study, series, sop = sorted(before)[0]
            assert retrieve(a, study, series, sop) == dict(instances)[sop]
            code, body = node_status(c, "/ready")
            assert code == 200 and body["ready"], body
        finally:
            os.kill(pid, signal.SIGCONT)
        r = stow(c.base, [data for _, data in instances[4:]])
        assert r.status_code == 200, r.text
        acknowledged = before | triples(instances[4:])
        for node in (a, b, c):
            found, _ = listed(node, seq_of(r))
            # The write answered 503 may have landed (its outcome was unknown); nothing else.
            assert acknowledged <= found <= triples(instances)
    finally:
        os.kill(pid, signal.SIGCONT)
        cluster.kill_all()


def test_bench_measures_the_distributed_mode(tmp_path, s3):
    """`arcstream bench --distributed` on the test broker and S3 server, tiny sizes: both
    columns get figures with a ratio, the projection lag and the fresh node's restore are
    reported, and no request failed. Timings are printed, never asserted."""
    from conftest import ROOT, binary
    import re
    import subprocess

    unique = uuid.uuid4().hex[:8]
    report = tmp_path / "bench.md"
    run = subprocess.run(
        [
            binary(), "bench", "--peer", "none", "--distributed", "--nodes", "2",
            "--instances", "40", "--concurrency", "1,2", "--queries", "10",
            "--log", f"kafka://{broker()}/arc-bench-{unique}",
            "--store", (f"s3://{s3['BUCKET']}/bench-{unique}?endpoint={s3['ENDPOINT']}"
                        f"&path_style=true&region={s3['REGION']}"),
            "--markdown", str(report),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    md = report.read_text()
    assert "| metric | better | arcstream | arcstream ×2 (Kafka + S3) | arcstream / arcstream ×2 (Kafka + S3) |" in md, md
    num = r"([0-9.]+)"
    for metric in ["STOW-RS instances/s, 2 in flight", "QIDO-RS p50 ms, all shapes",
                   "WADO-RS MB/s (whole studies), 1 in flight"]:
        row = re.search(r"^\| " + re.escape(metric) + rf" \| (higher|lower) \| {num} \| {num} \| {num}× \|$", md, re.M)
        assert row, f"no figures for {metric!r} in:\n{md}"
    errors = re.search(r"^\| Errors \(failed requests, wrong result counts\) \| lower \| (\d+) \| (\d+) \|", md, re.M)
    assert errors and errors.groups() == ("0", "0"), md
    assert re.search(r"Projection lag under the STOW-RS load.*p50 \d+ ms, p99 \d+ ms", md), md
    assert re.search(r"A fresh node served after [0-9.]+ s: restored the snapshot at \d+, replayed \d+ of the \d+ events", md), md
