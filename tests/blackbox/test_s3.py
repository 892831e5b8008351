"""arcstream with its objects in S3: the real binary with `--store s3://…` on the local S3
server (infra/s3/start.sh, s3s-fs), credentials from the standard AWS variables. STOW, then
QIDO and WADO-RS answer from what the bucket holds, also after a restart."""
import os
import uuid
from pathlib import Path

import pytest
import requests

from conftest import FIXTURES, Server, parse_multipart, stow
from expected import Expectation

NAMES = ["ENDPOINT", "BUCKET", "ACCESS_KEY", "SECRET_KEY", "REGION", "DATA"]


@pytest.fixture
def s3(monkeypatch):
    env = {n: os.environ.get(f"ARCSTREAM_TEST_S3_{n}") for n in NAMES}
    missing = [f"ARCSTREAM_TEST_S3_{n}" for n, v in env.items() if not v]
    if missing:
        pytest.fail(f"{', '.join(missing)} not set: start the test S3 server with infra/s3/start.sh "
                    "and source the env file it writes (tests/run does both)")
    # The binary takes its credentials from the standard AWS chain, as in production; no
    # instance-metadata lookups off EC2.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", env["ACCESS_KEY"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", env["SECRET_KEY"])
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for n in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(n, raising=False)
    return env


def store_uri(env, prefix, bucket=None):
    return (f"s3://{bucket or env['BUCKET']}/{prefix}?endpoint={env['ENDPOINT']}"
            f"&path_style=true&region={env['REGION']}")


@pytest.fixture(scope="module")
def files():
    exp = Expectation.of(sorted((FIXTURES / "pydicom").glob("*.dcm")))
    # A few distinct, storable instances are enough: the corpus suite covers the rest.
    return list(exp.first.values())[:6]


def wado(server, f):
    url = f"{server.base}/studies/{f.study}/series/{f.series}/instances/{f.sop}"
    r = requests.get(url, headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}, timeout=60)
    assert r.status_code == 200, (f.path.name, r.text)
    parts = parse_multipart(r)
    assert len(parts) == 1
    return parts[0][1]


def test_objects_live_in_s3_and_come_back(tmp_path, s3, files):
    prefix = f"blackbox/{uuid.uuid4().hex}"
    data = tmp_path / "data"
    server = Server(data, ["--store", store_uri(s3, prefix)]).start()
    try:
        r = stow(server.base, [f.data for f in files])
        assert r.status_code == 200, r.text
        refs = r.json().get("00081199", {}).get("Value", [])
        assert sorted(x["00081155"]["Value"][0] for x in refs) == sorted(f.sop for f in files)

        # The blobs are in the bucket under the prefix, none in the node's data folder.
        in_bucket = [p for p in (Path(s3["DATA"]) / s3["BUCKET"] / prefix).rglob("*") if p.is_file()]
        stored = {p.read_bytes() for p in in_bucket}
        assert all(f.data in stored for f in files), "every file's bytes are an object in the bucket"
        assert not (data / "objects").exists()

        for f in files:
            assert wado(server, f) == f.data, f.path.name
        studies = {f.study for f in files}
        for study in studies:
            q = requests.get(f"{server.base}/studies", params={"StudyInstanceUID": study},
                             headers={"Accept": "application/dicom+json"}, timeout=60)
            assert q.status_code == 200, q.text
            assert [d["0020000D"]["Value"][0] for d in q.json()] == [study]
    finally:
        server.stop()

    # A restart on the same data folder finds every object again in S3.
    again = Server(data, ["--store", store_uri(s3, prefix)]).start()
    try:
        for f in files:
            assert wado(again, f) == f.data, f.path.name
    finally:
        again.kill()


def test_a_missing_bucket_stops_the_start_with_a_clear_error(tmp_path, s3):
    server = Server(tmp_path / "data", ["--store", store_uri(s3, "x", bucket="no-such-bucket-arcstream")])
    with pytest.raises(RuntimeError):
        server.start(timeout=60)
    server.proc.wait(timeout=30)
    assert server.proc.returncode != 0
    log = Path(server.log.name).read_text()
    assert "no such bucket" in log and "no-such-bucket-arcstream" in log, log
