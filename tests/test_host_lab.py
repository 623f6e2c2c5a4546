"""HOST checks against lab scenarios: each fails on the site whose host files are wrong, with
observed/expected/fix, and passes on the other site and on the textbook deployment."""

from __future__ import annotations

import pytest

from labrun import fails_on, finding, passing, run

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
     "differs from the endpoint's Authorization", None),
    ("primary-api-url-unset", "verify-replication", "HOST-005", "us-secondary", "fail",
     "primary_api_url unset", None),
    ("key-mismatch", "prerequisites", "HOST-006", None, "warn",
     "different token keys", None),
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
    """HOST-006 only advises in migrate-legacy; configure-replication requires it."""
    s = run(lab("key-mismatch"), profile="add-registry-to-geo", step="configure-replication")
    r = finding(s, "HOST-006", None)
    assert "us-secondary: cert" in r["message"] and r["blocking"] is True


def test_unparsed_gitlab_rb_key_is_an_error_naming_the_line(lab):
    s = run(lab("unparsed-gitlab-rb"))
    r = finding_error = next(c for c in s["checks"]
                             if c["id"] == "HOST-003" and c["site"] == "us-secondary")
    assert finding_error["outcome"] == "error", r
    assert "gitlab.rb line" in r["message"] and "registry['database']['enabled']" in r["message"]
    assert "ENV" in r["message"]
    passing(s, "HOST-001", "us-secondary")  # the rest of the file still reads
    assert s["verdict"] == "CANNOT_DETERMINE", s["verdict"]
