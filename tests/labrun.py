"""Shared by the lab tests of the REG, DB, HOST and profile checks: one checker run per
(scenario, profile, step), cached for the session, read back from summary.json."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from standin import run_pytest


@cache
def _run(lab_dir: str, profile: str, step: str, env_items: tuple) -> dict[str, Any]:
    out = Path(lab_dir) / "reports" / f"{profile}-{step}"
    proc = run_pytest(f"--profile={profile}", f"--inventory={lab_dir}/inventory.yml",
                      f"--step={step}", f"--report-dir={out}", env=dict(env_items))
    summary = json.loads((out / "latest" / "summary.json").read_text())
    summary["returncode"] = proc.returncode
    summary["stdout"] = proc.stdout
    return summary


def run(lab: Any, profile: str = "migrate-legacy", step: str = "import-secondary"
        ) -> dict[str, Any]:
    """The checker's summary for a lab (a `lab.fixtures.Lab`), one run per session."""
    return _run(str(lab.dir), profile, step, tuple(sorted(lab.environ().items())))


def row(summary: dict[str, Any], check_id: str, site: str | None) -> dict[str, Any]:
    rows = [c for c in summary["checks"] if c["id"] == check_id and c["site"] == site]
    assert rows, f"{check_id}@{site} not in the plan: " + ", ".join(
        f"{c['id']}@{c['site']}" for c in summary["checks"])
    return rows[0]


def failing(summary: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(c["id"], c["site"], c["outcome"]) for c in summary["checks"]
            if c["outcome"] not in ("pass", "not-applicable")]


def finding(summary: dict[str, Any], check_id: str, site: str | None,
            outcome: str = "fail") -> dict[str, Any]:
    """The row of a check that found something: its outcome, and the observed value, the
    expected one and the fix, all present."""
    r = row(summary, check_id, site)
    assert r["outcome"] == outcome, (check_id, site, r["outcome"], r["message"])
    missing = [k for k in ("observed", "expected", "remediation") if r.get(k) in (None, "")]
    assert not missing, f"{check_id}@{site} lacks {missing}: {r}"
    return r


def passing(summary: dict[str, Any], check_id: str, site: str | None) -> dict[str, Any]:
    r = row(summary, check_id, site)
    assert r["outcome"] == "pass", (check_id, site, r["outcome"], r["message"])
    return r


def fails_on(summary: dict[str, Any], check_id: str, site: str | None, words: str,
             other: str | None = None, outcome: str = "fail") -> dict[str, Any]:
    """The check found `words` on `site` (blocking the step when it failed), and passed on
    the `other` site, if given."""
    r = finding(summary, check_id, site, outcome)
    assert words in r["message"], r["message"]
    if outcome == "fail":
        assert summary["verdict"] == "NOT_READY" and r["blocking"] is True
    if other:
        passing(summary, check_id, other)
    return r
