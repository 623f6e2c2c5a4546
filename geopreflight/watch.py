"""`--watch[=SECONDS]`: follow an import step while it runs, never writing.

Its own plugin module, like pytest's stepwise: the option is always declared, the plugin object
only registered when `--watch` is given. After the run's first gathering, each round re-probes
only what an import moves (the rows it writes and the registry's import statistics, the
lockfiles, Geo's status counters), prints each site's progress (tags imported, rate, ETA), and
ends:
- at completion (every site's import finished: a new finished run in import_statistics, or
  database-in-use as the only lockfile): exit 0, with the verdict of the last round's facts;
- at an interrupted import (a new run in import_statistics with an error) or a stall (nothing
  moved for STALL_ROUNDS rounds): exit 1, with the likely causes;
- on Ctrl-C: the verdict of the last round, with its own exit code.
Each round is bounded as every probe is (the inventory's timeouts). Its lines show deployment
values (site names, the registry's errors), so each goes through `for_terminal`; its words
through `_()`. Registered as a module in every pytest run (for the option), it imports the run's
machinery only once `--watch` is given.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import pytest

from .i18n import N_, _
from .textsafe import for_terminal

if TYPE_CHECKING:
    from .facts import Facts

DEFAULT_S = 30.0
MAX_S = 3600.0
STALL_ROUNDS = 4  # rounds without any movement before the watch calls it a stall
# what an import moves: the rows it writes (db.content), the run it records when it ends
# (db.import_statistics), the lockfiles it swaps (read from the host or the bucket), and Geo's
# status counters; the legacy storage (storage.content) is counted once, at the start
MOVING = ("db.content", "db.import_statistics", "host.config", "storage.lockfiles",
          "geo.statuses")
STALL_CAUSES = (
    N_("the import command stopped without cleaning up (killed, out of memory, the node "
       "restarted): look for `registry database import` in `ps` on the registry node and at its "
       "--log-to-stdout output"),
    N_("it waits on a lock in the metadata database: pg_stat_activity, wait_event of the "
       "registry user's session"),
    N_("the storage throttles or does not answer (object storage 503 SlowDown, a hung NFS "
       "mount): the registry's storage driver errors in its log"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("geopreflight").addoption(
        "--watch", nargs="?", const=DEFAULT_S, type=float, metavar="SECONDS",
        help=f"follow an import step while it runs: re-probe what moves every SECONDS "
             f"(default {DEFAULT_S:g}), print progress, rate and ETA per site; exit 0 at "
             "completion, 1 at a stall or an interrupted import; Ctrl-C ends with the last "
             "verdict. Never writes.")


def pytest_configure(config: pytest.Config) -> None:
    seconds = config.getoption("watch", None)
    if seconds is None or config.getoption("profile", None) is None:
        return
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_S:
        raise pytest.UsageError(_("--watch={seconds}: expected seconds between rounds, more "
                                  "than 0 and at most {most}").format(seconds=f"{seconds:g}",
                                                                      most=f"{MAX_S:g}"))
    if config.getoption("from_evidence", None):
        raise pytest.UsageError(_("--watch follows a live deployment; a bundle "
                                  "(--from-evidence) does not move"))
    config.pluginmanager.register(Watch(seconds), "geopreflight-watch")


def _lock_state(facts: Facts, site: str) -> str:
    """database-in-use / filesystem-in-use / both / none / unknown, from host or bucket."""
    for f in facts.all():
        if f.site != site or f.error or f.key not in ("host.config", "storage.lockfiles"):
            continue
        locks = f.value.lockfiles if f.key == "host.config" else f.value
        if locks is not None and locks.readable:
            names = [n for n, on in (("database-in-use", locks.database_in_use),
                                     ("filesystem-in-use", locks.filesystem_in_use)) if on]
            return _(" and ").join(names) or _("none")
    return _("unknown")


def _error(run: Any) -> str | None:
    """The error an import run recorded for one of its phases (None: it did not fail)."""
    return next((getattr(run, f"{p}_error") for p in ("pre_import", "tag_import", "blob_import")
                 if getattr(run, f"{p}_error", None)), None)


class Watch:
    """Rounds of the moving facts until the import step completes, stalls or is stopped."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.exit: int | None = None
        self.rounds: list[float] = []  # each re-probing round's wall time

    def pytest_geopreflight_exit_code(self, verdict: Any) -> int | None:
        return self.exit

    def pytest_geopreflight_follow(self, run: Any) -> Facts | None:
        from .facts import Facts, gather, load_probes
        from .position import scope
        from .window import is_import_step

        reporter = run.config.pluginmanager.get_plugin("terminalreporter")
        write = reporter.write_line if reporter is not None else print

        def say(text: str) -> None:
            write(for_terminal(text))

        step = run.run.profile.step(run.step) if run.step else None
        if not is_import_step(step):
            run.notes.append(_("--watch: {step} is not an import step; nothing to follow")
                             .format(step=run.step or _("no step")))
            return None
        assert step is not None
        sites = (run.position.left if run.position and run.position.left
                 else scope(step, run.inventory, run.run.site))
        load_probes()
        from .probes import PROBES

        probes = [p for p in PROBES if p.key in MOVING]
        facts: Facts = run.facts
        seen = {s: self._run_ids(facts, s) for s in sites}
        first: dict[str, tuple[float, int]] = {}
        still, last, ended = 0, None, ""
        t_start = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                states = {s: self._state(run, facts, s, seen[s], first, now) for s in sites}
                for line in (st["line"] for st in states.values()):
                    say(_("--watch round {n}: {line}").format(n=len(self.rounds) + 1, line=line))
                signature = tuple(st["signature"] for st in states.values())
                still = still + 1 if signature == last else 0
                last = signature
                broken = [st["error"] for st in states.values() if st["error"]]
                if still:  # the last run failed and nothing moves since: no retry under way
                    broken += [st["failed_before"] for st in states.values()
                               if st["failed_before"] and not st["done"]]
                if broken:
                    ended, self.exit = _("interrupted: {errors}").format(
                        errors="; ".join(broken)), 1
                    break
                if all(st["done"] for st in states.values()):
                    ended, self.exit = _("the import finished on {sites}").format(
                        sites=", ".join(sites)), 0
                    break
                if still >= STALL_ROUNDS:
                    ended = _("stalled: nothing moved for {rounds} rounds ({seconds} s); "
                              "likely causes: {causes}").format(
                        rounds=still, seconds=f"{still * self.interval_s:g}",
                        causes="; ".join(_(c) for c in STALL_CAUSES))
                    self.exit = 1
                    break
                time.sleep(self.interval_s)
                t0 = time.monotonic()
                moved = gather(run.inventory, run.run.redactor, probes)
                self.rounds.append(time.monotonic() - t0)
                facts = Facts([f for f in facts.all() if f.key not in MOVING] + moved.all())
        except KeyboardInterrupt:
            ended = _("stopped with Ctrl-C: the verdict is the last round's")
        cost = _("; {rounds} re-probing round(s) of {probes} probes, {mean} s each on average, "
                 "{longest} s the longest").format(
            rounds=len(self.rounds), probes=len(probes),
            mean=f"{sum(self.rounds) / len(self.rounds):.2f}",
            longest=f"{max(self.rounds):.2f}") if self.rounds else ""
        run.notes.append(_("--watch: {ended} (after {seconds} s{cost})").format(
            ended=ended, seconds=f"{time.monotonic() - t_start:.0f}", cost=cost))
        say(_("--watch: {ended}").format(ended=ended))
        return facts

    @staticmethod
    def _run_ids(facts: Facts, site: str) -> set[int]:
        from .window import Unknown, statistics

        try:
            return {r.id for r in statistics(facts, site).runs}
        except Unknown:
            return set()

    def _state(self, run: Any, facts: Facts, site: str, seen: set[int],
               first: dict[str, tuple[float, int]], now: float) -> dict[str, Any]:
        """One site's round: progress line, done, error, and what must move for progress."""
        from .estimate import format_duration
        from .window import Unknown, content, statistics

        lock = _lock_state(facts, site)
        try:
            stats = statistics(facts, site)
        except Unknown as exc:
            return {"line": f"{site}: {exc}", "done": False, "error": None,
                    "failed_before": None, "signature": (site, "unread", str(exc), lock)}
        new = [r for r in stats.runs if r.id not in seen]
        errors = [_error(r) for r in new if _error(r)]
        newest = stats.runs[0] if stats.runs else None
        failed_before = _error(newest) if newest is not None and newest.id in seen else None
        finished = any(r.finished_at for r in new)
        done = (finished and not errors) or lock == "database-in-use"
        rows = facts.get("db.content", site)
        tags = rows.value.tags if rows.value is not None and not rows.error else 0
        repositories = rows.value.repositories if rows.value is not None and not rows.error else 0
        t0, tags0 = first.setdefault(site, (now, tags))
        rate = (tags - tags0) / (now - t0) if now > t0 else 0.0
        try:
            target = content(facts, run.inventory, site).tags
        except Unknown:
            target = None
        line = (_("{site}: {tags}/{target} tags ({percent}%)").format(
                    site=site, tags=tags, target=target, percent=f"{100 * tags / target:.0f}")
                if target else _("{site}: {tags} tags").format(site=site, tags=tags))
        line += _(", {n} repositories").format(n=repositories)
        line += _(", {rate} tags/s").format(rate=f"{rate:.1f}") if now > t0 else ""
        if target and rate > 0 and tags < target:
            line += _(", ETA {eta}").format(eta=format_duration((target - tags) / rate))
        line += _(", lockfiles: {state}").format(state=lock) + (_(", finished") if done else "")
        line += (_(" (DB rows unreadable: {error})").format(error=rows.error) if rows.error
                 else "")
        return {"line": line, "done": done, "error": f"{site}: {errors[0]}" if errors else None,
                "failed_before": f"{site}: {failed_before}" if failed_before else None,
                "signature": (site, tags, repositories, rows.error,
                              tuple(r.id for r in stats.runs), lock)}
