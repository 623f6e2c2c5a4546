"""The audit bundle (`--evidence`) and re-judging it later (`--from-evidence=BUNDLE`).

`evidence.tar.gz` holds the run's reports, the inventory (redacted), the profile, the waivers
and attestations applied, the run's metadata (`run.json`: who, where, when, which checks) and a
`SHA256SUMS` manifest, signed (`SHA256SUMS.sig`) with `--sign-with=KEY`. Because checks are
pure functions of facts, a bundle's recorded facts can be judged again without touching the
deployment.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import runmeta
from .errors import USAGE_EXIT, UsageError
from .facts import Facts
from .inventory import Inventory, load_inventory_text
from .redact import Redactor
from .signing import MANIFEST, SIGNATURE, sign

BUNDLE = "evidence.tar.gz"
REPORTS = ("junit.xml", "summary.json", "facts.json", "report.html")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def redacted_inventory(inventory: Inventory, redactor: Redactor) -> bytes:
    """The inventory file as loaded, with inline secrets and known secret values masked."""
    raw = yaml.safe_load(Path(inventory.path).read_text())
    return yaml.safe_dump(redactor.data(raw), sort_keys=False).encode()


def write_bundle(folder: Path, inventory_yml: bytes, inventory_sha256: str, profile_path: str,
                 waivers_path: str | None, redactor: Redactor, *,
                 attestations_path: str | None = None, run_meta: dict[str, Any] | None = None,
                 sign_with: str | None = None) -> Path:
    """Pack the run's folder; with `sign_with`, the manifest is signed first, so a bundle
    that cannot be signed is never written."""
    files: dict[str, bytes] = {name: (folder / name).read_bytes() for name in REPORTS
                               if (folder / name).exists()}
    files["inventory.yml"] = inventory_yml
    files["inventory.sha256"] = f"{inventory_sha256}\n".encode()
    files[f"profiles/{Path(profile_path).name}"] = Path(profile_path).read_bytes()
    if waivers_path:
        files["waivers.yml"] = redactor.text(Path(waivers_path).read_text()).encode()
    if attestations_path:
        files["attestations.yml"] = redactor.text(Path(attestations_path).read_text()).encode()
    if run_meta is not None:
        files["run.json"] = (json.dumps(redactor.data(run_meta), indent=2) + "\n").encode()
    files[MANIFEST] = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                              for name, data in sorted(files.items())).encode()
    if sign_with:
        files[SIGNATURE] = sign(files[MANIFEST], sign_with)
    path = folder / BUNDLE
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            _add(tar, name, data)
    return path


class Bundle:
    """A bundle opened for re-judging; its manifest is verified first."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            with tarfile.open(path, "r:gz") as tar:
                self.files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()
                              if m.isfile()}
        except (OSError, tarfile.TarError) as exc:
            raise UsageError(f"not a readable evidence bundle: {exc}", file=path) from None
        self._verify()

    def _verify(self) -> None:
        manifest = self.files.get("SHA256SUMS")
        if manifest is None:
            raise UsageError("the bundle has no SHA256SUMS manifest", file=self.path)
        for line in manifest.decode().splitlines():
            digest, _, name = line.partition("  ")
            data = self.files.get(name)
            if data is None or hashlib.sha256(data).hexdigest() != digest:
                raise UsageError(f"{name} does not match the bundle's SHA256SUMS (altered?)",
                                 file=self.path)
        for name in ("facts.json", "inventory.yml"):
            if name not in self.files:
                raise UsageError(f"the bundle has no {name}", file=self.path)

    def inventory(self) -> Inventory:
        """The recorded inventory; its secrets were never recorded and are not needed."""
        sha = self.files.get("inventory.sha256", b"").decode().strip()
        return load_inventory_text(self.files["inventory.yml"].decode(),
                                   f"{self.path}:inventory.yml", sha256=sha or None,
                                   resolve_secrets=False)

    def facts(self) -> Facts:
        data: dict[str, Any] = json.loads(self.files["facts.json"])
        return Facts.from_dicts(data["facts"])


class EvidencePlugin:
    """Registered only with --evidence: adds the bundle to the run's report folder."""

    def __init__(self, inventory_yml: bytes, inventory_sha256: str, profile_path: str,
                 waivers_path: str | None, redactor: Redactor, *,
                 attestations_path: str | None = None, sign_with: str | None = None,
                 checks_dir: Path | None = None) -> None:
        self.args = (inventory_yml, inventory_sha256, profile_path, waivers_path, redactor)
        self.options = {"attestations_path": attestations_path, "sign_with": sign_with}
        self.checks_dir = checks_dir or Path(__file__).resolve().parent
        self.path: Path | None = None
        self.error: str | None = None

    def pytest_geopreflight_reports_written(self, report: Any, folder: Path) -> None:
        meta = runmeta.collect(report.started_at, datetime.now(UTC), self.checks_dir)
        try:
            self.path = write_bundle(folder, *self.args, run_meta=meta, **self.options)
        except UsageError as exc:  # signing failed: no unsigned bundle stands in for a signed one
            self.error = f"{exc}; no evidence bundle was written"

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.error:
            session.exitstatus = USAGE_EXIT

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.error:
            terminalreporter.write_line(f"ERROR: {self.error}", red=True)
