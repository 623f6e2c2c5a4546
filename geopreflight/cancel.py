"""Ctrl-C for probes blocked in I/O.

Probes run in worker threads, and a signal only reaches the main thread: a probe blocked on
a socket read would hold the run (and the interpreter's exit, which joins the workers) until
its timeout. So every blocking read registers here how to end it (shut its socket down, end
an SSH master); on Ctrl-C the gathering calls `cancel()`, every blocked read returns at
once, and no new request starts.

>>> stops = Stops(); ended = []
>>> token = stops.add(lambda: ended.append("socket"))
>>> stops.cancel(); ended, stops.cancelled
(['socket'], True)
>>> _ = stops.add(lambda: ended.append("late")); ended  # after cancel(): ended at once
['socket', 'late']
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable


class Stops:
    """The ways to end this run's blocked reads, while they are in use."""

    def __init__(self) -> None:
        self.cancelled = False
        self._lock = threading.Lock()
        self._live: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()

    def add(self, stop: Callable[[], None]) -> int:
        """Register `stop`; its token for `remove`. After `cancel()` it is called at once."""
        with self._lock:
            token = next(self._ids)
            if not self.cancelled:
                self._live[token] = stop
                return token
        stop()
        return token

    def remove(self, token: int) -> None:
        with self._lock:
            self._live.pop(token, None)

    def cancel(self) -> None:
        """End every registered blocked read now; later ones end as they register."""
        with self._lock:
            self.cancelled = True
            stops, self._live = list(self._live.values()), {}
        for stop in stops:
            try:
                stop()
            except Exception:  # noqa: BLE001, S110 - ending the others matters more
                pass
