"""Walk add-geo-default-db on the lab: move-metadata-db -> setup-geo ->
secondary-registry-and-metadata-db -> configure-replication, the lab's actions one by one,
`--step=auto` after each; and the half-moved database (IN PROGRESS)."""

from __future__ import annotations

import pytest

from labrun import expect, needs_canary, proves_completion, run_now, walk

pytestmark = pytest.mark.lab
PROFILE = "add-geo-default-db"
STAGES = [
    ("start", [], ()),
    ("moved", ["move-db --site eu-primary"], ()),
    ("geo", ["setup-geo"], ()),
    ("secondary", ["enable-registry --site us-secondary",
                   "setup-metadata-db --site us-secondary"], ()),
    ("replication", ["configure-replication"], ()),
]


@pytest.fixture(scope="module")
def runs(lab):
    return walk(lab, PROFILE, PROFILE, STAGES)


def test_a_bundled_registry_db_is_ready_to_move(runs):
    expect(runs["start"], "move-metadata-db", "READY")


def test_after_the_move_setup_geo_is_next(runs):
    expect(runs["moved"], "setup-geo", "READY", {"move-metadata-db": "complete",
                                                 "setup-geo": "next"})


def test_after_setup_geo_the_secondary_registry_is_next(runs):
    expect(runs["geo"], "secondary-registry-and-metadata-db", "READY")


def test_the_secondary_set_up_is_ready_for_configure_replication(runs):
    expect(runs["secondary"], "configure-replication", "READY")


def test_without_canary_replication_is_judged_not_complete(runs):
    needs_canary(runs["no-canary"], "configure-replication")


def test_the_canary_completes_the_walk(runs):
    proves_completion(runs["canary"])


def test_a_waiver_on_rep_003_completes_it(runs):
    proves_completion(runs["waived"])


def test_a_half_restored_move_is_in_progress(lab):
    """The registry already points at the external DB, whose restore stopped before the
    tags: the move has begun and is not finished (design, "Step position")."""
    s = run_now(lab("db-half-moved"), PROFILE)
    expect(s, "move-metadata-db", "IN_PROGRESS")
    assert ("DB-011", "eu-primary") in [(c["id"], c["site"]) for c in s["checks"]]
