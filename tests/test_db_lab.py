"""DB checks against lab scenarios: each passes on the textbook deployment and fails, on the
right site and with observed/expected/fix, where the lab breaks it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab import postgres
from labrun import expect, failing, finding, passing, row, run, run_now

pytestmark = pytest.mark.lab

DB_CHECKS = ("DB-001", "DB-002", "DB-003", "DB-004", "DB-005", "DB-006")


def test_textbook_deployment_is_ready_for_import_secondary(lab):
    s = run(lab("legacy-both"))
    assert s["verdict"] == "READY", failing(s)
    assert s["returncode"] == 0
    for cid in DB_CHECKS:
        assert row(s, cid, "us-secondary")["outcome"] == "pass"
    for cid in ("DB-007", "DB-008", "DB-009"):
        assert row(s, cid, "us-secondary")["outcome"] == "pass"


def test_replica_db_fails_on_the_secondary(lab):
    s = run(lab("replica-db"))
    assert s["verdict"] == "NOT_READY" and s["returncode"] == 1
    r = row(s, "DB-003", "us-secondary")
    assert r["outcome"] == "fail" and "streaming replica of eu-primary" in r["message"]
    assert row(s, "DB-004", "us-secondary")["outcome"] == "fail"
    assert row(s, "DB-004", "eu-primary")["outcome"] == "pass"


def test_shared_db_fails_on_the_secondary(lab):
    s = run(lab("shared-db"))
    assert s["verdict"] == "NOT_READY"
    r = row(s, "DB-003", "us-secondary")
    assert r["outcome"] == "fail" and "same PostgreSQL instance" in r["message"]
    assert not [f for f in failing(s) if f[2] == "error"]


def test_bundled_db_fails_on_both_sites_and_says_replica_on_the_secondary(lab):
    s = run(lab("bundled-db"))
    assert s["verdict"] == "NOT_READY"
    assert row(s, "DB-005", "eu-primary")["outcome"] == "fail"
    r = row(s, "DB-005", "us-secondary")
    assert r["outcome"] == "fail" and "read-only replica" in r["message"]


def test_import_twice_is_refused_by_the_tags_and_lockfile_checks(lab):
    s = run(lab("secondary-imported"))
    assert row(s, "DB-009", "us-secondary")["outcome"] == "fail"
    assert row(s, "IMP-001", "us-secondary")["outcome"] == "fail"
    assert row(s, "DB-003", "us-secondary")["outcome"] == "pass"


def test_db_failures_carry_observed_expected_and_fix(lab):
    s = run(lab("replica-db"))
    junit = (lab("replica-db").dir / "reports" / "migrate-legacy-import-secondary" / "latest"
             / "junit.xml").read_text()
    assert "DB-003" in junit and "expected" in junit.lower()
    assert row(s, "DB-003", "us-secondary")["blocking"] is True


# (scenario, profile, step, check, failing site, words in the message)
DB_FAILURES = [
    ("dsn-other-db", "add-geo-external-db", "setup-geo", "DB-006", "eu-primary",
     "database name differ"),
    ("db-settings", "migrate-legacy", "import-secondary", "DB-007", "us-secondary",
     "bytea_output is escape"),
    ("not-migrated", "migrate-legacy", "import-secondary", "DB-008", "us-secondary",
     "schema_migrations is missing"),
    ("restored-dump", "add-geo-external-db", "secondary-registry-and-metadata-db", "DB-010",
     "us-secondary", "not empty"),
    ("moved-db-empty", "add-geo-default-db", "setup-geo", "DB-011", "eu-primary",
     "at least 2 tags missing"),
    # an image pushed in database mode (no tag link in storage) after the dump: only the old
    # database, named by metadata_db.moved_from, shows it lost
    ("db-moved-stale-dump", "add-geo-default-db", "setup-geo", "DB-011", "eu-primary",
     "lacks what the old database holds: storage holds 2 repositories and 2 tags, the "
     "metadata database 2 repositories, 2 tags; compared with the old database at "
     "postgresql://127.0.0.1:"),
]


@pytest.mark.parametrize("scenario, profile, step, check, site, words", DB_FAILURES,
                         ids=[f"{f[3]}-{f[0]}" for f in DB_FAILURES])
def test_db_check_fails_on_the_right_site(lab, scenario, profile, step, check, site, words):
    s = run(lab(scenario), profile=profile, step=step)
    r = finding(s, check, site)
    assert words in r["message"], r["message"]
    assert s["verdict"] == "NOT_READY" and r["blocking"] is True


@pytest.mark.parametrize("scenario, profile, step, check, site", [
    ("add-geo-external-db", "add-geo-external-db", "setup-geo", "DB-006", "eu-primary"),
    ("external-db-geo", "add-geo-external-db", "secondary-registry-and-metadata-db", "DB-010",
     "us-secondary"),
    ("external-db-geo", "add-geo-external-db", "secondary-registry-and-metadata-db", "DB-011",
     "eu-primary"),
    ("add-geo-external-db", "add-geo-default-db", "setup-geo", "DB-011", "eu-primary"),
    ("add-geo-external-db-no-data", "add-geo-default-db", "setup-geo", "DB-011", "eu-primary"),
    ("db-moved", "add-geo-default-db", "setup-geo", "DB-011", "eu-primary"),
    ("legacy-both", "migrate-legacy", "import-secondary", "DB-002", "us-secondary"),
])
def test_db_check_passes(lab, scenario, profile, step, check, site):
    passing(run(lab(scenario), profile=profile, step=step), check, site)


def test_db_settings_name_all_three_problems_and_leave_the_primary_alone(lab):
    s = run(lab("db-settings"), step="import-secondary")
    r = row(s, "DB-007", "us-secondary")
    assert "default_transaction_read_only is on" in r["message"]
    assert "owned by gitlab, not the registry's user registry" in r["message"]
    s = run(lab("db-settings"), step="import-primary")
    passing(s, "DB-007", "eu-primary")


def test_db_002_reads_the_registry_floor_on_postgresql_15(lab):
    """The passing side of the floor on the machine's PostgreSQL 15; the failing side runs on
    a real PostgreSQL 14 below."""
    r = passing(run(lab("legacy-both")), "DB-002", "us-secondary")
    assert r["message"].startswith("PostgreSQL 15") and ">= the registry's 15" in r["message"]
    assert "(binding for GitLab 17." in r["message"]  # GitLab 17's own minimum is lower


def test_a_postgresql_14_registry_db_blocks_where_the_registry_enforces_the_floor(lab):
    """A real PostgreSQL 14 server (scripts/setup) under the secondary's registry DB on GitLab
    18.5 / registry v4.39, which refuse it (from v4.24, GitLab 18.2): NOT READY at the first
    step, naming the site, the check and the server's own version string."""
    s = run_now(lab("pg14-registry-db"), "migrate-legacy")
    expect(s, "prerequisites", "NOT_READY")
    r = row(s, "DB-002", "us-secondary")
    assert r["outcome"] == "fail" and r["blocking"], r
    assert r["message"].startswith("us-secondary's registry metadata database runs PostgreSQL "
                                   "14.1; registry 4.39.0-gitlab, GitLab 18.5.0-ee enforces 15 "
                                   "or later"), r["message"]
    assert r["observed"] == "14.1" and r["expected"] == ">= 15"
    primary = row(s, "DB-002", "eu-primary")  # PostgreSQL 15 under GitLab 18's minimum 16
    assert primary["outcome"] == "warn" and "minimum 16" in primary["message"], primary


def test_a_postgresql_14_registry_db_only_warns_before_the_registry_enforces_the_floor(lab):
    """The same PostgreSQL 14 under registry v4.23 (GitLab 17.10): the floor is documented,
    not enforced; a warning that never blocks the step."""
    s = run_now(lab("pg14-registry-db-old"), "migrate-legacy")
    expect(s, "prerequisites", "READY")
    r = row(s, "DB-002", "us-secondary")
    assert r["outcome"] == "warn" and "PostgreSQL 14.1 is below the documented 15" in \
        r["message"], r


def test_unreachable_db_is_an_error_of_db_001_on_that_site(lab):
    """Unreachable is 'could not evaluate' (design, Check model): an error row saying why,
    and the verdict CANNOT DETERMINE, not a fail."""
    mine = lab("legacy-both", fresh=True)
    cluster = next(c for c in mine.model["clusters"] if c["name"] == "us-secondary")
    postgres.stop(Path(cluster["data"]))
    s = run(mine, step="prerequisites")
    r = row(s, "DB-001", "us-secondary")
    assert r["outcome"] == "error" and "connection" in r["message"].lower(), r
    passing(s, "DB-001", "eu-primary")
    assert s["verdict"] == "CANNOT_DETERMINE"


def test_db_011_on_a_moved_database_finds_what_only_the_old_one_knew(fresh_lab, tmp_path):
    """The stale dump lost an image pushed in database mode: the storage has no tag link of
    it, so the storage's counts alone pass; the old database (metadata_db.moved_from) names
    it (the FAIL is in DB_FAILURES). Once the old database stops, DB-011 cannot tell: an
    error and CANNOT DETERMINE, never a pass."""
    mine = fresh_lab("db-moved-stale-dump")
    s = run_now(mine, "add-geo-default-db", "--step=setup-geo")
    r = finding(s, "DB-011", "eu-primary")
    # the reports show the three sides' counts (the new database lost one of each)
    content = next(c for c in s["content"] if c["site"] == "eu-primary")
    assert (content["database"], content["moved_from"]) == (
        {"repositories": 2, "tags": 2}, {"repositories": 3, "tags": 3}), content
    html = (Path(s["report_dir"]) / "report.html").read_text()
    assert "<th>old database tags</th>" in html and "<td>3</td><td>3</td></tr>" in html
    assert r["message"].endswith("which holds 3 repositories and 3 tags; at least 1 "
                                 "repositories missing; at least 1 tags missing; for example "
                                 "late/pushed"), r["message"]
    assert r["expected"] == "every repository and tag of the old database"
    inventory = yaml.safe_load(mine.inventory.read_text())
    old = inventory["sites"][0]["metadata_db"].pop("moved_from")
    storage_only = tmp_path / "storage-only.yml"
    storage_only.write_text(yaml.safe_dump(inventory))
    r = passing(run_now(mine, "add-geo-default-db", "--step=setup-geo",
                        f"--inventory={storage_only}"), "DB-011", "eu-primary")
    assert "old database" not in r["message"], r["message"]

    cluster = next(c for c in mine.model["clusters"] if c["port"] == old["port"])
    postgres.stop(Path(cluster["data"]))
    s = run_now(mine, "add-geo-default-db", "--step=setup-geo")
    r = row(s, "DB-011", "eu-primary")
    assert r["outcome"] == "error", r
    assert r["message"].startswith("the old database (metadata_db.moved_from): cannot connect "
                                   f"to eu-primary's registry metadata database (postgresql://"
                                   f"127.0.0.1:{old['port']}/registry)"), r["message"]
    assert s["verdict"] == "CANNOT_DETERMINE"
