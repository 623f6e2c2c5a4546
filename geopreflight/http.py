"""HTTP for probes: GET/HEAD only, connect and read timeouts on every call, bounded retries
for idempotent requests on connection errors and 502/503/504, and each distinct request sent
once per run (concurrent callers of the same request wait for the first)."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

RETRY_STATUSES = (502, 503, 504)
ATTEMPTS = 3
BACKOFF_S = 0.5


class Unreachable(Exception):  # noqa: N818
    """The request got no HTTP answer: refused, timed out, TLS or DNS failure."""


@dataclass(frozen=True)
class Reply:
    url: str
    status: int
    headers: CaseInsensitiveDict = field(repr=False)
    body: bytes = field(repr=False)

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class Http:
    """One run's HTTP client; `requests` is the transport, this class the policy."""

    def __init__(self, connect_s: float, read_s: float) -> None:
        self.timeout = (connect_s, read_s)
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies from the environment: we talk to the sites
        self._lock = threading.Lock()
        self._cache: dict[tuple, Future[Reply]] = {}
        self.sent = 0

    def get(self, url: str, *, headers: dict[str, str] | None = None,
            auth: tuple[str, str] | None = None, verify: bool | str = True,
            method: str = "GET") -> Reply:
        """Send a GET (or HEAD) once per run; later identical calls share the reply."""
        assert method in ("GET", "HEAD"), "probes never write"
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

    def _send(self, method: str, url: str, headers: dict[str, str] | None,
              auth: tuple[str, str] | None, verify: bool | str) -> Reply:
        connect_s, read_s = self.timeout
        for attempt in range(1, ATTEMPTS + 1):
            last = attempt == ATTEMPTS
            try:
                self.sent += 1
                r = self._session.request(method, url, headers=headers, auth=auth,
                                          verify=verify, timeout=self.timeout,
                                          allow_redirects=False)
            except requests.exceptions.ReadTimeout:
                raise Unreachable(f"{method} {url}: connected, but no answer within "
                                  f"{read_s:g} s (read timeout)") from None
            except requests.exceptions.SSLError as exc:
                raise Unreachable(f"{method} {url}: TLS verification failed ({_first(exc)}); "
                                  "set gitlab.ca_bundle") from None
            except requests.exceptions.ConnectTimeout:
                if last:
                    raise Unreachable(f"{method} {url}: no connection within {connect_s:g} s "
                                      f"({ATTEMPTS} attempts)") from None
            except requests.exceptions.ConnectionError as exc:
                if last:
                    raise Unreachable(f"{method} {url}: cannot connect ({_first(exc)}; "
                                      f"{ATTEMPTS} attempts)") from None
            except requests.exceptions.RequestException as exc:
                raise Unreachable(f"{method} {url}: {_first(exc)}") from None
            else:
                if r.status_code not in RETRY_STATUSES or last:
                    return Reply(url, r.status_code, r.headers, r.content)
            time.sleep(BACKOFF_S * attempt)
        raise AssertionError("unreachable")


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def _first(exc: Exception) -> str:
    """The readable reason inside a requests exception, one line."""
    text = str(exc)
    m = _ERRNO.search(text)
    return m.group(0) if m else (text.splitlines() or [type(exc).__name__])[0][:200]
