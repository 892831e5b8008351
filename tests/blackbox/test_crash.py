"""Kills the real server with SIGKILL in the middle of a STOW load, restarts it, and checks
that every acknowledged instance is found and retrievable, byte for byte."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import Server, parse_multipart, stow
from make_instances import distinct_instances


def test_sigkill_during_stow_load_loses_nothing_acknowledged(tmp_path):
    data = dict(distinct_instances(300))
    items = list(data.items())
    s = Server(tmp_path / "data").start()
    acked, lock, stop = set(), threading.Lock(), threading.Event()

    def sender(chunk):
        if stop.is_set():
            return
        try:
            r = stow(s.base, [b for _, b in chunk])
        except requests.RequestException:
            return
        if r.status_code == 200:
            with lock:
                acked.update(uid for uid, _ in chunk)

    chunks = [items[i : i + 3] for i in range(0, len(items), 3)]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(sender, c) for c in chunks]
        # Kill once some writes are acknowledged and others are surely in flight.
        deadline = time.time() + 60
        while len(acked) < 60 and time.time() < deadline:
            time.sleep(0.01)
        s.kill()
        stop.set()
        for f in futures:
            f.result()
    assert 60 <= len(acked) < len(items), f"the kill should land mid-load ({len(acked)} acknowledged)"

    s.start()
    try:
        held = requests.get(f"{s.base}/instances", params={"limit": 10000}).json()
        held_uids = {x["00080018"]["Value"][0] for x in held}
        assert acked <= held_uids, f"lost {len(acked - held_uids)} acknowledged instances"
        assert held_uids <= set(data), "nothing that was never sent"
        # Every instance the archive knows has its blob: no event points at nothing.
        for x in held:
            url = x["00081190"]["Value"][0]
            r = requests.get(url, headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
            assert r.status_code == 200, r.text
            (_, body), = parse_multipart(r)
            assert body == data[x["00080018"]["Value"][0]]
        # And it keeps taking writes after the restart.
        uid, more = next(distinct_instances(1))
        assert stow(s.base, [more]).status_code == 200
    finally:
        s.kill()
