"""The rules in the check layer: their doctests (scripts/test runs doctests of geopreflight/
only), and DB-006 judging the addresses the probe resolved, never resolving names itself."""

from __future__ import annotations

import doctest
import importlib
import socket
from pathlib import Path

import pytest

from geopreflight.catalog import CATALOG, Outcome, evaluate
from geopreflight.context import CheckContext
from geopreflight.facts import Fact, Facts
from geopreflight.inventory import load_inventory_text
from geopreflight.probes.models import (
    ClusterJson,
    ConfigDb,
    ConfigYml,
    DbServer,
    GitlabRb,
    GitlabYml,
    HostConfig,
    Lockfiles,
    ResolvedHost,
)

INVENTORY = """deployment: d
sites:
  - name: eu
    role: primary
    gitlab: {url: "https://gl.example", token_env: T}
    metadata_db: {dsn_env: D}
    host: {target: "local://", root: /nonexistent}
"""


@pytest.mark.parametrize("module", ["geopreflight.checks._rules", "geopreflight.checks._geo",
                                    "geopreflight.checks.test_db", "geopreflight.checks.test_reg",
                                    "geopreflight.checks._content"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted and not result.failed


def _db006(server_addr: str, resolved: ResolvedHost | None, host: str = "db.internal",
           ) -> tuple[Outcome, str]:
    importlib.import_module("geopreflight.checks.test_db")
    inventory = load_inventory_text(INVENTORY, "inv.yml", resolve_secrets=False)
    config = HostConfig(
        GitlabRb(True, {}, []), ClusterJson(False),
        ConfigYml(True, storage_backend="filesystem", storage_root="/r", readonly=False,
                  http_addr=None, database=ConfigDb(enabled=True, host=host, port=5432,
                                                    dbname="registry"),
                  database_rendered=True, token_issuer="gl", token_realm=None,
                  rootcertbundle=None, notifications=[]),
        GitlabYml(False), None, Lockfiles(False, why="object storage"))
    server = DbServer("1", False, 0, 0, 160000, "16.0", "registry", "registry", server_addr,
                      5432, None, "off", "hex", "registry")
    facts = [Fact("host.config", "eu", config), Fact("db.server", "eu", server)]
    if resolved is not None:
        facts.append(Fact("db.registry_host", "eu", resolved))
    ctx = CheckContext(inventory.sites[0], inventory, Facts(facts), "p")
    result = evaluate(CATALOG["DB-006"], ctx)
    return result.outcome, result.message


def test_db_006_uses_the_recorded_addresses_and_never_dns(monkeypatch) -> None:
    def no_dns(*_a, **_k):
        raise AssertionError("a check resolved a name")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert _db006("10.0.0.5/32", ResolvedHost("db.internal", ["10.0.0.5"]))[0] == "pass"
    outcome, message = _db006("10.0.0.9/32", ResolvedHost("db.internal", ["10.0.0.5"]))
    assert outcome == "fail" and "host" in message
    failed = ResolvedHost("db.internal", error="db.internal does not resolve")
    assert _db006("10.0.0.5/32", failed)[0] == "fail"
    outcome, message = _db006("10.0.0.5/32", None)  # an older bundle without the fact
    assert outcome == "error" and "db.registry_host" in message
    assert _db006("127.0.0.1/32", None, host="localhost")[0] == "pass"  # literal: no lookup


def test_the_probe_records_what_a_name_resolves_to() -> None:
    from geopreflight.probes.dns import resolve

    got = resolve("localhost", 5)
    assert got.host == "localhost" and "127.0.0.1" in got.addresses and got.error is None


def test_the_canary_proves_nothing_through_a_location_aware_registry_url() -> None:
    """Two sites at one registry URL (location_aware: true): the canary's read of the
    secondary may have been answered by the primary, so REP-003 is an error, never a pass."""
    from dataclasses import replace

    from geopreflight.cases import FAILED, load_base, patch_facts
    from geopreflight.catalog import CATALOG, evaluate
    from geopreflight.context import CheckContext
    from geopreflight.facts import Facts
    from geopreflight.suite import load_catalog

    load_catalog()
    recorded = Path(__file__).resolve().parent.parent / "geopreflight" / "checks" / "recorded"
    inventory, facts = load_base(recorded, "both-imported")
    site = inventory.site("us-secondary")
    ctx = CheckContext(site, inventory, Facts.from_dicts(facts), "")
    assert evaluate(CATALOG["REP-003"], ctx).outcome == "pass"
    aware = replace(site, registry=replace(site.registry, location_aware=True))
    result = evaluate(CATALOG["REP-003"], replace(ctx, site=aware))
    assert result.outcome == "error" and "location-aware" in result.message
    assert "add registry.internal_url" in result.message  # what to add to prove it
    # with an address of its own, the canary read that registry: its answer is judged
    own = replace(aware, registry=replace(aware.registry, internal_url="http://10.0.0.2:5000"))
    assert evaluate(CATALOG["REP-003"], replace(ctx, site=own)).outcome == "pass"
    lost = Facts.from_dicts(patch_facts(facts, {("canary.seen", "us-secondary"): FAILED(
        "not on us-secondary's registry after 3 s (last answer: layer blob sha256:0123: 404 "
        "from the registry)")}))
    failed = evaluate(CATALOG["REP-003"], replace(ctx, site=own, facts=lost))
    assert failed.outcome == "fail" and "layer blob" in failed.message
