"""Walk add-geo-external-db on the lab: setup-geo -> secondary-registry-and-metadata-db ->
configure-replication, the lab's actions one by one, `--step=auto` after each."""

from __future__ import annotations

import pytest

from labrun import expect, needs_canary, proves_completion, walk

pytestmark = pytest.mark.lab
PROFILE = "add-geo-external-db"
STAGES = [
    ("start", [], ()),
    ("geo", ["setup-geo"], ()),
    ("secondary", ["enable-registry --site us-secondary",
                   "setup-metadata-db --site us-secondary"], ()),
    ("replication", ["configure-replication"], ()),
]


@pytest.fixture(scope="module")
def runs(lab):
    return walk(lab, PROFILE, PROFILE, STAGES)


def test_an_instance_on_an_external_db_is_ready_for_setup_geo(runs):
    expect(runs["start"], "setup-geo", "READY")


def test_after_setup_geo_the_secondary_registry_is_next(runs):
    expect(runs["geo"], "secondary-registry-and-metadata-db", "READY",
           {"setup-geo": "complete", "secondary-registry-and-metadata-db": "next"})


def test_the_secondary_set_up_is_ready_for_configure_replication(runs):
    expect(runs["secondary"], "configure-replication", "READY")


def test_without_canary_replication_is_judged_not_complete(runs):
    needs_canary(runs["no-canary"], "configure-replication")


def test_the_canary_completes_the_walk(runs):
    proves_completion(runs["canary"])


def test_a_waiver_on_rep_003_completes_it(runs):
    proves_completion(runs["waived"])
