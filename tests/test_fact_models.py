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
from standin import bundle_members, run_pytest, write_bundle

SERVER = {
    "system_identifier": "7383", "in_recovery": False, "wal_receivers": 0, "downstream": 0,
    "version_num": 160002, "version": "16.2", "dbname": "registry", "user": "registry",
    "server_addr": "127.0.0.1/32", "server_port": 5432, "started_at": "2025-01-01 00:00:00+00",
    "default_transaction_read_only": "off", "bytea_output": "hex", "owner": "registry",
    "tables": {"tags": {"exists": True, "rows": 3, "capped": False},
               "repositories": {"exists": False, "rows": 0},
               "schema_migrations": {"exists": None, "error": "permission denied"}},
}


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
