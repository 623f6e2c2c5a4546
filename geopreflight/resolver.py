"""Name resolution within a deadline: getaddrinfo has no timeout of its own, so it runs in a
thread that is abandoned at the deadline. Used by the HTTP client, the database connection
and the DNS probe alike."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout


class Unresolved(Exception):  # noqa: N818
    """The name gave no address: `timed_out` when the resolver did not answer in time."""

    def __init__(self, reason: str, timed_out: bool) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


def addresses(host: str, timeout_s: float) -> list[str]:
    """`host`'s addresses in the resolver's order, without repeats.

    >>> addresses("127.0.0.1", 1)
    ['127.0.0.1']
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="resolve")
    try:
        infos = pool.submit(socket.getaddrinfo, host, None, 0, socket.SOCK_STREAM).result(
            timeout=max(0.0, timeout_s))
    except FutureTimeout:
        raise Unresolved(f"no answer from the resolver within {timeout_s:g} s", True) from None
    except OSError as exc:
        raise Unresolved(str(exc.strerror or exc), False) from None
    finally:
        pool.shutdown(wait=False)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
