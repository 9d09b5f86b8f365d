"""``m2m100 serve`` facing a hostile network: each test is the attack (an idle or trickling
socket, a chunked body without end, a forged Host, a missing or wrong key, a flood, a
cross-origin page, HEAD) made over real sockets against the real server in a subprocess, and
checks the clear answer and that the server still translates afterwards.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from m2m100.serving.app import SERVE_MODULES
from tests.serving.test_server import Server, start_server

pytestmark = pytest.mark.skipif(
    any(__import__("importlib").util.find_spec(m) is None for m in SERVE_MODULES), reason="needs the [serve] extra"
)

KEYS = {name: f"{name}-0123456789abcdef-secret" for name in ("alice", "bob", "carol", "dave", "erin")}
ORIGIN = "https://app.example"
BODY = {"text": "Hello", "src": "en", "tgt": "fr", "max_new_tokens": 4}
LIMIT = 12 * 2000 + 256 * 8 + 65536  # the body limit of --max-chars 2000 --max-texts 8


@pytest.fixture(scope="module")
def server(translation_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("secure")
    keys = folder / "keys.txt"
    keys.write_text("# who: key\n" + "".join(f"{name}:{key}\n" for name, key in KEYS.items()), encoding="utf-8")
    server = start_server(
        translation_folder,
        folder / "server.log",
        *("--max-chars", "2000", "--max-texts", "8"),
        *("--api-keys", keys, "--rate-limit", "2/min", "--cors-origin", ORIGIN),
        *("--header-timeout", "1", "--body-timeout", "1", "--keep-alive-timeout", "1"),
    )
    yield server
    assert server.stop() == 0, server.output()


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def assert_still_translates(server: Server, key: str) -> None:
    response = server.post(BODY, headers=auth(key))
    assert response.status_code == 200, response.text
    assert response.json()["translations"]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# ------------------------------------------------------------------------------------------
# Slow and idle connections
# ------------------------------------------------------------------------------------------
def test_an_idle_connection_is_closed(server: Server) -> None:
    with connect(server) as sock:
        start = time.monotonic()
        assert read_all(sock) == b""  # closed without a word: it asked nothing
        assert time.monotonic() - start < 5


def test_trickled_headers_get_408_and_the_connection_closed(server: Server) -> None:
    answer = b""
    with connect(server) as sock:
        sock.sendall(f"POST /translate HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Slow: ".encode())
        start = time.monotonic()
        while not answer and time.monotonic() - start < 10:  # a header byte every 0.2 s
            with contextlib.suppress(OSError):
                sock.sendall(b"x")
            if select.select([sock], [], [], 0.2)[0]:
                answer = read_all(sock)
        elapsed = time.monotonic() - start
    assert 0.8 < elapsed < 5, elapsed
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b'"error": "timeout"' in answer
    assert_still_translates(server, "alice")


def test_a_trickled_body_gets_408_and_the_connection_closed(server: Server) -> None:
    body = b'{"text": "Hello", "src": "en", "tgt": "fr"}'
    with connect(server) as sock:
        head = (
            f"POST /translate HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {KEYS['bob']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:5])
        start = time.monotonic()
        answer = read_all(sock)  # the rest never comes
    assert 0.8 < time.monotonic() - start < 5
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b'"error": "timeout"' in answer and b"within 1 s" in answer
    assert_still_translates(server, "bob")


# ------------------------------------------------------------------------------------------
# Bodies too large, streamed
# ------------------------------------------------------------------------------------------
def test_an_endless_chunked_body_is_refused_while_it_streams(server: Server) -> None:
    rss_before = rss_kib(server.process.pid)
    chunk = b"x" * 65536
    sent = 0
    with connect(server) as sock:
        sock.sendall(
            f"POST /translate HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {KEYS['carol']}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        with pytest.raises(OSError):  # 200 MB offered; the server hangs up long before
            while sent < 200 * 2**20:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        answer = sock.recv(65536)
    assert sent < 64 * 2**20, sent
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b'"error": "too_large"' in answer and f"at most {LIMIT}".encode() in answer
    assert rss_kib(server.process.pid) - rss_before < 32 * 1024  # the body was not kept
    assert_still_translates(server, "carol")


# ------------------------------------------------------------------------------------------
# Host allowlist
# ------------------------------------------------------------------------------------------
def test_a_foreign_host_header_is_refused(server: Server) -> None:
    for path in ("/health", "/translate"):  # DNS rebinding: a page of evil.example calls our port
        response = httpx.post(
            server.url + path, json=BODY, headers={"Host": f"evil.example:{server.port}", **auth("dave")}
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "bad_host"
        assert f"localhost:{server.port}" in response.json()["detail"]
    ok = httpx.get(f"http://localhost:{server.port}/health", timeout=10)
    assert ok.status_code == 200


def test_a_public_address_without_allowed_hosts_does_not_start(translation_folder: Path) -> None:
    for flags, message in [
        (["--host", "0.0.0.0"], "--allowed-hosts"),
        (["--rate-limit", "ten/s"], "N/s or N/min"),
        (["--api-keys", "/nonexistent/keys"], "no such file"),
        (["--cors-origin", "app.example"], "scheme://host"),
    ]:
        run = subprocess.run(
            [sys.executable, "-m", "m2m100", "serve", "-m", str(translation_folder), "--device", "cpu", *flags],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert run.returncode == 2, run.stderr
        assert run.stderr.startswith("m2m100: error: ") and message in run.stderr, run.stderr
        assert "Traceback" not in run.stderr


def test_a_short_api_key_is_refused_without_showing_it(translation_folder: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("ok:0123456789abcdef0123\nshort:hunter2\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "m2m100", "serve", "-m", str(translation_folder), "--api-keys", str(keys)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "line 2" in run.stderr and "16+ characters" in run.stderr, run.stderr
    assert "hunter2" not in run.stderr


# ------------------------------------------------------------------------------------------
# API keys and rate limits
# ------------------------------------------------------------------------------------------
def test_translate_needs_a_valid_key_which_is_never_logged(server: Server) -> None:
    missing = server.post(BODY)
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = server.post(BODY, headers={"Authorization": "Bearer guessed-key-0123456789"})
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
    assert "guessed-key" not in wrong.text
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200  # only /translate is guarded
    assert_still_translates(server, "dave")
    log = server.output()
    assert not any(key in log for key in KEYS.values()) and "guessed-key" not in log


def test_a_key_over_its_rate_gets_429_with_retry_after(server: Server) -> None:
    answers = [server.post(BODY, headers=auth("erin")) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429], [a.text for a in answers]
    assert answers[2].json()["error"] == "rate_limited"
    assert 1 <= int(answers[2].headers["retry-after"]) <= 30  # 2/min: a token every 30 s
    assert server.post(BODY).status_code == 401  # no key: refused before the rate counts


# ------------------------------------------------------------------------------------------
# CORS and HEAD
# ------------------------------------------------------------------------------------------
def test_a_preflight_from_an_allowed_origin_is_answered(server: Server) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    ok = httpx.options(server.url + "/translate", headers={"Origin": ORIGIN, **preflight}, timeout=10)
    assert ok.status_code == 200, ok.text
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    evil = httpx.options(server.url + "/translate", headers={"Origin": "https://evil.example", **preflight}, timeout=10)
    assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers
    simple = httpx.get(server.url + "/health", headers={"Origin": ORIGIN}, timeout=10)
    assert simple.headers["access-control-allow-origin"] == ORIGIN


def test_head_is_answered_wherever_get_is(server: Server) -> None:
    for path in ("/", "/health", "/languages", "/metrics"):
        get = httpx.get(server.url + path, timeout=10)
        head = httpx.head(server.url + path, timeout=10)
        assert head.status_code == get.status_code == 200, (path, head.status_code)
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
    assert httpx.head(server.url + "/translate", headers=auth("alice"), timeout=10).status_code == 405  # POST only
