"""REG and IMP checks against lab scenarios."""

from __future__ import annotations

import pytest

from labrun import failing, row, run

pytestmark = pytest.mark.lab


def test_registry_checks_pass_on_legacy_both(lab):
    s = run(lab("legacy-both"), step="prerequisites")
    assert s["verdict"] == "READY", failing(s)
    for cid in ("REG-001", "REG-002", "REG-003", "REG-004", "REG-005", "REG-007", "REG-008"):
        for site in ("eu-primary", "us-secondary"):
            assert row(s, cid, site)["outcome"] == "pass", (cid, site)
    assert "legacy" in row(s, "REG-004", "us-secondary")["message"]


def test_no_data_fails_the_data_check(lab):
    s = run(lab("no-data"), step="prerequisites")
    r = row(s, "REG-008", "eu-primary")
    assert r["outcome"] == "fail" and "no data" in r["message"]


def test_not_read_only_fails_import_secondary_on_the_secondary(lab):
    s = run(lab("not-read-only"))
    assert s["verdict"] == "NOT_READY"
    assert row(s, "REG-010", "us-secondary")["outcome"] == "fail"


def test_registry_disabled_on_secondary(lab):
    s = run(lab("registry-disabled-on-secondary"), step="prerequisites")
    assert row(s, "REG-003", "us-secondary")["outcome"] == "fail"
    assert row(s, "REG-003", "eu-primary")["outcome"] == "pass"


def test_secondary_imported_is_database_mode_and_ready_for_the_primary(lab):
    s = run(lab("secondary-imported"), step="import-primary")
    assert s["verdict"] == "READY", failing(s)
    assert row(s, "REG-006", "us-secondary")["outcome"] == "pass"
    assert row(s, "IMP-002", "us-secondary")["outcome"] == "pass"
    assert row(s, "REG-005", "eu-primary")["outcome"] == "pass"


def test_import_primary_before_the_secondary_is_not_ready(lab):
    s = run(lab("legacy-both"), step="import-primary")
    assert s["verdict"] == "NOT_READY"
    assert row(s, "REG-006", "us-secondary")["outcome"] == "fail"
    assert row(s, "IMP-002", "us-secondary")["outcome"] == "fail"


def test_half_finished_import_makes_the_sources_disagree(lab):
    mine = lab("legacy-both", fresh=True)
    mine.import_("us-secondary")  # rows and lockfile swap, config still enabled false
    s = run(mine, step="prerequisites")
    r = row(s, "REG-004", "us-secondary")
    assert r["outcome"] == "fail" and "storage lockfiles: database" in r["message"]
    assert "config.yml" in r["message"]


def test_replication_failing_warns_rep_002(lab):
    s = run(lab("replication-failing"), step="verify-replication")
    assert row(s, "REP-001", "us-secondary")["outcome"] == "pass"
    r = row(s, "REP-002", "us-secondary")
    assert r["outcome"] == "warn" and "failed 1" in r["message"]
