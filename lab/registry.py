"""Debian's `docker-registry` (CNCF distribution 2.8), one per site.

The registry process gets its own configuration, derived from the same site model as the
GitLab-rendered `config.yml` in the host root, with paths made absolute in the lab directory
(the rendered file names them as they would be on the host). Read-only maintenance mode is
the registry's own (`storage.maintenance.readonly`): writes then get 405 from the registry.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from lab import ports, procs, tls

BINARY = "docker-registry"


def available() -> bool:
    return shutil.which(BINARY) is not None


def upstream_config(*, addr: str, debug_addr: str | None = None, storage_root: Path, realm: str,
                    cert: Path, read_only: bool,
                    http_secret: str, notifications: list[dict[str, Any]] | None,
                    site: str) -> dict[str, Any]:
    """The configuration the registry process runs with."""
    storage: dict[str, Any] = {
        "filesystem": {"rootdirectory": str(storage_root)},
        "delete": {"enabled": True},
        "cache": {"blobdescriptor": "inmemory"},
    }
    if read_only:
        storage["maintenance"] = {"readonly": {"enabled": True},
                                  "uploadpurging": {"enabled": False}}
    cfg: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text",
                "fields": {"service": "registry", "site": site}},
        "storage": storage,
        "http": {"addr": addr, "secret": http_secret,
                 "headers": {"X-Content-Type-Options": ["nosniff"]}},
        "auth": {"token": {"realm": realm, "service": "container_registry",
                           "issuer": "omnibus-gitlab-issuer", "rootcertbundle": str(cert),
                           "autoredirect": False}},
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }
    if debug_addr:  # /debug/health, /debug/vars (notification metrics), /metrics
        cfg["http"]["debug"] = {"addr": debug_addr,
                                "prometheus": {"enabled": True, "path": "/metrics"}}
    if notifications:
        cfg["notifications"] = {"events": {"includereferences": True},
                                "endpoints": notifications}
    return cfg


def write_config(path: Path, cfg: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(cfg, sort_keys=False))
    tmp.replace(path)


def start(name: str, config: Path, run_dir: Path) -> int:
    """Start `docker-registry serve CONFIG` detached; pidfile `run_dir/<name>.pid`. Without
    AWS_CA_BUNDLE: the lab's S3 is plain HTTP, and the s3 driver's SDK panics on a bundle;
    with the lab's CA when it serves HTTPS (CONFIG is sites/<site>/run/registry.yml)."""
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    lab_dir = Path(config).resolve().parents[min(3, len(Path(config).resolve().parents) - 1)]
    env.update(tls.client_env(lab_dir))  # its notifications to an HTTPS stand-in
    return procs.spawn(name, [BINARY, "serve", str(config)], run_dir,
                       log=run_dir / f"{name}.log", env=env)


def wait_ready(port: int, pid: int | None = None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ports.listening(port):
            return
        if pid is not None and not procs.alive(pid):
            raise RuntimeError(f"registry on port {port} exited during start-up")
        time.sleep(0.02)
    raise RuntimeError(f"registry on port {port} did not start within {timeout}s")


def stop(name: str, run_dir: Path) -> None:
    pidfile = run_dir / f"{name}.pid"
    pids = procs.pidfile_pids(pidfile.parent) if pidfile.exists() else []
    mine = [p for p in pids if pidfile.exists() and pidfile.read_text().split()[0] == str(p)]
    procs.kill(mine, timeout=3)
    pidfile.unlink(missing_ok=True)


def restart(name: str, config: Path, run_dir: Path, port: int) -> int:
    """What `gitlab-ctl reconfigure` does to a changed registry: stop, start, wait."""
    stop(name, run_dir)
    deadline = time.monotonic() + 5
    while ports.listening(port) and time.monotonic() < deadline:
        time.sleep(0.02)
    pid = start(name, config, run_dir)
    wait_ready(port, pid)
    return pid
