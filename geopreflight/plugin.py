"""pytest's hooks, wired to geopreflight's stages; nothing else.

Active exactly when `--profile` is given: `options` declares and gates the options,
`runinput` validates every input (exit 4 on any mistake), and the run itself is
`session.GeoPreflight` (facts in rounds, one outcomes table per round, the step and its plan,
one test per row, the verdict, the reports), imported only when a profile is given: an
installed plugin costs an unrelated pytest run almost nothing (`scripts/bench --imports`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from . import options, suite
from .errors import USAGE_EXIT, UsageError

RUN_KEY = pytest.StashKey["Run"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    options.declare(parser)


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
    refused = options.refused(config)
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
