"""Bringing a lab up and down, reconfiguring it, and pushing to it (the other operator
actions are in `actions.py`).

Layout of a lab directory:

    lab.json                   the lab model (sites, ports, paths, secrets): the source of truth
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
import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lab import (
    hostroot,
    inventory,
    metadata,
    oci,
    pgbouncer,
    ports,
    postgres,
    procs,
    registry,
    s3,
    scenario,
    sshd,
    state,
    tls,
    tokens,
)
from lab.gitlab_api import site_object, status_object

USERNAME = "geopreflight"
LAB_PROGRAMS = ("docker-registry", "postgres", "initdb", "pg_ctl", "pg_basebackup", "runuser",
                "pgbouncer")
OWN_PATHS = ("lab.json", "inventory.yml", "env", "keys", "run", "sites", "pg", "ssh")


class LabError(Exception):
    """An operator action the lab refuses, with the message the real tool would print."""


def new_secret(n: int = 24) -> str:
    """A random password or secret, starting with a letter."""
    alphabet = string.ascii_letters + string.digits
    return secrets.choice(string.ascii_letters) + "".join(
        secrets.choice(alphabet) for _ in range(n - 1))


def _slug(name: str) -> str:
    return name.upper().replace("-", "_")


def _log(msg: str, t0: float) -> None:
    if os.environ.get("LAB_VERBOSE"):
        print(f"[lab {time.monotonic() - t0:5.2f}s] {msg}", file=sys.stderr)


# -- the model -------------------------------------------------------------------------------
def build_model(scn: dict[str, Any], lab_dir: Path, pg_root: Path) -> dict[str, Any]:
    """Ports, paths, secrets and DB placement for every site of a scenario."""
    geo_token = "glpat-" + new_secret(20)

    def pick() -> int:
        return ports.free_port(str(lab_dir))

    sites: list[dict[str, Any]] = []
    geo_ids = iter(range(1, 100))
    ordered = sorted(scn["sites"], key=lambda s: s["geo"] != "primary")
    ids = {s["name"]: next(geo_ids) for s in ordered if s["geo"] != "none"}
    s3_port = 0
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
                                   "bundled_root": s["root"] if kind == "bundled" else None}
    for s in sites:
        kind, _, other = str(s["db"]["placement"]).partition(":")
        if kind == "replica-of":
            clusters[s["name"]] = {"name": s["name"], "port": pick(),
                                   "data": str(pg_root / s["name"] / "data"),
                                   "password": clusters[other]["password"],
                                   "replica_of": other, "bundled_root": None}
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
    site's (`registry`: read-only, another notification secret, its own token key pair)."""
    node = {"name": n["name"], "roles": list(n.get("roles") or ["rails"]),
            "drop": list(n.get("gitlab_rb_drop") or []),
            "registry": dict(n.get("registry") or {}),
            "root": str(lab_dir / "sites" / site / "nodes" / n["name"] / "root")}
    if node["registry"].get("notification_secret") == "differs":
        node["rails_notification_secret"] = new_secret(32)
    if node["registry"].get("token_key") == "own":
        keys = lab_dir / "keys" / site / n["name"]
        node["key_file"] = str(keys / "gitlab-registry.key")
        node["cert_file"] = str(keys / "gitlab-registry.crt")
    return node


def set_replicating(sites: list[dict[str, Any]]) -> None:
    """Which secondaries Geo replicates the registry to: replication on, both registries on."""
    primary = next((s for s in sites if s["geo"] == "primary"), None)
    for s in sites:
        s["replicating"] = bool(s["geo"] == "secondary" and primary is not None
                                and s["replication"]["enabled"] and s["registry"]["enabled"]
                                and primary["registry"]["enabled"])


def _site_keys(s: dict[str, Any], lab_dir: Path) -> dict[str, str]:
    """The token key pair a site's registry trusts: the lab's shared one, or (`token_key:
    own`) the site's own, as when the primary's gitlab-registry.key was never copied."""
    keys = lab_dir / "keys"
    if s["registry"]["token_key"] == "own":
        keys = keys / s["name"]
    return {"key_file": str(keys / "gitlab-registry.key"),
            "cert_file": str(keys / "gitlab-registry.crt")}


def _primary(lab: dict[str, Any]) -> dict[str, Any] | None:
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
    return postgres.Cluster(c["name"], Path(c["data"]), c["port"], pg_root, extra)


def _images(site: dict[str, Any]) -> list[tuple[str, str]]:
    return [oci.split_ref(str(i)) for i in site["registry"]["images"]]


# -- stand-in states ---------------------------------------------------------------------------
def standin_state(lab: dict[str, Any], site: dict[str, Any]) -> dict[str, Any]:
    primary = _primary(lab)
    st: dict[str, Any] = {
        "site": site["name"], "version": site["version"], "revision": site["revision"],
        "proxy_to": primary["external_url"] if site["geo"] == "secondary" and primary else None,
        "users": [{"username": site["username"], "token": site["token"], "admin": True,
                   "scopes": ["api"]}],
        "admin_mode": bool(site["gitlab"]["admin_mode"]), "geo_sites": [], "geo_statuses": [],
        "registry": {"enabled": bool(site["registry"]["enabled"]), "key_file": site["key_file"],
                     "cert_file": site["cert_file"], "issuer": tokens.ISSUER,
                     "service": tokens.SERVICE},
        "notification_secret": site["rails_notification_secret"],
        "events_file": str(Path(site["run"]) / "events.jsonl"),
        "hang": bool(site["gitlab"]["hang"]),
    }
    if site["geo"] == "primary":
        geo = sorted((s for s in lab["sites"] if s["geo"] != "none"), key=lambda s: s["geo_id"])
        base = site["external_url"]
        repos = len({r for r, _ in _images(site)})
        for s in geo:
            obj = site_object(s["geo_id"], s.get("geo_site_name") or s["name"], s["external_url"],
                              primary=s["geo"] == "primary", api_base=base)
            obj["current"] = s is site
            obj.update(s.get("geo_settings") or {})  # the scenario's Geo site settings
            st["geo_sites"].append(obj)
            failing = sum(1 for r in {r for r, _ in _images(site)}
                          if any(__import__("fnmatch").fnmatch(r, p)
                                 for p in s["replication"]["failing"]))
            st["geo_statuses"].append(status_object(
                s["geo_id"], version=s["version"], revision=s["revision"],
                primary=s["geo"] == "primary", healthy=s["healthy"], health=s["health"],
                replication_enabled=s["replicating"],
                repositories=repos if (s["geo"] == "primary" or s["replicating"]) else 0,
                synced=(repos - failing) if s["replicating"] else 0,
                failed=failing if s["replicating"] else 0, api_base=base))
    return st


def render_site(lab: dict[str, Any], site: dict[str, Any]) -> None:
    """Host files and the registry's own config, from the model (`gitlab-ctl reconfigure`)."""
    key = Path(site["key_file"]).read_bytes()
    cert = Path(site["cert_file"]).read_bytes()
    ca = (Path(lab["dir"]) / tls.CA_FILE).read_bytes() if (
        lab.get("tls") and lab.get("trusted_certs", True)) else None
    hostroot.render(site, _primary(lab), key, cert, ca)
    for node in site.get("nodes") or []:  # the site's other nodes: its files, as they differ
        own = {k: node[k] for k in ("rails_notification_secret",) if k in node}
        hostroot.render({**site, "root": node["root"], **own,
                         "registry": {**site["registry"], **node.get("registry", {})},
                         "host": {**site["host"], "gitlab_rb_drop": node["drop"]}},
                        _primary(lab),
                        Path(node["key_file"]).read_bytes() if "key_file" in node else key,
                        Path(node["cert_file"]).read_bytes() if "cert_file" in node else cert,
                        ca)
    for node in site.get("nodes") or []:  # one storage behind every node (as NFS would be)
        shared = Path(node["root"]) / hostroot.STORAGE
        if not shared.is_symlink():
            shutil.rmtree(shared, ignore_errors=True)
            shared.symlink_to(Path(site["root"]) / hostroot.STORAGE)
    if site["registry"]["enabled"]:
        registry.write_config(Path(site["run"]) / "registry.yml", _upstream_cfg(lab, site))


def _upstream_cfg(lab: dict[str, Any], site: dict[str, Any],
                  read_only: bool | None = None) -> dict[str, Any]:
    notes = hostroot.notifications(site)
    cfg = registry.upstream_config(
        addr=site["registry_http_addr"], debug_addr=site["registry_debug_addr"],
        storage_root=Path(site["root"]) / hostroot.STORAGE,
        realm=f"{site['external_url']}/jwt/auth", cert=Path(site["cert_file"]),
        read_only=site["registry"]["read_only"] if read_only is None else read_only,
        http_secret=site["http_secret"], notifications=notes, site=site["name"])
    if site.get("s3"):  # the site's bucket instead of the host's filesystem
        del cfg["storage"]["filesystem"]
        cfg["storage"]["s3"] = s3.driver_config(site["s3"])
        cfg["storage"]["redirect"] = {"disable": True}  # blobs through the registry, no 307
    return cfg


# -- PostgreSQL ----------------------------------------------------------------------------------
def _setup_databases(lab: dict[str, Any], errors: list[BaseException]) -> None:
    try:
        pg_root = Path(lab["pg_root"])
        by_name = {c["name"]: c for c in lab["clusters"]}

        def own(c: dict[str, Any]) -> None:
            cl = cluster(c, pg_root)
            postgres.init(cl)
            postgres.start(cl, Path(c["data"]).parent / "postgres.log")
            if c["bundled_root"]:
                postgres.create_database(cl, "gitlabhq_production")
            for s in lab["sites"]:
                if s["db"]["cluster"] == c["name"] and s["db"]["kind"] in ("external", "bundled"):
                    _create_db(cl, s)

        threads = [threading.Thread(target=_collect, args=(own, c, errors))
                   for c in lab["clusters"] if c["replica_of"] is None]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            return
        for s in lab["sites"]:
            if s["db"]["kind"] == "shared-with":
                _create_db(cluster(by_name[s["db"]["cluster"]], pg_root), s)
        for c in lab["clusters"]:
            if c["replica_of"]:
                src = cluster(by_name[c["replica_of"]], pg_root)
                rep = cluster(c, pg_root)
                postgres.basebackup(src, rep)
                postgres.start(rep, Path(c["data"]).parent / "postgres.log")
    except BaseException as exc:  # reported by the caller
        errors.append(exc)


def _collect(fn: Any, arg: Any, errors: list[BaseException]) -> None:
    try:
        fn(arg)
    except BaseException as exc:
        errors.append(exc)


def _create_db(cl: postgres.Cluster, s: dict[str, Any]) -> None:
    postgres.create_registry_db(cl, s["db"]["dbname"], s["db"]["user"], s["db"]["password"])
    if s["db"]["migrated"]:
        metadata.migrate(cl.conninfo(s["db"]["dbname"]), s["db"]["user"],
                         s["registry"]["version"], tuple(s["db"]["pending"]))
    if s["db"].get("inventory_dbname"):  # an empty database the registry does not use
        postgres.create_registry_db(cl, s["db"]["inventory_dbname"], s["db"]["user"],
                                    s["db"]["password"])


def _db_knobs(lab: dict[str, Any]) -> None:
    """What a DBA did to a site's registry database after it was set up, as the superuser:
    restored another site's dump into it, changed its settings, gave it to another role."""
    pg_root = Path(lab["pg_root"])
    by_name = {c["name"]: cluster(c, pg_root) for c in lab["clusters"]}
    for s in lab["sites"]:
        db = s["db"]
        cl = by_name[db["cluster"]]
        if db.get("restore_from"):
            src = site_of(lab, db["restore_from"])
            postgres.restore_dump(by_name[src["db"]["cluster"]], src["db"]["dbname"], cl,
                                  db["dbname"], db["user"])
        postgres.alter_database(cl, db["dbname"], settings=db.get("settings") or {},
                                owner=db.get("owner"))
        if db.get("monitor"):
            postgres.create_monitoring_role(cl, db["monitor"]["user"], db["monitor"]["password"])


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


def _poolers(lab: dict[str, Any]) -> None:
    """Start each site's PgBouncer (after the databases and roles exist)."""
    for s in lab["sites"]:
        db = s["db"]
        if not db.get("pooler"):
            continue
        users = {db["user"]: db["password"]}
        if db.get("monitor"):
            users[db["monitor"]["user"]] = db["monitor"]["password"]
        dbnames = sorted({db["dbname"], db.get("inventory_dbname") or db["dbname"]})
        pgbouncer.start(s["name"], Path(lab["pg_root"]) / s["name"] / "pgbouncer",
                        Path(lab["dir"]) / "run", db["port"], db["direct_port"], dbnames, users)


# -- up / down -------------------------------------------------------------------------------------
def _direct_client(lab: dict[str, Any], site: dict[str, Any]) -> oci.Client:
    """A client for the site's registry process itself, with tokens signed by its key."""
    key, cert = Path(site["key_file"]), Path(site["cert_file"])

    def token(_challenge: str, scope: str) -> str:
        return tokens.mint(key, cert, tokens.scope_access(scope) if scope else [], "lab-seed")

    return oci.Client("http://" + site["registry_http_addr"], token)


def _seed(lab: dict[str, Any]) -> None:
    """Push every site's images; copy the primary's to replicating secondaries (in sync)."""
    primary = _primary(lab)
    for s in lab["sites"]:
        if s["registry"]["enabled"]:
            c = _direct_client(lab, s)
            for repo, tag in _images(s):
                oci.push(c, repo, tag)
    if primary is None:
        return
    src = _direct_client(lab, primary)
    import fnmatch

    for s in lab["sites"]:
        if s["replicating"]:
            dst = _direct_client(lab, s)
            for repo, tag in _images(primary):
                if not any(fnmatch.fnmatch(repo, p) for p in s["replication"]["failing"]):
                    oci.copy(src, dst, repo, tag)


def up(scenario_ref: str, lab_dir: Path, ssh: bool = False) -> dict[str, Any]:
    """Start a lab for a scenario in `lab_dir`; returns the lab model. With `ssh` (or the
    scenario's `ssh: true`) the lab runs an sshd and the inventory reads hosts over it."""
    t0 = time.monotonic()
    if not registry.available():
        raise LabError("docker-registry is not installed (apt-get install docker-registry)")
    scn = scenario.load(scenario_ref)
    lab_dir = Path(lab_dir).resolve()
    lab_dir.mkdir(parents=True, exist_ok=True)
    down(lab_dir, quiet=True)
    for name in OWN_PATHS:
        p = lab_dir / name
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.exists():
            shutil.rmtree(p)
    run = lab_dir / "run"
    run.mkdir()
    pg_root = Path(tempfile.mkdtemp(prefix="gpl-", dir="/tmp"))
    (run / "pgroot").write_text(f"{pg_root}\n")
    pg_root.chmod(0o755)
    postgres.chown_postgres(pg_root)
    (lab_dir / "pg").symlink_to(pg_root)
    lab = build_model(scn, lab_dir, pg_root)
    if ssh or scn.get("ssh"):
        try:
            lab["ssh"] = sshd.setup(lab_dir)
        except (sshd.SshdError, subprocess.CalledProcessError) as exc:
            raise LabError(f"the lab's sshd: {exc}") from None
    state.write(lab_dir / "lab.json", lab)
    # after lab.json, so `gc` never mistakes a lab that is coming up for one whose directory
    # is gone; lets `down` find the clusters even without run/
    (pg_root / "owner").write_text(f"{lab_dir}\n")
    for c in lab["clusters"]:
        Path(c["data"]).parent.mkdir(parents=True)
        postgres.chown_postgres(Path(c["data"]).parent)
        if c["bundled_root"]:  # the Linux package's PostgreSQL lives in the host root
            pg_dir = Path(c["bundled_root"]) / hostroot.PG_DIR
            pg_dir.mkdir(parents=True, exist_ok=True)
            postgres.chown_postgres(pg_dir)
            (pg_dir / "data").symlink_to(c["data"])
    errors: list[BaseException] = []
    pg_thread = threading.Thread(target=_setup_databases, args=(lab, errors), name="pg-setup")
    pg_thread.start()
    try:
        for pair in {(s["key_file"], s["cert_file"]) for s in lab["sites"]} | {
                (n["key_file"], n["cert_file"]) for s in lab["sites"]
                for n in s.get("nodes") or [] if "key_file" in n} | {
                (lab["key_file"], lab["cert_file"])}:
            tokens.generate(Path(pair[0]), Path(pair[1]))
        if lab["tls"]:  # the lab's own clients get tls.client_env; `up` itself needs none
            tls.generate(lab_dir)
        _log("keys", t0)
        buckets = [s["s3"] for s in lab["sites"] if s.get("s3")]
        if buckets:
            s3.start(run, buckets[0]["port"])
            for b in {b["bucket"]: b for b in buckets}.values():  # a shared bucket once
                s3.create_bucket(b)
            _log("S3 server and buckets", t0)
        reg_pids = {}
        for s in lab["sites"]:
            Path(s["run"]).mkdir(parents=True, exist_ok=True)
            render_site(lab, s)
            state.write(Path(s["run"]) / "gitlab-state.json", standin_state(lab, s))
            if s["registry"]["enabled"]:
                registry.write_config(Path(s["run"]) / "registry.yml",
                                      _upstream_cfg(lab, s, read_only=False))
                reg_pids[s["name"]] = registry.start("registry", Path(s["run"]) / "registry.yml",
                                                     Path(s["run"]))
        procs.spawn("daemon", [sys.executable, "-m", "lab.daemon", "--dir", str(lab_dir)], run,
                    cwd=Path(__file__).resolve().parent.parent)
        if lab.get("ssh"):
            try:
                sshd.start(lab["ssh"], run)
            except sshd.SshdError as exc:
                raise LabError(str(exc)) from None
        for s in lab["sites"]:
            if s["name"] in reg_pids:
                registry.wait_ready(s["ports"]["registry"], reg_pids[s["name"]])
        _log("registries up", t0)
        _seed(lab)
        _log("images seeded", t0)
        for s in lab["sites"]:  # read-only maintenance mode, once the images are in
            if s["registry"]["enabled"] and s["registry"]["read_only"]:
                registry.write_config(Path(s["run"]) / "registry.yml", _upstream_cfg(lab, s))
                registry.restart("registry", Path(s["run"]) / "registry.yml", Path(s["run"]),
                                 s["ports"]["registry"])
        (run / "ready").touch()  # the replicators start their backfill now
        pg_thread.join()
        if errors:
            raise errors[0]
        _log("databases up", t0)
        for s in lab["sites"]:
            if not s["registry"]["enabled"]:
                continue
            root = Path(s["root"])
            if s.get("s3"):  # the lab imports only from a filesystem: legacy or prefer here
                has_data = s3.has_repositories(s["s3"])
                lock = has_data and s["registry"]["lockfile"]
                s3.set_lockfile(s["s3"], "filesystem-in-use" if lock else (
                    "database-in-use" if s["registry"]["mode"] != "legacy" else None))
                continue
            has_data = bool(metadata.tagged_images(root / hostroot.STORAGE))
            if s["registry"]["mode"] == "database":
                if has_data and not s["db"]["empty"]:
                    metadata.import_storage(s["db"]["dsn"], root / hostroot.STORAGE)
                    s["imported"] = True
                hostroot.set_lockfile(root, "database-in-use")
            elif s["registry"]["mode"] == "prefer":  # fresh install: database; data: fallback
                hostroot.set_lockfile(root, "filesystem-in-use" if has_data else "database-in-use")
            else:  # `lockfile: false`: a legacy registry that never wrote its lockfile
                lock = has_data and s["registry"]["lockfile"]
                hostroot.set_lockfile(root, "filesystem-in-use" if lock else None)
        _log("modes applied", t0)
        _db_knobs(lab)
        _log("database knobs applied", t0)
        _poolers(lab)
        _wait_daemon(lab, run)
        _log("daemon up", t0)
        lab["status"] = "up"
        _wait_replicators(lab)
        _log("replicators caught up", t0)
        state.write(lab_dir / "lab.json", lab)
        inventory.write(lab, lab_dir)
        if scn.get("then"):
            from lab import actions  # the operator's actions use this module

            for line in scn["then"]:
                actions.run_line(lab_dir, line)
            _log("then: " + "; ".join(scn["then"]), t0)
        return state.update(lab_dir / "lab.json", lambda d: d.update(
            up_seconds=round(time.monotonic() - t0, 2)))
    except BaseException:
        pg_thread.join()
        down(lab_dir, quiet=True)
        raise


def _wait_daemon(lab: dict[str, Any], run: Path, timeout: float = 15) -> None:
    pid = int((run / "daemon.pid").read_text())
    wanted = [s["ports"]["api"] for s in lab["sites"]] + [
        s["ports"]["front"] for s in lab["sites"] if s["registry"]["enabled"]]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(ports.listening(p) for p in wanted):
            return
        if not procs.alive(pid):
            raise LabError("the lab daemon exited during start-up; see "
                           f"{run / 'daemon.log'}:\n" + (run / "daemon.log").read_text()[-2000:])
        time.sleep(0.02)
    raise LabError(f"the lab daemon did not listen within {timeout}s")


def _wait_replicators(lab: dict[str, Any], timeout: float = 15) -> None:
    """Until each replicator has backfilled and written its first counts."""
    files = [Path(s["run"]) / "replication.ready" for s in lab["sites"] if s["replicating"]]
    deadline = time.monotonic() + timeout
    while not all(f.exists() for f in files):
        if time.monotonic() > deadline:
            raise LabError(f"the replicators did not catch up within {timeout}s")
        time.sleep(0.02)


def _ancestors() -> set[int]:
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def _ours(pid: int, markers: list[str]) -> bool:
    """A lab program (python, docker-registry, PostgreSQL's) with an argument that is one of
    the lab's directories or a path inside it."""
    argv = procs.argv(pid)
    if not argv:
        return False
    name = os.path.basename(argv[0])
    if not (name.startswith("python") or name in LAB_PROGRAMS):
        return False
    return any(a == m or a.startswith(m + "/") for a in argv for m in markers)


def _pg_roots(lab_dir: Path) -> list[Path]:
    """The cluster directories of this lab: the one `run/pgroot` names, and any /tmp/gpl-*
    whose `owner` is this lab (left by an `up` killed before it wrote run/pgroot, or when the
    lab directory itself is gone)."""
    roots = []
    named = lab_dir / "run" / "pgroot"
    if named.exists():
        roots.append(Path(named.read_text().strip()))
    for owner in Path("/tmp").glob("gpl-*/owner"):
        try:
            if owner.read_text().strip() == str(lab_dir) and owner.parent not in roots:
                roots.append(owner.parent)
        except OSError:
            continue
    return [r for r in roots if r.exists()]


def down(lab_dir: Path, quiet: bool = False) -> list[str]:
    """Stop everything a lab (alive, dead or half-started) runs; returns what was stopped."""
    lab_dir = Path(lab_dir).resolve()
    run = lab_dir / "run"
    stopped: list[str] = []
    pg_roots = _pg_roots(lab_dir)
    for root in pg_roots:
        for data in sorted(root.glob("*/data")):
            pid = postgres.postmaster_pid(data)
            if pid and procs.alive(pid):
                postgres.stop(data)
                stopped.append(f"postgres {data}")
    pids = procs.pidfile_pids(run) + procs.pidfile_pids(lab_dir / "sites")
    if pids:
        procs.kill(pids)
        stopped += [f"pid {p}" for p in pids]
    markers = [str(lab_dir)] + [str(r) for r in pg_roots]
    skip = _ancestors()
    strays = sorted({p for m in markers for p in procs.pids_naming(m)
                     if p not in skip and _ours(p, markers)})
    if strays:
        procs.kill(strays)
        stopped += [f"stray {p}" for p in strays]
    for f in list(run.glob("*.pid")) + list((lab_dir / "sites").glob("*/run/*.pid")):
        f.unlink(missing_ok=True)
    (run / "ready").unlink(missing_ok=True)
    for f in (lab_dir / "sites").glob("*/run/replication.ready"):
        f.unlink()
    for root in pg_roots:
        shutil.rmtree(root, ignore_errors=True)
    if (lab_dir / "lab.json").exists():
        try:
            model = state.update(lab_dir / "lab.json", lambda d: d.update(status="down"))
            ports.release([c["port"] for c in model["clusters"]]
                          + [p for s in model["sites"] for p in s["ports"].values()])
        except (OSError, ValueError, KeyError):
            pass
    if not quiet:
        for line in stopped:
            print(f"stopped {line}")
    return stopped


def gc(quiet: bool = True) -> list[str]:
    """Take down every lab whose directory is gone (e.g. a killed test session's temporary
    directory, since removed); labs whose directory exists are left alone."""
    candidates: set[Path] = set()
    for owner in Path("/tmp").glob("gpl-*/owner"):  # clusters
        try:
            candidates.add(Path(owner.read_text().strip()))
        except OSError:
            continue
    for entry in Path("/proc").iterdir():  # daemons and registries
        if not entry.name.isdigit():
            continue
        args = procs.argv(int(entry.name))
        if len(args) >= 5 and args[1:3] == ["-m", "lab.daemon"] and args[3] == "--dir":
            candidates.add(Path(args[4]))
        elif len(args) == 3 and os.path.basename(args[0]) == "docker-registry" and \
                args[2].endswith("/run/registry.yml"):
            candidates.add(Path(args[2]).parents[3])
    gone = []
    for lab_dir in sorted(candidates):
        if not (lab_dir / "lab.json").exists():
            down(lab_dir, quiet=quiet)
            gone.append(str(lab_dir))
    return gone


# -- reconfigure: what the operator actions share -----------------------------------------------
def restart_daemon(lab: dict[str, Any]) -> None:
    """Restart the stand-ins, fronts and replicators after the lab model changed (a newly
    enabled registry, a moved database, replication turned on); replicators backfill again."""
    run = Path(lab["dir"]) / "run"
    procs.kill(procs.pidfile_pids(run))
    for f in (Path(lab["dir"]) / "sites").glob("*/run/replication.ready"):
        f.unlink()
    deadline = time.monotonic() + 5
    while any(ports.listening(s["ports"]["api"]) for s in lab["sites"]) and \
            time.monotonic() < deadline:
        time.sleep(0.02)
    procs.spawn("daemon", [sys.executable, "-m", "lab.daemon", "--dir", lab["dir"]], run,
                cwd=Path(__file__).resolve().parent.parent)
    _wait_daemon(lab, run)
    _wait_replicators(lab)


def reconfigure(lab: dict[str, Any], names: list[str], daemon: bool = False) -> None:
    """`gitlab-ctl reconfigure` on the named sites: host files and the registry's config
    rewritten, the registry (re)started; every stand-in state, the inventory and env
    rewritten from the model; with `daemon`, the lab's services restarted."""
    for s in lab["sites"]:
        if s["name"] in names:
            render_site(lab, s)
            if s["registry"]["enabled"]:
                registry.restart("registry", Path(s["run"]) / "registry.yml", Path(s["run"]),
                                 s["ports"]["registry"])
            else:
                registry.stop("registry", Path(s["run"]))
    for s in lab["sites"]:
        state.write(Path(s["run"]) / "gitlab-state.json", standin_state(lab, s))
    inventory.write(lab, Path(lab["dir"]))
    if daemon:
        restart_daemon(lab)


# -- operator actions ---------------------------------------------------------------------------
def load(lab_dir: Path) -> dict[str, Any]:
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
    primary = _primary(lab)
    if primary:
        try:
            geo = {s["geo_node_id"]: s for s in state.read(
                Path(primary["run"]) / "gitlab-state.json")["geo_statuses"]}
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


def push(lab_dir: Path, site_name: str, image: str, salt: str = "") -> str:
    """Push a tiny image to a site's registry URL as the lab's user (`docker push`)."""
    lab = load(lab_dir)
    site = site_of(lab, site_name)
    if not site["registry"]["enabled"]:
        raise LabError(f"the registry of {site_name} is not enabled")
    repo, tag = oci.split_ref(image)
    client = oci.Client(site["registry_url"],
                        oci.basic_auth_tokens(site["username"], site["token"]))
    try:
        return oci.push(client, repo, tag, salt)
    except oci.RegistryError as exc:
        hint = " (the registry is in read-only mode)" if exc.status == 405 else ""
        raise LabError(f"push {repo}:{tag} to {site_name} failed: {exc}{hint}") from exc
