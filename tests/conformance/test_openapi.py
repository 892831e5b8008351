"""The node's OpenAPI description (schemas/openapi.json): the node serves the checked-in file,
and schemathesis, driven by the served description, finds no server error and no answer whose
status code, media type, headers or body contradict it. (That every route is described and
every description routed is checked in Rust, beside the router: arc-dicomweb's
`openapi::tests`.)"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conftest import FIXTURES, ROOT, blackbox

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A node of its own (generated STOW bodies must not reach the other tests' node), holding
    the README's example study (CT_small) so that the description's example UIDs find it."""
    s = blackbox.Server(tmp_path_factory.mktemp("openapi") / "data").start()
    files = ["CT_small.dcm", "MR_small.dcm"]
    r = blackbox.stow(s.base, [(FIXTURES / "pydicom" / f).read_bytes() for f in files])
    assert r.status_code == 200, r.text
    # schemathesis's coverage phase sends Arc-Min-Sequence 0 and 1 whatever the hooks say;
    # the node must have applied both (a later position is a documented 503 after a wait)
    assert int(r.headers["Arc-Sequence"]) >= 1
    yield s
    s.kill()


def test_the_node_serves_the_checked_in_description(node):
    r = requests.get(f"{node.url}/openapi.json", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == json.loads((ROOT / "schemas" / "openapi.json").read_text())
    # the README links it
    assert "/openapi.json" in (ROOT / "README.md").read_text()


CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"


def test_answers_follow_the_description(node, tmp_path):
    """schemathesis's CLI with the served description: examples, coverage and fuzzing phases,
    bounded to 75 s; any failed check fails the test with schemathesis's report."""
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "st_hooks", "PYTHONPATH": str(HERE)}
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{node.url}/openapi.json",
           "--url", node.url, "--checks", CHECKS, "--max-examples", "15", "--max-time", "75",
           "--generation-deterministic", "--workers", "2", "--request-timeout", "30", "--warnings", "off"]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    m = re.search(r"(\d+) passed", out)
    assert m and int(m.group(1)) > 0, out[-3000:]
