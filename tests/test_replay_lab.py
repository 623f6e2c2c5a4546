"""Checks are pure functions of facts: a lab run's recorded facts load back as typed models
(and write back the same JSON), and its evidence bundle, judged again with sockets and DNS
disabled, gives the same verdict and the same rows."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from geopreflight.facts import Facts
from geopreflight.probes.models import DbServer, HostConfig, RegistryApi, ResolvedHost
from standin import run_pytest

pytestmark = pytest.mark.lab

NONET = '''"""A pytest plugin (`-p nonet`): every socket and every name lookup fails, so a
run that still works needs no network and no DNS."""

from __future__ import annotations

import socket


def _refuse(*_args: object, **_kw: object) -> None:
    raise OSError("nonet: networking and DNS are disabled in this run")


class _NoSocket(socket.socket):
    def __init__(self, *args: object, **kw: object) -> None:
        _refuse()


socket.socket = _NoSocket  # type: ignore[misc]
socket.create_connection = _refuse  # type: ignore[assignment]
socket.getaddrinfo = _refuse  # type: ignore[assignment]
socket.gethostbyname = _refuse  # type: ignore[assignment]
'''
STEP = ("--profile=migrate-legacy", "--step=import-secondary")


def rows(summary: dict) -> list[tuple]:
    """The rows; a Geo status's age is judged at evaluation time, so it is left out."""
    return [(c["id"], c["site"], c["outcome"], c["blocking"],
             re.sub(r"status \d+ s old", "status N s old", c["message"]))
            for c in summary["checks"]]


def test_replay_needs_no_network_or_dns(lab, tmp_path: Path) -> None:
    lab_ = lab("legacy-both")
    first = run_pytest(*STEP, f"--inventory={lab_.inventory}",
                       f"--report-dir={tmp_path / 'run'}", "--evidence", env=lab_.environ())
    recorded = json.loads((tmp_path / "run" / "latest" / "summary.json").read_text())
    bundle = tmp_path / "run" / "latest" / "evidence.tar.gz"
    with tarfile.open(bundle) as tar:
        facts_json = json.loads(tar.extractfile("facts.json").read())["facts"]

    facts = Facts.from_dicts(facts_json)  # typed models, and the same JSON back
    assert isinstance(facts.value("db.server", "us-secondary"), DbServer)
    assert isinstance(facts.value("host.config", "us-secondary"), HostConfig)
    assert isinstance(facts.value("registry.api", "eu-primary"), RegistryApi)
    assert isinstance(facts.value("db.registry_host", "eu-primary"), ResolvedHost)
    assert [f.as_dict() for f in facts.all()] == facts_json

    (tmp_path / "nonet.py").write_text(NONET)  # written here: importing it cuts this process off
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}
    live = run_pytest("-p", "nonet", *STEP, f"--inventory={lab_.inventory}",
                      f"--report-dir={tmp_path / 'live'}", env={**lab_.environ(), **env})
    blocked = json.loads((tmp_path / "live" / "latest" / "summary.json").read_text())
    assert live.returncode != 0 and blocked["verdict"] != "READY", \
        "the nonet plugin did not cut a live run off from the registries and GitLab"

    again = run_pytest("-p", "nonet", *STEP, f"--from-evidence={bundle}",
                       f"--report-dir={tmp_path / 'again'}", env=env)
    assert again.returncode == first.returncode == 0, again.stdout + again.stderr
    replayed = json.loads((tmp_path / "again" / "latest" / "summary.json").read_text())
    assert replayed["verdict"] == recorded["verdict"] == "READY"
    assert rows(replayed) == rows(recorded)
