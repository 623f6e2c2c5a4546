"""The five profiles other than migrate-legacy against the lab: each starting scenario is READY
at the first step (--step=auto), and one defect is NOT READY for the right reason."""

from __future__ import annotations

import pytest

from labrun import failing, finding, run

pytestmark = pytest.mark.lab

STARTS = [
    ("new-instance", "new-instance", "setup-geo"),
    ("add-geo-and-registry", "add-geo-and-registry", "setup-geo"),
    ("add-geo-external-db", "add-geo-external-db", "setup-geo"),
    ("add-registry-to-geo", "add-registry-to-geo", "enable-secondary-registry"),
    ("add-geo-external-db", "external-db-geo", "secondary-registry-and-metadata-db"),
]


@pytest.mark.parametrize("profile, scenario, step", STARTS, ids=[s[1] for s in STARTS])
def test_starting_scenario_is_ready_at_its_step(lab, profile, scenario, step):
    s = run(lab(scenario), profile=profile, step="auto")
    assert (s["step"], s["verdict"]) == (step, "READY"), (s["steps"], failing(s))
    assert s["returncode"] == 0


def test_the_bundled_database_moves_only_from_a_read_only_registry(lab):
    """add-geo-default-db's start (the registry read-write on its bundled DB) is NOT READY at
    move-metadata-db naming REG-010: what is pushed during the dump and restore is lost."""
    s = run(lab("add-geo-default-db"), profile="add-geo-default-db", step="auto")
    assert (s["step"], s["verdict"]) == ("move-metadata-db", "NOT_READY"), s["verdict_line"]
    assert [(c["id"], c["site"]) for c in s["checks"] if c["blocking"]
            and c["outcome"] in ("fail", "error")] == [("REG-010", "eu-primary")], failing(s)


# (profile, defect scenario, first step, check, site, words in the message)
DEFECTS = [
    ("new-instance", "new-instance-old-version", "setup-geo", "VER-001", "us-secondary",
     "17.2.9-ee"),
    ("add-geo-and-registry", "geo-already-set-up", "setup-geo", "GEO-004", None,
     "Geo is already configured"),
    ("add-geo-default-db", "upstream-registry", "move-metadata-db", "REG-002", "eu-primary",
     "not a GitLab container registry"),
    ("add-geo-external-db", "dsn-other-db", "setup-geo", "DB-006", "eu-primary",
     "registry_staging"),
    ("add-registry-to-geo", "registry-with-data", "enable-secondary-registry", "REG-009",
     "eu-primary", "already holds data"),
]


@pytest.mark.parametrize("profile, scenario, step, check, site, words", DEFECTS,
                         ids=[d[0] for d in DEFECTS])
def test_defect_is_not_ready_for_the_right_reason(lab, profile, scenario, step, check, site,
                                                 words):
    s = run(lab(scenario), profile=profile, step=step)
    assert s["verdict"] == "NOT_READY" and s["returncode"] == 1
    r = finding(s, check, site)
    assert words in r["message"], r["message"]
