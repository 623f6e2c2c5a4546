"""Typed facts: recorded facts load back as the probes' models and write back the same JSON; a
recorded fact that does not fit its model is a clear error naming the fact and the field
(never the value), and through --from-evidence it is a usage error (exit 4)."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from geopreflight.facts import Fact, Facts, FactShapeError
from geopreflight.probes.models import FACT_MODELS, DbServer, GeoSites, PrimaryApi, RegistryApi
from lab.gitlab_api import site_object
from standin import ROOT, bundle_members, run_pytest, write_bundle

SERVER = {
    "system_identifier": "7383", "in_recovery": False, "wal_receivers": 0, "downstream": 0,
    "version_num": 160002, "version": "16.2", "dbname": "registry", "user": "registry",
    "server_addr": "127.0.0.1/32", "server_port": 5432, "started_at": "2025-01-01 00:00:00+00",
    "default_transaction_read_only": "off", "bytea_output": "hex", "owner": "registry",
    "tables": {"tags": {"exists": True, "rows": 3, "capped": False},
               "repositories": {"exists": False, "rows": 0},
               "schema_migrations": {"exists": None, "error": "permission denied"}},
}

RECORDED_HOST_CONFIG = next(
    f["value"] for f in json.loads((ROOT / "geopreflight/checks/recorded/legacy-both.json")
                                   .read_text())["facts"] if f["key"] == "host.config")


def fact(key: str, value, site: str | None = "eu-primary", **kw) -> dict:
    return {"key": key, "site": site, "value": value, "error": None, "source": "s",
            "started_at": "2025-01-01T00:00:00Z", "duration_s": 0.1, **kw}


def test_a_recorded_fact_loads_as_its_model_and_writes_back_the_same_json() -> None:
    items = [fact("db.server", SERVER),
             fact("registry.api", {"url": "https://r", "unauthenticated_status": 401,
                                   "challenge": {"realm": "https://gl/jwt/auth",
                                                 "service": "container_registry"},
                                   "status": 200, "api_version": "registry/2.0",
                                   "version": "4.40.0-gitlab", "features": "tag_delete",
                                   "database_enabled": None,
                                   "gitlab_v1": {"status": 404, "version_header": True}}),
             fact("registry.primary_api", None),
             fact("geo.sites", [site_object(1, "eu-primary", "https://gl", primary=True)],
                  site=None),
             fact("db.sessions", {"eu-primary": {"sees": []}, "us": {"error": "refused"}},
                  site=None),
             fact("host.gitlab_version", None, error="no host")]
    facts = Facts.from_dicts(copy.deepcopy(items))
    server = facts.value("db.server", "eu-primary")
    assert isinstance(server, DbServer) and server.tables["tags"].rows == 3
    assert not server.replica and server.tables["schema_migrations"].error
    api = facts.value("registry.api", "eu-primary")
    assert isinstance(api, RegistryApi) and api.gitlab_v1.version_header is True
    assert api.problem is None and api.database_enabled is None
    assert facts.value("registry.primary_api", "eu-primary") is None
    sites = facts.value("geo.sites")
    assert isinstance(sites, GeoSites) and [g.name for g in sites] == ["eu-primary"]
    assert not facts.value("db.sessions").shared("eu-primary", "us")
    assert [f.as_dict() for f in facts.all()] == items


def test_keys_a_probe_left_out_stay_out() -> None:
    legacy = {"url": "https://r", "unauthenticated_status": 200, "problem": "no token auth"}
    assert Fact("registry.api", "s", Facts.from_dicts([fact("registry.api", legacy)])
                .value("registry.api", "eu-primary")).as_dict()["value"] == legacy
    assert Fact("registry.primary_api", "s", PrimaryApi(None)).as_dict()["value"] == {"url": None}


@pytest.mark.parametrize("change, field", [
    (lambda v: v.update(version_num="glpat-NOT-A-NUMBER"), "value.version_num"),
    (lambda v: v["tables"]["tags"].update(rows="glpat-NOT-A-NUMBER"), "value.tables.tags.rows"),
    (lambda v: v.pop("dbname"), "value.dbname"),
    (lambda v: v.update(glpat_unknown=1), "value.glpat_unknown"),
])
def test_a_value_that_does_not_fit_names_the_fact_and_the_field_only(change, field) -> None:
    value = copy.deepcopy(SERVER)
    change(value)
    with pytest.raises(FactShapeError) as exc:
        Facts.from_dicts([fact("db.server", value)])
    message = str(exc.value)
    assert message.startswith("facts.json: fact db.server of eu-primary: ")
    assert f": {field}: " in message, message
    assert "NOT-A-NUMBER" not in message


def test_an_unknown_fact_key_is_refused() -> None:
    with pytest.raises(FactShapeError, match="not a fact geopreflight knows"):
        Facts.from_dicts([fact("db.everything", {})])


def test_every_fact_key_has_a_model() -> None:
    from geopreflight.facts import load_probes
    from geopreflight.probes import PROBES

    load_probes()
    plugins = {"canary.pushed", "canary.seen", "attestations",  # facts that options add
               "calibration.import_statistics"}
    assert {p.key for p in PROBES} | plugins == set(FACT_MODELS)


def test_a_bundle_whose_fact_does_not_fit_is_a_usage_error(deployment) -> None:
    d = deployment()
    run_pytest("--profile=migrate-legacy", f"--inventory={d.inventory()}",
               f"--report-dir={d.tmp / 'reports'}", "--evidence", env=d.env())
    bundle = d.tmp / "reports" / "latest" / "evidence.tar.gz"
    files = bundle_members(bundle)
    doc = json.loads(files["facts.json"])
    own = next(f for f in doc["facts"] if f["key"] == "gitlab.own_answer")
    own["value"]["version"] = 1710
    files["facts.json"] = json.dumps(doc).encode()
    files["SHA256SUMS"] = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                                  for name, data in sorted(files.items())
                                  if name != "SHA256SUMS").encode()
    edited = d.tmp / "edited.tar.gz"
    write_bundle(files, edited)
    r = run_pytest("--profile=migrate-legacy", f"--from-evidence={edited}",
                   f"--report-dir={d.tmp / 'again'}", env=d.env())
    assert r.returncode == 4, r.stdout + r.stderr
    assert f"fact gitlab.own_answer of {own['site']}: value.version: expected str" in r.stderr
    assert "1710" not in r.stderr and "Traceback" not in r.stderr
    assert not (d.tmp / "again").exists()


# --- settings copied from a host's files: JSON as the file gave it ----------------------------

HOST_INVENTORY = """\
deployment: typed
sites:
  - name: eu-primary
    role: primary
    gitlab: {{url: "http://127.0.0.1:9", token_env: GP_TYPED_TOKEN}}
    registry: {{url: "http://127.0.0.1:9"}}
    host: {{target: "local://", root: "{root}"}}
timeouts: {{connect_s: 1, read_s: 2}}
"""
# Odd but readable files: the probe passes each value on as the file holds it.
ODD_CONFIG_YML = """\
storage:
  1: {rootdirectory: /srv}
  maintenance: {readonly: {enabled: "yes"}}
http: {addr: [":5000", ":5001"]}
database: {enabled: true, host: db, port: "5432", _prefer_mode_overridden: {sslmode: 1.5}}
auth: {token: {issuer: 42, realm: null}}
notifications: {endpoints: [{name: 7, url: [u]}]}
"""
ODD_GITLAB_YML = """\
production:
  registry: {enabled: "true", issuer: [a], key: ""}
  geo: {node_name: {name: eu}, registry_replication: {enabled: 1}}
"""
ODD_GITLAB_RB = """\
roles ['geo_primary_role']
registry['database'] = { 'host' => 'db', 'port' => 5432.0, 'user' => ENV['U'] }
"""


def host_config_fact(tmp, monkeypatch, config_yml: str) -> Fact:
    """The real host.config probe over files under `tmp` (a `local://` host with a root)."""
    from geopreflight.facts import observe
    from geopreflight.http import Http
    from geopreflight.inventory import load_inventory_text
    from geopreflight.probes import Probe, ProbeContext
    from geopreflight.probes.host import host_config
    from geopreflight.redact import Redactor

    monkeypatch.setenv("GP_TYPED_TOKEN", "glpat-typed")
    files = {"var/opt/gitlab/registry/config.yml": config_yml,
             "var/opt/gitlab/gitlab-rails/etc/gitlab.yml": ODD_GITLAB_YML,
             "etc/gitlab/gitlab.rb": ODD_GITLAB_RB,
             "etc/gitlab/gitlab-cluster.json": '{"primary": {"n": [1, null]}, "secondary": 0}'}
    for path, text in files.items():
        (tmp / "root" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "root" / path).write_text(text)
    inv = load_inventory_text(HOST_INVENTORY.format(root=tmp / "root"), str(tmp / "inv.yml"))
    return observe(Probe("host.config", "host", host_config), ProbeContext(inv, Http(1, 2)),
                   inv.sites[0], Redactor())


def test_odd_settings_of_a_hosts_files_load_back_as_the_probe_saw_them(tmp_path,
                                                                       monkeypatch) -> None:
    """Lists, mappings, numbers and strings where the checks expect a string or a flag: the
    probe records them as they are, and the recorded fact loads back the same."""
    got = host_config_fact(tmp_path, monkeypatch, ODD_CONFIG_YML)
    assert got.error is None, got.error
    cfg, yml, rb = got.value.config_yml, got.value.gitlab_yml, got.value.gitlab_rb
    assert (cfg.storage_backend, cfg.storage_root, cfg.readonly) == (1, None, "yes")
    assert cfg.http_addr == [":5000", ":5001"] and cfg.token_issuer == 42
    assert cfg.database.port == "5432" and cfg.database.prefer_mode_overridden == {"sslmode": 1.5}
    assert (cfg.notifications[0].name, cfg.notifications[0].url) == (7, ["u"])
    assert yml.geo_node_name == {"name": "eu"} and yml.registry_issuer == ["a"]
    assert got.value.cluster_json.primary == {"n": [1, None]}
    assert rb.values["registry"]["database"] == {"host": "db", "port": 5432.0}
    assert [(p.path, p.reason) for p in rb.problems] == [
        (["registry", "database", "user"], "not a literal value: ENV")]
    recorded = json.loads(json.dumps(got.as_dict()))
    assert Facts.from_dicts([recorded]).all()[0].as_dict() == recorded


def test_a_yaml_date_no_json_can_hold_is_the_facts_error_naming_the_setting(
        tmp_path, monkeypatch) -> None:
    """`port: 2026-01-01` is a date to YAML: no facts.json could hold it, so the fact fails
    and says which setting, never a traceback or the value."""
    got = host_config_fact(tmp_path, monkeypatch, "database: {port: 2026-01-01}\n")
    assert got.value is None
    assert got.error == ("probe host.config observed a value that does not fit its model: "
                         "config_yml.database.port: expected JSON data, got date")


@pytest.mark.parametrize("key, change, field, expected", [
    ("host.config", lambda v: v["config_yml"].update(storage_backend=["s3"]),
     "value.config_yml.storage_backend", "expected str | int | float | bool, got list"),
    ("host.config", lambda v: v["gitlab_rb"]["problems"].append(
        {"line": 1, "path": ["registry", 5], "reason": "r"}),
     "value.gitlab_rb.problems[0].path[1]", "expected str, got int"),
    ("attestations", lambda v: v["items"][0].update(site=["eu"]),
     "value.items[0].site", "expected str, got list"),
])
def test_a_recorded_setting_of_a_shape_no_probe_writes_names_its_field(key, change, field,
                                                                       expected) -> None:
    value = {"attestations": {"file": "a.yml", "as_of": "2026-12-01T10:00:00Z", "items": [
        {"item": "change-ticket", "site": None, "who": "jane", "when": "2026-11-30T00:00:00Z",
         "ticket": "CHG-1", "evidence": "https://t/1", "expires": "2026-12-02T00:00:00Z"}]},
        "host.config": copy.deepcopy(RECORDED_HOST_CONFIG)}[key]
    assert Facts.from_dicts([fact(key, copy.deepcopy(value))])  # as recorded, it loads
    change(value)
    with pytest.raises(FactShapeError) as exc:
        Facts.from_dicts([fact(key, value)])
    assert str(exc.value).endswith(f": {field}: {expected}"), str(exc.value)
