"""The lab model (`lab.json`): ports, paths, secrets and DB placement built from a scenario,
read back by every part, and the status of what it describes. The bottom of the lab's own
modules above the part drivers (postgres, registry, ...): it imports none of deploy,
reconfigure, teardown, actions, scenario or cli.

Layout of a lab directory:

    lab.json                   the lab model (sites, ports, paths, secrets, owner): the truth
    inventory.yml, env         for the checker
    keys/                      the shared registry token key pair
    run/                       daemon pidfile and log, `pgroot` (where the clusters live), `ready`
    sites/<name>/root/         the site's host root (etc/gitlab, var/opt/gitlab, opt/gitlab)
    sites/<name>/run/          registry pidfile/log/config, stand-in state, request logs, events

PostgreSQL data lives in a short directory under /tmp (`run/pgroot`), so sockets fit and the
postgres user can reach it whatever the permissions of the lab directory's parents.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from pathlib import Path
from typing import Any

from lab import hostroot, oci, ports, postgres, procs, s3, state

USERNAME = "geopreflight"


class LabError(Exception):
    """An operator action the lab refuses, with the message the real tool would print."""


def new_secret(n: int = 24) -> str:
    """A random password or secret, starting with a letter."""
    alphabet = string.ascii_letters + string.digits
    return secrets.choice(string.ascii_letters) + "".join(
        secrets.choice(alphabet) for _ in range(n - 1))


def _slug(name: str) -> str:
    return name.upper().replace("-", "_")


def build_model(scn: dict[str, Any], lab_dir: Path, pg_root: Path) -> dict[str, Any]:
    """Ports, paths, secrets and DB placement for every site of a scenario."""
    geo_token = "glpat-" + new_secret(20)

    def pick() -> int:
        return ports.free_port(str(lab_dir))

    sites: list[dict[str, Any]] = []
    geo_ids = iter(range(1, 100))
    ordered = sorted(scn["sites"], key=lambda s: s["geo"] != "primary")
    ids = {s["name"]: next(geo_ids) for s in ordered if s["geo"] != "none"}
    s3_port = proxy_port = 0
    scheme = "https" if scn.get("tls") else "http"
    for spec in scn["sites"]:
        s = dict(spec)
        name = s["name"]
        p = {"api": pick(), "front": pick(), "registry": pick(), "debug": pick()}
        s.update({
            "slug": _slug(name), "geo_id": ids.get(name),
            "revision": hashlib.sha1(s["version"].encode()).hexdigest()[:11],
            "health": s.get("health") or ("Healthy" if s["healthy"] else
                                          "Geo node does not appear to be replicating the "
                                          "database from the primary node."),
            "ports": p, "root": str(lab_dir / "sites" / name / "root"),
            "nodes": [_node(lab_dir, name, n) for n in s["host"]["nodes"]],
            "run": str(lab_dir / "sites" / name / "run"),
            "external_url": f"{scheme}://127.0.0.1:{p['api']}",
            "registry_url": f"{scheme}://127.0.0.1:{p['front']}",
            "registry_http_addr": f"127.0.0.1:{p['registry']}",
            "registry_debug_addr": f"127.0.0.1:{p['debug']}",
            "username": USERNAME,
            "token": geo_token if s["geo"] != "none" else "glpat-" + new_secret(20),
            "token_env": f"GITLAB_{_slug(name)}_TOKEN",
            "dsn_env": f"{_slug(name)}_REGISTRY_DB_DSN",
            "notification_secret": new_secret(32), "http_secret": new_secret(32),
            "registry": dict(s["registry"]), "db": dict(s["db"]),
            "replication": dict(s["replication"]), "gitlab": dict(s["gitlab"]),
        })
        s.update(_site_keys(s, lab_dir))
        if s["registry"].get("storage") == "s3":  # one bucket per site on the lab's S3 server
            s3_port = s3_port or pick()
            s["s3"] = {"endpoint": f"http://127.0.0.1:{s3_port}", "region": s3.REGION,
                       # `bucket_of: <site>`: that site's bucket, shared (a misconfiguration)
                       "bucket": f"registry-{s['registry'].get('bucket_of') or name}",
                       "accesskey": "AKIA" + new_secret(16),
                       "secretkey": new_secret(40), "port": s3_port}
            s["ports"]["s3"] = s3_port
            if s["registry"]["redirect"]:  # blob GETs: a 307 to the recording proxy
                proxy_port = proxy_port or pick()
                s["s3"].update(endpoint=f"http://127.0.0.1:{proxy_port}", redirect=True,
                               proxy_port=proxy_port,
                               tampered=s["registry"]["redirect"] == "tampered")
                s["ports"]["s3_proxy"] = proxy_port
        # what gitlab.yml (Rails) expects in the geo_event endpoint's Authorization
        s["rails_notification_secret"] = (
            new_secret(32) if s["registry"]["notification_secret"] == "differs"
            else s["notification_secret"])
        sites.append(s)
    by_name = {s["name"]: s for s in sites}
    set_replicating(sites)
    clusters: dict[str, dict[str, Any]] = {}
    for s in sites:  # own clusters first, then the ones that borrow
        kind = str(s["db"]["placement"]).partition(":")[0]
        if kind in ("external", "bundled"):
            clusters[s["name"]] = {"name": s["name"], "port": pick(),
                                   "data": str(pg_root / s["name"] / "data"),
                                   "password": new_secret(20), "replica_of": None,
                                   "bundled_root": s["root"] if kind == "bundled" else None,
                                   "major": s["db"]["postgres"]}
    for s in sites:
        kind, _, other = str(s["db"]["placement"]).partition(":")
        if kind == "replica-of":
            clusters[s["name"]] = {"name": s["name"], "port": pick(),
                                   "data": str(pg_root / s["name"] / "data"),
                                   "password": clusters[other]["password"],
                                   "replica_of": other, "bundled_root": None,
                                   "major": clusters[other]["major"]}
        cl = clusters[other if kind == "shared-with" else s["name"]]
        dbname = "registry" if kind != "shared-with" else "registry_" + s["name"].replace("-", "_")
        s["db"].update({
            "kind": kind, "bundled": kind == "bundled", "cluster": cl["name"],
            "host": "127.0.0.1", "port": cl["port"], "user": "registry",
            "password": cl["password"], "dbname": dbname,
            "migrated": by_name[other]["db"]["migrated"] if kind == "replica-of"
            else s["db"]["migrated"],
            "dsn": f"postgresql://registry:{cl['password']}@127.0.0.1:{cl['port']}/{dbname}"
                   "?connect_timeout=5",
        })
        _pooler_and_monitor(s["db"], pick)
        if s["db"].get("pooler"):
            s["ports"]["pooler"] = s["db"]["port"]
        if kind == "bundled":  # GitLab's own PostgreSQL stays when the registry DB moves out
            s["bundled_pg"] = {"port": cl["port"]}
    return {"scenario": scn["name"], "description": scn["description"],
            "deployment": scn["deployment"], "dir": str(lab_dir), "pg_root": str(pg_root),
            "inventory_storage": scn.get("inventory_storage", True),
            "inventory_omit": scn.get("inventory_omit", []),
            "tls": bool(scn.get("tls")), "inventory_ca": scn.get("inventory_ca", True),
            "trusted_certs": scn.get("trusted_certs", True),
            "key_file": str(lab_dir / "keys" / "gitlab-registry.key"),
            "cert_file": str(lab_dir / "keys" / "gitlab-registry.crt"),
            "sites": sites, "clusters": list(clusters.values()), "status": "starting"}


def _node(lab_dir: Path, site: str, n: dict[str, Any]) -> dict[str, Any]:
    """Another node of a site: its roles, its root, and what its files set apart from the
    site's (`registry`: read-only, another notification secret, its own token key pair;
    `version`: another GitLab version installed)."""
    node = {"name": n["name"], "roles": list(n.get("roles") or ["rails"]),
            "drop": list(n.get("gitlab_rb_drop") or []),
            "registry": dict(n.get("registry") or {}),
            "root": str(lab_dir / "sites" / site / "nodes" / n["name"] / "root")}
    if n.get("version"):  # a node the upgrade left behind: its own version file and manifest
        node["version"] = str(n["version"])
    if node["registry"].get("notification_secret") == "differs":
        node["rails_notification_secret"] = new_secret(32)
    if node["registry"].get("token_key") == "own":
        keys = lab_dir / "keys" / site / n["name"]
        node["key_file"] = str(keys / "gitlab-registry.key")
        node["cert_file"] = str(keys / "gitlab-registry.crt")
    return node


def set_replicating(sites: list[dict[str, Any]]) -> None:
    """Which secondaries Geo replicates the registry to: replication on, both registries on."""
    source = next((s for s in sites if s["geo"] == "primary"), None)
    for s in sites:
        s["replicating"] = bool(s["geo"] == "secondary" and source is not None
                                and s["replication"]["enabled"] and s["registry"]["enabled"]
                                and source["registry"]["enabled"])


def _site_keys(s: dict[str, Any], lab_dir: Path) -> dict[str, str]:
    """The token key pair a site's registry trusts: the lab's shared one, or (`token_key:
    own`) the site's own, as when the primary's gitlab-registry.key was never copied."""
    keys = lab_dir / "keys"
    if s["registry"]["token_key"] == "own":
        keys = keys / s["name"]
    return {"key_file": str(keys / "gitlab-registry.key"),
            "cert_file": str(keys / "gitlab-registry.crt")}


def primary(lab: dict[str, Any]) -> dict[str, Any] | None:
    """The lab's Geo primary, if Geo is set up."""
    return next((s for s in lab["sites"] if s["geo"] == "primary"), None)


def site_of(lab: dict[str, Any], name: str) -> dict[str, Any]:
    for s in lab["sites"]:
        if s["name"] == name:
            return s
    raise LabError(f"no site {name!r} in this lab (sites: "
                   + ", ".join(s["name"] for s in lab["sites"]) + ")")


def cluster(c: dict[str, Any], pg_root: Path) -> postgres.Cluster:
    """The PostgreSQL cluster a lab.json cluster entry describes."""
    extra = ()
    if c["bundled_root"]:
        extra = (Path(c["bundled_root"]) / hostroot.PG_DIR,)
    return postgres.Cluster(c["name"], Path(c["data"]), c["port"], pg_root, extra,
                            c.get("major"))


def images(site: dict[str, Any]) -> list[tuple[str, str]]:
    """The (repository, tag) pairs the scenario seeds into a site's registry."""
    return [oci.split_ref(str(i)) for i in site["registry"]["images"]]


def _pooler_and_monitor(db: dict[str, Any], pick: Any) -> None:
    """The routes that are not the lab's own (`dsn` stays direct, for the lab's writes):
    with `db.pooler`, the registry (config.yml) reaches the database through PgBouncer at
    its own port, and so does the checker unless `db.pooler_route` is `registry`; with
    `db.monitoring_role`, the checker connects as a read-only monitoring role instead of the
    registry's user."""
    port, user, password = db["port"], db["user"], db["password"]
    if db.get("pooler"):
        db["direct_port"], db["port"] = port, pick()
        port = db["port"] if db.get("pooler_route") == "both" else port
    if db.get("monitoring_role"):
        user, password = "monitor_" + new_secret(6).lower(), new_secret(20)
        db["monitor"] = {"user": user, "password": password}
    dbname = db.get("inventory_dbname") or db["dbname"]  # the checker's DSN names another
    db["inventory_dsn"] = (f"postgresql://{user}:{password}@127.0.0.1:{port}/{dbname}"
                           "?connect_timeout=5")


def load(lab_dir: Path) -> dict[str, Any]:
    """The model of a lab that is up (what every operator action starts from)."""
    p = Path(lab_dir).resolve() / "lab.json"
    if not p.exists():
        raise LabError(f"no lab in {lab_dir} (no lab.json)")
    lab = state.read(p)
    if lab.get("status") != "up":
        raise LabError(f"the lab in {lab_dir} is {lab.get('status')}, not up")
    return lab


def status(lab_dir: Path) -> list[str]:
    """One line per site: what runs and what state it is in, read from the live parts."""
    lab = state.read(Path(lab_dir).resolve() / "lab.json")
    lines = [f"lab {lab['scenario']} in {lab['dir']}: {lab['status']}"]
    run = Path(lab["dir"]) / "run"
    daemon = procs.pidfile_pids(run)
    lines.append(f"  daemon (stand-ins, fronts, replicators): {'running' if daemon else 'stopped'}")
    geo = {}
    geo_primary = primary(lab)
    if geo_primary:
        try:
            geo = {s["geo_node_id"]: s for s in state.read(
                Path(geo_primary["run"]) / "gitlab-state.json")["geo_statuses"]}
        except (OSError, ValueError, KeyError):
            geo = {}
    for s in lab["sites"]:
        root = Path(s["root"])
        cfg = hostroot.read_config(root) or {}
        reg = "disabled"
        if s["registry"]["enabled"]:
            alive = bool(procs.pidfile_pids(Path(s["run"])))
            enabled = (cfg.get("database") or {}).get("enabled")
            ro = ((cfg.get("storage") or {}).get("maintenance") or {}).get("readonly", {})
            reg = (f"{'running' if alive else 'stopped'}, "
                   f"database.enabled={json.dumps(enabled)}, "
                   f"read-only={'on' if ro.get('enabled') else 'off'}, "
                   f"lockfiles={','.join(hostroot.lockfiles(root)) or '-'}")
        pid = postgres.postmaster_pid(Path(next(c for c in lab["clusters"]
                                                if c["name"] == s["db"]["cluster"])["data"]))
        db = f"{s['db']['kind']} :{s['db']['port']}/{s['db']['dbname']} " + (
            "up" if pid and procs.alive(pid) else "down")
        line = (f"  {s['name']} ({s['role']}, geo {s['geo']}, {s['version']}): "
                f"registry {reg}; db {db}")
        st = geo.get(s["geo_id"])
        if st and s["geo"] == "secondary":
            line += (f"; replication {st['container_repositories_synced_count']}/"
                     f"{st['container_repositories_count']} synced, "
                     f"{st['container_repositories_failed_count']} failed")
        lines.append(line)
    return lines


