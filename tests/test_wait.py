"""--wait: replication is eventually consistent, so the REP checks are re-probed until they
hold or the time is up; everything else is judged on the last round's facts."""

from __future__ import annotations

import json
import threading
import time

from lab.gitlab_api import set_repository_counts
from standin import run_pytest

STEP = ["--profile=migrate-legacy", "--step=verify-replication"]


def lagging(d, synced: int) -> None:
    """The secondary's Geo status (served by the primary): 3 repositories, `synced` synced."""
    status = d.servers["eu-primary"].state()["geo_statuses"][1]
    set_repository_counts(status, primary=False, repositories=3, synced=synced)


def rep_002(d) -> dict:
    data = json.loads((d.tmp / "reports" / "latest" / "summary.json").read_text())
    return next(c for c in data["checks"] if c["id"] == "REP-002"), data


def catching_up(d) -> threading.Thread:
    """The secondary catches up (3 of 3 synced) after the checker's first round has read it
    lagging: by the stand-in's request count, not by the clock (a loaded machine is slow)."""
    def catch_up() -> None:
        deadline = time.monotonic() + 30
        while d.servers["eu-primary"].count("/api/v4/geo_sites/status") < 1 and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        lagging(d, 3)

    thread = threading.Thread(target=catch_up)
    thread.start()
    return thread


def test_wait_until_replication_catches_up(deployment) -> None:
    d = deployment()
    lagging(d, synced=1)
    timer = catching_up(d)
    r = run_pytest(*STEP, f"--inventory={d.inventory()}", f"--report-dir={d.tmp / 'reports'}",
                   "--wait=20", env=d.env())
    timer.join()
    row, data = rep_002(d)
    assert row["outcome"] == "pass", r.stdout
    assert any(n.startswith("--wait: ") and "the replication checks hold" in n
               for n in data["notes"]), data["notes"]
    assert d.servers["eu-primary"].count("/api/v4/geo_sites/status") >= 2


def test_wait_gives_up_at_the_deadline(deployment) -> None:
    d = deployment()
    lagging(d, synced=1)
    r = run_pytest(*STEP, f"--inventory={d.inventory()}", f"--report-dir={d.tmp / 'reports'}",
                   "--wait=1", env=d.env())
    row, data = rep_002(d)
    assert row["outcome"] in ("fail", "warn") and "synced 1 of 3" in row["message"]
    assert "still failing: REP-002@us-secondary" in r.stdout


def test_without_wait_one_round(deployment) -> None:
    d = deployment()
    lagging(d, synced=1)
    run_pytest(*STEP, f"--inventory={d.inventory()}", f"--report-dir={d.tmp / 'reports'}",
               env=d.env())
    assert d.servers["eu-primary"].count("/api/v4/geo_sites/status") == 1


def test_negative_wait_is_a_usage_error() -> None:
    r = run_pytest(*STEP, "--wait=-3", env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 4 and "--wait=-3" in r.stderr
