"""Where the deployment stands in a profile (`--step=auto`), and the plan of the judged step.

A step is complete when its `completes` rows pass or are waived (not-applicable proves
nothing); a step that only checks (no `completes`) is complete when its `requires` hold. A step
that finishes replication lists REP-003, the `--canary` round trip, among its `completes`.
COMPLETE also needs the deployment's invariants (`INVARIANTS`) to hold on every site: a
deployment that was complete and broke one is judged at its last step, NOT READY. The
next step is the one after the **last** complete step. A step whose `started` rows hold for a
site that has not completed it is in progress, and the plan is what remains: its unmet
`completes` rows and its `during` rows. Progress is per site: a per-site step is complete when
every site in scope has completed it, a step that some sites have completed is where the
deployment stands, and a step that is judged is judged for the sites that have not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from .catalog import Outcome, Result
from .inventory import Inventory
from .profiles import Entry, Profile, Row, Step, plan, rows

PROVES = (Outcome.PASS, Outcome.WAIVED)                        # a completes row proves completion
HOLDS = (Outcome.PASS, Outcome.WAIVED, Outcome.NOT_APPLICABLE)  # a requires row holds
PROOF_CHECK = "REP-003"
# What must still hold once every step is done, on every site: each metadata DB its own, not a
# standby, not the bundled cluster, the one the registry uses (DB-003..DB-006), the registry's
# data there (REG-008) and in its metadata DB (IMP-007), and storage of its own (REG-014).
INVARIANTS = ("DB-003", "DB-004", "DB-005", "DB-006", "REG-008", "IMP-007", "REG-014")

Judge = Callable[[Row], Result]


@dataclass
class StepState:
    """One step seen from the facts: which sites in scope completed it, which began it."""

    done: list[str]
    left: list[str]
    started: list[str]          # sites (of those left) whose started rows hold
    complete: bool | None       # None: could not be told (errors, no failure)
    errors: list[str] = field(default_factory=list)


class StepStatus(StrEnum):
    """A step's place in the walk; its value is what summary.json says."""

    COMPLETE = "complete"
    IN_PROGRESS = "in-progress"
    NEXT = "next"          # the step to judge
    PENDING = "pending"
    UNKNOWN = "unknown"    # its completion could not be told (errors)


@dataclass
class Position:
    """Where the deployment stands: each step's status and the step to judge."""

    statuses: dict[str, StepStatus]    # step id -> its status
    next_step: str | None              # None: COMPLETE, or unknown
    undetermined: list[str] = field(default_factory=list)  # why the position is unknown
    in_progress: bool = False
    unknown_step: str | None = None  # the step whose completion could not be told
    done: list[str] = field(default_factory=list)   # sites that completed the judged step
    left: list[str] = field(default_factory=list)   # sites that have not
    broken: list[str] = field(default_factory=list)  # invariants that fail once all is done

    @property
    def complete(self) -> bool:
        return self.next_step is None and not self.undetermined


def scope(step: Step, inventory: Inventory, only_site: str | None) -> list[str]:
    """The sites a per-site step is about: those its `completes` (or `requires`) rows name,
    narrowed to `--site` when it names one of them."""
    entries = step.completes or step.requires
    names = []
    for row in rows(entries, inventory, blocking=True):
        if row.site is not None and row.site.name not in names:
            names.append(row.site.name)
    if only_site in names:
        return [only_site]
    return names


def per_role(step: Step) -> bool:
    """Whether the step is done site by site for one role (import each secondary): only then
    does a site that completed it say where the deployment stands."""
    roles = {e.roles for e in step.completes if e.check.scope != "deployment"}
    return bool(step.completes) and len(roles) == 1 and len(next(iter(roles))) == 1 \
        and all(e.check.scope != "deployment" for e in step.completes)


def completion_rows(step: Step, inventory: Inventory, method: str | None) -> list[Row]:
    return rows(step.completes or step.requires, inventory, blocking=True, method=method,
                kind="completes")


def invariant_rows(inventory: Inventory, only_site: str | None = None,
                   blocking: bool = True) -> list[Row]:
    """The invariants' rows: each check on every site it applies to."""
    from .catalog import CATALOG

    entries = tuple(Entry(CATALOG[c], CATALOG[c].roles) for c in INVARIANTS if c in CATALOG)
    return rows(entries, inventory, blocking=blocking, only_site=only_site, kind="invariant")


def needs_canary(step: Step) -> bool:
    """Whether the step's completion needs the end-to-end proof that only --canary gives."""
    return any(e.check.id == PROOF_CHECK for e in step.completes)


def observe_step(step: Step, inventory: Inventory, judge: Judge, only_site: str | None,
                 method: str | None) -> StepState:
    proves = PROVES if step.completes else HOLDS
    results = [(row, judge(row)) for row in completion_rows(step, inventory, method)]
    sites = scope(step, inventory, only_site)
    wide = [(row, r) for row, r in results if row.site is None]
    wide_ok = all(r.outcome in proves for _, r in wide)
    done, left, unknown, errors = [], [], False, []
    for name in sites or [None]:
        mine = wide + [(row, r) for row, r in results if row.site and row.site.name == name]
        outcomes = [r.outcome for _, r in mine]
        if mine and all(o in proves for o in outcomes):
            if name:
                done.append(name)
            continue
        if name:
            left.append(name)
        if Outcome.ERROR in outcomes and not {Outcome.FAIL, Outcome.NOT_APPLICABLE} & set(outcomes):
            unknown = True
            errors += [f"{row.test_id}: {r.message}" for row, r in mine
                       if r.outcome == Outcome.ERROR]
    started = []
    started_rows = rows(step.started, inventory, blocking=True, method=method)
    for name in left or ([None] if not sites and not wide_ok else []):
        unmet = [(row, r) for row, r in results if r.outcome not in proves
                 and (row.site is None or row.site.name == name)]
        if unmet and all(row.check.id == PROOF_CHECK and r.outcome == Outcome.NOT_APPLICABLE
                         for row, r in unmet):
            continue  # all done but the --canary proof: judge the step, don't call it begun
        mine = [row for row in started_rows if row.site is None or
                (row.site and row.site.name == name)]
        if any(judge(row).outcome == Outcome.PASS for row in mine):
            started.append(name or "deployment")
    complete: bool | None = not left and wide_ok and bool(results)
    if not complete and unknown:
        complete = None
    return StepState(done, left, started, complete, errors)


def locate(profile: Profile, inventory: Inventory, judge: Judge, *, only_site: str | None = None,
           method: str | None = None) -> Position:
    """Find the step to judge; see the module docstring for the rules."""
    ids = [s.id for s in profile.steps]
    states = [observe_step(s, inventory, judge, only_site, method) for s in profile.steps]
    last = -1
    for k in range(len(states) - 1, -1, -1):
        if states[k].complete:
            last = k
            break
        if states[k].complete is None:
            statuses = {sid: StepStatus.UNKNOWN if i <= k else StepStatus.PENDING
                        for i, sid in enumerate(ids)}
            return Position(statuses, None, states[k].errors, unknown_step=ids[k])
        if states[k].done and per_role(profile.steps[k]):
            last = k - 1  # done on some of its sites: the steps before it are behind us
            break
    statuses = {sid: StepStatus.COMPLETE if i <= last else StepStatus.PENDING
                for i, sid in enumerate(ids)}
    begun = [k for k in range(last + 1, len(states)) if states[k].started]
    if begun:
        k = begun[-1]
        statuses[ids[k]] = StepStatus.IN_PROGRESS
        return Position(statuses, ids[k], in_progress=True, done=states[k].done,
                        left=states[k].left)
    if last == len(ids) - 1:
        broken = [r.test_id for r in invariant_rows(inventory, only_site)
                  if judge(r).outcome not in HOLDS]
        if not broken:
            return Position(statuses, None, done=states[last].done)
        statuses[ids[last]] = StepStatus.NEXT  # judged again: what it completed no longer
        # holds
        return Position(statuses, ids[last], broken=broken)
    k = last + 1
    statuses[ids[k]] = StepStatus.NEXT
    return Position(statuses, ids[k], done=states[k].done, left=states[k].left)


def judged_plan(profile: Profile, position: Position | None, step_id: str | None,
                inventory: Inventory, judge: Judge, *, only_site: str | None = None,
                method: str | None = None) -> list[Row]:
    """The rows the run reports: the step's plan for the sites left to do; what remains of a
    step in progress; the last step's `completes` (non-blocking) when all is complete."""
    if position is not None and (position.complete or position.broken):
        # every step done: the last step's completes (what proved it) beside the invariants,
        # which block when one no longer holds
        last = profile.steps[-1]
        kept = invariant_rows(inventory, only_site, blocking=bool(position.broken))
        keys = {r.key for r in kept}
        return kept + [Row(r.check, r.site, False, "completes", r.host)
                       for r in completion_rows(last, inventory, method)
                       if (only_site is None or r.site is None or r.site.name == only_site)
                       and r.key not in keys]
    if position is not None and position.undetermined and position.unknown_step:
        # the rows of the step that could not be told, so the reports show why
        return plan(profile.step(position.unknown_step), inventory, only_site, method)
    if step_id is None:
        return []
    step = profile.step(step_id)
    done = set(position.done) if position else set()
    if position is not None and position.in_progress:
        left = set(position.left)
        # a check in both lists is a `during` row: its failure is NOT READY, not "left to do"
        during = [r for r in rows(step.during, inventory, blocking=True, method=method,
                                  kind="during")
                  if r.site is None or r.site.name in left]
        keys = {r.key for r in during}
        remaining = [r for r in completion_rows(step, inventory, method)
                     if (r.site is None or r.site.name in left) and r.key not in keys
                     and judge(r).outcome not in PROVES]
        return during + remaining
    if not step.completes:  # a step that only checks is judged for every site
        return plan(step, inventory, only_site, method)
    return [r for r in plan(step, inventory, only_site, method)
            if r.site is None or r.site.name not in done]
