"""pytest options and hooks; wires the stages together, nothing else.

Active exactly when `--profile` is given: it validates the input (exit 4 on any mistake),
gathers the facts once, finds the step to judge, turns the checks of `checks/` into one test
per row of the step's plan, and at the end turns the outcomes into the verdict, the exit code
and the reports.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from . import profiles as profiles_mod
from . import signing
from .attestations import Attestation, AttestationsPlugin, load_attestations
from .canary import CanaryPlugin
from .catalog import CheckMeta, Result, evaluate
from .context import CheckContext
from .errors import USAGE_EXIT, UsageError
from .evidence import Bundle, EvidencePlugin, redacted_inventory
from .facts import Facts, gather
from .inventory import Inventory, load_inventory
from .profiles import Profile, Row, plan
from .redact import Redactor
from .verdict import EXIT_CODES, Position, decide, final, locate
from .waivers import Waiver, WaiversPlugin, load_waivers

CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"
EVENTUAL = "REP-"  # replication is eventually consistent: --wait re-probes these
WAIT_INTERVAL_S = 2.0
RUN_KEY = pytest.StashKey["Run"]()
WORDS = {"pass": ("passed", ".", "PASS"), "fail": ("failed", "F", "FAIL"),
         "error": ("error", "E", "ERROR"), "warn": ("warn", "W", "WARN"),
         "not-applicable": ("skipped", "s", "N/A"), "waived": ("waived", "w", "WAIVED")}


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
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


@dataclass
class Run:
    """The validated input of one run."""

    profile: Profile
    inventory: Inventory
    requested_step: str
    site: str | None
    report_dir: Path
    redactor: Redactor = field(default_factory=Redactor)
    facts: Facts | None = None           # recorded facts (--from-evidence)
    inventory_yml: bytes = b""           # the redacted inventory, for the evidence bundle
    waivers: list[Waiver] | None = None
    attestations: list[Attestation] | None = None


def load_catalog() -> None:
    """Import every check module so the catalog is complete before profiles are validated."""
    root = str(CHECKS_DIR.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    for mod in pkgutil.iter_modules([str(CHECKS_DIR)]):
        if mod.name.startswith("test_"):
            importlib.import_module(f"checks.{mod.name}")


def _is_checks_path(arg: str) -> bool:
    path = Path(arg.split("::")[0]).resolve()
    return path == CHECKS_DIR or CHECKS_DIR in path.parents


def _validate(config: pytest.Config) -> Run | int:
    opt = config.getoption
    name = opt("profile")
    if name == "help":
        print(f"geopreflight profiles:\n{profiles_mod.listing()}")
        return 0
    load_catalog()
    profile = profiles_mod.load_profile(name)
    step = opt("step")
    if opt("canary") and opt("from_evidence"):
        raise UsageError("--canary writes to the deployment; --from-evidence never touches "
                         "it: use one or the other")
    if opt("wait") < 0:
        raise UsageError(f"--wait={opt('wait'):g}: expected a number of seconds, 0 or more")
    if step != "auto" and step not in [s.id for s in profile.steps]:
        raise UsageError(f"--step={step}: not a step of {profile.name}; expected auto or one of: "
                         + ", ".join(s.id for s in profile.steps))
    if opt("list_steps"):
        print(_steps_listing(profile))
        return 0
    bundle = Bundle(opt("from_evidence")) if opt("from_evidence") else None
    signing.check_options(opt("sign_with"), opt("allowed_signers"), opt("evidence"), bundle)
    inventory = bundle.inventory() if bundle else load_inventory(opt("inventory"))
    site = opt("site")
    if site and site not in [s.name for s in inventory.sites]:
        raise UsageError(f"--site={site}: no such site in {inventory.path}; expected one of: "
                         + ", ".join(s.name for s in inventory.sites))
    for warning in inventory.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    redactor = Redactor(s.reveal() for s in inventory.secrets)
    return Run(profile, inventory, step, site, Path(opt("report_dir")), redactor,
               facts=bundle.facts() if bundle else None,
               inventory_yml=(b"" if not opt("evidence") else bundle.files["inventory.yml"]
                              if bundle else redacted_inventory(inventory, redactor)),
               waivers=load_waivers(opt("waivers"), inventory) if opt("waivers") else None,
               attestations=(load_attestations(opt("attestations"), inventory)
                             if opt("attestations") else None))


def _steps_listing(profile: Profile) -> str:
    lines = [f"{profile.name}: {profile.title}", f"  {profile.doc}"]
    for i, step in enumerate(profile.steps, 1):
        lines.append(f"{i}. {step.id}: {step.title}")
        for kind in profiles_mod.KINDS:
            for entry in getattr(step, kind):
                roles = "" if len(entry.roles) == 2 else f" ({', '.join(entry.roles)})"
                lines.append(f"     {kind:<9} {entry.check.id}{roles} {entry.check.title}")
    return "\n".join(lines)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if config.option.help or config.option.version:
        return None
    if not config.getoption("profile"):
        if any(_is_checks_path(a) for a in config.args):
            print("ERROR: checks/ holds geopreflight's check suites; run them with a profile, "
                  "e.g. pytest --profile=migrate-legacy (--profile=help lists the profiles)",
                  file=sys.stderr)
            return USAGE_EXIT
        return None
    try:
        run = _validate(config)
    except UsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return USAGE_EXIT
    if isinstance(run, int):
        return run
    config.stash[RUN_KEY] = run
    return None


def pytest_configure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    config.args = [str(CHECKS_DIR)]
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
                           sign_with=config.getoption("sign_with"), checks_dir=CHECKS_DIR),
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
        self.verdict_line = ""
        self.folder: Path | None = None
        self.notes: list[str] = []

    # -- collection: facts, position, plan ---------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> None:
        profile, requested = self.run.profile, self.run.requested_step
        if self.config.getoption("collectonly"):
            steps = profile.steps if requested == "auto" else [profile.step(requested)]
            seen: dict[tuple[str, str | None], Row] = {}
            for step in steps:
                for row in plan(step, self.inventory, self.run.site):
                    seen.setdefault(row.key, row)
            self.rows = list(seen.values())
            return
        wait_s = 0.0 if self.run.facts else self.config.getoption("wait")
        start, rounds = time.monotonic(), 0
        deadline = start + wait_s
        while True:
            rounds += 1
            self.facts = self.run.facts or gather(self.inventory, self.run.redactor)
            extra = [f for batch in self.config.hook.pytest_geopreflight_facts() for f in batch]
            if extra:
                self.facts = self.facts.extended(extra)
            self._place()
            pending = [r.test_id for r in self.rows if r.check.id.startswith(EVENTUAL)
                       and self._judge(r).outcome == "fail"]
            remaining = deadline - time.monotonic()
            if not pending or remaining <= 0:
                break
            time.sleep(min(WAIT_INTERVAL_S, remaining))
        if wait_s:
            self.notes.append(f"--wait: {rounds} round(s) of probes in "
                              f"{time.monotonic() - start:.1f} s; "
                              + (f"still failing: {', '.join(pending)}" if pending
                                 else "the replication checks hold"))

    def _place(self) -> None:
        """The judged step (found with --step=auto) and its plan, from the current facts."""
        profile = self.run.profile
        if self.run.requested_step == "auto":
            self.position = locate(profile, self.inventory, self._judge)
            self.step = self.position.next_step
        else:
            self.step = self.run.requested_step
        self.rows = plan(profile.step(self.step), self.inventory, self.run.site) if self.step \
            else []

    def _context(self, row: Row) -> CheckContext:
        return CheckContext(row.site, self.inventory, self.facts, self.run.profile.name,
                            self.step or "")

    def _judge(self, row: Row) -> Result:
        return evaluate(row.check, self._context(row), self.run.redactor.text)

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
        """Keep only the plan's rows, in the plan's order (blocking first)."""
        order = {r.test_id: i for i, r in enumerate(self.rows)}
        kept = [i for i in items if getattr(i, "callspec", None) and i.callspec.id in order]
        kept.sort(key=lambda i: order[i.callspec.id])
        items[:] = kept

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
        result = final(row, self._judge(row))
        result = self.config.hook.pytest_geopreflight_result(row=row, result=result) or result
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
            report.longrepr = _explain(row, result)
        elif result.outcome == "not-applicable":
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0,
                               f"not applicable: {result.message}")
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
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.config.getoption("collectonly") or session.exitstatus not in (0, 1, 5):
            return
        profile = self.run.profile
        notes = list(self.notes)
        hosts = [f"{s.name}: {s.host.target}" for s in self.inventory.sites if s.host]
        if hosts:
            notes.append(self.run.redactor.text(
                f"host files were read from one host per site ({', '.join(hosts)}); other "
                "Rails or Sidekiq nodes of a site were not read"))
        outcomes: list[tuple[Row, Result]] = []
        if self.position and self.position.undetermined:
            verdict = "CANNOT_DETERMINE"
            notes.append("the position could not be determined: " + "; ".join(
                self.position.undetermined))
        elif self.position and self.position.complete:
            verdict = "COMPLETE"
        else:
            if not self.results:
                return  # nothing selected: pytest's own exit code 5
            for row in self.rows:
                result = self.results.get(row.key) or Result(
                    "error", "not run (deselected with -k/-m, or the run stopped early), so the "
                    "step cannot be judged")
                outcomes.append((row, result))
            verdict = decide([(row.blocking, result) for row, result in outcomes])
        code = EXIT_CODES[verdict]
        session.exitstatus = code
        statuses = self.position.statuses if self.position else {
            s.id: "next" if s.id == self.step else "pending" for s in profile.steps}
        from .reports import RunReport, write_all

        report = RunReport(profile, self.run.requested_step, self.step, verdict, code,
                           self.started, time.monotonic() - self.t0, self.inventory, statuses,
                           outcomes, [f.as_dict() for f in self.facts.all()], notes)
        self.folder = write_all(report, self.run.report_dir)
        self.config.hook.pytest_geopreflight_reports_written(report=report, folder=self.folder)
        self.verdict_line = _verdict_line(report, outcomes)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for note in self.notes:
            terminalreporter.write_line(f"geopreflight: {note}")
        if self.position and self.position.undetermined:
            for why in self.position.undetermined:
                terminalreporter.write_line(f"position unknown: {why}")
        if self.folder:
            terminalreporter.write_line(f"geopreflight: reports in {self.folder}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.verdict_line:
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(self.verdict_line)
            else:
                print(self.verdict_line)


_RESULT = pytest.StashKey[Result]()


def _explain(row: Row | None, result: Result) -> str:
    if row is None:
        return result.message
    site = row.site.name if row.site else "deployment"
    lines = [f"{row.check.id} [{site}] {row.check.title}: {result.outcome.upper()}",
             f"  {result.message}"]
    if result.observed is not None:
        lines.append(f"  observed: {result.observed}")
    if result.expected is not None:
        lines.append(f"  expected: {result.expected}")
    lines.append(f"  fix: {row.check.remediation}")
    lines.append(f"  doc: {row.check.doc}")
    return "\n".join(lines)


def _verdict_line(report: Any, outcomes: list[tuple[Row, Result]]) -> str:
    head = f"geopreflight: {report.profile.name} step {report.step_label}: "
    failed = sum(1 for row, r in outcomes if row.blocking and r.outcome == "fail")
    errors = sum(1 for row, r in outcomes if row.blocking and r.outcome == "error")
    warns = sum(1 for _, r in outcomes if r.outcome == "warn")
    words = report.verdict.replace("_", " ")
    if report.verdict == "NOT_READY":
        words += f", {failed} blocking check{'s' if failed != 1 else ''} failed"
    elif report.verdict == "CANNOT_DETERMINE" and errors:
        words += f", {errors} blocking check{'s' if errors != 1 else ''} could not be evaluated"
    elif report.verdict == "CANNOT_DETERMINE":
        words += ", the step's position could not be determined"
    if warns and report.verdict in ("READY", "NOT_READY", "CANNOT_DETERMINE"):
        words += f" ({warns} warning{'s' if warns != 1 else ''})"
    return head + words
