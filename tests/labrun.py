"""Shared by the lab tests of the REG, DB, HOST and profile checks: one checker run per
(scenario, profile, step), cached for the session, read back from summary.json; and by the
walk tests: `run_now` (a fresh run after each lab action) and `expect` (the design's contract
for the judged step, the verdict and the exit code)."""

from __future__ import annotations

import itertools
import json
from functools import cache
from pathlib import Path
from typing import Any

from standin import run_pytest

# on the walk tests' assertions that the checker side of issue 7 has to make true; only a
# failed assertion is expected, so a lab action that breaks still fails the test
EXIT = {"READY": 0, "COMPLETE": 0, "NOT_READY": 1, "IN_PROGRESS": 1, "CANNOT_DETERMINE": 6}
_runs = itertools.count()


def _checker(lab_dir: str, profile: str, out: Path, env: dict[str, str], *args: str
             ) -> dict[str, Any]:
    proc = run_pytest(f"--profile={profile}", f"--inventory={lab_dir}/inventory.yml",
                      f"--report-dir={out}", *args, env=env)
    report = out / "latest" / "summary.json"
    assert report.exists(), (f"no summary.json (exit {proc.returncode}): "
                             + (proc.stderr or proc.stdout)[-500:])  # e.g. an unknown option
    summary = json.loads(report.read_text())
    summary["returncode"] = proc.returncode
    summary["report_dir"] = str(report.parent)
    summary["stdout"] = proc.stdout
    lines = [x for x in proc.stdout.splitlines() if x.startswith(f"geopreflight: {profile} ")]
    summary["verdict_line"] = lines[-1] if lines else ""
    return summary


@cache
def _run(lab_dir: str, profile: str, step: str, env_items: tuple) -> dict[str, Any]:
    out = Path(lab_dir) / "reports" / f"{profile}-{step}"
    return _checker(lab_dir, profile, out, dict(env_items), f"--step={step}")


def run_now(lab: Any, profile: str, *args: str) -> dict[str, Any]:
    """A new checker run on the lab as it is now (`--step=auto` unless args say otherwise)."""
    out = Path(lab.dir) / "reports" / f"walk-{next(_runs)}"
    return _checker(str(lab.dir), profile, out, lab.environ(), *args)


def expect(summary: dict[str, Any], step: str | None, verdict: str,
           statuses: dict[str, str] | None = None) -> None:
    """The design's contract ("Step position", "Verdict and exit codes"): the judged step in
    summary.json and the last terminal line, the verdict, its exit code, and the steps'
    statuses (given, or: COMPLETE all complete; else the judged one `in-progress` for IN
    PROGRESS, `next` otherwise)."""
    seen = (summary["step"], summary["verdict"], summary["exit_code"], summary["returncode"])
    assert seen == (step, verdict, EXIT[verdict], EXIT[verdict]), (seen, summary["verdict_line"])
    words = verdict.replace("_", " ")
    line = summary["verdict_line"]
    ids = [s["id"] for s in summary["steps"]]
    if step is None:
        assert words in line, line
        statuses = statuses or {i: "complete" for i in ids}
    else:
        assert f" step {step} ({ids.index(step) + 1}/{len(ids)}): {words}" in line, line
        if statuses is None:
            statuses = {step: "in-progress" if verdict == "IN_PROGRESS" else "next"}
    got = {s["id"]: s["status"] for s in summary["steps"]}
    assert {k: got[k] for k in statuses} == statuses, got


def blocking_failures(summary: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(c["id"], c["site"]) for c in summary["checks"]
            if c["blocking"] and c["outcome"] in ("fail", "error")]


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


Stage = tuple[str, list[str], tuple[str, ...]]  # label, lab actions, checker options


def proof_stages(lab_dir: Path) -> list[Stage]:
    """The end of every walk: the replication step without `--canary` (judged, not COMPLETE),
    with it (COMPLETE), and with a waiver on REP-003 instead (COMPLETE)."""
    waivers = lab_dir / "waivers.yml"
    waivers.write_text("waivers:\n  - check: REP-003\n    justification: the canary round trip "
                       "was proven by hand in CHG-7\n    approver: jane.doe@example.com\n"
                       "    expires: 2099-12-31\n")
    return [("no-canary", [], ()), ("canary", [], ("--canary",)),
            ("waived", [], (f"--waivers={waivers}",))]


def walk(factory: Any, scenario: str, profile: str, stages: list[Stage],
         proof: bool = True) -> dict[str, dict[str, Any]]:
    """Start a fresh lab, apply each stage's lab actions, then run the checker; the summaries
    by stage label. The lab goes down at the end; a lab action that fails is an error."""
    lab = factory(scenario, fresh=True)
    try:
        out: dict[str, dict[str, Any]] = {}
        for label, actions, args in stages + (proof_stages(lab.dir) if proof else []):
            for line in actions:
                lab.act(line)
            out[label] = run_now(lab, profile, *args)
        return out
    finally:
        lab.down()


def proves_completion(summary: dict[str, Any]) -> None:
    """COMPLETE leaves evidence: the plan is the last step's `completes` rows, non-blocking,
    with REP-003 among them."""
    expect(summary, None, "COMPLETE")
    assert summary["checks"] and not any(c["blocking"] for c in summary["checks"])
    assert any(c["id"] == "REP-003" and c["outcome"] in ("pass", "waived")
               for c in summary["checks"]), failing(summary)


def needs_canary(summary: dict[str, Any], step: str) -> None:
    """Without `--canary` the replication step is judged, never COMPLETE, and the terminal
    and the reports say that its proof needs `--canary`."""
    assert summary["step"] == step and summary["verdict"] in ("READY", "IN_PROGRESS"), (
        summary["step"], summary["verdict"])
    assert summary["exit_code"] == EXIT[summary["verdict"]] == summary["returncode"]
    assert "--canary" in summary["stdout"]
    assert "--canary" in json.dumps({k: v for k, v in summary.items()
                                     if k not in ("stdout", "verdict_line")})
