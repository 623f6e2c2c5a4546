"""The judge stage: one probing round's facts -> a table of every row's outcome, judged once.

Everything after it reads the table: the step position (`position.locate`), the plan
(`position.judged_plan`), the verdict, `--wait`'s eventual rows, the guidance and the pytest
items (each reports its row's outcome). A check is evaluated once per (check, site, node) per
round; the checks it depends on (`depends_on`) are evaluated before it and their outcomes
handed in (`CheckContext.outcomes`), so no check evaluates another. What differs between rows
of the same check (blocking or advisory, a waiver) is settled per row on that one evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType

from .catalog import CATALOG, CheckMeta, Result, evaluate
from .context import CheckContext, Key, targets
from .facts import Facts
from .guidance import PHASE_CHECKS
from .inventory import Inventory
from .position import completion_rows, invariant_rows
from .profiles import Profile, Row, plan, rows

Settle = Callable[[Row, Result], Result]  # the evaluated result -> the row's (final, waived)


def needed_rows(profile: Profile, inventory: Inventory, only_site: str | None,
                method: str | None) -> list[Row]:
    """Every row the position, the plan, the verdict and the guidance can ask about."""
    out: list[Row] = []
    for step in profile.steps:
        out += completion_rows(step, inventory, method)
        out += rows(step.started, inventory, blocking=True, method=method)
        out += rows(step.during, inventory, blocking=True, method=method, kind="during")
        out += plan(step, inventory, only_site, method)
    for blocking in (True, False):
        out += invariant_rows(inventory, only_site, blocking=blocking)
    out += [Row(r.check, r.site, False, "completes", r.host)
            for r in completion_rows(profile.steps[-1], inventory, method)]
    out += [Row(CATALOG[c], site, True) for c in PHASE_CHECKS if c in CATALOG
            for site in inventory.sites]
    return out


class Outcomes:
    """One round's table: each evaluation by (check, site, node), made once when the table
    is built and never changed; each row's result (blocking or advisory, waived) settled on
    that evaluation the first time the row is asked about, then kept. Calling the table with
    a row is the `Judge` the position and the guide take.

    Settling is lazy so that the result hook (`pytest_geopreflight_result`: the waivers, which
    note an expired waiver for each row they see) sees exactly the rows the run asks about."""

    def __init__(self, evaluated: Mapping[Key, Result], settle: Settle, now: float) -> None:
        self.evaluated = MappingProxyType(dict(evaluated))
        self.now = now
        self._settle = settle
        self._settled: dict[tuple[Key, bool], Result] = {}

    def __call__(self, row: Row) -> Result:
        slot = (row.key, row.blocking)
        if slot not in self._settled:
            try:
                result = self.evaluated[row.key]
            except KeyError:
                raise KeyError(f"{row.test_id} is not in the outcomes table (outcomes."
                               "needed_rows lists the rows a run can ask about)") from None
            self._settled[slot] = self._settle(row, result)
        return self._settled[slot]


class Evaluations:
    """Each (check, site, node) evaluated at most once on one round's facts, the checks it
    depends on before it (their results handed in through `CheckContext.outcomes`)."""

    def __init__(self, inventory: Inventory, facts: Facts, profile: str, now: float,
                 redact: Callable[[str], str] = str) -> None:
        self.inventory, self.facts, self.profile, self.now = inventory, facts, profile, now
        self.redact = redact
        self.done: dict[Key, Result] = {}

    def __call__(self, meta: CheckMeta, key: Key) -> Result:
        if key not in self.done:
            self.done[key] = evaluate(meta, self._context(meta, key), self.redact)
        return self.done[key]

    def _context(self, meta: CheckMeta, key: Key) -> CheckContext:
        site = self.inventory.site(key[1]) if key[1] is not None else None
        base = CheckContext(site, self.inventory, self.facts, self.profile, key[2], self.now)
        deps: dict[Key, Result] = {}
        for dep in meta.depends_on:
            for other in self.inventory.sites:
                for _, s, host in targets(base, CATALOG[dep].host_roles, other):
                    deps[(dep, s.name, host)] = self(CATALOG[dep], (dep, s.name, host))
        return replace(base, outcomes=MappingProxyType(deps))


def judge(profile: Profile, inventory: Inventory, facts: Facts, *, now: float,
          only_site: str | None = None, method: str | None = None,
          redact: Callable[[str], str] = str, settle: Settle = lambda row, r: r) -> Outcomes:
    """The outcomes of every row the run can need (`needed_rows`), each check of each
    (site, node) evaluated once, its dependencies first."""
    evaluations = Evaluations(inventory, facts, profile.name, now, redact)
    for row in needed_rows(profile, inventory, only_site, method):
        evaluations(row.check, row.key)
    return Outcomes(evaluations.done, settle, now)
