"""Hostile, round three: secrets that left, code that ran, YAML that exploded, a Ctrl-C that
waited. Each attack is made with real parts (sockets, files, subprocesses); each test failed
before its fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from geopreflight.errors import UsageError
from geopreflight.facts import observe
from geopreflight.http import Http, Unreachable
from geopreflight.inventory import load_inventory_text
from geopreflight.probes import Probe, ProbeContext, ProbeError
from geopreflight.probes.database import db_registry_route
from geopreflight.redact import MASK, Redactor
from lab.hostile import FakePostgres, Hostile
from standin import ROOT, as_foreground_job

TOKEN = "glpat-R0und3AdminT0ken"
DB_PASSWORD = "S3cret-Route-Passw0rd"
CONFIG_YML = """\
version: 0.1
database:
  enabled: true
  host: {host}
  port: {port}
  user: registry
  dbname: registry
"""
INVENTORY = """\
deployment: round3
sites:
  - name: eu-primary
    role: primary
    gitlab: {{url: "{gitlab}", token_env: GP_R3_TOKEN, username: root}}
    registry: {{url: "{registry}"}}
    metadata_db: {db}
    host: {{target: "local://", root: "{root}"}}
timeouts: {{connect_s: 1, read_s: 2}}
"""


def inventory(tmp: Path, monkeypatch: pytest.MonkeyPatch, *, gitlab: str = "http://127.0.0.1:9",
              registry: str = "http://127.0.0.1:9", db: str | None = None,
              config: str | None = None) -> Any:
    """A one-site inventory whose host files live under `tmp`; secrets from the environment."""
    monkeypatch.setenv("GP_R3_TOKEN", TOKEN)
    monkeypatch.setenv("GP_R3_PW", DB_PASSWORD)
    root = tmp / "root"
    if config is not None:
        (root / "var/opt/gitlab/registry").mkdir(parents=True, exist_ok=True)
        (root / "var/opt/gitlab/registry/config.yml").write_text(config)
    db = db or ("{host: 127.0.0.1, port: 5432, dbname: registry, user: registry, "
                "password_env: GP_R3_PW, sslmode: disable}")
    text = INVENTORY.format(gitlab=gitlab, registry=registry, db=db, root=root)
    return load_inventory_text(text, str(tmp / "inventory.yml"))


# --- 1. one URL parser: the host checked is the host connected --------------------------------

def test_a_backslash_realm_gets_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`http://EVIL\\@GITLAB/jwt/auth`: urlsplit reads GITLAB, urllib3 connects to EVIL. The
    registry (a real socket) names that realm; the admin token must reach neither."""
    from geopreflight.probes.registry import token

    with Hostile() as evil, Hostile() as gitlab:
        inv = inventory(tmp_path, monkeypatch, gitlab=gitlab.url, registry=evil.url)
        realm = f"{evil.url}\\@{gitlab.url.split('://')[1]}/jwt/auth"
        with pytest.raises(ProbeError) as exc:
            token(ProbeContext(inv, Http(1, 2)), inv.sites[0], realm)
        assert "the token was not sent" in str(exc.value) and "backslash" in str(exc.value)
        assert evil.seen() == [] and gitlab.seen() == []


def test_http_sends_no_credential_off_its_origin() -> None:
    """The transport itself refuses: a credential bound for one origin, a URL on another."""
    with Hostile() as evil:
        http = Http(1, 2)
        for kw in ({"auth": ("root", TOKEN)}, {"headers": {"PRIVATE-TOKEN": TOKEN}},
                   {"headers": {"Authorization": f"Bearer {TOKEN}"}}):
            with pytest.raises(Unreachable, match="were not sent"):
                http.get(f"{evil.url}/x", credentials_for="https://gitlab.example.com", **kw)
            with pytest.raises(Unreachable, match="were not sent"):
                http.get(f"{evil.url}/x", **kw)  # a credential without an origin
        assert evil.seen() == []


@pytest.mark.parametrize("url", ["https://gitl\u0430b.example.com",  # a Cyrillic a
                                 "https://gitlab.example.com%2e",  # urllib3 decodes, urlsplit not
                                 "https://gitlab.example.com%40evil.example"])
def test_the_inventory_refuses_urls_parsers_disagree_on(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        url: str) -> None:
    """URLs the old check let through, whose host is not what it seems or not one name."""
    with pytest.raises(UsageError) as exc:
        inventory(tmp_path, monkeypatch, gitlab=url)
    assert exc.value.line == 5 and "gitlab.url" in exc.value.message


# --- 2 and 18. the route probe never hands the inventory's password to config.yml's server ---

def _route(tmp: Path, monkeypatch: pytest.MonkeyPatch, host: str, port: int,
           db: str | None = None) -> Any:
    inv = inventory(tmp, monkeypatch, db=db, config=CONFIG_YML.format(host=host, port=port))
    value, _ = db_registry_route(ProbeContext(inv, Http(1, 2)), inv.sites[0])
    return value


def test_a_route_to_another_host_is_not_followed(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """config.yml names a PostgreSQL on a host the inventory does not name, which asks for
    the password in clear text: it is never even connected to."""
    thief = FakePostgres(cleartext=True, address="127.0.0.2")
    try:
        route = _route(tmp_path, monkeypatch, "127.0.0.2", thief.port)
    finally:
        thief.stop()
    assert thief.passwords == [] and thief.connections == 0
    assert route.error and "not a host the inventory's metadata_db names" in route.error


def test_a_route_on_the_inventorys_host_gets_scram_only(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A listener on the inventory's own host, another port, asking for the clear-text
    password: the route is tried (a pooler lives there) and libpq refuses to answer."""
    thief = FakePostgres(cleartext=True)
    try:
        route = _route(tmp_path, monkeypatch, "127.0.0.1", thief.port)
    finally:
        thief.stop()
    assert thief.connections >= 1 and thief.passwords == []
    assert route.error and DB_PASSWORD not in route.error


def test_a_multi_host_dsn_is_compared_not_crashed(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`host=a,b port=p,q`: config.yml's second host and port are the inventory's own."""
    monkeypatch.setenv("GP_R3_DSN", f"host=127.0.0.1,127.0.0.3 port=5432,6543 dbname=registry "
                                    f"user=registry password={DB_PASSWORD}")
    route = _route(tmp_path, monkeypatch, "127.0.0.3", 6543, db="{dsn_env: GP_R3_DSN}")
    assert route.error is None and route.same_as_inventory
    thief = FakePostgres(cleartext=True, address="127.0.0.3")
    try:  # another port of the DSN's second host: followed, SCRAM only
        route = _route(tmp_path, monkeypatch, "127.0.0.3", thief.port, db="{dsn_env: GP_R3_DSN}")
    finally:
        thief.stop()
    assert thief.connections >= 1 and thief.passwords == [] and route.error


# --- 3. userinfo redacted whatever its shape --------------------------------------------------

@pytest.mark.parametrize("text, secret", [
    ("http://:s3cretEmptyUser@gitlab.example.com/", "s3cretEmptyUser"),
    ("http://glpat-TokenAsUser99@gitlab.example.com/api", "glpat-TokenAsUser99"),
    ("https://glpat-TokenAsUser99:x-oauth-basic@h/", "glpat-TokenAsUser99"),
    ("postgresql://reg:pa/ss@w0rd@db:5432/registry", "pa/ss@w0rd"),
])
def test_url_credentials_of_any_shape_are_masked(text: str, secret: str) -> None:
    """From a host file's value to facts.json: `Redactor.data` is what facts go through."""
    out = json.dumps(Redactor().data({"primary_api_url": text, "note": f"see {text} now"}))
    assert secret not in out and secret.split("/")[0] not in out and MASK in out


_USERINFO = st.characters(blacklist_categories=("Cs", "Zs", "Cc", "Zl", "Zp"))


@settings(max_examples=2000, deadline=None, database=None)
@given(st.sampled_from(["http", "HTTPS", "postgresql", "git+https", "redis"]),
       st.sampled_from(["user:password", ":password", "token"]),
       st.text(_USERINFO.filter(lambda c: c not in "/?#@:"), min_size=6, max_size=12),
       st.text(_USERINFO, min_size=6, max_size=12),
       st.sampled_from(["host", "h:5432", "[::1]"]), st.sampled_from(["", "/p", "/a@b", "?x=1"]),
       st.sampled_from(["", "see ", "url=", '"']))
def test_userinfo_of_any_shape_is_masked(scheme: str, shape: str, name: str, password: str,
                                         host: str, tail: str, before: str) -> None:
    """`user:password@`, `:password@`, `token@`; a password holding `/`, `@` or `:`."""
    userinfo, secret = {"user:password": (f"{name}:{password}", password),
                        ":password": (f":{password}", password), "token": (name, name)}[shape]
    assume(secret not in f"{before}{scheme}://{host}{tail}{MASK}" and
           (shape == "token" or secret not in name))
    url = f"{before}{scheme}://{userinfo}@{host}{tail}"
    assert secret not in Redactor().text(url), url


def test_a_credential_in_a_host_files_url_never_reaches_the_fact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gitlab.yml's primary_api_url with a token as the user, through the real probe."""
    from geopreflight.probes.host import host_config

    inv = inventory(tmp_path, monkeypatch, config=CONFIG_YML.format(host="db", port=5432))
    yml = tmp_path / "root/var/opt/gitlab/gitlab-rails/etc/gitlab.yml"
    yml.parent.mkdir(parents=True)
    yml.write_text("production:\n  geo:\n    registry_replication:\n      primary_api_url: "
                   "http://glpat-FromHostFile77@primary.example.com:5000\n")
    fact = observe(Probe("host.config", "host", host_config), ProbeContext(inv, Http(1, 2)),
                   inv.sites[0], Redactor())
    text = json.dumps(fact.as_dict())
    assert "glpat-FromHostFile77" not in text and "primary.example.com:5000" in text


# --- 5. a host target is never an ssh option --------------------------------------------------

@pytest.mark.parametrize("target", ["ssh://-oProxyCommand=touch${IFS}/tmp/gp-pwned",
                                    "ssh://%2DoProxyCommand=id", "ssh://-oUser=x@host",
                                    "safe-ssh://ops@-oProxyCommand=id"])
def test_a_target_beginning_with_a_dash_is_refused_naming_the_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    monkeypatch.setenv("GP_R3_TOKEN", TOKEN)
    text = INVENTORY.format(gitlab="https://gl.example.com", registry="https://r.example.com",
                            db="{dsn: 'host=db'}", root=tmp_path).replace(
        'target: "local://"', f'target: "{target}"')
    with pytest.raises(UsageError) as exc:
        load_inventory_text(text, "inventory.yml")
    assert exc.value.file == "inventory.yml" and exc.value.line == 8
    assert "begins with '-'" in exc.value.message


def test_the_ssh_command_ends_its_options_before_the_host(tmp_path: Path) -> None:
    """Defense in depth: whatever the target, ssh reads what follows `--` as the host. A
    fake `ssh` on PATH records its arguments."""
    from geopreflight.inventory import Host
    from geopreflight.probes.host import HostFiles

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv"
    (bin_dir / "ssh").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\nexit 255\n')
    (bin_dir / "ssh").chmod(0o755)
    os.environ["PATH"], saved = f"{bin_dir}:{os.environ['PATH']}", os.environ["PATH"]
    try:
        files = HostFiles(Host("ssh://ops@rails1"), 2, 1)
        with pytest.raises(ProbeError):
            files.read("/etc/gitlab/gitlab.rb")
        files.close()
    finally:
        os.environ["PATH"] = saved
    argv = log.read_text().splitlines()
    assert argv[argv.index("--") + 1] == "rails1", argv


# --- 4. the canary's push token follows no Location off the registry's origin ---------------

@pytest.mark.parametrize("where", ["other-origin", "backslash"])
def test_the_canary_follows_no_location_off_the_registry(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         where: str) -> None:
    """The primary registry (a real socket) answers the blob upload with a Location on
    another server: the push token must never reach it."""
    from geopreflight.probes.canary import Canary

    with Hostile() as registry, Hostile() as thief:
        registry.upload_location = (f"{thief.url}/upload" if where == "other-origin" else
                                    f"{thief.url}\\@{registry.url.split('://')[1]}/upload")
        base = registry.base("canary-location")
        inv = inventory(tmp_path, monkeypatch, gitlab=base, registry=base)
        with pytest.raises(ProbeError) as exc:
            Canary(inv, 5).push("group/project/geopreflight-canary", "c1")
        assert "the push token was not sent there" in str(exc.value)
        assert thief.seen() == []
        assert [s.method for s in registry.seen()] == ["GET", "GET", "POST"]


# --- 8. host YAML of aliases: bounded, and no fact is a giant ---------------------------------

LAUGHS = "lol: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))


def _host_config(tmp: Path, monkeypatch: pytest.MonkeyPatch, config: str, gitlab_yml: str) -> Any:
    from geopreflight.probes.host import host_config

    inv = inventory(tmp, monkeypatch, config=config)
    yml = tmp / "root/var/opt/gitlab/gitlab-rails/etc/gitlab.yml"
    yml.parent.mkdir(parents=True, exist_ok=True)
    yml.write_text(gitlab_yml)
    return observe(Probe("host.config", "host", host_config), ProbeContext(inv, Http(1, 2)),
                   inv.sites[0], Redactor())


def test_a_billion_laughs_on_a_host_is_refused_at_once(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """1 KiB of aliases in config.yml and gitlab.yml: 9^9 values if expanded."""
    assert len(LAUGHS) < 1024
    t0 = time.monotonic()
    fact = _host_config(tmp_path, monkeypatch, LAUGHS + "database: *i\n",
                        LAUGHS + "production:\n  geo:\n    node_name: *i\n")
    assert time.monotonic() - t0 < 5
    assert "billion laughs" in fact.value.config_yml.error
    assert "billion laughs" in fact.value.gitlab_yml.error
    assert len(json.dumps(fact.as_dict())) < 64 * 1024


def test_a_fact_too_big_is_an_error_naming_it(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A 600 KiB gitlab.yml whose node_name aliases one big string four times: within the
    YAML bound, over the cap on one fact. The fact is an error, not a 2.4 MB facts.json."""
    big = "x" * 600_000
    fact = _host_config(tmp_path, monkeypatch, CONFIG_YML.format(host="db", port=5432),
                        f"big: &big {big}\nproduction:\n  geo:\n    node_name: "
                        "[*big, *big, *big, *big]\n")
    assert fact.value is None and "the fact host.config would hold" in fact.error
    assert "over the 2 MiB cap on one fact" in fact.error
    assert len(json.dumps(fact.as_dict())) < 64 * 1024


# --- 9. Ctrl-C cancels probes at once -------------------------------------------------------

@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_ends_a_run_hung_on_its_probes_at_once(tmp_path: Path,
                                                     presses: int) -> None:
    """A real run whose GitLab and registry never answer (read_s 60) and whose database
    never answers a query: SIGINT once the probes hang (once, or twice as an impatient
    operator does) ends it at once, exit 2, no verdict and no report that could say READY."""
    with Hostile() as hung:
        pg = FakePostgres()
        try:
            text = INVENTORY.format(
                gitlab=hung.base("blackhole"), registry=hung.base("blackhole"),
                db=f"{{host: 127.0.0.1, port: {pg.port}, dbname: registry, user: registry, "
                   "password_env: GP_R3_PW, sslmode: disable}", root=tmp_path / "root")
            inv = tmp_path / "inventory.yml"
            inv.write_text(text.replace("read_s: 2", "read_s: 60"))
            env = {"PATH": os.environ["PATH"], "GP_R3_TOKEN": TOKEN, "GP_R3_PW": DB_PASSWORD}
            proc = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                 "--profile=migrate-legacy", f"--inventory={inv}",
                 f"--report-dir={tmp_path / 'reports'}"], cwd=ROOT, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                preexec_fn=as_foreground_job)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (len(hung.seen()) < 2 or pg.queries < 1):
                time.sleep(0.05)
            assert hung.seen() and pg.queries, "the probes never started"
            time.sleep(0.3)  # every probe is now blocked on a socket
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)
            if presses == 2:
                time.sleep(0.2)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            try:
                out, _ = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:  # say why, for the next reader: signal masks
                masks = [ln for ln in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                         if ln.startswith(("SigBlk", "SigIgn", "SigCgt"))]
                proc.kill()
                out, _ = proc.communicate(timeout=20)
                raise AssertionError(f"no exit 20 s after SIGINT; {masks}; {out[-3000:]}"
                                     ) from None
            finally:
                proc.kill()
            took = time.monotonic() - t0
        finally:
            pg.stop()
    assert proc.returncode == 2, out[-2000:]
    # the probes would hang for read_s (60 s): ending well before it is the behaviour; how
    # fast (about 0.3 s on a quiet machine) is a timing, and a loaded CI machine varies
    assert took < 10.0, (took, out[-2000:])
    assert "geopreflight: migrate-legacy" not in out and "READY" not in out, out[-2000:]
    for summary in (tmp_path / "reports").glob("**/summary.json"):
        assert json.loads(summary.read_text()).get("verdict") != "READY"
