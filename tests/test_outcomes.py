"""The judge stage: every row is judged exactly once per probing round (issue 21), whether the
position, the plan, the guide, --wait or the pytest items ask about it, and however many
checks read its outcome (`depends_on`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from test_wait import catching_up, lagging

from standin import run_pytest

TESTS = str(Path(__file__).resolve().parent)  # where the counting plugin lives


def counts(d, *args: str) -> list[dict[str, int]]:
    out = d.tmp / "counts.json"
    r = run_pytest("-p", "evaluation_counter", *args, f"--inventory={d.inventory()}",
                   f"--report-dir={d.tmp / 'reports'}",
                   env={**d.env(), "EVALUATION_COUNTS": str(out),
                        "PYTHONPATH": os.pathsep.join(filter(None, [TESTS, d.env().get(
                            "PYTHONPATH")]))})
    assert "geopreflight: migrate-legacy step" in r.stdout, r.stdout + r.stderr  # a verdict
    return json.loads(out.read_text())


def judged_rows(d) -> set[str]:
    data = json.loads((d.tmp / "reports" / "latest" / "summary.json").read_text())
    return {f"{c['id']}|{c.get('site') or ''}|{c.get('host') or ''}" for c in data["checks"]}


def test_each_row_is_judged_once_in_a_round(deployment) -> None:
    d = deployment()
    rounds = counts(d, "--profile=migrate-legacy", "--step=auto")
    assert len(rounds) == 1
    twice = {k: n for k, n in rounds[0].items() if n != 1}
    assert not twice, twice
    # every reported row (the pytest items, the position's and the plan's) came from it,
    # including the ordering rules' dependencies (IMP-004 reads REG-006 and IMP-002)
    assert judged_rows(d) <= set(rounds[0])
    assert "IMP-004||" in rounds[0]  # a deployment-wide row
    assert {"REG-006|eu-primary|", "REG-006|us-secondary|"} <= set(rounds[0])


def test_each_round_of_wait_judges_each_row_once(deployment) -> None:
    d = deployment()
    lagging(d, synced=1)
    thread = catching_up(d)
    rounds = counts(d, "--profile=migrate-legacy", "--step=verify-replication", "--wait=20")
    thread.join()
    assert len(rounds) >= 2
    for i, judged in enumerate(rounds):
        assert all(n == 1 for n in judged.values()), (i, {k: n for k, n in judged.items()
                                                          if n != 1})
    assert set(rounds[0]) == set(rounds[-1])
