"""gitlab.rb parsing (probe layer) and the pure rules of the registry's metadata mode (check
layer)."""

from __future__ import annotations

import pytest

from checks._rules import config_mode, gitlab_v1_mode, header_mode, lockfile_mode
from checks.test_reg import prefer_hazard
from geopreflight.gitlab_rb import Unparsed, geo_role, parse
from geopreflight.probes.models import Lockfiles
from geopreflight.registry_config import summary

RB = """
# registry['database'] = { 'enabled' => true }   <- a comment, ignored
external_url "https://gitlab.example.com"
roles(["geo_secondary_role"])
registry['database'] = {
  "enabled" => false, # must be false!
  'host': 'db.example.com',
  port: 5432,
  :dbname => "registry",
  'password' => 'x"y\\'z',
}
registry['storage'] = { 'filesystem' => { 'rootdirectory' => '/data' },
  'maintenance' => { 'readonly' => { 'enabled' => true } } }
gitlab_rails['geo_registry_replication_primary_api_url'] = "https://#{host}:5050"
registry['notifications'] = [{ 'name' => 'geo_event',
  'headers' => { 'Authorization' => ['a', 'b'] } }]
"""


def test_literals_comments_quotes_and_multiline_hashes():
    cfg = parse(RB)
    assert cfg.get("external_url") == "https://gitlab.example.com"
    assert cfg.get("registry", "database") == {"enabled": False, "host": "db.example.com",
                                               "port": 5432, "dbname": "registry",
                                               "password": "x\"y'z"}
    assert cfg.get("registry", "storage", "maintenance", "readonly", "enabled") is True
    assert cfg.get("registry", "notifications")[0]["headers"]["Authorization"] == ["a", "b"]
    assert geo_role(cfg) == "secondary"


def test_unparseable_setting_is_an_error_of_that_setting_only():
    cfg = parse(RB)
    with pytest.raises(Unparsed, match="line 14"):
        cfg.get("gitlab_rails", "geo_registry_replication_primary_api_url")
    assert cfg.get("gitlab_rails", "geo_node_name") is None


def test_nested_assignment_and_enable_spelling():
    cfg = parse("registry['database']['enabled'] = 'prefer'\ngeo_primary_role['enable'] = true\n")
    assert cfg.get("registry", "database", "enabled") == "prefer"
    assert geo_role(cfg) == "primary"


@pytest.mark.parametrize("raw, fs_lock, mode", [
    (True, None, "database"), ("true", False, "database"), (False, None, "legacy"),
    ("false", True, "legacy"), ("prefer", True, "legacy"), ("prefer", False, "database"),
    ("prefer", None, None), (None, None, "legacy"),
])
def test_config_mode_table(raw, fs_lock, mode):
    assert config_mode(raw, fs_lock) == mode


def test_other_mode_sources():
    assert header_mode("true") == "database" and header_mode(None) is None
    assert gitlab_v1_mode(200, True) == "database"
    assert gitlab_v1_mode(404, False) == "not-gitlab"
    both = Lockfiles(True, dir="/d", database_in_use=True, filesystem_in_use=True)
    assert lockfile_mode(both).startswith("invalid")
    assert lockfile_mode(Lockfiles(False, why="object storage")) is None


@pytest.mark.parametrize("enabled, is_set, pg, lock, hazard", [
    (None, False, True, False, True),       # unset, 19.0 makes it prefer
    ("prefer", True, True, False, True),
    ("prefer", True, False, False, False),  # rewritten to false without bundled PostgreSQL
    (False, True, True, False, False),      # explicit false is safe
    ("prefer", True, True, True, False),    # the lockfile keeps it legacy
])
def test_prefer_hazard(enabled, is_set, pg, lock, hazard):
    got = prefer_hazard(mode="legacy", has_data=True, rb_enabled=enabled, rb_enabled_set=is_set,
                        bundled_pg_enabled=pg, filesystem_lock=lock)
    assert (got is not None) == hazard


def test_config_yml_summary_drops_secrets():
    text = ('storage: {"s3":{"bucket":"b"},"maintenance":{"readonly":{"enabled":true}}}\n'
            'http:\n  addr: 0.0.0.0:5000\n  secret: "topsecret"\n'
            'database: {"enabled":"prefer","host":"db","password":"pw"}\n')
    s = summary(text)
    assert s["storage_backend"] == "s3" and s["storage_root"] is None and s["readonly"] is True
    assert "pw" not in repr(s) and "topsecret" not in repr(s)
