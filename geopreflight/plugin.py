"""pytest options and hooks; wires the stages together, nothing else.

Active exactly when `--profile` is given: `runinput` validates the input (exit 4 on any
mistake), `observe` gathers the facts (in rounds under `--wait`), `verdict` finds the step to
judge, each row of the step's plan becomes one test, and at the end `verdict` turns the
outcomes into the verdict and `reports` writes it down. The run itself is
`session.GeoPreflight`, imported only when a profile is given: an installed plugin costs an
unrelated pytest run almost nothing (`scripts/bench --imports`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import suite
from .errors import USAGE_EXIT, UsageError

if TYPE_CHECKING:
    pass

RUN_KEY = pytest.StashKey["Run"]()


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
    group.addoption("--calibrate-from", metavar="BUNDLE", help="a previous run's evidence "
                    "bundle whose finished imports calibrate the import estimate (IMP-008) "
                    "where this deployment has none of its own")
    group.addoption("--attestations", metavar="FILE", help="signed-off manual items (change "
                    "ticket, registry DB backup, offline GC disabled) for the ATT checks")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks, i18n, watch

    pluginmanager.add_hookspecs(hooks)
    if not pluginmanager.is_registered(i18n):
        pluginmanager.register(i18n, "geopreflight.i18n")  # --lang, a feature of its own
    if not pluginmanager.is_registered(watch):
        pluginmanager.register(watch, "geopreflight.watch")  # --watch: active only when given


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
    from .runinput import validate

    try:
        run = validate(config)
    except UsageError as exc:
        from .textsafe import lines_for_terminal

        print(f"ERROR: {lines_for_terminal(str(exc))}", file=sys.stderr)
        return USAGE_EXIT
    if getattr(config.option, "reportchars", None) == "fE":  # pytest's default (absent with
        # -p no:terminal): the summary table replaces it
        config.option.reportchars = ""
    if isinstance(run, int):
        return run
    config.stash[RUN_KEY] = run
    return None


# pytest modes that would probe the deployment and then run no check: no verdict, exit 0
NO_CHECKS = {"setuponly": "--setup-only", "setupplan": "--setup-plan",
             "showfixtures": "--fixtures", "show_fixtures_per_test": "--fixtures-per-test",
             "markers": "--markers"}


def _refused(config: pytest.Config) -> str | None:
    """Options that cannot work with a profile, and what to use instead."""
    from .i18n import _  # here, not at the top: an inactive plugin imports only its hooks

    for dest, flag in NO_CHECKS.items():
        if getattr(config.option, dest, False):
            return _("{flag} runs no check, so it cannot give a verdict (and would probe the "
                     "deployment for nothing); to see what a run would judge without probing, "
                     "use --collect-only or --list-steps").format(flag=flag)
    if config.getoption("xmlpath", None):
        return _("--junitxml: geopreflight writes its own junit.xml (one suite per site, one "
                 "case per check and site, with observed, expected and the fix); name it with "
                 "--report-name=NAME and read <report-dir>/NAME/junit.xml")
    name = config.getoption("report_name")
    if name is None:
        return None
    from .reports import check_name

    return check_name(name)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector
                                ) -> pytest.Module | None:
    if parent.config.stash.get(RUN_KEY, None) is None:
        return suite.collect_module(module_path, parent, active=False)
    return None


def pytest_configure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    from .attestations import AttestationsPlugin
    from .canary import CanaryPlugin
    from .evidence import EvidencePlugin
    from .session import MARKERS, GeoPreflight, say
    from .waivers import WaiversPlugin

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
            CanaryPlugin(run.inventory, config.getoption("wait"), run.redactor,
                         say=lambda text: say(config, text)),
            "geopreflight-canary")
    if config.getoption("evidence"):
        config.pluginmanager.register(
            EvidencePlugin(run.inventory_yml, run.inventory.sha256, run.profile.path,
                           config.getoption("waivers"), run.redactor,
                           attestations_path=config.getoption("attestations"),
                           sign_with=config.getoption("sign_with"),
                           checks_dir=suite.CHECKS_DIR),
            "geopreflight-evidence")
