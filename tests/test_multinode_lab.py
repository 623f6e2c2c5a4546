"""Several nodes per site (inventory `hosts:`): the inventory's contract, and on the lab a
secondary whose Sidekiq node lacks the registry replication setting is NOT READY naming that
node, in summary.json and in the JUnit case name."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from geopreflight.errors import UsageError
from geopreflight.inventory import HOST_ROLES, load_inventory_text
from labrun import expect, run_now

ML = "migrate-legacy"
SITE = """deployment: d
sites:
  - name: p
    role: primary
    gitlab: {{url: "https://p.example.com", token: t}}
{extra}
"""


def _load(extra: str):
    return load_inventory_text(SITE.format(extra=extra), "inv.yml", resolve_secrets=False)


def test_hosts_are_named_nodes_with_roles_and_the_registry_node_is_the_default():
    inv = _load("""    hosts:
      - {target: "ssh://ops@gitlab-eu-rails1", roles: [rails]}
      - {target: "ssh://ops@gitlab-eu-sidekiq1", roles: [sidekiq], sudo: true}
      - {target: "ssh://ops@gitlab-eu-registry1", roles: [registry], ssh_config: ~/.ssh/c,
         ssh_identity_file: ~/.ssh/geo}""")
    site = inv.sites[0]
    assert [h.name for h in site.hosts] == ["gitlab-eu-rails1", "gitlab-eu-sidekiq1",
                                           "gitlab-eu-registry1"]
    assert site.host.name == "gitlab-eu-registry1" and site.host.ssh_config == "~/.ssh/c"
    assert [h.name for h in site.nodes(("rails", "sidekiq"))] == ["gitlab-eu-rails1",
                                                                 "gitlab-eu-sidekiq1"]
    assert site.hosts[1].sudo is True and site.hosts[0].sudo is False


def test_a_single_host_keeps_its_shape_and_takes_the_ssh_settings():
    inv = _load("""    host: {target: "ssh://ops@gitlab", sudo: true, ssh_config: /etc/c}""")
    site = inv.sites[0]
    assert site.hosts == (site.host,) and site.host.name is None
    assert site.host.roles == HOST_ROLES and site.host.sudo and site.host.ssh_config == "/etc/c"


@pytest.mark.parametrize("extra, words, line", [
    ("""    host: {target: local://}
    hosts: [{target: local://}]""", "give host (one node) or hosts", 7),
    ("""    hosts:
      - {target: local://, root: /a/node}
      - {target: local://, root: /b/node}""", "the host name 'node' is used twice", 8),
    ("""    hosts: [{target: "ssh://a", roles: [web]}]""", "unknown role 'web'", 6),
    ("""    hosts: [{target: "ssh://a", sudo: "yes"}]""", "sudo: expected true or false", 6),
    ("""    host: {target: "ssh://a", roles: [rails]}""", "roles: unknown key", 6),
    ("""    hosts: []""", "expected at least one host", 6),
])
def test_bad_hosts_are_exit_4_with_the_file_and_line(extra, words, line):
    with pytest.raises(UsageError) as exc:
        _load(extra)
    assert words in exc.value.message and exc.value.file == "inv.yml"
    assert exc.value.line == line, (exc.value.line, exc.value.message)


@pytest.mark.lab
def test_a_sidekiq_node_without_the_replication_url_is_not_ready_naming_it(lab):
    d = lab("multinode-sidekiq-no-url")
    s = run_now(d, ML, "--step=verify-replication")
    expect(s, "verify-replication", "NOT_READY")
    rows = {c.get("host"): c for c in s["checks"] if c["id"] == "HOST-005"}
    assert set(rows) == {"main", "sidekiq1"}
    bad = rows["sidekiq1"]
    assert bad["outcome"] == "fail" and bad["blocking"] and bad["site"] == "us-secondary"
    assert bad["message"] == "us-secondary host sidekiq1: enabled True, primary_api_url unset"
    # the node that looks right fails too, naming both nodes
    assert rows["main"]["outcome"] == "fail"
    assert "us-secondary host main" in rows["main"]["message"]
    assert "us-secondary host sidekiq1" in rows["main"]["message"]
    # the primary registry is reached from each Rails and Sidekiq node's own gitlab.rb
    reach = {c.get("host"): c for c in s["checks"] if c["id"] == "REG-012"}
    assert reach["main"]["outcome"] == "pass", reach["main"]
    assert reach["sidekiq1"]["outcome"] == "fail" and "is not set" in reach["sidekiq1"]["message"]
    # the registry's settings are judged on the registry node only
    assert [c.get("host") for c in s["checks"] if c["id"] == "HOST-002"
            and c["site"] == "us-secondary"] == ["main"]
    latest = max((Path(d.dir) / "reports").glob("walk-*/latest/junit.xml"),
                 key=lambda p: p.stat().st_mtime)  # this run's
    names = [c.get("name") for c in ET.parse(latest).iter("testcase")]
    assert any(n.startswith("HOST-005 [us-secondary host sidekiq1]") for n in names), names


@pytest.mark.lab
def test_the_same_site_on_one_node_is_ready_and_its_facts_keep_their_shape(lab):
    d = lab("multinode")
    s = run_now(d, ML, "--step=import-secondary")
    expect(s, "import-secondary", "READY")
    assert not any("were not read" in n and "us-secondary" in n for n in s["notes"])


@pytest.mark.lab
@pytest.mark.parametrize("scenario, step, check, site, node, words", [
    # one registry node behind the load balancer left read-write takes pushes the import loses
    ("multinode-registry-rw", "import-secondary", "REG-010", "us-secondary", "registry2",
     "us-secondary host registry2: config.yml storage.maintenance.readonly.enabled is None"),
    # one left read-only refuses Geo's sync pushes while the repositories look synced
    ("multinode-registry-ro", "verify-replication", "REG-011", "us-secondary", "registry2",
     "us-secondary host registry2: the registry is still in read-only maintenance mode"),
    # the events reach the web nodes: one with another secret answers 401
    ("multinode-web-secret", "verify-replication", "HOST-004", "eu-primary", "web1",
     "eu-primary host web1: gitlab.yml registry.notification_secret differs from the "
     "Authorization of eu-primary host main's geo_event endpoint"),
])
def test_a_node_left_behind_is_not_ready_naming_site_node_and_check(
        lab, scenario, step, check, site, node, words):
    s = run_now(lab(scenario), ML, f"--step={step}")
    expect(s, step, "NOT_READY")
    bad = [(c["id"], c["site"], c.get("host")) for c in s["checks"]
           if c["blocking"] and c["outcome"] in ("fail", "error")]
    assert bad == [(check, site, node)], bad
    row = next(c for c in s["checks"] if (c["id"], c.get("host")) == (check, node))
    assert words in row["message"], row["message"]
    # the node that is right passes on its own row
    main = next(c for c in s["checks"] if (c["id"], c["site"], c.get("host")) ==
                (check, site, "main"))
    assert main["outcome"] == "pass", main


@pytest.mark.lab
def test_a_sidekiq_node_signing_with_another_key_blocks_verify_replication(lab):
    s = run_now(lab("multinode-sidekiq-other-key"), ML, "--step=verify-replication")
    expect(s, "verify-replication", "NOT_READY")
    row = next(c for c in s["checks"] if c["id"] == "HOST-006")
    assert row["outcome"] == "fail" and row["blocking"], row
    assert "different token-signing keys: us-secondary host sidekiq1 differs from " \
           "eu-primary" in row["message"], row["message"]


@pytest.mark.lab
def test_a_node_left_on_another_version_is_not_ready_naming_it(lab):
    """The secondary's Sidekiq node still on 17.10.1 while the site reports 17.10.2 (its
    version file, as a node the upgrade missed): NOT READY at the first step, VER-005 failing
    on that node only, naming site, node and both versions."""
    s = run_now(lab("multinode-node-other-version"), ML)
    expect(s, "prerequisites", "NOT_READY")
    rows = {c.get("host"): c for c in s["checks"]
            if c["id"] == "VER-005" and c["site"] == "us-secondary"}
    assert set(rows) == {"main", "sidekiq1"}
    bad = rows["sidekiq1"]
    assert bad["outcome"] == "fail" and bad["blocking"], bad
    assert bad["message"] == ("us-secondary host sidekiq1 runs GitLab 17.10.1-ee (its version "
                              "file); us-secondary reports 17.10.2-ee (from its Geo status "
                              "(site id 2))"), bad["message"]
    assert rows["main"]["outcome"] == "pass", rows["main"]
    assert [c["id"] for c in s["checks"] if c["outcome"] == "fail"] == ["VER-005"]
