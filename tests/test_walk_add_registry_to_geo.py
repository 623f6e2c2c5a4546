"""Walk add-registry-to-geo on the lab: enable-secondary-registry -> setup-metadata-db ->
configure-replication, the lab's actions one by one, `--step=auto` after each."""

from __future__ import annotations

import pytest

from labrun import expect, needs_canary, proves_completion, walk

pytestmark = pytest.mark.lab
PROFILE = "add-registry-to-geo"
STAGES = [
    ("start", [], ()),
    ("enabled", ["enable-registry --site us-secondary"], ()),
    ("both-db", ["setup-metadata-db --site eu-primary", "setup-metadata-db --site us-secondary"],
     ()),
    ("replication", ["configure-replication", "push --site eu-primary group/project/app:v1"], ()),
]


@pytest.fixture(scope="module")
def runs(lab):
    return walk(lab, PROFILE, PROFILE, STAGES)


def test_geo_without_a_secondary_registry_is_ready_to_enable_it(runs):
    expect(runs["start"], "enable-secondary-registry", "READY")


def test_with_the_secondary_registry_enabled_the_metadata_db_is_next(runs):
    expect(runs["enabled"], "setup-metadata-db", "READY",
           {"enable-secondary-registry": "complete", "setup-metadata-db": "next"})


def test_both_databases_set_up_is_ready_for_configure_replication(runs):
    expect(runs["both-db"], "configure-replication", "READY")


def test_without_canary_replication_is_judged_not_complete(runs):
    needs_canary(runs["no-canary"], "configure-replication")


def test_the_canary_completes_the_walk(runs):
    proves_completion(runs["canary"])


def test_a_waiver_on_rep_003_completes_it(runs):
    proves_completion(runs["waived"])
