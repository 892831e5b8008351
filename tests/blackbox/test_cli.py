"""The command line as a new user meets it: `store` names the files that failed and exits 1,
bad settings are refused at start with a reason (no folder is created for a mistyped URI),
`reindex` refuses a folder without a log, help texts name the variables, and the log has
colours only on a terminal without NO_COLOR."""
import os
import pty
import re
import select
import shutil
import subprocess
import time

import pydicom
import requests

from conftest import FIXTURES, binary

CT = FIXTURES / "pydicom" / "CT_small.dcm"
MR = FIXTURES / "pydicom" / "MR_small.dcm"


def run(*args, cwd=None, env=None):
    return subprocess.run([binary(), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def failed_lines(stdout):
    return [line[len("  failed: ") :] for line in stdout.splitlines() if line.startswith("  failed: ")]


def test_store_names_each_failed_file_and_exits_1(server, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = folder / "a_good.dcm"
    shutil.copy(CT, good)
    no_study = folder / "b_no_study.dcm"
    ds = pydicom.dcmread(MR)
    del ds.StudyInstanceUID
    ds.save_as(no_study)
    text = folder / "c_notes.txt"
    text.write_text("not a DICOM file\n")
    # Same SOP Instance UID as the good file, other content: refused under its UID.
    clash = folder / "d_clash.dcm"
    ds = pydicom.dcmread(CT)
    ds.PatientName = "Other^Object"
    ds.save_as(clash)

    r = run("store", "--url", server.base, str(folder))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 instances stored, 3 failed, from 4 files" in r.stdout, r.stdout
    lines = failed_lines(r.stdout)
    assert len(lines) == 3, r.stdout
    by_file = {str(p): next((l for l in lines if l.startswith(f"{p}: ")), None) for p in (no_study, text, clash)}
    assert all(by_file.values()), r.stdout
    assert "StudyInstanceUID" in by_file[str(no_study)]
    assert pydicom.dcmread(CT).SOPInstanceUID in by_file[str(clash)]
    assert not any(l.startswith(f"{good}:") for l in lines)
    uid = pydicom.dcmread(CT).SOPInstanceUID
    found = requests.get(f"{server.base}/instances", params={"SOPInstanceUID": uid}, timeout=30).json()
    assert [i["00080018"]["Value"][0] for i in found] == [uid]

    # Every file stored: exit 0, nothing listed as failed.
    r = run("store", "--url", server.base, str(MR))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 instances stored, 0 failed, from 1 files" in r.stdout
    assert failed_lines(r.stdout) == []


def test_store_help_documents_the_exit_status():
    r = run("store", "--help")
    assert r.returncode == 0
    assert "Exit status" in r.stdout and "1 when any file failed" in r.stdout


def test_serve_with_every_default_runs_on_a_relative_data_folder(tmp_path):
    """The README's first command: `serve` with no options keeps its data in `./data` of the
    working folder (a relative path, which a file:// URI cannot carry)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCSTREAM_")}
    proc = subprocess.Popen(
        [binary(), "serve", "--listen", "127.0.0.1:0"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        url = None
        deadline = time.time() + 60
        while time.time() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(rb"listening on (http://[0-9.:]+)", line)
            url = m and m.group(1).decode()
        assert url, f"serve did not start: exit {proc.poll()}, {proc.stderr.read1().decode(errors='replace')}"
        r = run("store", "--url", f"{url}/aets/ARCSTREAM/rs", str(CT))
        assert r.returncode == 0, r.stdout + r.stderr
        uid = str(pydicom.dcmread(CT).SOPInstanceUID)
        found = requests.get(f"{url}/aets/ARCSTREAM/rs/instances", params={"SOPInstanceUID": uid})
        assert found.status_code == 200 and len(found.json()) == 1, found.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (tmp_path / "data" / "log").is_dir()
    assert any((tmp_path / "data" / "objects").rglob("*")), "no object under ./data/objects"


def test_mistyped_store_and_log_uris_are_refused_without_creating_folders(tmp_path):
    cases = [
        (["--store", "s3:/mybucket/prefix"], "malformed", "s3:"),
        (["--store", "bogus:thing"], "unknown scheme", "bogus:thing"),
        (["--log", "kafka:/localhost:9092/t"], "not a URI", "kafka:"),
        (["--log", "ftp://x"], "unknown scheme", "ftp:"),
    ]
    for i, (flags, why, folder) in enumerate(cases):
        r = run("serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / f"data{i}"), *flags, cwd=tmp_path)
        assert r.returncode != 0, (flags, r.stdout, r.stderr)
        assert why in r.stderr, (flags, r.stderr)
        assert "s3://bucket" in r.stderr or "kafka://" in r.stderr, r.stderr
        assert not (tmp_path / folder).exists(), flags


def test_a_bad_ae_title_is_refused_at_start(tmp_path):
    for aet, why in [("has space/slash", "path segment"), ("A" * 17, "16"), ("A\\B", "backslash")]:
        r = run("serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), "--aet", aet)
        assert r.returncode != 0, aet
        assert "aet" in r.stderr and why in r.stderr, (aet, r.stderr)


def test_reindex_refuses_a_folder_without_a_log(tmp_path):
    missing = tmp_path / "nonexistent"
    r = run("reindex", "--data-dir", str(missing))
    assert r.returncode != 0, r.stdout
    assert "no event log" in r.stderr, r.stderr
    assert "reindexed" not in r.stdout
    assert not missing.exists()


def test_help_lists_only_meaningful_flags_and_their_variables():
    serve = run("serve", "--help").stdout
    for key in ["LISTEN", "AET", "DATA_DIR", "LOG", "STORE", "OVERWRITE", "NODE_ID", "WRITE_WAIT_MS", "MAX_REQUEST_BYTES"]:
        assert f"ARCSTREAM_{key}" in serve, key
    reindex = run("reindex", "--help").stdout
    assert "--data-dir" in reindex and "ARCSTREAM_LOG" in reindex
    assert "--listen" not in reindex and "--aet" not in reindex


def test_log_to_a_file_has_no_colours(server):
    log = server.data_dir.parent / f"{server.data_dir.name}.log"
    text = log.read_bytes()
    assert b"node started" in text, text
    assert b"\x1b[" not in text


def serve_on_a_terminal(tmp_path, env):
    """Starts a node with stderr on a pseudo-terminal; returns what it logged at start."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [binary(), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    out = b""
    try:
        deadline = time.time() + 60
        while b"caught up" not in out and time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
            elif proc.poll() is not None:
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
        os.close(master)
    return out


def test_colours_on_a_terminal_unless_no_color(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = serve_on_a_terminal(tmp_path / "a", env)
    assert b"node started" in coloured, coloured
    assert re.search(rb"\x1b\[[0-9;]*m", coloured), coloured
    plain = serve_on_a_terminal(tmp_path / "b", {**env, "NO_COLOR": "1"})
    assert b"node started" in plain, plain
    assert b"\x1b[" not in plain


def test_user_errors_print_no_backtrace(tmp_path):
    env = {**os.environ, "RUST_BACKTRACE": "1", "RUST_LIB_BACKTRACE": "1"}
    for args in (["store", str(tmp_path / "missing")], ["serve", "--listen", "bogus", "--data-dir", str(tmp_path / "d")]):
        r = run(*args, env=env)
        assert r.returncode == 1, (args, r.returncode)
        assert r.stderr.lstrip().startswith("Error: ") or "\nError: " in r.stderr, r.stderr
        assert "backtrace" not in r.stderr.lower(), r.stderr


def test_store_refuses_zero_batch_or_jobs():
    for flag in ["--batch", "--jobs"]:
        r = run("store", flag, "0", str(CT))
        assert r.returncode == 2 and f"invalid value '0' for '{flag}" in r.stderr, (flag, r.stderr)


def test_store_keeps_parser_warnings_off_the_console(server):
    # the charset fixtures hold files dicom-rs warns about (an empty Specific Character Set): their
    # failures are the archive's answer, listed by store, not log lines
    r = run("store", "--url", server.base, str(FIXTURES / "pydicom-charsets"))
    assert r.returncode in (0, 1) and "instances stored" in r.stdout, r.stdout + r.stderr
    assert "WARN" not in r.stderr, r.stderr


def test_store_resends_a_batch_too_large_for_the_archive_file_by_file(tmp_path, monkeypatch):
    from conftest import Server
    monkeypatch.setenv("ARCSTREAM_MAX_REQUEST_BYTES", "100000")
    server = Server(tmp_path / "data").start()
    try:
        folder = tmp_path / "in"
        folder.mkdir()
        big = FIXTURES / "pydicom" / "examples_overlay.dcm"  # 321,700 bytes
        for f in (CT, MR, big):
            shutil.copy(f, folder / f.name)
        r = run("store", "--url", server.base, str(folder))
        assert r.returncode == 1, r.stdout + r.stderr
        assert "2 instances stored, 1 failed, from 3 files" in r.stdout, r.stdout
        [line] = failed_lines(r.stdout)
        assert line.startswith(str(folder / big.name)) and "413" in line, line
    finally:
        server.kill()
