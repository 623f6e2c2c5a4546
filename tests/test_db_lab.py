"""DB checks against lab scenarios: each passes on the textbook deployment and fails, on the
right site and with observed/expected/fix, where the lab breaks it."""

from __future__ import annotations

import pytest

from labrun import failing, row, run

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
