"""Waivers: governed exceptions that are validated, expire, and stay visible as `waived`."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from geopreflight.catalog import Result
from geopreflight.errors import UsageError
from geopreflight.inventory import GitLab, Inventory, Secret, Site
from geopreflight.suite import load_catalog
from geopreflight.waivers import Waiver, apply, load_waivers
from standin import run_pytest

INVENTORY = Inventory("inv.yml", "d", (
    Site("p", "primary", GitLab("https://p", Secret("x", "$X"))),
    Site("s", "secondary", GitLab("https://s", Secret("x", "$X"))),
))
GOOD = """\
waivers:
  - check: VER-001
    site: s
    justification: upgraded tonight in CHG-1
    approver: jane.doe
    expires: 2030-01-01
    ticket: CHG-1
"""


@pytest.fixture(autouse=True, scope="module")
def _catalog() -> None:
    load_catalog()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    [w] = load_waivers(write(tmp_path, GOOD), INVENTORY)
    assert (w.check, w.site, w.approver, w.ticket) == ("VER-001", "s", "jane.doe", "CHG-1")
    assert w.expires == datetime(2030, 1, 2, tzinfo=UTC), "a date holds until its end (UTC)"


@pytest.mark.parametrize("old,new,line,expected", [
    ("check: VER-001", "check: VER-99", 2, "unknown check id"),
    ("site: s", "site: mars", 3, "no site 'mars'"),
    ("    approver: jane.doe\n", "", 2, "approver: missing"),
    ("justification: upgraded tonight in CHG-1", "justification: ''", 4, "non-empty"),
    ("expires: 2030-01-01", "expires: soon", 6, "expected a date"),
    ("ticket: CHG-1", "tickets: CHG-1", 7, "unknown key"),
])
def test_mistakes_name_file_and_line(tmp_path: Path, old: str, new: str, line: int,
                                     expected: str) -> None:
    with pytest.raises(UsageError) as exc:
        load_waivers(write(tmp_path, GOOD.replace(old, new)), INVENTORY)
    assert str(exc.value).startswith(f"{tmp_path / 'waivers.yml'}:{line}: "), str(exc.value)
    assert expected in str(exc.value)


def test_expiry_and_scope() -> None:
    now = datetime(2026, 11, 28, tzinfo=UTC)
    live = Waiver("VER-001", "s", "j", "a", datetime(2026, 12, 1, tzinfo=UTC))
    dead = Waiver("VER-001", None, "j", "a", datetime(2026, 11, 1, tzinfo=UTC))
    waived, _ = apply([live], "VER-001", "s", Result("fail", "old", "17.2", ">= 17.3"), now)
    assert waived.outcome == "waived" and "old" in waived.message and waived.observed == "17.2"
    assert apply([live], "VER-001", "p", Result("fail", "x"), now) == (None, None)
    assert apply([live], "VER-001", "s", Result("pass", "x"), now) == (None, None)
    waived, expired = apply([dead], "VER-001", "s", Result("fail", "x"), now)
    assert waived is None and expired is dead


def test_waived_rows_in_a_run(deployment) -> None:
    d = deployment(version="17.2.9-ee")
    waivers = d.tmp / "waivers.yml"
    waivers.write_text(GOOD.replace("site: s", "site: us-secondary") +
                       "  - {check: VER-003, justification: old, approver: joe, "
                       "expires: 2020-01-01}\n")
    r = run_pytest("--profile=migrate-legacy", "--step=prerequisites",
                   f"--inventory={d.inventory()}", f"--report-dir={d.tmp / 'reports'}",
                   f"--waivers={waivers}", env=d.env())
    data = json.loads((d.tmp / "reports" / "latest" / "summary.json").read_text())
    by_row = {(c["id"], c["site"]): c for c in data["checks"]}
    assert by_row[("VER-001", "us-secondary")]["outcome"] == "waived"
    assert "jane.doe" in by_row[("VER-001", "us-secondary")]["message"]
    assert by_row[("VER-003", None)]["outcome"] == "fail", "an expired waiver no longer applies"
    assert "VER-003@deployment: the waiver expired on 2020-01-02 00:00 UTC" in r.stdout
    assert r.returncode == 1


def test_a_bad_waiver_file_is_a_usage_error(deployment) -> None:
    d = deployment()
    waivers = d.tmp / "waivers.yml"
    waivers.write_text("waivers:\n  - check: NOPE-1\n")
    r = run_pytest("--profile=migrate-legacy", f"--inventory={d.inventory()}",
                   f"--waivers={waivers}", env=d.env())
    assert r.returncode == 4 and f"{waivers}:2:" in r.stderr and "Traceback" not in r.stderr
