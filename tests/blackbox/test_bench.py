"""`arcstream bench` end to end against the real binary, every group, tiny sizes, no peer.

The harness checks every answer it times (metadata instance counts, frame part counts and
sizes, rendered media types and signatures) and counts what fails, so a run without errors
means arcstream answered all of it correctly. Timings are printed, never asserted.
"""
import re
import subprocess

from conftest import ROOT, binary


def test_bench_runs_every_group_without_errors(tmp_path):
    report = tmp_path / "bench.md"
    run = subprocess.run(
        [
            binary(), "bench", "--peer", "none", "--groups", "all",
            "--instances", "20", "--concurrency", "1,2", "--queries", "10",
            "--metadata-instances", "30", "--metadata-repeats", "1",
            "--pixel-instances", "3", "--pixel-requests", "6", "--pixel-concurrency", "1,3",
            "--multiframe-frames", "12", "--markdown", str(report),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    md = report.read_text()
    errors = re.search(r"^\| Errors \(failed requests, wrong result counts\) \| lower \| (\d+) \|$", md, re.M)
    assert errors, md
    assert errors.group(1) == "0", md
    # Every case of every group has a figure at each level (a skipped case would show "—").
    for metric in [
        "Series (30 instances) metadata: first request ms (cold)",
        "Study (1 series, 30 instances) metadata: warm p50 ms",
        "frame 1 of CT 128×128 native: frames/s, 3 in flight",
        "frame 1 of MR 64×64 RLE: frames/s, 1 in flight",
        "frame 1 of MR 64×64 JPEG-LS: frames/s, 3 in flight",
        "frame 1 of MR 64×64 JPEG 2000: p99 ms, 1 in flight",
        "all 12 frames of MR 64×64 native: frames/s, 3 in flight",
        "all 12 frames of MR 64×64 JPEG-LS: frames/s, 1 in flight",
        "rendered JPEG of CT 128×128 native: instances/s, 1 in flight",
        "rendered PNG of CT 128×128 native: p50 ms, 3 in flight",
        "rendered JPEG of MR 64×64 JPEG-LS: instances/s, 3 in flight",
        "thumbnail JPEG of CT 128×128 native: instances/s, 1 in flight",
    ]:
        row = re.search(r"^\| " + re.escape(metric) + r" \| (higher|lower) \| ([0-9.]+) \|$", md, re.M)
        assert row, f"no figure for {metric!r} in:\n{md}"
    assert "Groups run: core, metadata, frames, rendered." in md
