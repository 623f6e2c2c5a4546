"""gitlab.rb parsing (probe layer) and the pure rules of the registry's metadata mode (check
layer)."""

from __future__ import annotations

import json

import pytest

from geopreflight.checks._rules import config_mode, gitlab_v1_mode, header_mode, lockfile_mode
from geopreflight.checks.test_reg import prefer_hazard
from geopreflight.gitlab_rb import FACT_KEYS, Unparsed, facts, geo_role, parse
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


SECRETS_RB = """
external_url 'https://gitlab.example.com'
gitlab_rails['secret_key_base'] = 'SKB-4f1d2c0a9e'
gitlab_rails['otp_key_base'] = "OTP-77aa81bb"
gitlab_rails['db_key_base'] = 'DBK-0099ffee'
gitlab_rails['encrypted_settings_key_base'] = 'ESK-31337abc'
gitlab_rails['google_json_key_string'] = '{"private_key": "GJK-pk-9911"}'
gitlab_rails['geo_node_name'] = 'eu-primary'
registry['http_secret'] = 'HTTPSECRET-5150'
registry['notifications'] = [{ 'name' => 'geo_event',
  'headers' => { 'Authorization' => ['NOTIFY-TOK-8086'] } }]
registry['database'] = { 'enabled' => true, 'user' => 'registry', 'password' => 'DBPW-2468',
  'sslmode' => 'verify-full' }
registry['storage'] = { 's3' => { 'secretkey' => 'S3SECRET-1357' },
  'maintenance' => { 'readonly' => { 'enabled' => false } } }
gitlab_rails['smtp_password'] = ENV['SMTP']
gitlab_rails['lfs_object_store_connection'] = { 'aws_secret_access_key' => 'AWSK-1122' } 'MK2'
'MK2-unrecognised'
gitlab_rails['ldap_servers'] = YAML.load <<-EOS
  main: { password: 'LDAP-PW-3344' }
EOS
"""
PLANTED = ("SKB-4f1d2c0a9e", "OTP-77aa81bb", "DBK-0099ffee", "ESK-31337abc", "GJK-pk-9911",
           "HTTPSECRET-5150", "NOTIFY-TOK-8086", "DBPW-2468", "S3SECRET-1357", "AWSK-1122",
           "MK2", "LDAP-PW-3344")


def test_facts_keep_only_the_settings_checks_read() -> None:
    kept = facts(parse(SECRETS_RB))
    text = json.dumps(kept)
    assert [s for s in PLANTED if s in text] == []
    for word in ("secret_key_base", "otp_key_base", "db_key_base", "http_secret", "s3",
                 "password", "sslmode", "smtp_password", "ldap_servers"):
        assert word not in text, word
    assert kept["values"] == {"external_url": "https://gitlab.example.com",
                              "gitlab_rails": {"geo_node_name": "eu-primary"},
                              "registry": {"database": {"enabled": True, "user": "registry"},
                                           "storage": {"maintenance": {"readonly": {
                                               "enabled": False}}}}}


def test_problems_name_the_line_and_key_never_a_value() -> None:
    cfg = parse(SECRETS_RB)
    messages = [p.describe() for p in cfg.problems]
    assert messages and not [m for m in messages for s in PLANTED if s in m], messages
    assert "gitlab.rb line 18: cannot read ? (unrecognised statement starting with a string)" \
        in messages
    assert "gitlab.rb line 16: cannot read gitlab_rails['smtp_password'] (not a literal value: " \
        "ENV)" in messages
    # a whole-statement problem is kept (it may hide any key); a problem of a dropped key is not
    kept = facts(cfg)["problems"]
    assert {tuple(p["path"]) for p in kept} == {()}


def test_the_allow_list_matches_what_checks_read() -> None:
    """Every gitlab.rb path a check reads is kept, and every kept path is read somewhere: a
    check that starts reading a new setting fails here until FACT_KEYS has it."""
    import inspect
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    code = "\n".join(p.read_text() for p in [*root.glob("geopreflight/checks/*.py"),
                                             root / "geopreflight/checks/_views.py",
                                             root / "geopreflight/probes/registry.py"])
    code += inspect.getsource(geo_role)
    read = {tuple(re.findall(r'"([^"]+)"', args))
            for args in re.findall(r"rb_(?:get|has)\(ctx, ((?:\"[^\"]+\",? ?)+)", code)}
    assert len(read) >= 10, read
    for path in read:
        assert any(k[:len(path)] == path for k in FACT_KEYS), f"{path} is read but not kept"
    for key in FACT_KEYS:
        assert f'"{key[-1]}"' in code, f"{key} is kept but no check reads it"


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    cfg = parse("registry['x'] = " + "[" * 5000 + "]" * 5000 + "\nexternal_url 'https://a'\n")
    assert cfg.get("external_url") == "https://a"
    assert any("nested deeper" in p.reason for p in cfg.problems)
