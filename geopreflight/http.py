"""HTTP for probes: GET/HEAD only, a total deadline and a body cap on every call, bounded
retries for idempotent requests on connection errors and 502/503/504, and each distinct
request sent once per run (concurrent callers of the same request wait for the first).

Why a total deadline: `requests`' read timeout is per receive, so a server that drips one byte
a second in its headers or body holds a caller forever. Each request here has until
`connect_s + read_s` after it starts (all attempts included); a watchdog shuts the
request's socket down when that passes, which ends a blocked header or body read at once.
Why a body cap: bodies are streamed and counted after decompression, so an endless chunked
body, a huge body or a gzip bomb ends at `BODY_CAP` instead of filling the memory.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError

from .cancel import Stops
from .failures import Kind, ProbeFailure
from .resolver import Unresolved, addresses
from .urls import BadUrl, parse, same_origin

RETRY_STATUSES = (502, 503, 504)
ATTEMPTS = 3
BACKOFF_S = 0.5
# Every body the probes read is small JSON: a page of 100 Geo sites or statuses (well under
# 1 MiB), /api/v4/metadata, /v2/, the registry token, one catalog entry. 8 MiB is far above
# any of them and still a bounded amount of memory.
BODY_CAP = 8 * 1024 * 1024
CHUNK = 64 * 1024
# A header value may hold visible ASCII, spaces and tabs inside, nothing else (RFC 9110 5.5).
_HEADER_VALUE = re.compile(r"[!-~]+(?:[ \t]+[!-~]+)*|")
CREDENTIAL_HEADERS = ("authorization", "private-token")


class Unreachable(Exception):  # noqa: N818
    """The request got no (complete) HTTP answer: refused, timed out, TLS or DNS failure, a
    body over the cap, or a request this client refuses to send. The message reads
    `METHOD url: why`; `failure` holds the same as fields, and `plain` is the message without
    errno numbers, for a probe that wraps it in a sentence of its own."""

    def __init__(self, message: str, failure: ProbeFailure) -> None:
        super().__init__(message)
        self.failure = failure
        self.plain = _ERRNO_TAG.sub("", message)


class Untrusted(Unreachable):
    """The server's certificate did not verify against the CA bundle the request used;
    `reason` is OpenSSL's, in one line."""

    def __init__(self, message: str, failure: ProbeFailure, reason: str) -> None:
        super().__init__(message, failure)
        self.reason = reason


def _failed(method: str, url: str, kind: Kind, why: str,
            cause: str | None = None) -> Unreachable:
    """`METHOD url: why` as an exception whose failure's cause is `cause` (default `why`),
    without errno numbers."""
    failure = ProbeFailure(kind, _ERRNO_TAG.sub("", why if cause is None else cause), url,
                           None, method)
    return Unreachable(f"{method} {url}: {why}", failure)


@dataclass(frozen=True)
class Reply:
    url: str
    status: int
    headers: CaseInsensitiveDict = field(repr=False)
    body: bytes = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)


class _Watch:
    """The deadline of one request: at `end`, or when the run is cancelled (Ctrl-C), shut
    down every socket the request opened or reused, so whatever read is blocked on it returns
    now. Sockets are watched through a duplicate descriptor we own (a TLS socket cannot be
    `dup()`ed, its descriptor can)."""

    def __init__(self, end: float, stops: Stops) -> None:
        self.end = end
        self.fired = False
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._timer = threading.Timer(max(0.0, end - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()
        self._stops = stops
        self._token = stops.add(self._fire)

    def left(self) -> float:
        return self.end - time.monotonic()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        try:
            dup = socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:
            return
        with self._lock:
            self._socks.append(dup)
            fired = self.fired
        if fired:
            _shutdown(dup)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            socks = list(self._socks)
        for s in socks:
            _shutdown(s)

    def close(self) -> None:
        self._timer.cancel()
        self._stops.remove(self._token)
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            s.close()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


_current = threading.local()  # the calling thread's _Watch, while it sends a request


def _watch(sock: socket.socket | None) -> None:
    w = getattr(_current, "watch", None)
    if w is not None:
        w.watch(sock)


def _addresses(conn: Any, host: str, timeout_s: float) -> list[str]:
    """`host`'s addresses within `timeout_s` (an address is its own answer), as urllib3's
    NameResolutionError when there is none.

    >>> _addresses(None, "127.0.0.1", 1), _addresses(None, "[::1]", 1)
    (['127.0.0.1'], ['[::1]'])
    """
    try:
        ipaddress.ip_address(host.strip("[]"))
        return [host]
    except ValueError:
        pass
    try:
        return addresses(host, timeout_s)
    except Unresolved as exc:
        raise NameResolutionError(host, conn, socket.gaierror(str(exc))) from None


class _Watched:
    """A urllib3 connection whose sockets the calling thread's deadline can shut down: a new
    one from the start (TCP connect, TLS handshake), a pooled one when it is reused."""

    def _new_conn(self) -> socket.socket:
        w = getattr(_current, "watch", None)
        if w is None:
            return super()._new_conn()  # type: ignore[misc]
        # getaddrinfo has no timeout, and there is no socket yet for the deadline to shut
        # down: resolve within the connect timeout, then try each address in turn
        connect_s = self.timeout if isinstance(self.timeout, int | float) else w.left()
        name = self._dns_host  # type: ignore[has-type]
        addresses = _addresses(self, name, min(connect_s, w.left()))
        try:
            for i, address in enumerate(addresses):
                self._dns_host = address
                try:
                    sock = super()._new_conn()  # type: ignore[misc]
                except NewConnectionError:
                    if i == len(addresses) - 1:
                        raise
                    continue
                _watch(sock)
                return sock
        finally:
            self._dns_host = name
        raise AssertionError("unreachable")

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:  # type: ignore[attr-defined]
            _watch(self.sock)  # type: ignore[attr-defined]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _Conn(_Watched, HTTPConnection):
    pass


class _TLSConn(_Watched, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Conn


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConn


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


class _TooLarge(Exception):
    pass


class Http:
    """One run's HTTP client; `requests` is the transport, this class the policy."""

    def __init__(self, connect_s: float, read_s: float) -> None:
        self.timeout = (connect_s, read_s)
        self.deadline_s = connect_s + read_s
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies from the environment: we talk to the sites
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, _Adapter())
        self._lock = threading.Lock()
        self._cache: dict[tuple, Future[Reply]] = {}
        self.sent = 0
        self.stops = Stops()  # the run's blocked reads, ended at once on Ctrl-C

    def get(self, url: str, *, headers: dict[str, str] | None = None,
            auth: tuple[str, str] | None = None, verify: bool | str = True,
            method: str = "GET", credentials_for: str | None = None) -> Reply:
        """Send a GET (or HEAD) once per run; later identical calls share the reply.

        Credentials (`auth`, an Authorization or PRIVATE-TOKEN header) go only to the origin
        of `credentials_for`, the URL they belong to: a request with them to any other
        origin (or without `credentials_for`) is refused unsent."""
        assert method in ("GET", "HEAD"), "probes never write"
        guard(method, url, headers, auth, credentials_for)
        key = (method, url, tuple(sorted((headers or {}).items())), auth, verify)
        with self._lock:
            future = self._cache.get(key)
            owner = future is None
            if owner:
                future = self._cache[key] = Future()
        if owner:
            try:
                future.set_result(self._send(method, url, headers, auth, verify))
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter
                future.set_exception(exc)
        return future.result()

    def write(self, method: str, url: str, *, headers: dict[str, str], data: bytes | None,
              verify: bool | str, credentials_for: str) -> Reply:
        """One POST or PUT, only for `--canary`: never cached and never retried (a write is
        not idempotent), with the same URL and credential guard, deadline and body cap."""
        assert method in ("POST", "PUT"), "only the canary writes"
        guard(method, url, headers, None, credentials_for)
        return self._send(method, url, headers, None, verify, data, attempts=1)

    def _send(self, method: str, url: str, headers: dict[str, str] | None,
              auth: tuple[str, str] | None, verify: bool | str, data: bytes | None = None,
              attempts: int = ATTEMPTS) -> Reply:
        _check_headers(method, url, headers)
        connect_s, read_s = self.timeout
        if self.stops.cancelled:
            raise _failed(method, shown(url), Kind.INTERRUPTED,
                          "not sent, the run was interrupted")
        watch = _Watch(time.monotonic() + self.deadline_s, self.stops)
        _current.watch = watch
        try:
            for attempt in range(1, attempts + 1):
                last = attempt == attempts or watch.left() < BACKOFF_S * attempt + 0.1
                try:
                    self.sent += 1
                    reply = self._attempt(method, url, headers, auth, verify, watch, data)
                except requests.exceptions.RequestException as exc:
                    if watch.fired:
                        raise self._late(method, url) from None
                    if isinstance(exc, requests.exceptions.ReadTimeout):
                        raise _failed(method, url, Kind.TIMEOUT, "connected, but no answer "
                                      f"within {read_s:g} s (read timeout)") from None
                    if isinstance(exc, requests.exceptions.SSLError):
                        failed = _failed(method, url, Kind.TLS, f"TLS verification failed "
                                         f"({_first(exc)}); set gitlab.ca_bundle")
                        raise Untrusted(str(failed), failed.failure, _first(exc)) from None
                    if isinstance(exc, requests.exceptions.ConnectTimeout):
                        if last:
                            raise _failed(method, url, Kind.TIMEOUT, "no connection within "
                                          f"{connect_s:g} s ({attempt} attempts)") from None
                    elif isinstance(exc, requests.exceptions.ConnectionError):
                        dns = getattr(exc.args[0] if exc.args else None, "reason", None)
                        if isinstance(dns, NameResolutionError):  # not retried: no transient
                            m = _UNRESOLVED.search(str(dns))
                            why = f"{m.group(1)} does not resolve ({m.group(2)})" if m else (
                                "the host name does not resolve")
                            raise _failed(method, url, Kind.DNS, why) from None
                        if last:  # the reports show the reason inside "cannot connect (...)"
                            raise _failed(method, url, Kind.REFUSED, f"cannot connect "
                                          f"({_first(exc)}; {attempt} attempts)",
                                          f"{_first(exc)}; {attempt} attempts") from None
                    else:
                        raise _failed(method, url, *_reason(exc)) from None
                except _TooLarge:
                    raise _failed(method, url, Kind.TOO_LARGE, f"body larger than "
                                  f"{BODY_CAP // 2**20} MiB (the cap on every answer; "
                                  "the checks read small JSON)") from None
                else:
                    if reply.status not in RETRY_STATUSES or last:
                        return reply
                time.sleep(BACKOFF_S * attempt)
            raise AssertionError("unreachable")
        finally:
            _current.watch = None
            watch.close()

    def _attempt(self, method: str, url: str, headers: dict[str, str] | None,
                 auth: tuple[str, str] | None, verify: bool | str, watch: _Watch,
                 data: bytes | None = None) -> Reply:
        """One request, its body streamed and capped, within what is left of the deadline."""
        left = watch.left()
        if left <= 0 or watch.fired:
            raise self._late(method, url)
        connect_s, read_s = self.timeout
        r = self._session.request(method, url, headers=headers, auth=auth, verify=verify,
                                  data=data, timeout=(min(connect_s, left), min(read_s, left)),
                                  allow_redirects=False, stream=True)
        try:
            body = bytearray()
            for chunk in r.iter_content(CHUNK):
                body += chunk
                if len(body) > BODY_CAP:
                    raise _TooLarge
                if watch.left() <= 0:
                    raise self._late(method, url)
            return Reply(url, r.status_code, r.headers, bytes(body))
        finally:
            r.close()

    def _late(self, method: str, url: str) -> Unreachable:
        if self.stops.cancelled:
            return _failed(method, shown(url), Kind.INTERRUPTED, "the run was interrupted")
        return _failed(method, url, Kind.DEADLINE, f"no complete answer within "
                       f"{self.deadline_s:g} s (the total deadline: connect_s + read_s)")


def shown(url: str) -> str:
    """A URL fit for a message: control and non-ASCII characters escaped, at most 200."""
    return ascii(url)[1:-1][:200]


def guard(method: str, url: str, headers: dict[str, str] | None,
          auth: tuple[str, str] | None, credentials_for: str | None) -> None:
    """Refuse, unsent, a URL the one parser (`urls.parse`) refuses, and credentials bound
    for another origin than the one they belong to."""
    try:
        target = parse(url)
    except BadUrl as exc:
        raise _failed(method, shown(url), Kind.NOT_SENT,
                      f"the URL {exc}; the request was not sent") from None
    if auth is None and not any(k.lower() in CREDENTIAL_HEADERS for k in headers or {}):
        return
    if credentials_for is None or not same_origin(url, credentials_for):
        raise _failed(method, shown(url), Kind.NOT_SENT, f"credentials meant for "
                      f"{_origin_of(credentials_for)} were not sent to {target.origin}")


def _origin_of(url: str | None) -> str:
    try:
        return parse(url or "").origin
    except BadUrl:
        return "no valid origin"


def _check_headers(method: str, url: str, headers: dict[str, str] | None) -> None:
    """Refuse a header value HTTP does not allow, naming the header only: `requests` would
    quote the value (a token with a newline) in its exception."""
    for name, value in (headers or {}).items():
        if not _HEADER_VALUE.fullmatch(value):
            raise _failed(method, url, Kind.NOT_SENT, f"the {name} header's value holds a "
                          "character HTTP does not allow (a newline, a control character or "
                          "surrounding spaces); the request was not sent")


def _reason(exc: requests.exceptions.RequestException) -> tuple[Kind, str]:
    """A one-line reason and its kind; never an exception text that can quote a header
    value."""
    if isinstance(exc, requests.exceptions.InvalidHeader):
        return Kind.NOT_SENT, "a request header is invalid; the request was not sent"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return Kind.PARSE, "the answer's Content-Encoding does not decode"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return Kind.OTHER, ("the answer's body broke off (invalid chunked encoding or "
                            "connection lost)")
    return Kind.OTHER, _first(exc)


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
_ERRNO_TAG = re.compile(r"\[Errno -?\d+\] ")  # the number people need not read


_UNRESOLVED = re.compile(r"Failed to resolve '([^']*)' \((.*)\)$")  # urllib3's wording


def _first(exc: Exception) -> str:
    """The readable reason inside a requests exception, one line."""
    text = str(exc)
    m = _ERRNO.search(text)
    return m.group(0) if m else (text.splitlines() or [type(exc).__name__])[0][:200]
