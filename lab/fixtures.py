"""pytest plugin: labs for the project's tests (`pytest_plugins = ["lab.fixtures"]`).

    def test_something(lab):
        deployment = lab("legacy-both")            # up once per session, shared
        mine = lab("legacy-both", fresh=True)      # a new one, for tests that change it
        deployment.inventory, deployment.env, deployment.site("eu-primary").registry_url

`fresh_lab` is the same factory, but its labs go down at the end of the test. Every lab goes
down at the end of the session; the pytest process owns them, so if the session is killed the
next `up` (or `python -m lab gc`) takes them down. When docker-registry or PostgreSQL is missing
the lab tests are skipped, except under CI (`CI` set), where that is an error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from lab import actions, deploy, inventory, scenario, state, teardown
from lab.model import site_of


@dataclass(frozen=True)
class SiteInfo:
    """What a test needs to reach one site of a lab."""

    name: str
    role: str
    geo: str
    gitlab_url: str
    registry_url: str
    registry_http_addr: str
    registry_debug_addr: str
    api_port: int
    front_port: int
    registry_port: int
    root: Path
    run: Path
    username: str
    token: str
    dsn: str
    db: dict[str, Any]


class Lab:
    """One running lab: its directory, inventory, secrets, sites and operator actions."""

    def __init__(self, lab_dir: Path) -> None:
        self.dir = Path(lab_dir)
        self.inventory = self.dir / "inventory.yml"

    @property
    def model(self) -> dict[str, Any]:
        """lab.json, re-read each time (import/finish-import change it)."""
        return state.read(self.dir / "lab.json")

    @property
    def env(self) -> dict[str, str]:
        return inventory.env_vars(self.model)

    def environ(self) -> dict[str, str]:
        """os.environ plus the lab's secrets, for a subprocess running the checker."""
        return {**os.environ, **self.env}

    @property
    def scenario(self) -> str:
        return self.model["scenario"]

    def site(self, name: str) -> SiteInfo:
        s = site_of(self.model, name)
        return SiteInfo(
            name=s["name"], role=s["role"], geo=s["geo"], gitlab_url=s["external_url"],
            registry_url=s["registry_url"], registry_http_addr=s["registry_http_addr"],
            registry_debug_addr=s["registry_debug_addr"], api_port=s["ports"]["api"],
            front_port=s["ports"]["front"], registry_port=s["ports"]["registry"],
            root=Path(s["root"]), run=Path(s["run"]), username=s["username"], token=s["token"],
            dsn=s["db"]["dsn"], db=s["db"])

    @property
    def sites(self) -> list[SiteInfo]:
        return [self.site(s["name"]) for s in self.model["sites"]]

    @property
    def primary(self) -> SiteInfo:
        return next(s for s in self.sites if s.role == "primary")

    @property
    def secondary(self) -> SiteInfo:
        return next(s for s in self.sites if s.role == "secondary")

    def token(self, site: str, scope: str = "") -> str:
        """A registry token from the site's `/jwt/auth`, as the lab's administrator."""
        s = self.site(site)
        params = {"service": "container_registry"} | ({"scope": scope} if scope else {})
        r = requests.get(f"{s.gitlab_url}/jwt/auth", params=params,
                         auth=(s.username, s.token), timeout=10)
        r.raise_for_status()
        return r.json()["token"]

    def api(self, site: str, path: str) -> Any:
        s = self.site(site)
        r = requests.get(f"{s.gitlab_url}/api/v4/{path.lstrip('/')}",
                         headers={"PRIVATE-TOKEN": s.token}, timeout=10)
        r.raise_for_status()
        return r.json()

    def api_state(self, site: str, **changes: Any) -> dict[str, Any]:
        """Change a site's API stand-in state (e.g. `hang=True`, `admin_mode=True`); the
        stand-in reads it on the next request. Returns the new state."""
        path = self.site(site).run / "gitlab-state.json"
        return state.update(path, lambda st: st.update(changes))

    def requests_log(self, site: str, kind: str = "api") -> list[dict[str, Any]]:
        """What a site received: `api` (its GitLab stand-in) or `registry` (its front), one
        entry per request: method, path, status (and `proxied` for the API, `auth_sha256`
        for the front)."""
        name = {"api": "api.log", "registry": "front.log"}[kind]
        return _jsonl(self.site(site).run / name)

    def s3_requests(self) -> list[dict[str, Any]]:
        """What object storage received through the lab's recording proxy (sites with
        `registry.redirect`; lab/s3proxy.py): method, path, presigned, auth_scheme,
        auth_sha256, status, tampered."""
        return _jsonl(self.dir / "run" / "s3-proxy.jsonl")

    def count_requests(self, site: str, path_prefix: str, kind: str = "api") -> int:
        """How many requests a site received under a path (query strings ignored)."""
        return sum(1 for r in self.requests_log(site, kind)
                   if r["path"].split("?")[0].startswith(path_prefix))

    def push(self, site: str, image: str, salt: str = "") -> str:
        return actions.push(self.dir, site, image, salt)

    def import_(self, site: str, step: str | None = None, interrupt: bool = False
                ) -> dict[str, int]:
        return actions.import_(self.dir, site, step, interrupt, out=_Null())

    def finish_import(self, site: str) -> None:
        actions.finish_import(self.dir, site, out=_Null())

    def act(self, line: str) -> None:
        """Any lab action as `python -m lab` names it, without `--dir` (e.g.
        `"set-read-only --site us-secondary off"`), in this process."""
        actions.run_line(self.dir, line)

    def down(self) -> None:
        teardown.down(self.dir, quiet=True)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class _Null:
    def write(self, _s: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def missing_tools(scenario_name: str | None = None) -> list[str]:
    """The programs the lab (and `scenario_name`'s PostgreSQL majors) need that are missing."""
    from lab.postgres import pg_bin

    missing = [] if shutil.which("docker-registry") else ["docker-registry"]
    missing += [t for t in ("initdb", "pg_ctl", "pg_basebackup") if pg_bin(t) is None]
    majors = {s["db"]["postgres"] for s in scenario.load(scenario_name)["sites"]} \
        if scenario_name else set()
    return missing + [f"PostgreSQL {m} (scripts/setup)" for m in sorted(majors - {None})
                      if pg_bin("postgres", m) is None]


class LabFactory:
    """`lab("name")` -> a running Lab; shared per scenario unless `fresh=True`."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.shared: dict[str, Lab] = {}
        self.owned: list[Lab] = []

    def __call__(self, scenario: str, fresh: bool = False) -> Lab:
        if not fresh and scenario in self.shared:
            return self.shared[scenario]
        missing = missing_tools(scenario)
        if missing:
            msg = "the lab needs " + ", ".join(missing) + " (apt-get install docker-registry " \
                  "postgresql)"
            if os.environ.get("CI"):
                pytest.fail(msg)
            pytest.skip(msg)
        name = re.sub(r"[^A-Za-z0-9_-]", "_", Path(scenario).stem)
        d = self.tmp.mktemp(f"lab-{name}")
        deploy.up(scenario, d, owner=os.getpid())  # reaped by the next up if we are killed
        lab = Lab(d)
        self.owned.append(lab)
        if not fresh:
            self.shared[scenario] = lab
        return lab

    def close(self) -> None:
        for lab in self.owned:
            lab.down()
        self.owned.clear()
        self.shared.clear()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    """Session-wide lab factory; every lab it started goes down at the end of the session."""
    teardown.gc()  # labs a killed earlier session left (its pid or its directories gone)
    factory = LabFactory(tmp_path_factory)
    try:
        yield factory
    finally:
        factory.close()


class FreshLabFactory(LabFactory):
    """A factory whose every call starts a new lab."""

    def __call__(self, scenario: str, fresh: bool = True) -> Lab:
        return super().__call__(scenario, fresh=True)


@pytest.fixture
def fresh_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    """Like `lab`, but always new labs, down at the end of the test."""
    factory = FreshLabFactory(tmp_path_factory)
    try:
        yield factory
    finally:
        factory.close()
