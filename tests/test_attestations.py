"""Attestations: signed-off manual items, validated like the waivers, judged by ATT-001..003,
and a step that lacks one (or holds an expired one) is NOT READY."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from geopreflight.attestations import find, load_attestations
from geopreflight.errors import UsageError
from geopreflight.inventory import GitLab, Inventory, Secret, Site
from geopreflight.probes.models import Attestations
from geopreflight.suite import load_catalog
from standin import bundle_members, run_pytest

INVENTORY = Inventory("inv.yml", "d", (
    Site("p", "primary", GitLab("https://p", Secret("x", "$X"))),
    Site("s", "secondary", GitLab("https://s", Secret("x", "$X"))),
))
GOOD = """\
attestations:
  - item: change-ticket
    who: jane.doe
    when: 2026-11-30T14:00:00Z
    ticket: CHG-1
    evidence: https://tickets.example.com/CHG-1
    expires: 2030-01-01
  - item: registry-db-backup
    site: s
    who: ops
    when: 2026-11-30
    ticket: CHG-1
    evidence: https://wiki.example.com/CHG-1/backup
    expires: 2030-01-01T12:00:00Z
"""


@pytest.fixture(autouse=True, scope="module")
def _catalog() -> None:
    load_catalog()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "attestations.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    ticket, backup = load_attestations(write(tmp_path, GOOD), INVENTORY)
    assert (ticket.item, ticket.site, ticket.who) == ("change-ticket", None, "jane.doe")
    assert backup.when == datetime(2026, 11, 30, tzinfo=UTC), "a date is the start of the day"
    assert ticket.expires == datetime(2030, 1, 2, tzinfo=UTC), "an expiry date holds all day"


@pytest.mark.parametrize("old,new,line,expected", [
    ("item: change-ticket", "item: coffee", 2, "expected one of change-ticket"),
    ("site: s", "site: mars", 9, "no site 'mars'"),
    ("    who: jane.doe\n", "", 2, "who: missing"),
    ("evidence: https://tickets.example.com/CHG-1", "evidence: see the ticket", 6,
     "expected a link"),
    ("expires: 2030-01-01\n", "expires: soon\n", 7, "expected a date"),
    ("expires: 2030-01-01\n", "expires: 2020-01-01\n", 7, "expected a time after when"),
    ("ticket: CHG-1\n    evidence: https://tickets", "tickets: CHG-1\n    evidence: https://"
     "tickets", 5, "unknown key"),
    ("  - item: change-ticket\n", "  - item: change-ticket\n    site: s\n", 3,
     "change-ticket is deployment-wide"),
    ("expires: 2030-01-01T12:00:00Z\n", "expires: 2030-01-01T12:00:00Z\n  - {item: "
     "registry-db-backup, site: s, who: a, when: 2026-01-01, ticket: T, evidence: 'https://x', "
     "expires: 2030-01-01}\n", 15, "a second registry-db-backup attestation for s"),
])
def test_mistakes_name_file_and_line(tmp_path: Path, old: str, new: str, line: int,
                                     expected: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(UsageError) as err:
        load_attestations(path, INVENTORY)
    assert str(err.value).startswith(f"{path}:{line}: ") and expected in str(err.value), \
        str(err.value)


def fact(as_of: datetime, **item: str) -> Attestations:
    base = {"item": "registry-db-backup", "site": "s", "who": "ops", "ticket": "CHG-1",
            "evidence": "https://x", "when": "2026-11-30T00:00:00Z",
            "expires": "2026-12-02T00:00:00Z"}
    return Attestations("a.yml", as_of.isoformat(), [{**base, **item}])


def test_find_holds_only_between_when_and_expires() -> None:
    day = datetime(2026, 12, 1, tzinfo=UTC)
    assert find(fact(day), "registry-db-backup", "s")[0]["who"] == "ops"
    assert find(fact(day), "registry-db-backup", "p") == (
        None, "no registry-db-backup attestation for p in a.yml")
    assert "expired on 2026-12-02 00:00 UTC" in find(fact(day + timedelta(days=1)),
                                                     "registry-db-backup", "s")[1]
    assert "after this run" in find(fact(day - timedelta(days=2)), "registry-db-backup", "s")[1]
    assert find(fact(day, site=None), "registry-db-backup", "p")[0], "no site: every site"


# -- against the lab: legacy-both, the step that imports the secondary ---------------------

def judge(lab, tmp: Path, *args: str) -> tuple[int, dict, Path]:
    out = tmp / f"reports-{len(list(tmp.glob('reports-*')))}"
    r = run_pytest("--profile=migrate-legacy", f"--inventory={lab.dir}/inventory.yml",
                   "--step=import-secondary", f"--report-dir={out}", *args, env=lab.environ())
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r.returncode, json.loads((out / "latest" / "summary.json").read_text()), out


def att_rows(summary: dict) -> dict[tuple[str, str | None], dict]:
    return {(c["id"], c["site"]): c for c in summary["checks"] if c["id"].startswith("ATT")}


def items(tmp: Path, *, backup_expires: str | None, name: str = "a.yml") -> Path:
    now = datetime.now(UTC)
    entries = [dict(item="change-ticket", who="jane.doe", ticket="CHG-7",
                    evidence="https://tickets.example.com/CHG-7?token=planted-secret-123",
                    when=(now - timedelta(hours=2)).isoformat(),
                    expires=(now + timedelta(days=1)).isoformat())]
    for item in ("registry-db-backup", "registry-storage-backup") if backup_expires else ():
        entries.append(dict(item=item, site="us-secondary", who="ops.oncall",
                            ticket="CHG-7", evidence="https://wiki.example.com/CHG-7/backup",
                            when=(now - timedelta(hours=3)).isoformat(), expires=backup_expires))
    path = tmp / name
    path.write_text(json.dumps({"attestations": entries}))  # JSON is YAML
    return path


@pytest.mark.lab
def test_without_attestations_the_att_rows_do_not_apply(lab, tmp_path: Path) -> None:
    code, summary, _ = judge(lab("legacy-both"), tmp_path)
    rows = att_rows(summary)
    assert set(rows) == {("ATT-001", None), ("ATT-002", "us-secondary")}
    assert all(r["outcome"] == "not-applicable" and "no --attestations file given" in r["message"]
               for r in rows.values())
    assert code == 0 and summary["verdict"] == "READY"


@pytest.mark.lab
def test_a_missing_or_expired_attestation_is_not_ready(lab, tmp_path: Path) -> None:
    d = lab("legacy-both")
    code, summary, _ = judge(d, tmp_path, f"--attestations={items(tmp_path, backup_expires=None)}")
    row = att_rows(summary)[("ATT-002", "us-secondary")]
    assert code == 1 and summary["verdict"] == "NOT_READY"
    assert row["outcome"] == "fail" and row["blocking"]
    assert "no registry-db-backup attestation for us-secondary" in row["message"]
    assert "backup of us-secondary's registry metadata database" in row["message"]
    assert att_rows(summary)[("ATT-001", None)]["outcome"] == "pass"

    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    code, summary, _ = judge(d, tmp_path, f"--attestations={items(tmp_path, backup_expires=past)}")
    row = att_rows(summary)[("ATT-002", "us-secondary")]
    assert code == 1 and row["outcome"] == "fail" and "expired on" in row["message"]
    assert "ops.oncall" in row["message"]


@pytest.mark.lab
def test_with_its_attestations_the_step_is_ready_and_every_report_shows_them(
        lab, tmp_path: Path) -> None:
    later = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    path = items(tmp_path, backup_expires=later)
    code, summary, out = judge(lab("legacy-both"), tmp_path, f"--attestations={path}",
                               "--evidence")
    assert code == 0 and summary["verdict"] == "READY", summary["checks"]
    backup = att_rows(summary)[("ATT-002", "us-secondary")]
    assert backup["outcome"] == "pass"
    assert "signed off by ops.oncall" in backup["message"] and "CHG-7" in backup["message"]
    folder = (out / "latest").resolve()
    for report in ("junit.xml", "report.html"):
        text = (folder / report).read_text()
        assert "signed off by ops.oncall" in text, report
    files = bundle_members(folder / "evidence.tar.gz")
    assert b"ops.oncall" in files["attestations.yml"]
    assert all(b"planted-secret-123" not in data for data in files.values()), \
        "a token in an evidence link is redacted"
    again = run_pytest("--profile=migrate-legacy", "--step=import-secondary",
                       f"--from-evidence={folder / 'evidence.tar.gz'}",
                       f"--report-dir={tmp_path / 'again'}", env={"PATH": "/usr/bin:/bin"})
    assert again.returncode == 0, "the recorded attestations are judged again, as recorded"


def test_a_bad_attestations_file_is_a_usage_error_before_probing(deployment,
                                                                  tmp_path: Path) -> None:
    d = deployment()
    bad = write(tmp_path, GOOD.replace("item: change-ticket", "item: coffee"))
    r = run_pytest("--profile=migrate-legacy", f"--inventory={d.inventory()}",
                   f"--attestations={bad}", f"--report-dir={tmp_path / 'reports'}", env=d.env())
    assert r.returncode == 4 and f"{bad}:2:" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "reports").exists()
