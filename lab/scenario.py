"""Scenario files: what each site of a lab deployment looks like when it comes up.

A scenario is YAML::

    name: legacy-both
    description: one line
    extends: other-scenario          # optional; `sites` is then a mapping name -> overrides
    sites:
      - name: eu-primary
        role: primary                # what the operator expects (inventory role)
        geo: primary                 # primary | secondary | none (not a Geo site yet)
        version: 17.10.2-ee
        healthy: true                # Geo health of this site
        registry: {enabled: true, mode: legacy, read_only: true, images: [group/app:v1],
                   version: 4.39.0-gitlab, vendor: gitlab, lockfile: true,
                   token_key: shared, notification_secret: match,
                   notifications: null,
                   blobs_lost: []}   # repository globs whose blobs never reach the storage
        db: {placement: external, migrated: true,   # external | shared-with:<site> |
                                                    # replica-of:<site> | bundled
             settings: {}, owner: null, restore_from: null, inventory_dbname: null,
             empty: false,
             pending: [],     # migrations left undone: pre | post | background
             postgres: null}  # 14: the site's cluster runs PostgreSQL 14 (lab/postgres.py)
        replication: {enabled: true, failing: [], delay_s: 0,   # secondaries
                      primary_api_url: registry,
                      verify_failing: []}   # synced, but their checksum never matches
        gitlab: {admin_mode: false, hang: false}   # the API stand-in's knobs
        host: {cluster_json: null, gitlab_rb_append: [], gc_cron: false,
               nodes: []}            # more nodes of the site: [{name: sidekiq1, roles:
                                     # [sidekiq], gitlab_rb_drop: [<gitlab_rails key>],
                                     # registry: {read_only, notification_secret,
                                     # token_key}: that node's files only,
                                     # version: its installed GitLab}]
        geo_site_name: null          # the Geo site's name in the API (default: name)
    ssh: false                       # optional: the inventory reads hosts over the lab's sshd
    inventory_omit: []               # optional: Geo sites the lab runs but leaves out of the
                                     # inventory (an operator's partial inventory)
    then:                            # optional: lab actions applied once the lab is up, e.g.
      - import --site us-secondary   # (`python -m lab <line> --dir DIR`); extends adds its own
      - "! import --site ap-secondary --interrupt"   # `!`: an action that fails, as GitLab's does

A scenario has one primary and 1 to 7 secondaries (or sites with `geo: none`).

The knobs are described in lab/README.md ("Scenarios").

`load` returns the fully defaulted, validated form.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from lab.actions import ACTIONS

BUILTIN_DIR = Path(__file__).parent / "scenarios"
MODES = ("legacy", "database", "prefer")
GEO = ("primary", "secondary", "none")

SITE_DEFAULTS: dict[str, Any] = {
    "version": "17.10.2-ee",
    "healthy": True,
    "health": None,
    "registry": {"enabled": True, "mode": "legacy", "read_only": False, "images": [],
                 "version": "4.39.0-gitlab", "vendor": "gitlab", "lockfile": True,
                 "token_key": "shared", "notification_secret": "match",
                 "notifications": None, "storage": "filesystem", "bucket_of": None,
                 "redirect": False, "blobs_lost": []},
    "db": {"placement": "external", "migrated": True, "settings": {}, "owner": None,
           "restore_from": None, "inventory_dbname": None, "empty": False, "pending": [],
           "pooler": None, "pooler_route": "both", "monitoring_role": False,
           "postgres": None},
    "replication": {"enabled": True, "failing": [], "delay_s": 0.0,
                    "primary_api_url": "registry", "verify_failing": []},
    "gitlab": {"admin_mode": False, "hang": False},
    "host": {"cluster_json": None, "gitlab_rb_append": [], "nodes": [], "gc_cron": False},
    "geo_site_name": None,
    "geo_settings": {},  # Geo sites API fields of this site: enabled, selective sync, capacity
}
NODE_ROLES = ("rails", "sidekiq", "registry", "database")
# what one node's rendered files may set apart from its site's (a node left behind)
NODE_REGISTRY = ("read_only", "notification_secret", "token_key")
GEO_SETTINGS = ("enabled", "selective_sync_type", "selective_sync_namespace_ids",
                "container_repositories_max_capacity")
CHOICES = {("registry", "vendor"): ("gitlab", "upstream"),
           ("registry", "token_key"): ("shared", "own"),
           ("registry", "notification_secret"): ("match", "differs"),
           ("registry", "notifications"): (None, True, False),
           ("replication", "primary_api_url"): ("registry", "gitlab", "unset", "own"),
           ("host", "cluster_json"): (None, "primary", "secondary"),
           ("registry", "storage"): ("filesystem", "s3"),
           ("registry", "redirect"): (False, True, "tampered"),
           ("db", "pooler"): (None, "pgbouncer"),
           ("db", "pooler_route"): ("both", "registry"),
           ("db", "monitoring_role"): (False, True),
           ("db", "postgres"): (None, 14)}  # the cluster's major: None the machine's (15)
DB_SETTINGS = ("bytea_output", "default_transaction_read_only")
MAX_SECONDARIES = 7


class ScenarioError(ValueError):
    """A scenario file that does not say what the lab needs."""


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yml"))


def _read(name_or_file: str) -> tuple[dict[str, Any], Path]:
    path = Path(name_or_file)
    if not path.suffix and not path.exists():
        path = BUILTIN_DIR / f"{name_or_file}.yml"
    if not path.exists():
        raise ScenarioError(f"unknown scenario {name_or_file!r}; built-in: "
                            + ", ".join(builtin_names()))
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping at the top")
    return data, path


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _raw(name_or_file: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    data, path = _read(name_or_file)
    data.setdefault("name", path.stem)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if parent in seen:
        raise ScenarioError(f"{path}: extends loops through {parent!r}")
    base = _raw(str(parent), (*seen, name_or_file))
    over = data.pop("sites", {}) or {}
    if not isinstance(over, dict):
        raise ScenarioError(f"{path}: with extends, sites is a mapping of site name -> changes")
    names = [s["name"] for s in base["sites"]]
    for name in over:
        if name not in names:
            raise ScenarioError(f"{path}: site {name!r} is not in {parent!r} ({names})")
    base["sites"] = [_merge(s, over.get(s["name"]) or {}) for s in base["sites"]]
    then = [*(base.get("then") or []), *(data.pop("then", None) or [])]
    base.update({k: v for k, v in data.items()})
    base["then"] = then
    return base


def _check_then(data: dict[str, Any]) -> list[str]:
    """`then:` lines are lab actions as `python -m lab` takes them, without `--dir`."""
    then = data.get("then") or []
    if not isinstance(then, list) or not all(isinstance(x, str) for x in then):
        raise ScenarioError(f"scenario {data['name']!r}: then must be a list of action lines")
    for line in then:
        words = line.lstrip("! ").split()
        if not words or words[0] not in ACTIONS:
            raise ScenarioError(f"scenario {data['name']!r}: then: {line!r} is not one of the "
                                "lab's actions (" + ", ".join(ACTIONS) + ")")
    return list(then)


def _check_knobs(s: dict[str, Any], names: list[str], where: str) -> None:
    """The fault knobs: choices, DB settings, and the sites they name."""
    for (group, key), allowed in CHOICES.items():
        if s[group][key] not in allowed:
            raise ScenarioError(f"{where}: {group}.{key} must be one of {allowed}")
    for key in s["db"]["settings"] or {}:
        if key not in DB_SETTINGS:
            raise ScenarioError(f"{where}: db.settings.{key} is not one of {DB_SETTINGS}")
    shared = s["registry"]["bucket_of"]
    if shared is not None and (shared not in names or s["registry"]["storage"] != "s3"):
        raise ScenarioError(f"{where}: registry.bucket_of names a site of the scenario, with "
                            "registry.storage s3")
    if s["registry"]["redirect"] and s["registry"]["storage"] != "s3":
        raise ScenarioError(f"{where}: registry.redirect is for registry.storage s3")
    src = s["db"]["restore_from"]
    if src is not None and (src not in names or src == s["name"]):
        raise ScenarioError(f"{where}: db.restore_from names unknown site {src!r}")
    unknown = set(s["geo_settings"] or {}) - set(GEO_SETTINGS)
    if unknown:
        raise ScenarioError(f"{where}: geo_settings.{sorted(unknown)[0]} is not one of "
                            f"{GEO_SETTINGS}")
    if not isinstance(s["host"]["gitlab_rb_append"], list):
        raise ScenarioError(f"{where}: host.gitlab_rb_append must be a list of lines")
    nodes = s["host"]["nodes"]
    if not isinstance(nodes, list) or not all(
            isinstance(n, dict) and re.fullmatch(r"[a-z][a-z0-9-]*", str(n.get("name", "")))
            and n["name"] != "main"
            and set(n) <= {"name", "roles", "gitlab_rb_drop", "registry", "version"}
            and re.fullmatch(r"\d+\.\d+\.\d+(-[a-z0-9.-]+)?", str(n.get("version", "1.0.0")))
            and set(n.get("roles") or ["rails"]) <= set(NODE_ROLES)
            and isinstance(n.get("registry") or {}, dict)
            and set(n.get("registry") or {}) <= set(NODE_REGISTRY) for n in nodes):
        raise ScenarioError(f"{where}: host.nodes must be a list of {{name, roles, "
                            f"gitlab_rb_drop, registry, version}} (name lower-case, not main; "
                            f"roles of {NODE_ROLES}; registry keys of {NODE_REGISTRY}; version "
                            f"a GitLab version such as 17.10.1-ee)")


def load(name_or_file: str) -> dict[str, Any]:
    """Load, resolve `extends`, fill defaults and validate."""
    data = _raw(name_or_file)
    sites = data.get("sites")
    if not isinstance(sites, list) or not sites:
        raise ScenarioError(f"scenario {data['name']!r}: sites must be a non-empty list")
    out_sites = []
    for raw in sites:
        if not isinstance(raw, dict) or not raw.get("name"):
            raise ScenarioError(f"scenario {data['name']!r}: each site needs a name")
        site = _merge(SITE_DEFAULTS, raw)
        site.setdefault("role", "primary" if site.get("geo") == "primary" else "secondary")
        site.setdefault("geo", site["role"])
        out_sites.append(site)
    names = [s["name"] for s in out_sites]
    if len(set(names)) != len(names):
        raise ScenarioError(f"scenario {data['name']!r}: duplicate site names")
    for s in out_sites:
        where = f"scenario {data['name']!r}, site {s['name']!r}"
        if not re.fullmatch(r"[a-z][a-z0-9-]*", s["name"]):
            raise ScenarioError(f"{where}: name must be lower-case letters, digits and dashes")
        if s["role"] not in ("primary", "secondary"):
            raise ScenarioError(f"{where}: role must be primary or secondary")
        if s["geo"] not in GEO:
            raise ScenarioError(f"{where}: geo must be one of {GEO}")
        if s["registry"]["mode"] not in MODES:
            raise ScenarioError(f"{where}: registry.mode must be one of {MODES}")
        placement = str(s["db"]["placement"])
        kind, _, other = placement.partition(":")
        if kind not in ("external", "bundled", "shared-with", "replica-of") or \
                (kind in ("shared-with", "replica-of")) != bool(other):
            raise ScenarioError(f"{where}: db.placement {placement!r} is not external, bundled, "
                                "shared-with:<site> or replica-of:<site>")
        if other and (other not in names or other == s["name"]):
            raise ScenarioError(f"{where}: db.placement names unknown site {other!r}")
        if other and s["db"]["postgres"] is not None:
            raise ScenarioError(f"{where}: db.postgres needs a cluster of the site's own "
                                f"(external or bundled), not {placement!r}")
        if other:
            target = next(t for t in out_sites if t["name"] == other)
            if str(target["db"]["placement"]).partition(":")[0] not in ("external", "bundled"):
                raise ScenarioError(f"{where}: {other!r} must have its own cluster")
        _check_knobs(s, names, where)
        for img in s["registry"]["images"]:
            if not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*(:[\w][\w.-]*)?", str(img)):
                raise ScenarioError(f"{where}: bad image reference {img!r}")
    if [s["role"] for s in out_sites].count("secondary") > MAX_SECONDARIES:
        raise ScenarioError(f"scenario {data['name']!r}: at most {MAX_SECONDARIES} secondaries")
    if [s["geo"] for s in out_sites].count("primary") > 1:
        raise ScenarioError(f"scenario {data['name']!r}: more than one Geo primary")
    if any(s["geo"] == "secondary" for s in out_sites) and not any(
            s["geo"] == "primary" for s in out_sites):
        raise ScenarioError(f"scenario {data['name']!r}: a Geo secondary needs a Geo primary")
    omit = data.get("inventory_omit") or []
    if not isinstance(omit, list) or not set(omit) <= set(names) or any(
            s["name"] in omit and s["role"] == "primary" for s in out_sites):
        raise ScenarioError(f"scenario {data['name']!r}: inventory_omit must list secondaries "
                            "of the scenario")
    return {"name": data["name"], "description": data.get("description", ""),
            "deployment": data.get("deployment", f"lab-{data['name']}"), "sites": out_sites,
            "then": _check_then(data), "ssh": bool(data.get("ssh", False)),
            "inventory_storage": bool(data.get("inventory_storage", True)),
            "tls": bool(data.get("tls", False)),
            "inventory_ca": bool(data.get("inventory_ca", True)),
            "trusted_certs": bool(data.get("trusted_certs", True)),
            "inventory_omit": list(omit)}
