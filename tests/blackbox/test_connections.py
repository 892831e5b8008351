"""Connections that hold the node without finishing a request are closed after
header_read_timeout_ms (slowloris), a request body that stalls as long is answered 408,
a declared body over max_request_bytes is 413 at once, and the node keeps serving everyone
else."""
import socket
import time
from urllib.parse import urlsplit

import requests

from conftest import Server

TIMEOUT_MS = 1000


def connect(server):
    u = urlsplit(server.url)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    return s


def closed_within(sock, seconds):
    """Seconds until the server closed `sock` (read EOF or reset), or None if still open."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return time.monotonic() - start
    except ConnectionResetError:
        return time.monotonic() - start
    except socket.timeout:
        return None


def slow_server(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCSTREAM_HEADER_READ_TIMEOUT_MS", str(TIMEOUT_MS))
    return Server(tmp_path / "data").start()


def test_headers_sent_too_slowly_close_the_connection(tmp_path, monkeypatch):
    server = slow_server(tmp_path, monkeypatch)
    try:
        slow = [connect(server) for _ in range(20)]
        for s in slow:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        # Everyone else is served meanwhile.
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
        for s in slow:
            waited = closed_within(s, 10)
            assert waited is not None, "a connection with unfinished headers stayed open"
        # A connection that sends nothing at all is closed too.
        silent = connect(server)
        assert closed_within(silent, 10) is not None
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
    finally:
        server.kill()


def test_kept_alive_connection_serves_then_closes_when_idle(tmp_path, monkeypatch):
    server = slow_server(tmp_path, monkeypatch)
    try:
        s = connect(server)
        for _ in range(3):  # several requests on one connection, each sent promptly
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                assert chunk, "the connection closed while a request was answered"
                head += chunk
            assert head.startswith(b"HTTP/1.1 200"), head[:80]
            time.sleep(TIMEOUT_MS / 1000 / 4)  # idle, but less than the timeout
        # Idle longer than the timeout: closed (the rest of the last answer is read first).
        assert closed_within(s, 10) is not None
    finally:
        server.kill()


def test_default_timeout_keeps_ordinary_clients_working(server):
    # With the default (30 s) a request whose headers come in two writes a moment apart is
    # answered normally.
    s = connect(server)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.5)
    s.sendall(b"Connection: close\r\n\r\n")
    answer = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]


def read_answer(sock, seconds):
    """The bytes the server sent on `sock` until it closed it or `seconds` passed."""
    sock.settimeout(seconds)
    answer = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return answer


def stow_head(server, length, extra=b""):
    path = urlsplit(server.base).path
    return (
        f"POST {path}/studies HTTP/1.1\r\nHost: x\r\n"
        'Content-Type: multipart/related; type="application/dicom"; boundary=b\r\n'
        f"Content-Length: {length}\r\n"
    ).encode() + extra + b"\r\n"


def test_a_stalled_request_body_answers_408_and_stores_nothing(tmp_path, monkeypatch):
    server = slow_server(tmp_path, monkeypatch)
    try:
        s = connect(server)
        s.sendall(stow_head(server, 100_000) + b"--b\r\nContent-Type: application/dicom\r\n\r\n" + b"\0" * 1000)
        answer = read_answer(s, 10)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"nothing was stored" in answer, answer
        assert requests.get(f"{server.base}/instances", timeout=5).json() == []
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
    finally:
        server.kill()


def test_a_declared_length_over_the_limit_is_413_before_100_continue(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCSTREAM_MAX_REQUEST_BYTES", "100000")
    server = Server(tmp_path / "data").start()
    try:
        s = connect(server)
        s.sendall(stow_head(server, 50_000_000, b"Expect: 100-continue\r\n"))
        answer = read_answer(s, 5)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"100 Continue" not in answer
        assert b"max_request_bytes (100000 bytes)" in answer, answer
    finally:
        server.kill()
