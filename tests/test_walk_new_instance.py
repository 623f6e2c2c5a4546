"""Walk new-instance on the lab: setup-geo -> setup-metadata-db -> configure-replication,
the lab's actions one by one, `--step=auto` after each (design, "Step position")."""

from __future__ import annotations

import pytest

from labrun import expect, needs_canary, proves_completion, walk

pytestmark = pytest.mark.lab
PROFILE = "new-instance"
STAGES = [
    ("start", [], ()),
    ("geo", ["setup-geo"], ()),
    ("one-db", ["setup-metadata-db --site eu-primary"], ()),
    ("both-db", ["setup-metadata-db --site us-secondary"], ()),
    ("replication", ["configure-replication", "push --site eu-primary group/project/app:v1"], ()),
]


@pytest.fixture(scope="module")
def runs(lab):
    return walk(lab, PROFILE, PROFILE, STAGES)


def test_a_new_instance_is_ready_for_setup_geo(runs):
    expect(runs["start"], "setup-geo", "READY")


def test_after_setup_geo_the_metadata_db_is_next(runs):
    expect(runs["geo"], "setup-metadata-db", "READY", {"setup-geo": "complete",
                                                       "setup-metadata-db": "next"})


def test_one_site_set_up_is_ready_for_the_other(runs):
    expect(runs["one-db"], "setup-metadata-db", "READY")


def test_both_sites_set_up_is_ready_for_configure_replication(runs):
    """HOST-004 is what configure-replication configures: not a requirement of it."""
    expect(runs["both-db"], "configure-replication", "READY")


def test_without_canary_replication_is_judged_not_complete(runs):
    needs_canary(runs["no-canary"], "configure-replication")


def test_the_canary_completes_the_walk(runs):
    proves_completion(runs["canary"])


def test_a_waiver_on_rep_003_completes_it(runs):
    proves_completion(runs["waived"])
