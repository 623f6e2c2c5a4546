"""pytest options and hooks; wires the stages together, nothing else.

Active exactly when `--profile` is given: `runinput` validates the input (exit 4 on any
mistake), `observe` gathers the facts (in rounds under `--wait`), `verdict` finds the step to
judge, each row of the step's plan becomes one test, and at the end `verdict` turns the
outcomes into the verdict and `reports` writes it down.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from . import suite
from .attestations import AttestationsPlugin
from .catalog import AREAS, SEVERITIES, CheckMeta, Result, evaluate
from .context import CheckContext
from .errors import USAGE_EXIT, UsageError
from .evidence import EvidencePlugin
from .facts import Facts, gather
from .i18n import _
from .observe import observe
from .position import Position, judged_plan, locate, needs_canary
from .probes.canary import CanaryPlugin
from .profiles import Row, plan
from .reports import check_name
from .reports.terminal import (
    VERDICT_COLOURS,
    WORDS,
    Causes,
    Progress,
    explain,
    summary,
    verdict_line,
)
from .runinput import Run, validate
from .verdict import EXIT_CODES, conclude, final
from .waivers import WaiversPlugin

MARKERS = {**{area.lower(): f"{area} checks" for area in AREAS},
           **{sev: f"checks of severity {sev}" for sev in SEVERITIES},
           "blocking": "rows that gate the step", "advisory": "rows that only report"}
EVENTUAL = "REP-"  # replication is eventually consistent: --wait re-probes these
RUN_KEY = pytest.StashKey[Run]()
_RESULT = pytest.StashKey[Result]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("geopreflight", "geopreflight: readiness of a GitLab Geo deployment")
    group.addoption("--profile", help="scenario profile to judge (--profile=help lists them)")
    group.addoption("--inventory", default="inventory.yml",
                    help="the deployment's inventory (default: inventory.yml)")
    group.addoption("--step", default="auto",
                    help="step to judge, or auto: the next step after the last complete one")
    group.addoption("--site", help="judge only this site's per-site checks (and the "
                                   "deployment-wide ones)")
    group.addoption("--report-dir", default="reports", help="where report folders go")
    group.addoption("--report-name", metavar="NAME",
                    help="write the reports to <report-dir>/NAME/ (no timestamp; the previous "
                         "run's folder of that name is replaced whole), so CI names one path")
    group.addoption("--list-steps", action="store_true",
                    help="print the profile's steps and the checks that gate them, probe nothing")
    group.addoption("--evidence", action="store_true",
                    help="also write evidence.tar.gz, the audit bundle of this run")
    group.addoption("--from-evidence", metavar="BUNDLE",
                    help="judge a bundle's recorded facts again, without the deployment")
    group.addoption("--waivers", metavar="FILE", help="apply governed exceptions from FILE")
    group.addoption("--canary", action="store_true",
                    help="the one write: push a tiny image to the primary registry and wait "
                         "for it on the secondaries")
    group.addoption("--import-method", choices=("one-step", "three-step"),
                    help="how the registry metadata is imported (default: the inventory's "
                         "import_method, else one-step); it decides which checks gate each "
                         "phase of an import step")
    group.addoption("--wait", metavar="SECONDS", type=float, default=0.0,
                    help="re-probe until the replication (REP) checks hold, at most SECONDS; "
                         "also how long --canary waits (default 60 s)")
    group.addoption("--sign-with", metavar="KEY", help="sign the evidence bundle with an SSH "
                    "key (a private key, or a public key whose private half is in ssh-agent)")
    group.addoption("--allowed-signers", metavar="FILE", help="with --from-evidence: refuse a "
                    "bundle not signed by a key in FILE (ssh-keygen's allowed_signers format)")
    group.addoption("--attestations", metavar="FILE", help="signed-off manual items (change "
                    "ticket, registry DB backup, offline GC disabled) for the ATT checks")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks, i18n

    pluginmanager.add_hookspecs(hooks)
    if not pluginmanager.is_registered(i18n):
        pluginmanager.register(i18n, "geopreflight.i18n")  # --lang, a feature of its own


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if config.option.help or config.option.version:
        return None
    if config.getoption("profile") is None:  # given but empty is a usage error, not "off"
        if any(suite.is_checks_path(a) for a in config.args):
            print("ERROR: checks/ holds geopreflight's check suites; run them with a profile, "
                  "e.g. pytest --profile=migrate-legacy (--profile=help lists the profiles)",
                  file=sys.stderr)
            return USAGE_EXIT
        return None
    refused = _refused(config)
    if refused:
        print(f"ERROR: {refused}", file=sys.stderr)
        return USAGE_EXIT
    try:
        run = validate(config)
    except UsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return USAGE_EXIT
    if config.option.reportchars == "fE":  # pytest's default: the summary table replaces it
        config.option.reportchars = ""
    if isinstance(run, int):
        return run
    config.stash[RUN_KEY] = run
    return None


def _refused(config: pytest.Config) -> str | None:
    """Options that cannot work with a profile, and what to use instead."""
    if config.getoption("xmlpath", None):
        return ("--junitxml: geopreflight writes its own junit.xml (one suite per site, one "
                "case per check and site, with observed, expected and the fix); name it with "
                "--report-name=NAME and read <report-dir>/NAME/junit.xml")
    name = config.getoption("report_name")
    return check_name(name) if name is not None else None


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector
                                ) -> pytest.Module | None:
    if parent.config.stash.get(RUN_KEY, None) is None:
        return suite.collect_module(module_path, parent, active=False)
    return None


def pytest_configure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    config.args = [str(suite.CHECKS_DIR)]
    for mark, about in MARKERS.items():
        config.addinivalue_line("markers", f"{mark}: {about}")
    config.pluginmanager.register(GeoPreflight(config, run), "geopreflight-run")
    if run.waivers is not None:
        config.pluginmanager.register(WaiversPlugin(run.waivers), "geopreflight-waivers")
    if run.attestations is not None:
        config.pluginmanager.register(AttestationsPlugin(
            run.attestations, config.getoption("attestations"), run.redactor),
            "geopreflight-attestations")
    if config.getoption("canary"):
        config.pluginmanager.register(
            CanaryPlugin(run.inventory, config.getoption("wait"), run.redactor),
            "geopreflight-canary")
    if config.getoption("evidence"):
        config.pluginmanager.register(
            EvidencePlugin(run.inventory_yml, run.inventory.sha256, run.profile.path,
                           config.getoption("waivers"), run.redactor,
                           attestations_path=config.getoption("attestations"),
                           sign_with=config.getoption("sign_with"),
                           checks_dir=suite.CHECKS_DIR),
            "geopreflight-evidence")


class GeoPreflight:
    """The run's plugin object: facts, plan, outcomes, verdict, reports."""

    def __init__(self, config: pytest.Config, run: Run) -> None:
        self.config = config
        self.run = run
        self.inventory = run.inventory
        self.started = datetime.now(UTC)
        self.t0 = time.monotonic()
        self.facts = Facts([])
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
        self.summary: list[tuple[str, str]] = []
        self.verdict_colour = ""
        self.progress: Progress | None = None

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
        self.facts, note = observe(self._gather, self._pending, wait_s, on_round=(
            self.progress.wait_round if self.progress else None))
        self._place()
        self.causes = Causes([{"key": f.key, "site": f.site, "error": f.error}
                              for f in self.facts.all()], self.inventory)
        if note:
            self.notes.append(note)

    def _gather(self) -> Facts:
        facts = self.run.facts or gather(self.inventory, self.run.redactor, on_fact=(
            self.progress.fact if self.progress else None))
        extra = [f for batch in self.config.hook.pytest_geopreflight_facts() for f in batch]
        return facts.extended(extra) if extra else facts

    def _pending(self, facts: Facts) -> list[str]:
        """Place the run on these facts; the replication rows of the plan that still fail."""
        self.facts = facts
        self._place()
        return [r.test_id for r in self.rows if r.check.id.startswith(EVENTUAL)
                and self._judge(r).outcome == "fail"]

    def _place(self) -> None:
        """The judged step (found with --step=auto) and its plan, from the current facts."""
        run = self.run
        if run.requested_step == "auto":
            self.position = locate(run.profile, self.inventory, self._judge, only_site=run.site,
                                   method=run.method)
            self.step = self.position.next_step
        else:
            self.step = run.requested_step
        self.rows = judged_plan(run.profile, self.position, self.step, self.inventory,
                                self._judge, only_site=run.site, method=run.method)

    def _context(self, row: Row) -> CheckContext:
        return CheckContext(row.site, self.inventory, self.facts, self.run.profile.name,
                            self.step or "", row.host)

    def _judge(self, row: Row) -> Result:
        """A row's result as the reports show it: evaluated, then waived where a waiver
        covers it (so a waived `completes` row proves completion, as the design says)."""
        result = final(row, evaluate(row.check, self._context(row), self.run.redactor.text))
        return self.config.hook.pytest_geopreflight_result(row=row, result=result) or result

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
        if result.outcome in ("fail", "error"):
            report.outcome = "failed"
            report.longrepr = explain(row, result, self.causes.of(result))
        elif result.outcome == "not-applicable":
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0,
                               _("not applicable: {reason}").format(reason=result.message))
        else:
            report.outcome = "passed"
            if result.outcome == "warn":
                report.sections.append(("geopreflight", f"WARN: {result.message}"))
        return report

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
        self.notes = notes  # the terminal summary prints them after this hook
        if not self.results and not (self.position and self.position.undetermined):
            return  # nothing selected: pytest's own exit code 5
        outcomes = self._outcomes()
        verdict = conclude(self.position, outcomes)
        code = EXIT_CODES[verdict]
        session.exitstatus = code
        statuses = self.position.statuses if self.position else {
            s.id: "next" if s.id == self.step else "pending" for s in profile.steps}
        from .reports import RunReport, write_all

        report = RunReport(profile, self.run.requested_step, self.step, verdict, code,
                           self.started, time.monotonic() - self.t0, self.inventory, statuses,
                           outcomes, [f.as_dict() for f in self.facts.all()], notes,
                           frozenset(self.deselected))
        self.folder = write_all(report, self.run.report_dir,
                                self.config.getoption("report_name"))
        self.config.hook.pytest_geopreflight_reports_written(report=report, folder=self.folder)
        self.verdict_line = verdict_line(report, outcomes, self.deselected)
        self.verdict_colour = VERDICT_COLOURS.get(str(verdict), "")
        self.summary = summary(profile, statuses, outcomes, self.causes, self.outside,
                               self.deselected)

    def _position_notes(self) -> list[str]:
        """What the position adds to the verdict: sites done and left, the missing proof."""
        notes, pos = [], self.position
        if pos and pos.undetermined:
            notes.append(_("the position could not be determined: {why}").format(
                why="; ".join(pos.undetermined)))
        if pos and self.step and (pos.done or len(pos.left) > 1):
            notes.append(_("{step}: done on {done}; left: {left}").format(
                step=self.step, done=", ".join(pos.done) or _("no site yet"),
                left=", ".join(pos.left) or _("none")))
        if self.step and needs_canary(self.run.profile.step(self.step)) and not \
                self.config.getoption("canary"):
            notes.append(_("{step} is complete only with end-to-end proof of replication: run "
                           "with --canary (it pushes one tiny image) or waive REP-003 with a "
                           "justification; until then the run is never COMPLETE").format(
                               step=self.step))
        return notes

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for note in self.notes:
            terminalreporter.write_line(f"geopreflight: {note}")
        for why in self.position.undetermined if self.position else []:
            terminalreporter.write_line(_("position unknown: {why}").format(why=why))
        if self.folder:
            terminalreporter.write_line(_("geopreflight: reports in {folder}").format(
                folder=self.folder))

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
