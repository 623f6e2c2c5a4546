"""geopreflight.http against the hostile server (lab/hostile.py): every request ends within
its total deadline, every body within its cap, and no header value reaches an error."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from geopreflight.http import BODY_CAP, Http, Unreachable
from lab.hostile import Hostile, tls_files

ROOT = Path(__file__).resolve().parent.parent
CONNECT_S, READ_S = 1.0, 2.0
DEADLINE_S = CONNECT_S + READ_S


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    with Hostile() as server:
        yield server


def fails(url: str, **kw) -> tuple[str, float]:
    """The Unreachable message for a GET and how long it took."""
    t0 = time.monotonic()
    with pytest.raises(Unreachable) as exc:
        Http(CONNECT_S, READ_S).get(url, **kw)
    return str(exc.value), time.monotonic() - t0


@pytest.mark.parametrize("mode", ["drip-headers", "drip-body"])
def test_a_dripping_server_ends_at_the_total_deadline(hostile: Hostile, mode: str) -> None:
    # requests' read timeout is per receive: one byte a second never trips it.
    message, took = fails(f"{hostile.base(mode)}/api/v4/metadata")
    assert "no complete answer within 3 s (the total deadline" in message
    assert took < DEADLINE_S + 1.5


def test_a_resolver_that_never_answers_ends_within_the_connect_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """getaddrinfo has no timeout of its own: a hung resolver (a DNS server that drops the
    query) would hold the request past every deadline. The stand-in is the resolver call
    itself, blocked until the test ends; no socket exists yet for the deadline to close."""
    import socket
    import threading

    release = threading.Event()
    real = socket.getaddrinfo

    def hung(host: str, *args: object, **kw: object) -> object:
        if host == "gitlab.hung.example":
            release.wait(30)
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", hung)
    try:
        message, took = fails("http://gitlab.hung.example/api/v4/metadata")
    finally:
        release.set()
    assert "no answer from the resolver within 1 s" in message, message
    assert took < DEADLINE_S + 0.5


def test_a_blackhole_ends_at_the_read_timeout(hostile: Hostile) -> None:
    message, took = fails(f"{hostile.base('blackhole')}/api/v4/metadata")
    assert "no answer within 2 s (read timeout)" in message
    assert took < DEADLINE_S + 1.5


def test_a_silent_tls_server_ends_within_the_deadline() -> None:
    # Accepts the TCP connection and never answers the ClientHello.
    with Hostile(silent=True) as silent:
        message, took = fails(f"https://127.0.0.1:{silent.port}/api/v4/metadata")
    assert "127.0.0.1" in message
    assert took < DEADLINE_S + 1.5


@pytest.mark.parametrize("mode", ["endless-chunked", "huge-body", "gzip-bomb", "big-json"])
def test_a_large_body_ends_at_the_cap_with_bounded_memory(hostile: Hostile, mode: str) -> None:
    """Run in a fresh interpreter, so its peak RSS is this request's: well under the 9-11 GB
    these bodies took before, and close to the interpreter's own plus the cap. The peak is
    the process's own (VmHWM): getrusage's ru_maxrss keeps the forking pytest's peak across
    exec, which a long test session grows past the bound."""
    code = ("import json, sys, time\n"
            "from geopreflight.http import Http, Unreachable\n"
            "def hwm():\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith('VmHWM:'):\n"
            "            return int(line.split()[1])\n"
            "base = hwm()\n"
            "t0 = time.monotonic()\n"
            "try:\n"
            "    Http(1, 2).get(sys.argv[1]); err = None\n"
            "except Unreachable as exc:\n"
            "    err = str(exc)\n"
            "print(json.dumps({'error': err, 'took': time.monotonic() - t0, 'base_kib': base,\n"
            "    'peak_kib': hwm()}))\n")
    out = subprocess.run([sys.executable, "-c", code, f"{hostile.base(mode)}/api/v4/geo_sites"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    result = json.loads(out.stdout)
    print(mode, result)
    assert result["error"] and "body larger than 8 MiB" in result["error"]
    assert result["took"] < DEADLINE_S
    assert result["peak_kib"] - result["base_kib"] < 4 * BODY_CAP // 1024
    assert result["peak_kib"] < 256 * 1024


def test_a_header_value_with_a_newline_is_refused_naming_the_header_only(
        hostile: Hostile) -> None:
    secret = "glpat-Zq8c1sT0pS3cr3t"
    message, _ = fails(f"{hostile.base('ok')}/refused-header",
                       headers={"PRIVATE-TOKEN": f"{secret}\n# rotated"},
                       credentials_for=hostile.url)
    assert "PRIVATE-TOKEN header" in message
    assert secret not in message and "rotated" not in message
    assert not [s for s in hostile.seen("ok") if s.path.endswith("/refused-header")]


def test_retries_are_bounded_and_only_for_gateway_errors(hostile: Hostile) -> None:
    http = Http(CONNECT_S, READ_S)
    assert http.get(f"{hostile.base('502')}/x").status == 502
    assert http.get(f"{hostile.base('500')}/x").status == 500
    assert len(hostile.seen("502")) == 3
    assert len(hostile.seen("500")) == 1


def test_a_redirect_is_not_followed(hostile: Hostile) -> None:
    reply = Http(CONNECT_S, READ_S).get(f"{hostile.base('redirect-loop')}/api/v4/metadata")
    assert reply.status == 302
    assert len(hostile.seen("redirect-loop")) == 1


def test_a_reset_is_unreachable_quickly(hostile: Hostile) -> None:
    message, took = fails(f"{hostile.base('reset')}/api/v4/metadata")
    assert "cannot connect" in message
    assert took < DEADLINE_S + 1


def test_a_pooled_connection_outlives_an_earlier_requests_deadline(hostile: Hostile) -> None:
    """The deadline shuts down only its own request's socket: a kept-alive connection reused
    after that deadline has passed still answers."""
    http = Http(0.2, 0.3)
    assert http.get(f"{hostile.base('ok')}/first").status == 200
    time.sleep(0.8)
    assert http.get(f"{hostile.base('ok')}/second").status == 200


def test_tls_is_verified_against_the_given_ca(tmp_path: Path) -> None:
    ca, cert, key = tls_files(tmp_path / "right")
    wrong_ca, _, _ = tls_files(tmp_path / "wrong", "other")
    with Hostile(tls=(str(cert), str(key))) as server:
        url = f"{server.base('ok')}/api/v4/metadata"
        assert Http(CONNECT_S, READ_S).get(url, verify=str(ca)).status == 200
        for verify in (True, str(wrong_ca)):
            message, took = fails(url, verify=verify)
            assert "TLS verification failed" in message and "gitlab.ca_bundle" in message
            assert took < DEADLINE_S
