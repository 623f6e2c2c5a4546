"""The audit bundle (`--evidence`) and re-judging it later (`--from-evidence=BUNDLE`).

`evidence.tar.gz` holds the run's reports, the inventory (redacted), the profile, the waivers
and attestations applied, the run's metadata (`run.json`: who, where, when, which checks) and a
`SHA256SUMS` manifest, signed (`SHA256SUMS.sig`) with `--sign-with=KEY`. Because checks are
pure functions of facts, a bundle's recorded facts can be judged again without touching the
deployment.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import reportjson, runmeta
from .errors import USAGE_EXIT, UsageError
from .facts import Facts
from .inventory import Inventory, load_inventory_text
from .redact import Redactor
from .signing import MANIFEST, SIGNATURE, sign
from .textsafe import for_terminal
from .yamlfile import decode, read_input

BUNDLE = "evidence.tar.gz"
REPORTS = ("junit.xml", "summary.json", "facts.json", "report.html")
# reading a bundle: a real one is a few hundred KiB
BUNDLE_MAX = 32 << 20        # the .tar.gz file
MEMBER_MAX = 16 << 20        # one member, unpacked
TOTAL_MAX = 64 << 20         # the whole tar stream, unpacked
MEMBERS_MAX = 256
UNLISTED = frozenset({MANIFEST, SIGNATURE})  # the manifest and its signature
_MANIFEST_LINE = re.compile(r"([0-9a-f]{64})  (\S.*)")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def redacted_inventory(inventory: Inventory, redactor: Redactor) -> bytes:
    """The inventory file as loaded, with inline secrets and known secret values masked."""
    raw = yaml.safe_load(read_input(inventory.path, "inventory"))
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
    for member, path, what in (("waivers.yml", waivers_path, "waivers file"),
                               ("attestations.yml", attestations_path, "attestations file")):
        if path:
            text = decode(read_input(path, what), path, what)
            files[member] = redactor.text(text).encode()
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


class _Capped(io.RawIOBase):
    """A decompressed stream that stops at `limit` bytes: a gzip bomb ends here."""

    def __init__(self, raw: Any, limit: int) -> None:
        self.raw, self.left = raw, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(min(len(buffer), self.left + 1))
        if len(data) > self.left:
            raise _TooLarge(f"the bundle unpacks to more than {TOTAL_MAX >> 20} MiB")
        self.left -= len(data)
        buffer[:len(data)] = data
        return len(data)


class _TooLarge(Exception):
    pass


def _member_problem(member: tarfile.TarInfo, seen: dict[str, bytes], total: int) -> str | None:
    """Why a member is refused before any of it is read; None when it may be read."""
    name = member.name
    parts = name.split("/")
    if not name.isprintable() or len(name) > 200 or name.startswith("/") or "\\" in name \
            or any(p in ("", ".", "..") for p in parts):
        return "a member's path is absolute, leaves the bundle or cannot be printed"
    if not member.isreg():
        return f"{name} is not a regular file (links and devices are refused)"
    if name in seen:
        return f"{name} is in the bundle twice"
    if len(seen) >= MEMBERS_MAX:
        return f"more than {MEMBERS_MAX} members"
    if member.size > MEMBER_MAX or total + member.size > TOTAL_MAX:
        return f"{name} is larger than the bundle limits ({MEMBER_MAX >> 20} MiB a member)"
    return None


class Bundle:
    """A bundle opened for re-judging: each member's size is checked from its tar header
    before it is read, and the manifest must list exactly the members, each matching."""

    def __init__(self, path: str, data: bytes | None = None) -> None:
        """`data`: the bundle's bytes when the caller has read them already."""
        self.path = path
        if data is None:
            data = read_input(path, "evidence bundle", BUNDLE_MAX)
        self.files: dict[str, bytes] = {}
        total = 0
        try:
            stream = _Capped(gzip.GzipFile(fileobj=io.BytesIO(data)), TOTAL_MAX)
            with tarfile.open(fileobj=io.BufferedReader(stream), mode="r|") as tar:
                for member in tar:
                    problem = _member_problem(member, self.files, total)
                    if problem:
                        raise UsageError(f"not a valid evidence bundle: {problem}", file=path)
                    body = tar.extractfile(member)
                    content = body.read(member.size + 1) if body else b""
                    if len(content) != member.size:
                        raise tarfile.ReadError("a member is shorter than its header says")
                    self.files[member.name] = content
                    total += member.size
        except (_TooLarge, OSError, EOFError, zlib.error, tarfile.TarError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UsageError(f"not a readable evidence bundle (truncated or not a .tar.gz?): "
                             f"{why}", file=path) from None
        self._verify()

    def _verify(self) -> None:
        manifest = self.files.get("SHA256SUMS")
        if manifest is None:
            raise UsageError("the bundle has no SHA256SUMS manifest", file=self.path)
        where = f"{self.path}:SHA256SUMS"
        listed: dict[str, str] = {}
        for i, line in enumerate(decode(manifest, where, "manifest").splitlines(), 1):
            m = _MANIFEST_LINE.fullmatch(line)
            if m is None:
                raise UsageError("expected '<sha256>  <member>' lines", file=where, line=i)
            digest, name = m.groups()
            if name in listed:
                raise UsageError(f"{name} is listed twice", file=where, line=i)
            data = self.files.get(name)
            if data is None:
                raise UsageError(f"{name} is listed but not in the bundle (removed?)",
                                 file=where, line=i)
            if hashlib.sha256(data).hexdigest() != digest:
                raise UsageError(f"{name} does not match the bundle's SHA256SUMS (altered?)",
                                 file=self.path)
            listed[name] = digest
        unlisted = sorted(set(self.files) - set(listed) - UNLISTED)
        if unlisted:
            raise UsageError(f"{', '.join(unlisted)} not listed in the bundle's SHA256SUMS "
                             "(added or altered?)", file=self.path)
        for name in ("facts.json", "inventory.yml"):
            if name not in self.files:
                raise UsageError(f"the bundle has no {name}", file=self.path)

    def inventory(self) -> Inventory:
        """The recorded inventory; its secrets were never recorded and are not needed."""
        name = f"{self.path}:inventory.yml"
        sha = decode(self.files.get("inventory.sha256", b""), f"{self.path}:inventory.sha256",
                     "digest").strip()
        if sha and not _SHA256.fullmatch(sha):
            raise UsageError("expected a SHA-256 digest", file=f"{self.path}:inventory.sha256")
        return load_inventory_text(decode(self.files["inventory.yml"], name, "inventory"), name,
                                   sha256=sha or None, resolve_secrets=False)

    def facts(self) -> Facts:
        return Facts.from_dicts(reportjson.facts(self.files["facts.json"],
                                                 f"{self.path}:facts.json"))

    def started_at(self) -> float:
        """When the recorded run started (summary.json `started_at`, its schema's ISO 8601
        UTC form), in epoch seconds."""
        return datetime.fromisoformat(self.summary()["started_at"].replace("Z", "+00:00")
                                      ).timestamp()

    def summary(self) -> dict[str, Any]:
        """The recorded summary.json, checked against its schema."""
        if "summary.json" not in self.files:
            raise UsageError("the bundle has no summary.json", file=self.path)
        return reportjson.summary(self.files["summary.json"], f"{self.path}:summary.json")


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
            terminalreporter.write_line(for_terminal(f"ERROR: {self.error}"), red=True)
