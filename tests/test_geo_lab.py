"""VER, GEO and REP checks against lab scenarios: a fail on the right site (the other site
passing), with observed/expected/fix; their pass cases are the textbook runs."""

from __future__ import annotations

import pytest

from labrun import fails_on, passing, run

pytestmark = pytest.mark.lab

# (scenario, step, check, failing site, words in the message, site that passes)
FAILURES = [
    ("old-version", "prerequisites", "VER-001", "us-secondary", "17.2.9-ee", "eu-primary"),
    ("old-version", "prerequisites", "VER-002", "us-secondary", "Linux package",
     "eu-primary"),
    ("old-version", "prerequisites", "VER-003", None, "different versions", None),
    ("new-instance", "prerequisites", "GEO-001", None, "0 primaries", None),
    ("new-instance", "prerequisites", "GEO-002", "us-secondary", "matches no Geo site", None),
    ("secondary-unhealthy", "prerequisites", "GEO-003", "us-secondary", "unhealthy", None),
    ("replication-disabled", "verify-replication", "REP-001", "us-secondary",
     "replication_enabled is False", None),
    ("replication-disabled", "verify-replication", "HOST-005", "us-secondary",
     "enabled False", None),
]


@pytest.mark.parametrize("scenario, step, check, site, words, other", FAILURES,
                         ids=[f"{f[2]}-{f[0]}" for f in FAILURES])
def test_check_fails_on_the_right_site(lab, scenario, step, check, site, words, other):
    fails_on(run(lab(scenario), step=step), check, site, words, other)


@pytest.mark.parametrize("scenario, step, check, site", [
    ("legacy-both", "prerequisites", "VER-002", "us-secondary"),
    ("legacy-both", "prerequisites", "GEO-005", None),
    *[("both-imported", "verify-replication", c, s) for c, s in (
        ("VER-001", "us-secondary"), ("VER-003", None), ("GEO-001", None),
        ("GEO-002", "us-secondary"), ("GEO-003", "us-secondary"), ("GEO-006", "us-secondary"),
        ("REP-001", "us-secondary"), ("REP-002", "us-secondary"))],
])
def test_check_passes(lab, scenario, step, check, site):
    passing(run(lab(scenario), step=step), check, site)


@pytest.mark.parametrize("step", ["import-primary", "verify-replication"])
def test_a_geo_site_left_out_of_the_inventory_blocks_where_the_order_matters(lab, step):
    """Three Geo sites, two in the inventory: ap-secondary, still legacy, is named by the
    primary's GET /geo_sites, so importing the primary (or verifying replication) is NOT
    READY naming it; the prerequisites only warn, for one-site-at-a-time runs."""
    from labrun import expect, run_now

    d = lab("geo-site-not-in-inventory")
    s = run_now(d, "migrate-legacy", f"--step={step}")
    expect(s, step, "NOT_READY")
    rows = {c["id"]: c for c in s["checks"] if c["site"] is None}
    assert rows["GEO-005"]["outcome"] == "fail" and rows["GEO-005"]["blocking"]
    assert "ap-secondary" in rows["GEO-005"]["message"]
    if step == "import-primary":
        assert rows["IMP-004"]["outcome"] == "fail" and rows["IMP-004"]["blocking"]
        assert "ap-secondary (a Geo secondary not in the inventory" in \
            rows["IMP-004"]["message"]
    early = run_now(d, "migrate-legacy", "--step=prerequisites")
    geo005 = next(c for c in early["checks"] if c["id"] == "GEO-005")
    assert geo005["outcome"] == "warn" and not geo005["blocking"]


def test_gitlab_19_0_1_is_not_ready_and_19_0_2_is_ready(lab):
    """VER-004 on the version each Geo site reports (stand-in version strings): 19.0.1 skips
    OCI index tags in Geo's sync, fixed in 19.0.2. DB-002 states GitLab 19's own PostgreSQL
    minimum (17) against the lab's real PostgreSQL 15 as a warning, naming its source."""
    from labrun import expect, run_now

    s = run_now(lab("geo-19-0-1"), "migrate-legacy", "--step=verify-replication")
    expect(s, "verify-replication", "NOT_READY")
    bad = {(c["id"], c["site"]) for c in s["checks"] if c["outcome"] == "fail"}
    assert bad == {("VER-004", "eu-primary"), ("VER-004", "us-secondary")}, bad
    row = next(c for c in s["checks"] if (c["id"], c["site"]) == ("VER-004", "us-secondary"))
    assert "us-secondary runs GitLab 19.0.1-ee" in row["message"] and row["blocking"]
    s = run_now(lab("geo-19-0-2"), "migrate-legacy", "--step=verify-replication")
    expect(s, "verify-replication", "READY")
    db = next(c for c in s["checks"] if (c["id"], c["site"]) == ("DB-002", "us-secondary"))
    assert db["outcome"] == "warn" and "minimum 17 (GitLab 19 upgrade notes" in db["message"]
