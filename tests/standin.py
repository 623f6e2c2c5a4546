"""Two-site (or more) deployments of GitLab API stand-ins for the core's tests.

The stand-in (lab/gitlab_api.py) is the one part that is not real: GitLab cannot run here. It
serves the documented endpoints and JSON shapes, and a secondary proxies to the primary.
"""

from __future__ import annotations

import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.gitlab_api import StandIn, serve, site_object, status_object

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SiteSpec:
    name: str
    role: str = "secondary"
    version: str = "17.10.2-ee"
    revision: str = "6fb9e4f1c2a"
    geo: bool = True                # is a Geo site
    healthy: bool = True
    health: str = "Healthy"
    status_age_s: float = 30.0
    has_status: bool = True
    hang: bool = False              # accepts connections, never answers


@dataclass
class Deployment:
    tmp: Path
    specs: list[SiteSpec]
    servers: dict[str, StandIn] = field(default_factory=dict)
    token: str = field(default_factory=lambda: "glpat-" + secrets.token_hex(10))
    dead_sockets: list[socket.socket] = field(default_factory=list)
    extra_inventory: dict[str, Any] = field(default_factory=dict)

    def start(self) -> Deployment:
        users = [{"username": "geopreflight", "token": self.token, "admin": True,
                  "scopes": ["api"]}]
        primary = next(s for s in self.specs if s.role == "primary")
        for spec in [primary] + [s for s in self.specs if s is not primary]:
            state = {"site": spec.name, "version": spec.version, "revision": spec.revision,
                     "users": users, "hang": spec.hang, "geo_sites": [], "geo_statuses": []}
            if spec is not primary and spec.geo:
                state["proxy_to"] = self.servers[primary.name].url
            self.servers[spec.name] = serve(state)
        self.refresh()
        return self

    def url(self, name: str) -> str:
        return self.servers[name].url

    def refresh(self) -> None:
        """Rebuild the primary's Geo sites and statuses from the specs."""
        primary = next(s for s in self.specs if s.role == "primary")
        p_url = self.url(primary.name)
        sites, statuses = [], []
        for i, spec in enumerate([s for s in self.specs if s.geo], 1):
            sites.append(site_object(i, spec.name, self.url(spec.name),
                                     primary=spec.role == "primary", api_base=p_url))
            if spec.has_status:
                statuses.append(status_object(
                    i, version=spec.version, revision=spec.revision,
                    primary=spec.role == "primary", healthy=spec.healthy, health=spec.health,
                    age_s=spec.status_age_s, replication_enabled=True, api_base=p_url))
        state = self.servers[primary.name].state()
        if any(s.geo for s in self.specs if s.role != "primary") or primary.geo:
            state["geo_sites"], state["geo_statuses"] = sites, statuses

    def inventory(self, **overrides: Any) -> Path:
        doc = {"deployment": "standin", "sites": [
            {"name": s.name, "role": s.role,
             "gitlab": {"url": self.url(s.name), "token_env": "GP_TEST_TOKEN"}}
            for s in self.specs], "timeouts": {"connect_s": 1, "read_s": 1.5}}
        doc.update(overrides)
        path = self.tmp / "inventory.yml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def env(self) -> dict[str, str]:
        return {**os.environ, "GP_TEST_TOKEN": self.token}

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()


def two_sites(tmp: Path, **secondary: Any) -> Deployment:
    return Deployment(tmp, [SiteSpec("eu-primary", "primary"),
                            SiteSpec("us-secondary", "secondary", **secondary)]).start()


def bundle_members(bundle: Path) -> dict[str, bytes]:
    """Every member of an evidence bundle, by name."""
    with tarfile.open(bundle) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def write_bundle(files: dict[str, bytes], path: Path) -> Path:
    """An evidence bundle holding exactly `files` (a test's edited or forged copy)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def run_pytest(*args: str, env: dict[str, str], cwd: Path = ROOT,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the checker as an operator does: `pytest --profile=...` in the checkout."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)




def as_foreground_job() -> None:
    """`preexec_fn` for a checker a test will Ctrl-C: SIGINT at its default, as in a terminal's
    foreground job (a CI runner started in the background, `cmd &`, ignores SIGINT, and a child
    inherits that, so the Ctrl-C would never arrive)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
