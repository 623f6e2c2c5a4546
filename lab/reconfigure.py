"""Reconfigure: rendering a lab's files and (re)starting its services from the model, as
`gitlab-ctl reconfigure` does. Bring-up (`deploy.py`) and the operator actions (`actions.py`)
both build on it; it imports only the model and the part drivers.
"""

from __future__ import annotations

import fnmatch
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from lab import hostroot, inventory, ports, procs, registry, s3, state, tls, tokens
from lab.gitlab_api import site_object, status_object
from lab.model import LabError, images, primary


def standin_state(lab: dict[str, Any], site: dict[str, Any]) -> dict[str, Any]:
    """What a site's GitLab stand-in answers (users, Geo sites and statuses, registry auth)."""
    source = primary(lab)
    st: dict[str, Any] = {
        "site": site["name"], "version": site["version"], "revision": site["revision"],
        "proxy_to": source["external_url"] if site["geo"] == "secondary" and source else None,
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
        repos = len({r for r, _ in images(site)})
        for s in geo:
            obj = site_object(s["geo_id"], s.get("geo_site_name") or s["name"], s["external_url"],
                              primary=s["geo"] == "primary", api_base=base)
            obj["current"] = s is site
            obj.update(s.get("geo_settings") or {})  # the scenario's Geo site settings
            st["geo_sites"].append(obj)
            failing = sum(1 for r in {r for r, _ in images(site)}
                          if any(fnmatch.fnmatch(r, p)
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
    hostroot.render(site, primary(lab), key, cert, ca)
    for node in site.get("nodes") or []:  # the site's other nodes: its files, as they differ
        own = {k: node[k] for k in ("rails_notification_secret", "version") if k in node}
        hostroot.render({**site, "root": node["root"], **own,
                         "registry": {**site["registry"], **node.get("registry", {})},
                         "host": {**site["host"], "gitlab_rb_drop": node["drop"]}},
                        primary(lab),
                        Path(node["key_file"]).read_bytes() if "key_file" in node else key,
                        Path(node["cert_file"]).read_bytes() if "cert_file" in node else cert,
                        ca)
    for node in site.get("nodes") or []:  # one storage behind every node (as NFS would be)
        shared = Path(node["root"]) / hostroot.STORAGE
        if not shared.is_symlink():
            shutil.rmtree(shared, ignore_errors=True)
            shared.symlink_to(Path(site["root"]) / hostroot.STORAGE)
    if site["registry"]["enabled"]:
        registry.write_config(Path(site["run"]) / "registry.yml", upstream_cfg(lab, site))


def upstream_cfg(lab: dict[str, Any], site: dict[str, Any],
                 read_only: bool | None = None) -> dict[str, Any]:
    """The site's docker-registry config (`read_only` overrides the model's, for seeding)."""
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
        # blobs through the registry, no 307, unless the scenario's `registry.redirect`
        cfg["storage"]["redirect"] = {"disable": not site["s3"].get("redirect")}
    return cfg


def start_daemon(lab: dict[str, Any]) -> None:
    """Spawn the lab daemon (stand-ins, fronts, replicators); `wait_daemon` waits for it."""
    procs.spawn("daemon", [sys.executable, "-m", "lab.daemon", "--dir", lab["dir"]],
                Path(lab["dir"]) / "run", cwd=Path(__file__).resolve().parent.parent)


def wait_daemon(lab: dict[str, Any], run: Path, timeout: float = 15) -> None:
    """Until the daemon listens on every stand-in and front port (or died: its log)."""
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


def wait_replicators(lab: dict[str, Any], timeout: float = 15) -> None:
    """Until each replicator has backfilled and written its first counts."""
    files = [Path(s["run"]) / "replication.ready" for s in lab["sites"] if s["replicating"]]
    deadline = time.monotonic() + timeout
    while not all(f.exists() for f in files):
        if time.monotonic() > deadline:
            raise LabError(f"the replicators did not catch up within {timeout}s")
        time.sleep(0.02)


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
    start_daemon(lab)
    wait_daemon(lab, run)
    wait_replicators(lab)


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
