"""What an operator reads in the terminal: the table of rows that did not pass, one line per
shared cause of errors, counts, the step timeline, the coloured verdict line last, the
progress while probing, and -k/-m runs whose verdict names what was deselected."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from geopreflight.catalog import CATALOG, Result
from geopreflight.facts import Fact
from geopreflight.failures import Kind, ProbeFailure
from geopreflight.inventory import GitLab, Inventory, Registry, Secret, Site
from geopreflight.profiles import Row, load_profile
from geopreflight.reports.terminal import Causes, Progress, summary, timeline, verdict_line
from geopreflight.suite import load_catalog
from standin import run_pytest

SITES = (Site("eu-primary", "primary", GitLab("https://gitlab.eu.example", Secret("x", "$X")),
              Registry("https://registry.eu.example")),
         Site("us-secondary", "secondary",
              GitLab("https://gitlab.us.example", Secret("x", "$X"))))
INVENTORY = Inventory("inv.yml", "acme-prod", SITES)
ESC = "\x1b["


@pytest.fixture(scope="module")
def profile() -> Any:
    load_catalog()
    return load_profile("migrate-legacy")


def row(check: str, site: Site | None, blocking: bool = True) -> Row:
    return Row(CATALOG[check], site, blocking)


def refused(key: str, site: str | None, url: str) -> dict[str, Any]:
    """A fact as facts.json records a refused request: its message and its failure."""
    failure = ProbeFailure(Kind.REFUSED, "Connection refused; 3 attempts", url, None, "GET")
    return {"key": key, "site": site, "failure": failure.as_dict(),
            "error": f"GET {url}: cannot connect ([Errno 111] Connection refused; 3 attempts)"}


# -- pure logic ---------------------------------------------------------------------------
def test_the_table_names_every_warning_and_error_and_the_counts_add_up(profile: Any) -> None:
    eu, us = SITES
    outcomes = [
        (row("DB-003", us), Result("fail", "shared DB", "same system id", "distinct")),
        (row("GEO-005", None, blocking=False), Result("warn", "a Geo site is not listed")),
        (row("REG-001", eu), Result("error", "eu-primary: no metadata_db in the inventory")),
        (row("VER-001", us), Result("pass", "17.5")),
        (row("REG-003", eu), Result("waived", "waived by jane until 2026-12-31")),
        (row("ATT-001", None), Result("not-applicable", "no --attestations")),
    ]
    lines = [text for text, _ in summary(profile, {"prerequisites": "next"}, outcomes,
                                         Causes([], INVENTORY), outside=7)]
    table = [t for t in lines if re.match(r"  (FAIL|WARN|ERROR|WAIVED)", t)]
    assert [t.split()[:3] for t in table] == [
        ["FAIL", "DB-003", "us-secondary"], ["WARN", "GEO-005", "deployment"],
        ["ERROR", "REG-001", "eu-primary"], ["WAIVED", "REG-003", "eu-primary"]]
    assert "fix: " + CATALOG["DB-003"].remediation.split()[0] in table[0]
    assert CATALOG["GEO-005"].title in table[1]
    assert "6 rows: 1 pass, 1 fail, 1 warn, 1 error, 1 waived, 1 n/a" in lines[-2]
    assert "7 rows of other steps" in lines[-2]
    assert lines[-1].startswith("steps: \u25b6 prerequisites \u2192 \u00b7 import-secondary")


def test_the_timeline_marks_complete_in_progress_and_unknown_steps(profile: Any) -> None:
    line = timeline(profile, {"prerequisites": "complete", "import-secondary": "in-progress",
                              "import-primary": "unknown"})
    assert line == ("\u2713 prerequisites \u2192 \u25b6 import-secondary (in-progress) \u2192 "
                    "? import-primary (unknown) \u2192 \u00b7 verify-replication")


def test_errors_of_one_dead_site_collapse_into_one_cause(profile: Any) -> None:
    eu, us = SITES
    facts = [refused("geo.sites", None, "https://gitlab.eu.example/api/v4/geo_sites?page=1"),
             refused("gitlab.own_answer", "eu-primary",
                     "https://gitlab.eu.example/api/v4/metadata"),
             {"key": "db.server", "site": "us-secondary", "error": "password authentication "
              "failed for user registry"}]
    outcomes = [(row("VER-001", eu), Result("error", "x", causes=(("geo.sites", None),))),
                (row("VER-001", us), Result("error", "x", causes=(("geo.sites", None),))),
                (row("GEO-006", eu), Result("error", "x",
                                            causes=(("gitlab.own_answer", "eu-primary"),))),
                (row("DB-001", us), Result("error", "y", causes=(("db.server", "us-secondary"),)))]
    lines = [t for t, _ in summary(profile, {}, outcomes, Causes(facts, INVENTORY))]
    causes = [t for t in lines if t.startswith("[")]
    assert causes == ["[1] eu-primary: GitLab API unreachable at https://gitlab.eu.example "
                      "(Connection refused; 3 attempts): 3 checks not evaluated"]
    fix = lines[lines.index(causes[0]) + 1]
    assert "https://gitlab.eu.example reachable" in fix and "Upgrade" not in fix
    pointing = [t for t in lines if "see [1] eu-primary: GitLab API unreachable" in t]
    assert len(pointing) == 2  # one check stopped by one cause is one line naming its sites
    assert any("VER-001  eu-primary, us-secondary " in t for t in pointing), pointing
    alone = next(t for t in lines if "DB-001" in t)  # a cause of one row is that row's own
    assert "fix: " + CATALOG["DB-001"].remediation.split()[0] in alone


def test_the_verdict_names_deselected_rows_apart_from_errors(profile: Any) -> None:
    eu, us = SITES
    report = SimpleNamespace(profile=profile, step="prerequisites",
                             step_label="prerequisites (1/4)", verdict="CANNOT_DETERMINE")
    outcomes = [(row("VER-001", eu), Result("error", "refused")),
                (row("DB-003", us), Result("error", "not evaluated: deselected")),
                (row("VER-001", us), Result("pass", "ok"))]
    line = verdict_line(report, outcomes, {"DB-003@us-secondary"})
    assert line == ("geopreflight: migrate-legacy step prerequisites (1/4): CANNOT DETERMINE, "
                    "1 blocking check could not be evaluated, 1 blocking check not evaluated: "
                    "deselected (DB-003@us-secondary)")


def fact(key: str, site: str | None, error: str | None = None) -> Fact:
    return Fact(key, site, error=error, duration_s=0.12)


def test_progress_is_one_line_per_site_off_a_tty_and_live_on_one() -> None:
    planned = [("gitlab.own_answer", "eu-primary"), ("registry.api", "eu-primary"),
               ("db.server", "eu-primary"), ("geo.sites", None)]
    written: list[str] = []
    plain = Progress(written.append, None)
    for key, site in planned:
        plain.fact(fact(key, site, "refused" if key == "db.server" else None), planned)
    assert written == ["eu-primary: gitlab ok 0.12s, registry ok 0.12s, db ERROR 0.12s",
                       "deployment: gitlab ok 0.12s"]
    plain.fact(fact("geo.sites", None), planned[3:])  # a later --wait round: quiet
    assert len(written) == 2
    live: list[str] = []
    tty = Progress(written.append, live.append)
    tty.fact(fact("gitlab.own_answer", "eu-primary"), planned)
    assert live == ["eu-primary: gitlab ok 0.12s, registry \u2026, db \u2026"]
    tty.wait_round(3, ["REP-002@us-secondary"], 12.2)
    assert live[-1] == "--wait: REP-002@us-secondary still failing, round 3, 12 s left"


# -- a real run on the lab ----------------------------------------------------------------
@pytest.fixture(scope="module")
def legacy(lab: Any) -> Any:
    return lab("legacy-both")


def checker(legacy: Any, tmp: Path, *args: str, inventory: Path | None = None,
            env: dict[str, str] | None = None) -> tuple[Any, dict[str, Any]]:
    r = run_pytest("--profile=migrate-legacy", f"--inventory={inventory or legacy.inventory}",
                   f"--report-dir={tmp}", *args, env={**legacy.environ(), **(env or {})})
    data = json.loads((tmp / "latest" / "summary.json").read_text())
    return r, data


def test_one_unreachable_site_gives_one_cause_and_rows_pointing_to_it(legacy: Any,
                                                                       tmp_path: Path) -> None:
    doc = yaml.safe_load(legacy.inventory.read_text())
    doc["sites"][0]["gitlab"]["url"] = "http://127.0.0.1:1"
    inv = tmp_path / "inventory.yml"
    inv.write_text(yaml.safe_dump(doc, sort_keys=False))
    r, data = checker(legacy, tmp_path / "reports", inventory=inv)
    assert r.returncode == 6, r.stdout[-2000:]
    lines = r.stdout.splitlines()
    cause = [x for x in lines if "GitLab API unreachable at http://127.0.0.1:1" in x
             and x.startswith("[")]
    assert len(cause) == 1, cause
    n = int(re.search(r": (\d+) checks not evaluated$", cause[0]).group(1))
    number = cause[0].split("]")[0] + "]"
    pointing = [x for x in lines if f"see {number} eu-primary: GitLab API unreachable" in x]
    errors = {(c["id"], c["site"] or "deployment") for c in data["checks"]
              if c["outcome"] == "error"}
    shown = set()  # (check, site) of each line: one check's rows share a line, sites listed
    for x in pointing:
        check_id = re.search(r"\b([A-Z]+-\d{3})\b", x).group(1)
        head = x.split(check_id, 1)[1]
        shown |= {(check_id, site) for site in ("eu-primary", "us-secondary", "deployment")
                  if re.search(rf"(^|\s|, ){site}(,|\s)", head.split(" see ")[0])}
    assert len(shown) == n >= 10 and len(pointing) < n
    assert shown <= errors
    assert "Upgrade" not in lines[lines.index(cause[0]) + 1]
    assert lines[-1].startswith("geopreflight: migrate-legacy step prerequisites (1/4): "
                                "CANNOT DETERMINE")
    assert lines[-2].startswith("steps: \u25b6 prerequisites")


def test_markers_select_by_severity_and_the_verdict_names_what_was_deselected(
        legacy: Any, tmp_path: Path) -> None:
    r, data = checker(legacy, tmp_path, "-m", "critical")
    assert r.returncode == 6, r.stdout[-2000:]
    last = r.stdout.strip().splitlines()[-1]
    assert "not evaluated: deselected (" in last and "could not be evaluated" not in last
    assert "not evaluated, deselected with -k/-m: " in r.stdout
    passed = int(re.search(r"(\d+) passed", r.stdout).group(1))
    critical = [c for c in data["checks"] if c["severity"] == "critical"]
    assert passed == len(critical) > 0


def test_k_deselection_is_not_counted_as_could_not_be_evaluated(legacy: Any,
                                                                tmp_path: Path) -> None:
    r, data = checker(legacy, tmp_path, "-k", "DB", "-m", "db")
    last = r.stdout.strip().splitlines()[-1]
    assert r.returncode == 6 and "could not be evaluated" not in last, last
    assert re.search(r"\d+ blocking checks not evaluated: deselected", last), last
    ran = [c for c in data["checks"] if "deselected" not in c["message"]]
    assert ran and all(c["id"].startswith("DB-") for c in ran)


def test_the_verdict_is_coloured_only_when_asked_and_never_with_no_color(
        legacy: Any, tmp_path: Path) -> None:
    plain, _ = checker(legacy, tmp_path / "a")
    assert ESC not in plain.stdout  # not a TTY
    coloured, _ = checker(legacy, tmp_path / "b", env={"FORCE_COLOR": "1"})
    last = coloured.stdout.strip().splitlines()[-1]
    assert last.startswith(ESC) and "READY" in last and "\x1b[32m" in last  # green
    quiet, _ = checker(legacy, tmp_path / "c", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert ESC not in quiet.stdout
    sites = [x for x in plain.stdout.splitlines() if re.match(r"(eu-primary|us-secondary): gitlab",
                                                              x)]
    assert sorted(x.split(":")[0] for x in sites) == ["eu-primary", "us-secondary"]
