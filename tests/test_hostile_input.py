"""Hostile input: every bad option, inventory, secret, waiver file, profile or evidence bundle
ends in exit 4 with a message naming the file (and the line), before any probing, never a
traceback, a hang or a quoted secret. The CLI sweep runs the checker as an operator does."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from geopreflight.errors import UsageError
from geopreflight.evidence import Bundle
from geopreflight.inventory import load_inventory
from geopreflight.profiles import load_profile
from geopreflight.suite import load_catalog
from geopreflight.yamlfile import loads
from standin import run_pytest

TOKEN, FILE_TOKEN = "glpat-HOSTILE-tok-0001", "glpat-HOSTILE-file-0002"
DB_PASSWORD = "DBPASS-hostile-77"
DSN = f"postgresql://registry:{DB_PASSWORD}@db.example.com:5432/registry"
PLANTED = (TOKEN, FILE_TOKEN, DB_PASSWORD, "ROTATED-0003", "FRAGMENT-0004")

INVENTORY = """\
deployment: acme
sites:
  - name: eu-primary
    role: primary
    gitlab:
      url: https://gitlab.example.com
      token_env: GP_H_TOKEN
    metadata_db:
      dsn_env: GP_H_DSN
  - name: us-secondary
    role: secondary
    gitlab:
      url: https://us.example.com
      token_file: {tmp}/token
timeouts: {{connect_s: 2, read_s: 3}}
"""
WAIVERS = """\
waivers:
  - check: VER-001
    justification: accepted for CHG-1
    approver: jane
    expires: 2030-01-01
"""


def env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "GP_H_TOKEN": TOKEN, "GP_H_DSN": DSN, **extra}


class Case:
    """One bad input: how to make it in a folder, the CLI arguments, and where it is."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        (tmp / "token").write_text(FILE_TOKEN + "\n")
        self.inventory = tmp / "inventory.yml"
        self.inventory.write_text(INVENTORY.format(tmp=tmp))
        self.args = ["--profile=migrate-legacy", f"--inventory={self.inventory}",
                     f"--report-dir={tmp / 'reports'}"]
        self.env = env()
        self.where: str = str(self.inventory)  # the file the message must name

    def edit(self, old: str, new: str) -> Case:
        text = self.inventory.read_text()
        assert old in text, old
        self.inventory.write_text(text.replace(old, new, 1))
        return self

    def arg(self, *args: str) -> Case:
        self.args += list(args)
        return self

    def use_inventory(self, path: Path | str) -> Case:
        self.where = str(path)
        return self.arg(f"--inventory={path}")

    def secret_file(self, data: bytes) -> Case:
        (self.tmp / "token").write_bytes(data)
        self.where = str(self.tmp / "token")
        return self

    def fifo(self, name: str) -> Path:
        path = self.tmp / name
        os.mkfifo(path)
        return path

    def waivers(self, text: str | bytes) -> Case:
        path = self.tmp / "waivers.yml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        self.where = str(path)
        return self.arg(f"--waivers={path}")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _deep(n: int) -> str:
    return "[" * n + "]" * n


INVENTORY_CASES: dict[str, Callable[[Case], Case]] = {
    "date 2026-13-45": lambda c: c.edit("deployment: acme", "deployment: 2026-13-45"),
    "date 2026-02-30": lambda c: c.edit("deployment: acme", "deployment: 2026-02-30"),
    "time 25:00:00": lambda c: c.edit("deployment: acme", "deployment: 2026-01-01T25:00:00"),
    "tag !!int x": lambda c: c.edit("connect_s: 2", "connect_s: !!int x"),
    "tag !!timestamp": lambda c: c.edit("deployment: acme", "deployment: !!timestamp x"),
    "tag !!python/object": lambda c: c.edit("deployment: acme",
                                            "deployment: !!python/object/apply:os.system [id]"),
    "tag !!binary": lambda c: c.edit("deployment: acme", "deployment: !!binary aGk="),
    "unknown tag": lambda c: c.edit("deployment: acme", "deployment: !vault x"),
    "unhashable key": lambda c: c.edit("deployment: acme", "deployment: acme\n? [a, b]\n: 1"),
    "mapping as key": lambda c: c.edit("deployment: acme", "deployment: acme\n{a: 1}: 2"),
    "1000 levels of lists": lambda c: c.edit("deployment: acme", "deployment: " + _deep(1000)),
    "1000 levels of mappings": lambda c: c.edit("deployment: acme",
                                                "deployment: " + "{a: " * 1000 + "1"
                                                + "}" * 1000),
    "duplicate key": lambda c: c.edit("deployment: acme", "deployment: acme\ndeployment: b"),
    "bad IPv6 URL": lambda c: c.edit("https://gitlab.example.com", "http://[::1"),
    "port not a number": lambda c: c.edit("https://gitlab.example.com", "https://gl:port"),
    "URL with userinfo": lambda c: c.edit("https://gitlab.example.com",
                                          f"https://root:{TOKEN}@gitlab.example.com"),
    "URL ?private_token": lambda c: c.edit("https://gitlab.example.com",
                                           f"https://gitlab.example.com/?private_token={TOKEN}"),
    "URL ?access_token": lambda c: c.edit("https://us.example.com",
                                          f"https://us.example.com?access_token={TOKEN}"),
    "URL with a newline": lambda c: c.edit("url: https://us.example.com",
                                           'url: "https://us.exa\\nmple.com"'),
    "token file second line": lambda c: c.secret_file(f"{FILE_TOKEN}\n# ROTATED-0003\n".encode()),
    "token file control char": lambda c: c.secret_file(f"{FILE_TOKEN}\x1b[0m".encode()),
    "token file non-UTF-8": lambda c: c.secret_file(b"glpat-\xff\xfe-HOSTILE"),
    "token file binary": lambda c: c.secret_file(b"\x00\x01\x02" * 100),
    "token file too large": lambda c: c.secret_file(b"a" * (65 * 1024)),
    "token file /dev/zero": lambda c: c.edit(f"token_file: {c.tmp}/token",
                                             "token_file: /dev/zero"),
    "token file FIFO": lambda c: c.edit(f"token_file: {c.tmp}/token",
                                        f"token_file: {c.fifo('token.fifo')}"),
    "token file a folder": lambda c: c.edit(f"token_file: {c.tmp}/token",
                                            f"token_file: {c.tmp}"),
    "token env newline": lambda c: setattr(c, "env", env(GP_H_TOKEN=f"{TOKEN}\nROTATED-0003"))
    or c,
    "token env space": lambda c: setattr(c, "env", env(GP_H_TOKEN=f"{TOKEN} ROTATED-0003")) or c,
    "token env DEL": lambda c: setattr(c, "env", env(GP_H_TOKEN=f"{TOKEN}\x7f")) or c,
    "inline token tab": lambda c: c.edit("token_env: GP_H_TOKEN", f'token: "{TOKEN}\\tx"'),
    "DSN missing =": lambda c: setattr(c, "env", env(GP_H_DSN=f"host=db FRAGMENT-0004 "
                                                             f"password={DB_PASSWORD}")) or c,
    "DSN bad IPv6": lambda c: setattr(c, "env", env(GP_H_DSN=f"postgresql://u:{DB_PASSWORD}"
                                                             "@[::1/FRAGMENT-0004")) or c,
    "DSN unknown option": lambda c: setattr(c, "env", env(GP_H_DSN="FRAGMENT-0004=1")) or c,
    "DSN bad sslmode": lambda c: setattr(c, "env", env(GP_H_DSN=DSN + "?sslmode=maybe")) or c,
    "DSN port 99999": lambda c: setattr(c, "env", env(GP_H_DSN=DSN.replace("5432", "99999")))
    or c,
    "DSN newline": lambda c: setattr(c, "env", env(GP_H_DSN=DSN + "\nFRAGMENT-0004")) or c,
    "sslmode beside DSN unknown": lambda c: c.edit("dsn_env: GP_H_DSN",
                                                   "dsn_env: GP_H_DSN\n      sslmode: strict"),
    "timeout nan": lambda c: c.edit("connect_s: 2", "connect_s: .nan"),
    "timeout inf": lambda c: c.edit("read_s: 3", "read_s: .inf"),
    "timeout negative": lambda c: c.edit("read_s: 3", "read_s: -1"),
    "timeout zero": lambda c: c.edit("connect_s: 2", "connect_s: 0"),
    "timeout huge": lambda c: c.edit("read_s: 3", "read_s: 1e12"),
    "threshold nan": lambda c: c.edit("timeouts:", "thresholds: {replication_lag_s: .nan}\n"
                                                   "timeouts:"),
    "empty site name": lambda c: c.edit("name: eu-primary", "name: ' '"),
    "inventory non-UTF-8": lambda c: _write(c.inventory, b"deployment: \xff\xfe\n") and c,
    "inventory too large": lambda c: _write(c.inventory, b"#" * (2 << 20)) and c,
    "inventory FIFO": lambda c: c.use_inventory(c.fifo("inv.fifo")),
    "inventory /dev/zero": lambda c: c.use_inventory("/dev/zero"),
    "inventory a folder": lambda c: c.use_inventory(c.tmp),
}

OPTION_CASES: dict[str, Callable[[Case], Case]] = {
    "--profile=": lambda c: c.arg("--profile="),
    "--profile=' '": lambda c: c.arg("--profile= "),
    "--step=": lambda c: c.arg("--step="),
    "--step=' '": lambda c: c.arg("--step=  "),
    "--site=": lambda c: c.arg("--site="),
    "--site=' '": lambda c: c.arg("--site=\t"),
    "--inventory=": lambda c: c.arg("--inventory="),
    "--wait=nan": lambda c: c.arg("--wait=nan"),
    "--wait=inf": lambda c: c.arg("--wait=inf"),
    "--wait=-1": lambda c: c.arg("--wait=-1"),
    "--wait=1e9": lambda c: c.arg("--wait=1e9"),
    "--report-dir a file": lambda c: _write(c.tmp / "afile", b"x")
    and c.arg(f"--report-dir={c.tmp / 'afile'}"),
    "--report-dir under a file": lambda c: _write(c.tmp / "afile", b"x")
    and c.arg(f"--report-dir={c.tmp}/afile/sub/r"),
    "--waivers FIFO": lambda c: c.arg(f"--waivers={c.fifo('w.fifo')}"),
    "--from-evidence FIFO": lambda c: c.arg(f"--from-evidence={c.fifo('b.fifo')}"),
    "--from-evidence /dev/zero": lambda c: c.arg("--from-evidence=/dev/zero"),
}

WAIVER_CASES: dict[str, Callable[[Case], Case]] = {
    "waiver date 2026-13-45": lambda c: c.waivers(WAIVERS.replace("2030-01-01", "2026-13-45")),
    "waiver 9999-12-31T25:00": lambda c: c.waivers(WAIVERS.replace("2030-01-01",
                                                                   "9999-12-31T25:00")),
    "waiver 2026-02-30": lambda c: c.waivers(WAIVERS.replace("2030-01-01", "2026-02-30")),
    "waiver tag": lambda c: c.waivers(WAIVERS.replace("2030-01-01", "!!timestamp x")),
    "waiver python tag": lambda c: c.waivers(WAIVERS.replace("jane", "!!python/name:os.system")),
    "waiver unhashable": lambda c: c.waivers(WAIVERS + "? [x]\n: 1\n"),
    "waiver nesting": lambda c: c.waivers(WAIVERS.replace("jane", _deep(1000))),
    "waiver non-UTF-8": lambda c: c.waivers(WAIVERS.encode().replace(b"jane", b"j\xe9ne")),
    "waiver binary": lambda c: c.waivers(bytes(range(256))),
}

ALL_CASES = {**INVENTORY_CASES, **OPTION_CASES, **WAIVER_CASES}


def _run_case(name: str, tmp: Path) -> str | None:
    """None when the case ends as it must; otherwise what went wrong."""
    c = ALL_CASES[name](Case(tmp))
    try:
        r = run_pytest(*c.args, env=c.env, timeout=60)
    except Exception as exc:  # noqa: BLE001 - a hang is a finding, reported with the others
        return f"{name}: {type(exc).__name__}"
    out = r.stdout + r.stderr
    problems = []
    if r.returncode != 4:
        problems.append(f"exit {r.returncode}")
    if "Traceback" in out or "INTERNALERROR" in out:
        problems.append("a traceback")
    if "ERROR:" not in r.stderr:
        problems.append("no ERROR: line")
    if name in INVENTORY_CASES or name in WAIVER_CASES:
        if c.where not in r.stderr:
            problems.append(f"the message does not name {c.where}")
    leaked = [s for s in PLANTED if s in out]
    if leaked:
        problems.append(f"leaked {leaked}")
    if 'missing "="' in out or "after \"" in out:
        problems.append("libpq's parse error reached the output")
    if (tmp / "reports").exists():
        problems.append("a report folder was written")
    return f"{name}: {', '.join(problems)}: {r.stderr.strip()[-300:]}" if problems else None


def test_every_bad_input_is_exit_4_naming_the_file(tmp_path: Path) -> None:
    """The CLI sweep: each case in its own folder, four at a time (each is a short run)."""
    names = list(ALL_CASES)
    folders = []
    for i, _ in enumerate(names):
        (tmp_path / str(i)).mkdir()
        folders.append(tmp_path / str(i))
    with ThreadPoolExecutor(4) as pool:
        failures = [f for f in pool.map(_run_case, names, folders) if f]
    print(f"bad inputs tried: {len(names)}, exit 4: {len(names) - len(failures)}")
    assert not failures, "\n".join(failures)
    assert len(names) >= 70


# --- the loaders, one by one ------------------------------------------------------------------

def test_line_numbers_of_yaml_value_errors() -> None:
    for text, line in (("a: 1\nb: 2026-13-45\n", 2), ("a: 1\n\nb: !!int x\n", 3),
                       ("a:\n  ? [x]\n  : 1\n", 2)):
        with pytest.raises(UsageError) as exc:
            loads(text, "f.yml")
        assert exc.value.file == "f.yml" and exc.value.line == line, str(exc.value)


def test_a_merge_key_override_loads_and_own_duplicates_do_not() -> None:
    text = ("gl: &gl {url: https://a, token_env: T}\nsite:\n  <<: *gl\n  url: https://b\n")
    site = loads(text, "f.yml")["site"]
    assert site == {"url": "https://b", "token_env": "T"} and site.line_of("url") == 4
    with pytest.raises(UsageError, match="f.yml:5: duplicate key 'url'"):
        loads(text + "  url: https://c\n", "f.yml")


def test_a_merge_key_works_in_an_inventory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GP_H_TOKEN", TOKEN)
    inv = tmp_path / "inventory.yml"
    inv.write_text(textwrap.dedent("""\
        deployment: acme
        defaults: &gl {url: https://gitlab.example.com, token_env: GP_H_TOKEN}
        sites:
          - {name: eu, role: primary, gitlab: {<<: *gl}}
          - {name: us, role: secondary, gitlab: {<<: *gl, url: https://us.example.com}}
        """).replace("defaults: &gl", "x-defaults: &gl"))
    with pytest.raises(UsageError, match="x-defaults: unknown key"):
        load_inventory(inv)  # the anchor's holder is an unknown key: say so, no traceback
    inv.write_text(inv.read_text().replace("x-defaults: &gl {url: https://gitlab.example.com, "
                                           "token_env: GP_H_TOKEN}\n", "")
                   .replace("gitlab: {<<: *gl}", "gitlab: &gl {url: https://gitlab.example.com,"
                                                 " token_env: GP_H_TOKEN}"))
    loaded = load_inventory(inv)
    assert [s.gitlab.url for s in loaded.sites] == ["https://gitlab.example.com",
                                                    "https://us.example.com"]


def test_dsn_beside_keys_merges_and_sslmode_is_never_lost(tmp_path: Path, monkeypatch) -> None:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    monkeypatch.setenv("GP_H_TOKEN", TOKEN)
    monkeypatch.setenv("GP_H_DSN", DSN + "?sslmode=disable")
    c = Case(tmp_path).edit("dsn_env: GP_H_DSN", "dsn_env: GP_H_DSN\n      sslmode: verify-full"
                                                 "\n      dbname: other")
    db = load_inventory(c.inventory).primary.metadata_db
    kw = db.conninfo()
    effective = conninfo_to_dict(make_conninfo(kw.pop("conninfo"), **kw))
    assert effective["sslmode"] == "verify-full" and effective["dbname"] == "other"
    assert effective["host"] == "db.example.com" and effective["password"] == DB_PASSWORD


def test_the_dsn_password_is_a_known_secret_even_percent_encoded(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GP_H_TOKEN", TOKEN)
    monkeypatch.setenv("GP_H_DSN", "postgresql://registry:pa%73sword-x9@db/registry")
    inv = load_inventory(Case(tmp_path).inventory)
    assert "password-x9" in [s.reveal() for s in inv.secrets]


def test_verify_tls_false_is_a_warning_and_a_report_note_naming_the_site(tmp_path,
                                                                         monkeypatch) -> None:
    monkeypatch.setenv("GP_H_TOKEN", TOKEN)
    monkeypatch.setenv("GP_H_DSN", DSN)
    c = Case(tmp_path).edit("url: https://us.example.com",
                            "url: https://us.example.com\n      verify_tls: false")
    inv = load_inventory(c.inventory)
    assert any("us-secondary" in w and "verify_tls" in w for w in inv.warnings)
    assert any("us-secondary" in n for n in inv.notes)
    assert not any("eu-primary" in n for n in inv.notes)


def test_far_future_waiver_dates_load(tmp_path: Path, monkeypatch) -> None:
    from geopreflight.waivers import load_waivers

    monkeypatch.setenv("GP_H_TOKEN", TOKEN)
    monkeypatch.setenv("GP_H_DSN", DSN)
    load_catalog()
    inv = load_inventory(Case(tmp_path).inventory)
    for expires in ("9999-12-31", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"):
        path = tmp_path / "w.yml"
        path.write_text(WAIVERS.replace("2030-01-01", expires))
        (waiver,) = load_waivers(path, inv)
        assert waiver.expires.tzinfo is not None


@pytest.mark.parametrize("text", [
    "profile: x\ntitle: !!python/object:os.system x\n",
    "profile: x\ntitle: " + _deep(1000) + "\n",
    "profile: x\ndoc: 2026-13-45\n",
    "profile: x\n? [a]\n: b\n",
    "profile: x\nsteps:\n  - id: a\n    requires: !!set {VER-001}\n",
])
def test_hostile_profiles_are_usage_errors(tmp_path: Path, text: str) -> None:
    load_catalog()
    (tmp_path / "x.yml").write_text(text)
    with pytest.raises(UsageError) as exc:
        load_profile("x", tmp_path)
    assert str(tmp_path / "x.yml") in str(exc.value)


def test_a_profile_that_is_a_fifo_or_not_utf8_is_refused(tmp_path: Path) -> None:
    load_catalog()
    os.mkfifo(tmp_path / "fifo.yml")
    (tmp_path / "latin.yml").write_bytes(b"profile: latin\ntitle: caf\xe9\n")
    for name in ("fifo", "latin"):
        with pytest.raises(UsageError, match=f"{name}.yml"):
            load_profile(name, tmp_path)


# --- evidence bundles -------------------------------------------------------------------------

GOOD_INVENTORY = INVENTORY.format(tmp="/nonexistent")
FACTS = json.dumps({"facts": [{"key": "gitlab.own_answer", "site": "eu-primary",
                               "value": {"version": "17.10.2-ee", "revision": None},
                               "error": None,
                               "source": "GET /api/v4/version", "started_at": "x",
                               "duration_s": 0.1}]}).encode()


def bundle_files() -> dict[str, bytes]:
    return {"facts.json": FACTS, "inventory.yml": GOOD_INVENTORY.encode(),
            "inventory.sha256": (hashlib.sha256(b"x").hexdigest() + "\n").encode()}


def manifest(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n"
                   for n, d in sorted(files.items())).encode()


def make_bundle(path: Path, files: dict[str, bytes], *, sums: bytes | None = None,
                extra: list[tarfile.TarInfo] = ()) -> Path:
    members = dict(files)
    members["SHA256SUMS"] = manifest(files) if sums is None else sums
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    return path


def test_a_good_synthetic_bundle_loads(tmp_path: Path) -> None:
    b = Bundle(str(make_bundle(tmp_path / "b.tar.gz", bundle_files())))
    assert b.facts().value("gitlab.own_answer", "eu-primary").version == "17.10.2-ee"
    assert [s.name for s in b.inventory().sites] == ["eu-primary", "us-secondary"]


def _link(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _huge_header_bundle(path: Path) -> Path:
    """A tar header that says 3 GiB, followed by a few bytes: refused from the header alone."""
    info = tarfile.TarInfo("facts.json")
    info.size = 3 << 30
    path.write_bytes(gzip.compress(info.tobuf() + b"{" * 4096))
    return path


BAD_BUNDLES: dict[str, Callable[[Path], Path]] = {
    "truncated": lambda p: _write(p, make_bundle(p, bundle_files()).read_bytes()[:200]),
    "truncated mid-member": lambda p: _write(p, gzip.compress(gzip.decompress(
        make_bundle(p, bundle_files()).read_bytes())[:700])),
    "not gzip": lambda p: _write(p, b"PK\x03\x04 not a tarball"),
    "empty file": lambda p: _write(p, b""),
    "gzip of garbage": lambda p: _write(p, gzip.compress(os.urandom(2048))),
    "no manifest": lambda p: _no_manifest(p),
    "facts invalid JSON": lambda p: make_bundle(p, {**bundle_files(), "facts.json": b"{nope"}),
    "facts non-UTF-8": lambda p: make_bundle(p, {**bundle_files(), "facts.json": b"\xff\xfe{}"}),
    "facts deep JSON": lambda p: make_bundle(p, {**bundle_files(),
                                                 "facts.json": b"[" * 100000 + b"]" * 100000}),
    "facts lack the list": lambda p: make_bundle(p, {**bundle_files(), "facts.json": b"{}"}),
    "fact lacks key": lambda p: make_bundle(p, {**bundle_files(),
                                                "facts.json": b'{"facts": [{"site": null}]}'}),
    "fact unknown field": lambda p: make_bundle(p, {**bundle_files(), "facts.json":
                                                    b'{"facts": [{"key": "k", "site": null, '
                                                    b'"evil": 1}]}'}),
    "fact wrong type": lambda p: make_bundle(p, {**bundle_files(), "facts.json":
                                                 b'{"facts": [{"key": "k", "site": 3}]}'}),
    "no facts.json": lambda p: make_bundle(p, {"inventory.yml": GOOD_INVENTORY.encode()}),
    "no inventory.yml": lambda p: make_bundle(p, {"facts.json": FACTS}),
    "inventory non-UTF-8": lambda p: make_bundle(p, {**bundle_files(),
                                                     "inventory.yml": b"deployment: \xff"}),
    "inventory tag": lambda p: make_bundle(p, {**bundle_files(), "inventory.yml":
                                               b"deployment: !!python/object:os.system x"}),
    "bad inventory.sha256": lambda p: make_bundle(p, {**bundle_files(),
                                                      "inventory.sha256": b"zzz"}),
    "member missing from manifest": lambda p: make_bundle(
        p, {**bundle_files(), "facts.json": b'{"facts": []}'},
        sums=manifest({k: v for k, v in bundle_files().items() if k != "facts.json"})),
    "extra manifest line": lambda p: make_bundle(
        p, bundle_files(), sums=manifest(bundle_files()) + b"0" * 64 + b"  report.html\n"),
    "duplicate manifest line": lambda p: make_bundle(
        p, bundle_files(), sums=manifest(bundle_files()) * 2),
    "malformed manifest line": lambda p: make_bundle(
        p, bundle_files(), sums=manifest(bundle_files()) + b"garbage\n"),
    "manifest non-UTF-8": lambda p: make_bundle(p, bundle_files(),
                                                sums=manifest(bundle_files()) + b"\xff\n"),
    "digest mismatch": lambda p: make_bundle(
        p, {**bundle_files(), "facts.json": b'{"facts": []}'}, sums=manifest(bundle_files())),
    "member ../x": lambda p: make_bundle(p, {**bundle_files(), "../x": b"x"}),
    "member absolute": lambda p: make_bundle(p, {**bundle_files(), "/etc/x": b"x"}),
    "member ./x": lambda p: make_bundle(p, {**bundle_files(), "./facts.json": b"x"}),
    "duplicate member": lambda p: make_bundle(p, bundle_files(),
                                              extra=[_sized("facts.json", 3)]),
    "symlink member": lambda p: make_bundle(p, bundle_files(),
                                            extra=[_link("link", tarfile.SYMTYPE, "/etc/shadow")]),
    "hardlink member": lambda p: make_bundle(p, bundle_files(),
                                             extra=[_link("hard", tarfile.LNKTYPE, "facts.json")]),
    "directory member": lambda p: make_bundle(p, bundle_files(),
                                              extra=[_link("dir", tarfile.DIRTYPE, "")]),
    "huge member header": _huge_header_bundle,
    "member over the cap": lambda p: make_bundle(p, {**bundle_files(),
                                                     "report.html": b"\0" * (17 << 20)}),
}


def _sized(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def _no_manifest(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("facts.json")
        info.size = len(FACTS)
        tar.addfile(info, io.BytesIO(FACTS))
    return path


@pytest.mark.parametrize("kind", list(BAD_BUNDLES))
def test_a_bad_bundle_is_a_usage_error_naming_it(tmp_path: Path, kind: str) -> None:
    path = BAD_BUNDLES[kind](tmp_path / "bundle.tar.gz")
    with pytest.raises(UsageError) as exc:
        b = Bundle(str(path))
        b.inventory()
        b.facts()
    assert str(path) in str(exc.value), str(exc.value)


def test_bad_bundles_through_the_cli(tmp_path: Path) -> None:
    """The reader's errors are exit 4 before anything is judged (a sample of the kinds)."""
    kinds = ["truncated", "member missing from manifest", "symlink member", "facts invalid JSON",
             "huge member header"]

    def one(kind: str) -> str | None:
        folder = tmp_path / kind.replace(" ", "-")
        folder.mkdir()
        path = BAD_BUNDLES[kind](folder / "bundle.tar.gz")
        r = run_pytest("--profile=migrate-legacy", f"--from-evidence={path}",
                       f"--report-dir={folder / 'reports'}", env=env(), timeout=60)
        ok = r.returncode == 4 and str(path) in r.stderr and "Traceback" not in r.stderr
        return None if ok else f"{kind}: exit {r.returncode}: {r.stderr[-300:]}"

    with ThreadPoolExecutor(4) as pool:
        failures = [f for f in pool.map(one, kinds) if f]
    assert not failures, "\n".join(failures)
