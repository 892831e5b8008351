"""Starts Orthanc with its DICOMweb plugin (Debian's `orthanc` and `orthanc-dicomweb`) on free
ports with its own storage folder, as the benchmark harness does (services/arcstream/src/bench/
servers.rs)."""
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_orthanc():
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/usr/bin"]:
        p = Path(d) / "Orthanc"
        if p.is_file():
            return p
    raise RuntimeError("no Orthanc binary: install Debian's orthanc package (tests/run does)")


def find_dicomweb_plugin():
    """The plugin library, as the `orthanc-dicomweb` package lists it."""
    out = subprocess.run(["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True)
    libs = [Path(line) for line in out.stdout.splitlines() if ".so" in Path(line).name and Path(line).is_file()]
    if out.returncode != 0 or not libs:
        raise RuntimeError("no DICOMweb plugin: install Debian's orthanc-dicomweb package (tests/run does)")
    return libs[0]


class Orthanc:
    """One Orthanc process; `dicomweb` is its DICOMweb root, `wado` its WADO-URI endpoint."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.proc = None

    def start(self, timeout=60):
        storage, index = self.folder / "storage", self.folder / "index"
        storage.mkdir(parents=True, exist_ok=True)
        index.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config = {
            "Name": "arcstream-conformance",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(index),
            "HttpPort": self.port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "HttpCompressionEnabled": False,
            "DicomServerEnabled": False,
            "DicomPort": free_port(),
            "Plugins": [str(find_dicomweb_plugin())],
            # WADO-URI at /wado; Retrieve URLs built from the request's Host header.
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "WadoRoot": "/wado",
                         "StudiesMetadata": "Full", "SeriesMetadata": "Full"},
        }
        path = self.folder / "orthanc.json"
        path.write_text(json.dumps(config, indent=2))
        self.log = open(self.folder / "orthanc.log", "ab")
        self.proc = subprocess.Popen([str(find_orthanc()), str(path)], cwd=self.folder, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        self.root = f"http://127.0.0.1:{self.port}"
        self.dicomweb = f"{self.root}/dicom-web"
        self.wado = f"{self.root}/wado"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Orthanc exited ({self.proc.returncode}); see {self.log.name}")
            try:
                r = requests.get(f"{self.root}/system", timeout=2)
                if r.ok:
                    self.version = r.json().get("Version")
                    plugins = requests.get(f"{self.root}/plugins", timeout=5).json()
                    if "dicom-web" not in plugins:
                        raise RuntimeError(f"Orthanc runs without its DICOMweb plugin ({plugins})")
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Orthanc did not answer within {timeout} s; see {self.log.name}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()

    def remove(self):
        shutil.rmtree(self.folder, ignore_errors=True)
