"""REG and IMP checks against lab scenarios."""

from __future__ import annotations

import json

import pytest

from labrun import failing, fails_on, finding, passing, row, run
from standin import run_pytest

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
    assert "imported: us-secondary" in row(s, "IMP-004", None)["message"]
    assert row(s, "REG-005", "eu-primary")["outcome"] == "pass"


def test_import_primary_before_the_secondary_is_not_ready(lab):
    s = run(lab("legacy-both"), step="import-primary")
    assert s["verdict"] == "NOT_READY"
    r = row(s, "IMP-004", None)
    assert r["outcome"] == "fail" and "not imported yet: us-secondary" in r["message"]


def test_half_finished_import_makes_the_sources_disagree(lab):
    mine = lab("legacy-both", fresh=True)
    mine.import_("us-secondary")  # rows and lockfile swap, config still enabled false
    s = run(mine, step="prerequisites")
    r = row(s, "REG-004", "us-secondary")
    assert r["outcome"] == "fail" and "storage lockfiles: database" in r["message"]
    assert "config.yml" in r["message"]


def test_replication_failing_fails_rep_002(lab):
    s = run(lab("replication-failing"), step="verify-replication")
    assert row(s, "REP-001", "us-secondary")["outcome"] == "pass"
    r = row(s, "REP-002", "us-secondary")
    assert r["outcome"] == "fail" and "failed 1" in r["message"]


# (scenario, profile, step, check, failing site, words in the message, site that passes)
REG_FAILURES = [
    ("key-mismatch", "migrate-legacy", "prerequisites", "REG-001", "us-secondary",
     "does not trust the primary's token-signing key", "eu-primary"),
    ("upstream-registry", "add-geo-default-db", "move-metadata-db", "REG-002", "eu-primary",
     "not a GitLab container registry", None),
    ("registry-disabled-on-secondary", "migrate-legacy", "prerequisites", "REG-003",
     "us-secondary", "not enabled in gitlab.rb", "eu-primary"),
    ("legacy-both", "migrate-legacy", "verify-replication", "REG-006", "us-secondary",
     "expected database", None),
    ("secondary-imported", "migrate-legacy", "import-secondary", "REG-005", "us-secondary",
     "expected legacy", None),
    ("prefer-hazard", "migrate-legacy", "prerequisites", "REG-007", "eu-primary",
     "no filesystem-in-use lockfile", "us-secondary"),
    ("no-data", "migrate-legacy", "prerequisites", "REG-008", "eu-primary", "no data",
     None),  # nothing to replicate either: the secondary is empty too
    ("registry-with-data", "add-registry-to-geo", "enable-secondary-registry", "REG-009",
     "eu-primary", "already holds data", None),
    ("not-read-only", "migrate-legacy", "import-secondary", "REG-010", "us-secondary",
     "readonly.enabled", None),
    ("legacy-both", "migrate-legacy", "import-primary", "REG-011", "us-secondary",
     "still in read-only", None),
    ("replication-misconfigured", "migrate-legacy", "verify-replication", "REG-012",
     "us-secondary", "is the primary's GitLab URL", None),
    ("primary-api-url-unset", "migrate-legacy", "verify-replication", "REG-012",
     "us-secondary", "is not set", None),
    # pointed at its own registry, Geo compares a registry with itself: everything "synced"
    ("primary-api-url-own", "migrate-legacy", "verify-replication", "REG-012",
     "us-secondary", "is the secondary's own registry", None),
]


@pytest.mark.parametrize("scenario, profile, step, check, site, words, other", REG_FAILURES,
                         ids=[f"{f[3]}-{f[0]}" for f in REG_FAILURES])
def test_registry_check_fails_on_the_right_site(lab, scenario, profile, step, check, site,
                                                words, other):
    fails_on(run(lab(scenario), profile=profile, step=step), check, site, words, other)


@pytest.mark.parametrize("scenario, profile, step, check, site", [
    ("secondary-imported", "migrate-legacy", "import-primary", "REG-011", "us-secondary"),
    ("add-registry-to-geo", "add-registry-to-geo", "enable-secondary-registry", "REG-009",
     "eu-primary"),
    ("both-imported", "migrate-legacy", "verify-replication", "REG-012", "us-secondary"),
    ("both-imported", "migrate-legacy", "verify-replication", "REG-013", None),
    ("both-imported", "migrate-legacy", "verify-replication", "REG-006", "eu-primary"),
])
def test_registry_check_passes(lab, scenario, profile, step, check, site):
    passing(run(lab(scenario), profile=profile, step=step), check, site)


def test_mode_parity_warns_when_only_the_secondary_is_imported(lab):
    s = run(lab("secondary-imported"), step="verify-replication")
    r = finding(s, "REG-013", None, "warn")
    assert "us-secondary: database" in r["message"] and "eu-primary: legacy" in r["message"]


def test_not_a_gitlab_registry_makes_the_mode_checks_errors_that_say_why(lab):
    s = run(lab("upstream-registry"), profile="add-geo-default-db", step="move-metadata-db")
    r = row(s, "REG-006", "eu-primary")
    assert r["outcome"] == "error" and "not a GitLab container registry" in r["message"]


def test_a_wrong_token_is_an_error_naming_its_variable_not_a_silent_registry(lab, tmp_path):
    """GitLab's /jwt/auth refusing the inventory's token (401) says nothing about the registry:
    REG-001 and REG-003 cannot be evaluated, and the row names the token's variable."""
    lab_ = lab("legacy-both")
    var = next(k for k in lab_.env if k.startswith("GITLAB_") and k.endswith("_TOKEN")
               and "EU" in k)
    out = tmp_path / "reports"
    r = run_pytest("--profile=migrate-legacy", "--step=prerequisites",
                   f"--inventory={lab_.inventory}", f"--report-dir={out}",
                   env={**lab_.environ(), var: "glpat-wrongwrongwrong"})
    s = json.loads((out / "latest" / "summary.json").read_text())
    assert r.returncode in (1, 6), r.stdout
    for cid in ("REG-001", "REG-003"):
        got = row(s, cid, "eu-primary")
        assert got["outcome"] == "error", (cid, got)
        assert f"${var}" in got["message"] and "rejected" in got["message"], got["message"]
        assert "glpat-wrong" not in got["message"]
    assert row(s, "REG-001", "us-secondary")["outcome"] == "pass"


def test_the_primary_registry_is_asked_from_the_secondarys_node_and_must_be_the_primarys(lab):
    """REG-012 asks primary_api_url from the secondary's host (one curl over the host
    connection), and the registry there must send tokens to the primary's /jwt/auth."""
    d = lab("both-imported")
    r = row(run(d, step="verify-replication"), "REG-012", "us-secondary")
    assert r["outcome"] == "pass", r
    primary = d.site("eu-primary")
    assert "from us-secondary host local://" in r["message"], r["message"]
    assert f"with a Bearer challenge from {primary.gitlab_url}/jwt/auth" in r["message"]
