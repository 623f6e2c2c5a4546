"""Hooks geopreflight calls, so a feature (waivers, evidence) or a site's conftest can join
the run without editing the core."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_geopreflight_result(row: Any, result: Any) -> Any:
    """A row was evaluated; return a replacement Result (e.g. waived) or None to keep it."""


@pytest.hookspec
def pytest_geopreflight_facts() -> Any:
    """The probes have run; return a list of more Facts (e.g. the canary's) or None."""


@pytest.hookspec
def pytest_geopreflight_reports_written(report: Any, folder: Path) -> None:
    """The run's reports are in `folder`; add more (e.g. the evidence bundle). `folder` is the
    run's own, still under a hidden name: it is renamed into place after this hook, so all it
    holds is this run's."""



@pytest.hookspec(firstresult=True)
def pytest_geopreflight_follow(run: Any) -> Any:
    """The facts are gathered and the run placed: follow what moves (`--watch`) and return
    the facts to judge the run on, or None to keep them."""


@pytest.hookspec(firstresult=True)
def pytest_geopreflight_exit_code(verdict: Any) -> Any:
    """The verdict is known: return the run's exit code when a feature decides it (`--watch`
    ends 0 at completion, 1 at a stall), or None for the verdict's own."""
