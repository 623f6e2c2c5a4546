"""The facts stage of a run: gather once, or under `--wait` in rounds until the eventually
consistent checks (replication) hold or the time is up.

>>> rounds = iter([["REP-002@s"], []])
>>> facts, note = observe(lambda: "facts", lambda f: next(rounds), 5, interval_s=0)
>>> facts, note.split(";")[1].strip()
('facts', 'the replication checks hold')
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .i18n import _

WAIT_INTERVAL_S = 2.0
T = TypeVar("T")


def observe(gather: Callable[[], T], pending: Callable[[T], list[str]], wait_s: float, *,
            interval_s: float = WAIT_INTERVAL_S,
            on_round: Callable[[int, list[str], float], None] | None = None
            ) -> tuple[T, str | None]:
    """The facts of the last round and, with a wait, a note saying how it went.

    `pending(facts)` names the rows that still fail and are worth re-probing; `on_round` is
    told after each round that is followed by another (round, still failing, seconds left).
    """
    start = time.monotonic()
    deadline = start + wait_s
    rounds = 0
    while True:
        rounds += 1
        facts = gather()
        if not wait_s:
            return facts, None
        still = pending(facts)
        remaining = deadline - time.monotonic()
        if not still or remaining <= 0:
            break
        if on_round:
            on_round(rounds, still, remaining)
        time.sleep(min(interval_s, remaining))
    took = f"{time.monotonic() - start:.1f}"
    if still:
        return facts, _("--wait: {rounds} round(s) of probes in {took} s; still failing: "
                        "{checks}").format(rounds=rounds, took=took, checks=", ".join(still))
    return facts, _("--wait: {rounds} round(s) of probes in {took} s; the replication checks "
                    "hold").format(rounds=rounds, took=took)
