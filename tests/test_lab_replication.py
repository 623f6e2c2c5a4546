"""Geo registry replication in the lab: real notifications drive real copies and the counts."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from lab import hostroot, oci

pytestmark = pytest.mark.lab


def client(site) -> oci.Client:
    return oci.Client(site.registry_url, oci.basic_auth_tokens(site.username, site.token))


def secondary_status(d, site_id: int = 2) -> dict:
    return next(s for s in d.api(d.secondary.name, "geo_sites/status")
                if s["geo_node_id"] == site_id)


def wait_for(fn, timeout: float = 15.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def test_pushed_image_reaches_the_secondary_with_the_same_digest(fresh_lab):
    d = fresh_lab("both-imported")
    tag = "t" + uuid.uuid4().hex[:8]
    digest = d.push(d.primary.name, f"group/project/new:{tag}")
    sec = client(d.secondary)
    assert wait_for(lambda: sec.digest("group/project/new", tag) == digest), \
        (d.secondary.run / "replication.log").read_text()

    def counted() -> dict | None:
        st = secondary_status(d)
        return st if st["container_repositories_synced_count"] == 3 else None

    st = wait_for(counted)
    assert st, secondary_status(d)
    assert st["container_repositories_count"] == st["container_repositories_registry_count"] == 3
    assert st["container_repositories_failed_count"] == 0
    assert st["container_repositories_synced_in_percentage"] == "100.00%"
    assert st["container_repositories_replication_enabled"] is True
    # the notification really went through the primary's stand-in, with its secret
    events = [json.loads(x) for x in Path(d.model["sites"][0]["run"], "events.jsonl").open()]
    assert any(e["target"].get("tag") == tag for env in events for e in env["events"])
    # both registries are in database mode: the rows followed the pushes on both sides
    for site in d.sites:
        with psycopg.connect(site.dsn) as conn:
            assert conn.execute("SELECT count(*) FROM tags t JOIN repositories r ON "
                                "r.id = t.repository_id WHERE r.path = %s AND t.name = %s",
                                ("group/project/new", tag)).fetchone()[0] == 1


def test_replication_failing_shows_in_the_counts(lab):
    d = lab("replication-failing")
    st = wait_for(lambda: (s := secondary_status(d))["container_repositories_failed_count"] and s)
    assert st["container_repositories_count"] == 2
    assert st["container_repositories_failed_count"] == 1
    assert st["container_repositories_synced_count"] == 1
    assert st["container_repositories_synced_in_percentage"] == "50.00%"
    assert client(d.secondary).tags("group/project/app") == []
    assert client(d.secondary).tags("platform/base") == ["latest"]




def test_delayed_replication(fresh_lab, tmp_path):
    scn = tmp_path / "lagging.yml"
    scn.write_text("extends: not-read-only\nsites:\n  us-secondary:\n"
                   "    replication: {delay_s: 2}\n")
    d = fresh_lab(str(scn))
    digest = d.push(d.primary.name, "group/project/app:lagging")
    sec = client(d.secondary)
    time.sleep(0.8)
    assert sec.digest("group/project/app", "lagging") is None, "not yet: 2 s of lag"
    assert wait_for(lambda: sec.digest("group/project/app", "lagging") == digest, timeout=10)


def test_replication_disabled(lab):
    d = lab("registry-disabled-on-secondary")
    st = secondary_status(d)
    assert st["container_repositories_replication_enabled"] is False
    rb = (d.secondary.root / "etc/gitlab/gitlab.rb").read_text()
    assert "gitlab_rails['geo_registry_replication_enabled'] = false" in rb


def test_primary_notification_metrics_on_the_debug_server(fresh_lab):
    d = fresh_lab("not-read-only")
    p = d.primary
    cfg = hostroot.read_config(p.root)
    assert cfg["http"]["debug"]["addr"] == p.registry_debug_addr
    d.push(p.name, "group/project/app:metrics")

    def delivered() -> dict | None:
        ep = requests.get(f"http://{p.registry_debug_addr}/debug/vars", timeout=5).json()[
            "registry"]["notifications"]["endpoints"][0]
        return ep if ep["Metrics"]["Successes"] >= 3 else None

    ep = wait_for(delivered, timeout=10)
    assert ep and ep["name"] == "geo_event" and ep["Metrics"]["Failures"] == 0
    assert ep["Metrics"]["Statuses"].get("200 OK", 0) >= 3
