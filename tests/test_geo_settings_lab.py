"""Geo settings that silently exclude the registry, and version parity before Geo exists,
against the lab (the GitLab stand-in's Geo sites API, scenario `geo_settings`)."""

from __future__ import annotations

import pytest

from labrun import failing, fails_on, finding, passing, row, run

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("scenario, words", [
    ("geo-site-disabled", "the Geo site is disabled"),
    ("geo-zero-capacity", "container_repositories_max_capacity is 0"),
])
def test_a_secondary_that_replicates_nothing_blocks_the_import(lab, scenario, words):
    s = run(lab(scenario))
    assert s["verdict"] == "NOT_READY"
    fails_on(s, "GEO-007", "us-secondary", words)


def test_selective_sync_is_a_warning_not_a_block(lab):
    s = run(lab("geo-selective-sync"))
    assert s["verdict"] == "READY", failing(s)
    r = finding(s, "GEO-007", "us-secondary", "warn")
    assert "namespaces: [25]" in r["message"]


def test_textbook_secondary_passes_geo_007(lab):
    s = run(lab("legacy-both"))
    assert "capacity 10" in passing(s, "GEO-007", "us-secondary")["message"]
    assert not [r for r in s["checks"] if r["id"] == "GEO-007" and r["site"] == "eu-primary"
                and r["outcome"] != "not-applicable"]


def test_setup_geo_compares_each_instances_own_version(lab):
    """Before Geo, no instance proxies: each one's /api/v4/metadata is its own version."""
    s = run(lab("new-instance-old-version"), "new-instance", "setup-geo")
    r = fails_on(s, "VER-003", None, "us-secondary (own answer): 17.2.9-ee")
    assert "eu-primary (own answer): 17.10.2-ee" in r["message"]
    ok = run(lab("new-instance"), "new-instance", "setup-geo")
    assert row(ok, "VER-003", None)["outcome"] == "pass", failing(ok)
