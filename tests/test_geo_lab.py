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
