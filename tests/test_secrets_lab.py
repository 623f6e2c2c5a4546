"""No secret reaches the terminal, a report, the evidence bundle or a test id: not the tokens
and DSNs the inventory names, and not the ones only the hosts hold (the registry's HTTP
secret, the Geo notification token, the DB password in config.yml, the signing key)."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import pytest
import yaml

from standin import run_pytest

pytestmark = pytest.mark.lab

PEM_LINE = re.compile(r"^[A-Za-z0-9+/=]{40,}$", re.M)


def host_secrets(root: Path) -> list[str]:
    """Every secret the lab wrote into a site's host files."""
    found: list[str] = []
    config = yaml.safe_load((root / "var/opt/gitlab/registry/config.yml").read_text())
    found.append(str(config["http"]["secret"]))
    found.append(str(config.get("database", {}).get("password") or ""))
    for endpoint in (config.get("notifications") or {}).get("endpoints") or []:
        found += [str(v) for v in endpoint.get("headers", {}).get("Authorization", [])]
    gitlab_yml = yaml.safe_load((root / "var/opt/gitlab/gitlab-rails/etc/gitlab.yml").read_text())
    prod = gitlab_yml.get("production", gitlab_yml)
    found.append(str((prod.get("registry") or {}).get("notification_secret") or ""))
    for key in root.rglob("*.key"):
        found += PEM_LINE.findall(key.read_text())
    return found


def test_no_secret_leaks_anywhere(lab, tmp_path: Path) -> None:
    lab_ = lab("legacy-both")
    secrets = list(lab_.env.values())
    for site in lab_.sites:
        secrets += [site.token, site.dsn, *host_secrets(site.root)]
        if m := re.match(r"postgresql://[^:/]+:([^@]+)@", site.dsn):
            secrets.append(m.group(1))
    secrets = sorted({s for s in secrets if len(s) >= 8})
    assert len(secrets) >= 6, secrets  # tokens, DSNs and passwords, HTTP secrets, Geo token

    reports = tmp_path / "reports"
    runs = [run_pytest("--profile=migrate-legacy", f"--step={step}",
                       f"--inventory={lab_.inventory}", f"--report-dir={reports}",
                       "--evidence", "-v", "-rA", "-l", env=lab_.environ())
            for step in ("prerequisites", "import-primary")]
    runs.append(run_pytest("--profile=migrate-legacy", f"--inventory={lab_.inventory}",
                           "--collect-only", "-q", env=lab_.environ()))
    blobs = {f"run {i} output": r.stdout + r.stderr for i, r in enumerate(runs)}
    for path in reports.rglob("*"):
        if path.is_file() and path.suffix != ".gz":
            blobs[str(path)] = path.read_text(errors="replace")
    for bundle in reports.rglob("evidence.tar.gz"):
        with tarfile.open(bundle) as tar:
            for member in tar.getmembers():
                blobs[f"{bundle}:{member.name}"] = tar.extractfile(member).read().decode(
                    errors="replace")
    assert any("facts.json" in name for name in blobs)
    for name, text in blobs.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({len(secret)} chars) leaked into {name}"
