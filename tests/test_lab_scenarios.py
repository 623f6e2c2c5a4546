"""Scenario files, and each built-in starting state as it really comes up."""

from __future__ import annotations

import re

import psycopg
import pytest
import requests
import yaml

from lab import hostroot, metadata, scenario

STARTS = ["new-instance", "add-registry-to-geo", "add-geo-and-registry", "add-geo-external-db",
          "add-geo-default-db", "migrate-legacy"]


def test_builtins_load_and_say_what_they_are():
    for name in scenario.builtin_names():
        s = scenario.load(name)
        assert s["description"] and len(s["sites"]) >= 2
        assert [x["role"] for x in s["sites"]].count("primary") == 1


@pytest.mark.parametrize("text, message", [
    ("sites: []", "non-empty"),
    ("sites:\n- {name: a, role: primary, db: {placement: 'replica-of:zz'}}", "unknown site"),
    ("sites:\n- {name: a, role: primary, registry: {mode: fast}}", "registry.mode"),
    ("sites:\n- {name: a, role: boss}", "role must be"),
    ("extends: legacy-both\nsites: {nowhere: {version: 1}}", "not in"),
    ("sites:\n- {name: a, geo: secondary}\n- {name: b, geo: none}", "needs a Geo primary"),
    ("sites:\n- {name: a, role: primary, registry: {token_key: mine}}", "registry.token_key"),
    ("sites:\n- {name: a, role: primary, db: {settings: {work_mem: 1}}}", "db.settings"),
    ("sites:\n- {name: a, role: primary, db: {restore_from: zz}}", "db.restore_from"),
    ("sites:\n- {name: a, role: primary, host: {cluster_json: both}}", "host.cluster_json"),
    ("sites:\n- {name: a, role: primary, registry: {redirect: true}}",
     "registry.redirect is for registry.storage s3"),
    ("sites:\n- {name: a, role: primary, db: {postgres: 13}}", "db.postgres"),
    ("sites:\n- {name: a, role: primary}\n- {name: b, db: {placement: 'shared-with:a', "
     "postgres: 14}}", "db.postgres needs a cluster of the site's own"),
    ("sites:\n- {name: a, role: primary, host: {nodes: [{name: n1, version: latest}]}}",
     "version a GitLab version"),
])
def test_bad_scenarios_are_refused(tmp_path, text, message):
    f = tmp_path / "bad.yml"
    f.write_text(text)
    with pytest.raises(scenario.ScenarioError, match=message):
        scenario.load(str(f))


def test_unknown_name_lists_the_builtins():
    with pytest.raises(scenario.ScenarioError, match="legacy-both"):
        scenario.load("nope")


def test_extends_overrides_by_site():
    s = scenario.load("old-version")
    assert [x["version"] for x in s["sites"]] == ["17.10.2-ee", "17.2.9-ee"]
    assert s["sites"][1]["registry"]["read_only"] is True


@pytest.mark.lab
def test_host_files_agree_with_what_runs(lab):
    d = lab("legacy-both")
    p, s = d.primary, d.secondary
    for site in d.sites:
        cfg = hostroot.read_config(site.root)
        assert cfg["http"]["addr"] == site.registry_http_addr
        assert cfg["auth"]["token"]["realm"] == f"{site.gitlab_url}/jwt/auth"
        assert cfg["database"]["port"] == site.db["port"]
        assert cfg["storage"]["maintenance"]["readonly"]["enabled"] is True
        assert requests.get(f"http://{site.registry_http_addr}/v2/", timeout=5).status_code == 401
        rb = (site.root / hostroot.GITLAB_RB).read_text()
        assert f"registry_external_url '{site.registry_url}'" in rb
        assert f"gitlab_rails['geo_node_name'] = '{site.name}'" in rb
        assert (site.root / "opt/gitlab/embedded/service/gitlab-rails/VERSION").read_text() \
            .strip() == "17.10.2-ee"
        with psycopg.connect(site.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    rb_p = (p.root / hostroot.GITLAB_RB).read_text()
    assert "roles ['geo_primary_role']" in rb_p
    secret = re.search(r"'Authorization' => \['(\w+)'\]", rb_p).group(1)
    gl = yaml.safe_load((p.root / hostroot.GITLAB_YML).read_text())["production"]
    assert gl["registry"]["notification_secret"] == secret
    endpoint = hostroot.read_config(p.root)["notifications"]["endpoints"][0]
    assert endpoint["name"] == "geo_event" and endpoint["headers"]["Authorization"] == [secret]
    assert endpoint["url"] == f"{p.gitlab_url}/api/v4/container_registry_event/events"
    rb_s = (s.root / hostroot.GITLAB_RB).read_text()
    assert "roles ['geo_secondary_role']" in rb_s
    assert "gitlab_rails['geo_registry_replication_enabled'] = true" in rb_s
    assert f"geo_registry_replication_primary_api_url'] = '{p.registry_url}/'" in rb_s
    assert "notifications" not in hostroot.read_config(s.root)
    gl_s = yaml.safe_load((s.root / hostroot.GITLAB_YML).read_text())["production"]
    assert gl_s["geo"]["registry_replication"] == {"enabled": True,
                                                   "primary_api_url": p.registry_url + "/"}


@pytest.mark.lab
def test_a_secondary_proxies_the_api_to_the_primary(lab):
    d = lab("old-version")
    assert d.api(d.secondary.name, "version")["version"] == "17.10.2-ee"
    statuses = {s["geo_node_id"]: s for s in d.api(d.secondary.name, "geo_sites/status")}
    assert statuses[1]["version"] == "17.10.2-ee" and statuses[2]["version"] == "17.2.9-ee"
    sites = d.api(d.primary.name, "geo_sites")
    assert [(x["name"], x["primary"]) for x in sites] == [("eu-primary", True),
                                                          ("us-secondary", False)]
    assert (d.secondary.root / "opt/gitlab/embedded/service/gitlab-rails/VERSION").read_text() \
        .strip() == "17.2.9-ee"


@pytest.mark.lab
@pytest.mark.parametrize("name", STARTS)
def test_profile_starting_states(lab, name):
    d = lab(name)
    model = d.model
    geo = [s["geo"] for s in model["sites"]]
    sites = d.api(d.primary.name, "geo_sites")
    if geo == ["none", "none"]:
        assert sites == []
        assert "roles [" not in (d.primary.root / hostroot.GITLAB_RB).read_text()
    else:
        assert len(sites) == 2
    for spec, site in zip(model["sites"], d.sites, strict=True):
        cfg = hostroot.read_config(site.root)
        if not spec["registry"]["enabled"]:
            assert cfg is None
            continue
        tok = d.token(site.name)
        r = requests.get(f"{site.registry_url}/v2/", headers={"Authorization": f"Bearer {tok}"},
                         timeout=5)
        want = "true" if spec["registry"]["mode"] == "database" else "false"
        assert r.headers["Gitlab-Container-Registry-Database-Enabled"] == want
        lock = hostroot.lockfiles(site.root)
        if spec["registry"]["mode"] == "database":
            assert lock == ["database-in-use"]
            with psycopg.connect(site.dsn) as conn:
                assert conn.execute("SELECT count(*) FROM tags").fetchone()[0] == len(
                    spec["registry"]["images"])
        else:
            has_data = bool(metadata.tagged_images(site.root / hostroot.STORAGE))
            assert lock == (["filesystem-in-use"] if has_data else [])
    if name == "add-geo-default-db":
        assert hostroot.read_config(d.primary.root)["database"]["host"] == \
            "/var/opt/gitlab/postgresql"


@pytest.mark.lab
def test_api_knobs(fresh_lab, tmp_path):
    f = tmp_path / "knobs.yml"
    f.write_text("extends: no-data\nsites:\n  eu-primary:\n    gitlab: {admin_mode: true}\n"
                 "  us-secondary:\n    healthy: false\n")
    d = fresh_lab(str(f))
    s = d.primary
    r = requests.get(f"{s.gitlab_url}/api/v4/geo_sites", headers={"PRIVATE-TOKEN": s.token},
                     timeout=5)
    assert r.status_code == 403 and "admin_mode" in r.text
    d.api_state(s.name, admin_mode=False)
    statuses = d.api(s.name, "geo_sites/status")
    assert [x["healthy"] for x in statuses] == [True, False]
    assert statuses[1]["health_status"] == "Unhealthy"
    d.api_state(d.secondary.name, hang=True)
    with pytest.raises(requests.Timeout):
        requests.get(f"{d.secondary.gitlab_url}/api/v4/version", timeout=1)


@pytest.mark.lab
def test_prefer_mode_falls_back_on_filesystem_metadata(fresh_lab, tmp_path):
    f = tmp_path / "prefer.yml"
    f.write_text("extends: not-read-only\nsites:\n"
                 "  eu-primary: {registry: {mode: prefer}}\n"
                 "  us-secondary: {registry: {mode: prefer, enabled: true}, "
                 "replication: {enabled: false}}\n")
    d = fresh_lab(str(f))

    def header(site) -> str:
        r = requests.get(f"{site.registry_url}/v2/",
                         headers={"Authorization": f"Bearer {d.token(site.name)}"}, timeout=5)
        return r.headers["Gitlab-Container-Registry-Database-Enabled"]

    assert hostroot.read_config(d.primary.root)["database"]["enabled"] == "prefer"
    # the primary has data and a filesystem-in-use lockfile: prefer falls back to legacy
    assert hostroot.lockfiles(d.primary.root) == ["filesystem-in-use"]
    assert header(d.primary) == "false"
    # the secondary got no data (replication off): a fresh install, prefer uses the database
    assert hostroot.lockfiles(d.secondary.root) == ["database-in-use"]
    assert header(d.secondary) == "true"


@pytest.mark.lab
def test_requests_are_logged_per_site(lab):
    d = lab("legacy-both")
    before = d.count_requests(d.primary.name, "/api/v4/version")
    d.api(d.secondary.name, "version")  # proxied by the secondary to the primary
    assert d.count_requests(d.primary.name, "/api/v4/version") == before + 1
    assert any(r["proxied"] for r in d.requests_log(d.secondary.name)
               if r["path"] == "/api/v4/version")
    n = d.count_requests(d.primary.name, "/v2/", kind="registry")
    requests.get(f"{d.primary.registry_url}/v2/", timeout=5)
    assert d.count_requests(d.primary.name, "/v2/", kind="registry") == n + 1
