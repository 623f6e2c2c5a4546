"""HOST checks against lab scenarios: each fails on the site whose host files are wrong, with
observed/expected/fix, and passes on the other site and on the textbook deployment."""

from __future__ import annotations

import pytest

from labrun import failing, fails_on, finding, passing, row, run

pytestmark = pytest.mark.lab

ML = "migrate-legacy"


@pytest.mark.parametrize("check, site, step", [
    ("HOST-001", "eu-primary", "prerequisites"),
    ("HOST-001", "us-secondary", "prerequisites"),
    ("HOST-003", "us-secondary", "import-secondary"),
    ("HOST-004", "eu-primary", "prerequisites"),
    ("HOST-005", "us-secondary", "prerequisites"),
    ("HOST-006", None, "prerequisites"),
    ("HOST-007", "eu-primary", "prerequisites"),
    ("HOST-007", "us-secondary", "prerequisites"),
    ("HOST-008", "eu-primary", "prerequisites"),
    ("HOST-008", "us-secondary", "prerequisites"),
])
def test_host_checks_pass_on_legacy_both(lab, check, site, step):
    passing(run(lab("legacy-both"), step=step), check, site)


def test_host_002_passes_once_the_secondary_is_imported(lab):
    passing(run(lab("secondary-imported"), step="import-primary"), "HOST-002", "us-secondary")


# (scenario, step, check, failing site, outcome, words in the message, site that passes)
FAILURES = [
    ("failover-cluster-json", "prerequisites", "HOST-001", "eu-primary", "fail",
     "gitlab-cluster.json makes the host a Geo secondary", "us-secondary"),
    ("legacy-both", "import-primary", "HOST-002", "us-secondary", "fail",
     "is false in gitlab.rb", None),
    ("secondary-imported", "import-secondary", "HOST-003", "us-secondary", "fail",
     "is true in gitlab.rb", None),
    ("replication-misconfigured", "verify-replication", "HOST-004", "eu-primary", "fail",
     "differs from the Authorization of eu-primary's geo_event endpoint", None),
    ("primary-api-url-unset", "verify-replication", "HOST-005", "us-secondary", "fail",
     "primary_api_url unset", None),
    ("key-mismatch", "prerequisites", "HOST-006", None, "warn",
     "different token certificates: us-secondary differs from eu-primary", None),
    ("host-drift", "prerequisites", "HOST-007", "us-secondary", "warn",
     "database.enabled true vs false", "eu-primary"),
    ("host-drift", "prerequisites", "HOST-008", "us-secondary", "warn",
     "'us-secondary-old'", "eu-primary"),
]


@pytest.mark.parametrize("scenario, step, check, site, outcome, words, other", FAILURES,
                         ids=[f"{f[2]}-{f[0]}" for f in FAILURES])
def test_host_check_fails_on_the_right_site(lab, scenario, step, check, site, outcome, words,
                                            other):
    fails_on(run(lab(scenario), step=step), check, site, words, other, outcome)


def test_host_006_blocks_where_a_step_requires_it(lab):
    """HOST-006 only advises before replication; configure-replication (and migrate-legacy's
    verify-replication) require it."""
    s = run(lab("key-mismatch"), profile="add-registry-to-geo", step="configure-replication")
    r = finding(s, "HOST-006", None)
    assert "us-secondary: 689" not in r["message"]  # digests shortened, never whole
    assert "token certificates: us-secondary differs" in r["message"] and r["blocking"] is True
    s = run(lab("key-mismatch"), step="verify-replication")
    assert finding(s, "HOST-006", None)["blocking"] is True


def test_unparsed_gitlab_rb_key_is_an_error_naming_the_line(lab):
    s = run(lab("unparsed-gitlab-rb"))
    r = finding_error = next(c for c in s["checks"]
                             if c["id"] == "HOST-003" and c["site"] == "us-secondary")
    assert finding_error["outcome"] == "error", r
    assert "gitlab.rb line" in r["message"] and "registry['database']['enabled']" in r["message"]
    assert "ENV" in r["message"]
    passing(s, "HOST-001", "us-secondary")  # the rest of the file still reads
    assert s["verdict"] == "CANNOT_DETERMINE", s["verdict"]


def test_prefer_on_19_with_omnibus_postgresql_and_database_in_use_is_ready(lab):
    """GitLab 19 (a stand-in version string) makes prefer the default; where omnibus manages
    PostgreSQL and the database-in-use lockfile exists, prefer runs in database mode, so
    HOST-002 passes it instead of asking for an explicit true."""
    s = run(lab("prefer-19-managed-pg"), step="verify-replication")
    assert s["verdict"] == "READY", failing(s)
    r = row(s, "HOST-002", "us-secondary")
    assert r["outcome"] == "pass" and "enabled'] = prefer" in r["message"], r


@pytest.mark.parametrize("scenario, check, words", [
    # every Geo sync push into the secondary would be echoed back as an event
    ("secondary-geo-event", "HOST-010", "us-secondary: config.yml notifies geo_event -> "),
    # offline GC in database mode deletes the data of tagged images
    ("gc-cron", "HOST-011", "us-secondary: offline garbage collection is scheduled in database "
                            "mode: /etc/cron.d/registry-garbage-collect:2:"),
])
def test_a_secondary_hazard_blocks_verify_replication(lab, scenario, check, words):
    s = run(lab(scenario), step="verify-replication")
    assert s["verdict"] == "NOT_READY", s["verdict_line"]
    assert [(c["id"], c["site"]) for c in s["checks"] if c["blocking"]
            and c["outcome"] in ("fail", "error")] == [(check, "us-secondary")], failing(s)
    assert words in row(s, check, "us-secondary")["message"]
