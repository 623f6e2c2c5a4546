"""Walk add-geo-and-registry on the lab: setup-geo -> enable-registry-and-metadata-db ->
configure-replication, the lab's actions one by one, `--step=auto` after each."""

from __future__ import annotations

import pytest

from labrun import expect, needs_canary, proves_completion, walk

pytestmark = pytest.mark.lab
PROFILE = "add-geo-and-registry"
STAGES = [
    ("start", [], ()),
    ("geo", ["setup-geo"], ()),
    ("registries", ["enable-registry --site eu-primary", "enable-registry --site us-secondary",
                    "setup-metadata-db --site eu-primary", "setup-metadata-db --site us-secondary"],
     ()),
    ("replication", ["configure-replication", "push --site eu-primary group/project/app:v1"], ()),
]


@pytest.fixture(scope="module")
def runs(lab):
    return walk(lab, PROFILE, PROFILE, STAGES)


def test_an_instance_without_geo_or_registry_is_ready_for_setup_geo(runs):
    expect(runs["start"], "setup-geo", "READY")


def test_after_setup_geo_the_registries_are_next(runs):
    expect(runs["geo"], "enable-registry-and-metadata-db", "READY",
           {"setup-geo": "complete", "enable-registry-and-metadata-db": "next"})


def test_both_registries_on_their_databases_is_ready_for_configure_replication(runs):
    expect(runs["registries"], "configure-replication", "READY")


def test_without_canary_replication_is_judged_not_complete(runs):
    needs_canary(runs["no-canary"], "configure-replication")


def test_the_canary_completes_the_walk(runs):
    proves_completion(runs["canary"])


def test_a_waiver_on_rep_003_completes_it(runs):
    proves_completion(runs["waived"])
