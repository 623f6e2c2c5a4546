"""One active run (`--profile` given): facts, position, plan, one test per row, verdict and
reports. `plugin.py` registers `GeoPreflight` only then, so an installed but inactive plugin
imports none of this (every unrelated pytest run in the environment would pay for it)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from . import suite
from .catalog import AREAS, SEVERITIES, CheckMeta, Outcome, Result
from .context import CheckContext
from .facts import Facts, gather
from .guidance import Guide, acting_sites, not_acted_on
from .i18n import _
from .observe import observe
from .outcomes import Outcomes, judge
from .position import Position, StepStatus, judged_plan, locate, needs_canary, observe_step, scope
from .profiles import Row, plan
from .reports.terminal import (
    SAME_CAUSE,
    VERDICT_COLOURS,
    WORDS,
    Cause,
    Causes,
    Progress,
    explain,
    summary,
    verdict_line,
    window_lines,
)
from .runinput import Run
from .textsafe import for_terminal
from .verdict import EXIT_CODES, Verdict, conclude, final
from .window import measured, planned

MARKERS = {**{area.lower(): f"{area} checks" for area in AREAS},
           **{sev: f"checks of severity {sev}" for sev in SEVERITIES},
           "blocking": "rows that gate the step", "advisory": "rows that only report"}
_RESULT = pytest.StashKey[Result]()


def say(config: pytest.Config, text: str) -> None:
    """A line in the terminal while the run goes on."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    text = for_terminal(text)
    if reporter is not None:
        reporter.write_line(text)
    else:
        print(text)


class GeoPreflight:
    """The run's plugin object: facts, plan, outcomes, verdict, reports."""

    def __init__(self, config: pytest.Config, run: Run) -> None:
        self.config = config
        self.run = run
        self.inventory = run.inventory
        self.started = datetime.now(UTC)
        self.t0 = time.monotonic()
        self.facts = Facts([])
        self.table: Outcomes | None = None  # the outcomes of self.facts
        self.position: Position | None = None
        self.step: str | None = None
        self.rows: list[Row] = []
        self.results: dict[tuple[str, str | None], Result] = {}
        self.deselected: set[str] = set()
        self.verdict_line = ""
        self.folder: Path | None = None
        self.notes: list[str] = []
        self.outside = 0  # rows of other steps: not in this step's plan
        self.causes = Causes([], self.inventory)
        self._by_cause: dict[Cause, list[Row]] | None = None
        self.summary: list[tuple[str, str]] = []
        self.verdict_colour = ""
        self.progress: Progress | None = None
        self.guide = Guide(run.profile, run.inventory, self._judge, run.method,
                           bool(config.getoption("canary")))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Progress lines name the check files from their folder (`checks/test_db.py`), not
        by a long path from wherever the command runs (an installed package's path wraps)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.startpath = suite.CHECKS_DIR.parent

    # -- collection: facts, position, plan ---------------------------------------------------
    def pytest_pycollect_makemodule(self, module_path: Path, parent: pytest.Collector
                                    ) -> pytest.Module | None:
        return suite.collect_module(module_path, parent, active=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> None:
        profile, requested = self.run.profile, self.run.requested_step
        if self.config.getoption("collectonly"):
            steps = profile.steps if requested == "auto" else [profile.step(requested)]
            seen: dict[tuple[str, str | None, str | None], Row] = {}
            for step in steps:
                for row in plan(step, self.inventory, self.run.site, self.run.method):
                    seen.setdefault(row.key, row)
            self.rows = list(seen.values())
            return
        wait_s = 0.0 if self.run.facts else self.config.getoption("wait")
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not self.run.facts:
            self.progress = Progress(reporter.write_line, (lambda t: reporter.rewrite(
                t, erase=True)) if reporter.isatty() else None)
        facts, note = observe(self._gather, self._pending, wait_s, on_round=(
            self.progress.wait_round if self.progress else None))
        self.place(facts)
        followed = self.config.hook.pytest_geopreflight_follow(run=self)
        if followed is not None:
            self.place(followed)
        self.causes = Causes([f.as_dict() for f in self.facts.all()], self.inventory)
        self._by_cause = None
        if note:
            self.notes.append(note)

    def _gather(self) -> Facts:
        facts = self.run.facts or gather(self.inventory, self.run.redactor, on_fact=(
            self.progress.fact if self.progress else None))
        extra = [f for batch in self.config.hook.pytest_geopreflight_facts() for f in batch]
        extra += self.run.calibration
        return facts.extended(extra) if extra else facts

    def _pending(self, facts: Facts) -> list[str]:
        """Place the run on these facts; the eventual (replication) rows of the plan that
        still fail."""
        self.place(facts)
        return [r.test_id for r in self.rows if r.check.eventual
                and self._judge(r).outcome == Outcome.FAIL]

    def place(self, facts: Facts) -> None:
        """Judge the run on these facts from now on (a later round's, under --watch): their
        outcomes table, once per round, then the judged step (found with --step=auto) and its
        plan from that table."""
        run = self.run
        if self.table is None or facts is not self.facts:
            self.facts = facts
            # the round's time; a re-judged bundle's own, so a status fresh then is fresh now
            now = run.recorded_at if run.recorded_at is not None else time.time()
            self.table = judge(run.profile, self.inventory, facts, now=now,
                               only_site=run.site, method=run.method,
                               redact=run.redactor.text, settle=self._settle)
        if run.requested_step == "auto":
            self.position = locate(run.profile, self.inventory, self._judge, only_site=run.site,
                                   method=run.method)
            self.step = self.position.next_step
        else:
            self.step = run.requested_step
        if run.site and self.step and run.site not in (
                acting := acting_sites(run.profile.step(self.step), self.inventory, run.method)):
            raise pytest.UsageError(not_acted_on(run.site, self.step, acting))
        self.rows = judged_plan(run.profile, self.position, self.step, self.inventory,
                                self._judge, only_site=run.site, method=run.method)
        self.guide = Guide(run.profile, self.inventory, self._judge, run.method,
                           bool(self.config.getoption("canary")))

    def _context(self, row: Row) -> CheckContext:
        """A row's parameter: pytest names the item by it; the table holds its outcome."""
        return CheckContext(row.site, self.inventory, self.facts, self.run.profile.name,
                            row.host, self.table.now if self.table else 0.0)

    def _settle(self, row: Row, result: Result) -> Result:
        """A row's result as the reports show it: evaluated, then waived where a waiver
        covers it (so a waived `completes` row proves completion, as the design says)."""
        result = final(row, result)
        return self.config.hook.pytest_geopreflight_result(row=row, result=result) or result

    def _judge(self, row: Row) -> Result:
        """A row's outcome from this round's table."""
        assert self.table is not None  # the facts are gathered before any row is judged
        return self.table(row)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        meta: CheckMeta | None = getattr(metafunc.function, "geopreflight_check", None)
        if meta is None:
            return
        mine = [row for row in self.rows if row.check.id == meta.id]
        if mine:
            metafunc.parametrize("ctx", [self._context(r) for r in mine],
                                 ids=[r.test_id for r in mine])

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Keep only the plan's rows, in the plan's order (blocking first); report the rest
        (checks outside this step's plan) as deselected."""
        order = {r.test_id: i for i, r in enumerate(self.rows)}
        kept = [i for i in items if self._row(i) is not None]
        dropped = [i for i in items if self._row(i) is None]
        kept.sort(key=lambda i: order[i.callspec.id])
        for item in kept:
            row = self._row(item)
            for mark in (row.check.id.split("-")[0].lower(), row.check.severity,
                         "blocking" if row.blocking else "advisory"):
                item.add_marker(mark)
        items[:] = kept
        self.outside = len(dropped)
        if dropped:
            self.config.hook.pytest_deselected(items=dropped)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        """Rows that -k/-m removed: named as deselected in the verdict, not as errors."""
        self.deselected.update(i.callspec.id for i in items if self._row(i) is not None)

    # -- running: evaluate each row ------------------------------------------------------------
    def _row(self, item: pytest.Item) -> Row | None:
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            return None
        return next((r for r in self.rows if r.test_id == callspec.id), None)

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        row = self._row(pyfuncitem)
        if row is None:
            return None
        result = self._judge(row)
        result = replace(result, fix=self.guide.fix(row, result)[1])
        self.results[row.key] = result
        pyfuncitem.stash[_RESULT] = result
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
        report = yield
        result = item.stash.get(_RESULT, None)
        if call.when != "call" or result is None:
            return report
        report.geopreflight_outcome = result.outcome
        row = self._row(item)
        if result.outcome in (Outcome.FAIL, Outcome.ERROR):
            report.outcome = "failed"
            cause = self.causes.of(result)
            stopped = [r.test_id for r in self._stopped().get(cause, [])] if cause else []
            if len(stopped) > 1 and row is not None and stopped[0] != row.test_id:
                # one section per cause: the first row's names this one
                report.geopreflight_outcome = SAME_CAUSE
                report.longrepr = f"{row.test_id}: see {stopped[0]} ({cause.short})"
            else:
                report.longrepr = explain(row, result, cause, stopped[1:])
        elif result.outcome == Outcome.NOT_APPLICABLE:
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0,
                               for_terminal(_("not applicable: {reason}").format(
                                   reason=result.message)))
        else:
            report.outcome = "passed"
            if result.outcome == Outcome.WARN:
                report.sections.append(("geopreflight", for_terminal(f"WARN: {result.message}")))
        return report

    def _stopped(self) -> dict[Cause, list[Row]]:
        """The plan's rows (those -k/-m kept) by the shared cause that stopped them."""
        if self._by_cause is None:
            self._by_cause = {}
            for row in self.rows:
                if row.test_id in self.deselected:
                    continue
                cause = self.causes.of(self._judge(row))
                if cause is not None:
                    self._by_cause.setdefault(cause, []).append(row)
        return self._by_cause

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        outcome = getattr(report, "geopreflight_outcome", None)
        if report.when == "call" and outcome in WORDS:
            return WORDS[outcome]
        return None

    # -- the end: verdict, exit code, reports --------------------------------------------------
    def _outcomes(self) -> list[tuple[Row, Result]]:
        """Every row of the plan with its result; a row that did not run says why."""
        out = []
        for row in self.rows:
            result = self.results.get(row.key)
            if result is None and row.test_id in self.deselected:
                result = Result("error", _("not evaluated: deselected with -k/-m, so the "
                                           "step cannot be judged"))
            elif result is None:
                result = Result("error", _("not run (the run stopped early), so the step "
                                           "cannot be judged"))
            out.append((row, result))
        return out

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.config.getoption("collectonly") or session.exitstatus not in (0, 1, 5):
            return
        profile = self.run.profile
        notes = list(self.notes) + list(self.inventory.notes)
        hosts = [f"{s.name}: {s.host.target}" for s in self.inventory.sites
                 if s.host and not s.host.name]  # `host:`; `hosts:` names every node
        if hosts:
            notes.append(self.run.redactor.text(_(
                "host files were read from one host per site ({hosts}); other Rails or "
                "Sidekiq nodes of a site were not read (list them under hosts:)").format(
                hosts=", ".join(hosts))))
        notes += self._position_notes()
        canary = self.config.pluginmanager.get_plugin("geopreflight-canary")
        if canary is not None and canary.left:
            notes.append(_("--canary pushed {tag}; it stays in the registries: delete that "
                           "tag when done").format(tag=canary.left))
        self.notes = notes  # the terminal summary prints them after this hook
        if not self.results and not (self.position and self.position.undetermined):
            return  # nothing selected: pytest's own exit code 5
        outcomes = self.guide.arrange(self._outcomes())
        verdict = conclude(self.position, outcomes)
        code = self.config.hook.pytest_geopreflight_exit_code(verdict=verdict)
        code = EXIT_CODES[verdict] if code is None else code
        session.exitstatus = code
        statuses = self.position.statuses if self.position else {
            s.id: StepStatus.NEXT if s.id == self.step else StepStatus.PENDING
            for s in profile.steps}
        from .reports import ReportsNotWritten, RunReport, write_all

        report = RunReport(profile, self.run.requested_step, self.step, verdict, code,
                           self.started, time.monotonic() - self.t0, self.inventory, statuses,
                           outcomes, [f.as_dict() for f in self.facts.all()], notes,
                           frozenset(self.deselected), self._next(str(verdict)),
                           estimate=self._estimate(),
                           measured=measured(self.facts, self.inventory))
        try:
            self.folder = write_all(
                report, self.run.report_dir, self.config.getoption("report_name"),
                extra=lambda folder: self.config.hook.pytest_geopreflight_reports_written(
                    report=report, folder=folder))
        except ReportsNotWritten as exc:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            self.verdict_line = for_terminal(_("geopreflight: ERROR: {error}; no verdict").format(
                error=exc))
            self.verdict_colour = "red"
            return
        self.verdict_line = verdict_line(report, outcomes, self.deselected)
        self.verdict_colour = VERDICT_COLOURS.get(str(verdict), "")
        self.summary = window_lines(self.step, self.run.method, report.estimate,
                                    report.measured) + summary(
            profile, statuses, outcomes, self.causes, self.outside, self.deselected, report.next)

    def _estimate(self) -> list[dict[str, Any]]:
        """Before an import step, each remaining site's estimate (summary.json `estimate`)."""
        if not self.step:
            return []
        step = self.run.profile.step(self.step)
        sites = (self.position.left if self.position and self.position.left
                 else scope(step, self.inventory, self.run.site))
        found = planned(self.facts, self.inventory, step, sites, self.run.method)
        if found is None:
            return []
        self.notes.extend(_("estimate: {why}").format(why=why) for why in found.unknown)
        return found.as_json()

    def _next(self, verdict: Verdict) -> list[Any]:
        """READY and IN PROGRESS: the judged step's action on each site that still needs it."""
        if verdict not in (Verdict.READY, Verdict.IN_PROGRESS) or not self.step:
            return []
        step = self.run.profile.step(self.step)
        left = self.position.left if self.position else observe_step(
            step, self.inventory, self._judge, self.run.site, self.run.method).left
        return self.guide.next_actions(step, left)

    def _position_notes(self) -> list[str]:
        """What the position adds to the verdict: sites done and left, the missing proof."""
        notes, pos = [], self.position
        if pos and pos.undetermined:
            notes.append(_("the position could not be determined: {why}").format(
                why="; ".join(pos.undetermined)))
        if pos and pos.broken:
            notes.append(_("every step is complete, but what must keep holding does not: "
                           "{checks} (so not COMPLETE)").format(checks=", ".join(pos.broken)))
        proof = bool(self.step) and needs_canary(self.run.profile.step(self.step)) and not \
            self.config.getoption("canary")
        if pos and self.step and (pos.done or len(pos.left) > 1) and not proof:
            notes.append(_("{step}: done on {done}; left: {left}").format(
                step=self.step, done=", ".join(pos.done) or _("no site yet"),
                left=", ".join(pos.left) or _("none")))
        if proof:
            notes.append(_("{step} is complete only with end-to-end proof of replication: run "
                           "with --canary (it pushes one tiny image) or waive REP-003 with a "
                           "justification; until then the run is never COMPLETE").format(
                               step=self.step))
        return notes

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for note in self.notes:
            terminalreporter.write_line(for_terminal(f"geopreflight: {note}"))
        for why in self.position.undetermined if self.position else []:
            terminalreporter.write_line(for_terminal(_("position unknown: {why}").format(
                why=why)))
        if self.folder:
            terminalreporter.write_line(for_terminal(_("geopreflight: reports in {folder}")
                                                     .format(folder=self.folder)))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.verdict_line:
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                for text, colour in self.summary:
                    reporter.write_line(text, **({colour: True} if colour else {}))
                reporter.write_line(self.verdict_line, bold=True,
                                    **({self.verdict_colour: True} if self.verdict_colour else {}))
            else:
                print(self.verdict_line)
