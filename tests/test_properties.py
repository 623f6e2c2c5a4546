"""Property-based tests of the four loaders (inventory, profile, waivers, evidence bundle):
whatever the input (YAML-ish text, random bytes, random structures dumped as YAML, random tar
members), the loader returns its object or raises UsageError with a message, never another
exception. 2,000 examples per loader."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import tarfile
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from geopreflight.errors import UsageError
from geopreflight.evidence import Bundle
from geopreflight.inventory import load_inventory, load_inventory_text
from geopreflight.profiles import load_profile
from geopreflight.suite import load_catalog
from geopreflight.waivers import load_waivers

EXAMPLES = settings(max_examples=2000, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
os.environ.setdefault("GP_PROP_TOKEN", "glpat-property-token")
os.environ.setdefault("GP_PROP_DSN", "postgresql://registry:pw-prop@db/registry")
WORK = Path(tempfile.mkdtemp(prefix="gp-properties-"))
(WORK / "token").write_text("glpat-file-token\n")

WORDS = ["deployment", "sites", "name", "role", "primary", "secondary", "gitlab", "url",
         "token_env", "token_file", "token", "GP_PROP_TOKEN", "username", "ca_bundle",
         "verify_tls", "registry", "metadata_db", "dsn_env", "GP_PROP_DSN", "dsn", "host",
         "port", "dbname", "user", "password", "sslmode", "verify-full", "target", "root",
         "timeouts", "connect_s", "read_s", "thresholds", "replication_lag_s", "waivers",
         "check", "site", "justification", "approver", "expires", "ticket", "VER-001",
         "GEO-001", "profile", "title", "doc", "steps", "id", "requires", "advises",
         "completes", "roles", "https://gitlab.example.com", "http://[::1", str(WORK / "token"),
         "/dev/zero", "eu", "us", "prop", "https://docs.gitlab.com/x"]
FRAGMENTS = ["\n", "  ", "- ", ": ", ":", "[", "]", "{", "}", ",", "? ", "&a ", "*a", "<<: ",
             "!!int ", "!!timestamp ", "!!python/object:os.system ", "!x ", "'", '"', "#",
             "|\n", ">\n", "---\n", "...\n", "%YAML 1.1\n", "2026-13-45", "2026-02-30",
             "9999-12-31", "9999-12-31T25:00:00", ".nan", ".inf", "-1", "0", "1e999", "null",
             "true", "\t", "\\", "\x00", "\ufeff", "é", *[w + ": " for w in WORDS], *WORDS]

yamlish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)),
                   max_size=60).map("".join)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                    st.text(max_size=20), st.sampled_from(WORDS), st.dates(), st.datetimes())
structures = st.recursive(
    scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(WORDS), st.integers(), st.none()), inner,
                        max_size=6)), max_leaves=12)


def _paths(doc: Any, here: tuple = ()) -> list[tuple]:
    out = [here]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, here + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, here + (i,))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """A valid document with 0 to 2 random changes: a value replaced or a key removed."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(scalars | structures)
    return doc


VALID_INVENTORY = {"deployment": "d", "sites": [
    {"name": "eu", "role": "primary",
     "gitlab": {"url": "https://gitlab.example.com", "token_env": "GP_PROP_TOKEN",
                "verify_tls": False},
     "metadata_db": {"dsn_env": "GP_PROP_DSN", "sslmode": "verify-full"},
     "host": {"target": "local://", "root": "/srv"}},
    {"name": "us", "role": "secondary",
     "gitlab": {"url": "https://us.example.com", "token_file": str(WORK / "token")},
     "registry": {"url": "https://registry.us.example.com"},
     "metadata_db": {"host": "db", "port": 5432, "dbname": "r", "user": "u",
                     "password_env": "GP_PROP_TOKEN"}}],
    "timeouts": {"connect_s": 1, "read_s": 2.5}, "thresholds": {"replication_lag_s": 60}}
VALID_WAIVERS = {"waivers": [{"check": "VER-001", "site": "us", "justification": "j",
                              "approver": "a", "expires": "2030-01-01", "ticket": "T-1"},
                             {"check": "GEO-001", "justification": "j", "approver": "a",
                              "expires": date(2031, 1, 1)}]}
VALID_PROFILE = {"profile": "prop", "title": "t", "doc": "https://docs.gitlab.com/x",
                 "steps": [{"id": "a", "title": "A", "requires": ["VER-001"],
                            "advises": [{"check": "GEO-001", "roles": ["secondary"]}],
                            "completes": ["VER-001"]}]}


def _maybe(keys: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=keys)


site = _maybe({"name": st.sampled_from(["eu", "us", "", " ", "é"]) | scalars,
               "role": st.sampled_from(["primary", "secondary", "leader"]) | scalars,
               "gitlab": _maybe({"url": st.sampled_from(WORDS) | scalars,
                                 "token_env": st.sampled_from(["GP_PROP_TOKEN", "UNSET"]),
                                 "token_file": st.sampled_from([str(WORK / "token"), "/dev/zero",
                                                                str(WORK)]),
                                 "token": scalars, "verify_tls": scalars, "username": scalars}),
               "metadata_db": _maybe({"dsn_env": st.sampled_from(["GP_PROP_DSN", "UNSET"]),
                                      "dsn": st.text(max_size=30), "host": scalars,
                                      "port": scalars, "sslmode": scalars, "dbname": scalars,
                                      "user": scalars}) | structures,
               "host": _maybe({"target": scalars, "root": scalars}) | structures,
               "extra": structures})
inventories = mutated(VALID_INVENTORY) | _maybe({
    "deployment": scalars, "sites": st.lists(site, max_size=3) | structures,
                      "timeouts": _maybe({"connect_s": scalars, "read_s": scalars}),
                      "thresholds": _maybe({"replication_lag_s": scalars})})
waiver_docs = mutated(VALID_WAIVERS) | _maybe({"waivers": st.lists(_maybe({
    "check": st.sampled_from(["VER-001", "GEO-001", "NOPE-1"]) | scalars,
    "site": st.sampled_from(["eu", "us", "x"]) | scalars,
    "justification": scalars, "approver": scalars, "ticket": scalars,
    "expires": st.sampled_from(["2030-01-01", "9999-12-31T25:00", "x"]) | scalars}),
    max_size=3) | structures})
entries = st.lists(st.sampled_from(["VER-001", "GEO-001", "NOPE"]) | structures, max_size=3)
profile_docs = mutated(VALID_PROFILE) | _maybe({"profile": st.just("prop") | scalars,
                       "title": scalars, "doc": st.sampled_from(WORDS) | scalars,
                       "steps": st.lists(_maybe({"id": scalars | st.sampled_from(["a", "b"]),
                                                 "title": scalars, "requires": entries,
                                                 "advises": entries, "completes": entries}),
                                         max_size=3) | structures})


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def documents(shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Random text, random bytes, random structures, and structures shaped like the file."""
    shaped_bytes = shaped.map(_dump).map(str.encode)
    return st.one_of(yamlish.map(lambda t: t.encode("utf-8", "surrogatepass")),
                     st.binary(max_size=200), structures.map(_dump).map(str.encode),
                     shaped_bytes, shaped_bytes)


def _loads_or_usage_error(load: Any, *args: Any) -> Any:
    try:
        loaded = load(*args)
    except UsageError as exc:
        assert str(exc).strip(), "a UsageError without a message"
        event("usage error")
        return None
    event("loaded")
    return loaded


def _write(name: str, data: bytes) -> Path:
    path = WORK / name
    path.write_bytes(data)
    return path


@EXAMPLES
@given(documents(inventories))
def test_the_inventory_loader_never_crashes(data: bytes) -> None:
    _loads_or_usage_error(load_inventory, _write("inventory.yml", data))
    _loads_or_usage_error(lambda: load_inventory_text(data.decode("utf-8", "replace"),
                                                      "x.yml", resolve_secrets=False))


@pytest.fixture(scope="module")
def catalog() -> None:
    load_catalog()


@EXAMPLES
@given(documents(profile_docs))
def test_the_profile_loader_never_crashes(catalog: None, data: bytes) -> None:
    folder = WORK / "profiles"
    folder.mkdir(exist_ok=True)
    _write("profiles/prop.yml", data)
    _loads_or_usage_error(load_profile, "prop", folder)


INVENTORY = load_inventory_text(
    "deployment: d\nsites:\n- {name: eu, role: primary, gitlab: {url: 'https://a', "
    "token_env: GP_PROP_TOKEN}}\n- {name: us, role: secondary, gitlab: {url: 'https://b', "
    "token_env: GP_PROP_TOKEN}}\n", "inv.yml")


@EXAMPLES
@given(documents(waiver_docs))
def test_the_waiver_loader_never_crashes(catalog: None, data: bytes) -> None:
    _loads_or_usage_error(load_waivers, _write("waivers.yml", data), INVENTORY)


member_names = st.sampled_from(["facts.json", "inventory.yml", "inventory.sha256",
                                "SHA256SUMS", "report.html", "../x", "/abs", "a//b", "./x",
                                "profiles/p.yml", "é"]) | st.text(min_size=1, max_size=12)
member_bodies = st.one_of(st.binary(max_size=300), documents(inventories),
                          structures.map(lambda d: json.dumps(
                              {"facts": d}, default=str).encode()),
                          st.lists(st.fixed_dictionaries(
                              {"key": st.text(max_size=5), "site": st.none() | st.text(max_size=3)},
                              optional={"value": structures, "error": scalars,
                                        "duration_s": scalars, "evil": scalars}), max_size=3)
                          .map(lambda f: json.dumps({"facts": f},
                                                                  default=str).encode()))
GOOD_FACTS = json.dumps({"facts": [{"key": "gitlab.version", "site": "eu", "value": {"v": 1},
                                   "error": None, "source": "s", "started_at": "t",
                                   "duration_s": 0.5}]}).encode()
member_kinds = st.sampled_from([tarfile.REGTYPE, tarfile.REGTYPE, tarfile.REGTYPE,
                                tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE,
                                tarfile.FIFOTYPE, tarfile.CHRTYPE])


@st.composite
def bundles(draw: st.DrawFn) -> bytes:
    """A .tar.gz of random members, usually with a manifest that matches them, so the
    members' contents are read too; sometimes cut short or with a wrong manifest."""
    if draw(st.booleans()):  # a recorded run, perhaps changed: contents get read
        facts = st.just(b'{"facts": []}') | st.just(GOOD_FACTS) | member_bodies
        members = [("facts.json", draw(facts), tarfile.REGTYPE),
                   ("inventory.yml", draw(mutated(VALID_INVENTORY).map(_dump).map(str.encode)
                                          | documents(inventories)), tarfile.REGTYPE),
                   ("inventory.sha256", hashlib.sha256(b"x").hexdigest().encode(),
                    tarfile.REGTYPE)]
        if draw(st.integers(0, 3)) == 0:
            members.append(draw(st.tuples(member_names, member_bodies, member_kinds)))
    else:
        members = draw(st.lists(st.tuples(member_names, member_bodies, member_kinds),
                                max_size=6))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, body, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.size = len(body) if kind == tarfile.REGTYPE else 0
            info.linkname = "facts.json" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            tar.addfile(info, io.BytesIO(body) if kind == tarfile.REGTYPE else None)
        if draw(st.integers(0, 3)) > 0:
            sums = "".join(f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b, k in members
                           if k == tarfile.REGTYPE and n != "SHA256SUMS")
            raw = (sums + draw(st.sampled_from(["", "junk\n", sums]))).encode()
            info = tarfile.TarInfo("SHA256SUMS")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    data = buf.getvalue()
    cut = draw(st.sampled_from([None, None, None, 10, len(data) // 2, len(data) - 5]))
    return data if cut is None else data[:cut]


def _judge_bundle(path: Path) -> None:
    bundle = Bundle(str(path))
    bundle.inventory()
    bundle.facts()


@EXAMPLES
@given(st.one_of(bundles(), st.binary(max_size=300)))
def test_the_evidence_reader_never_crashes(data: bytes) -> None:
    _loads_or_usage_error(_judge_bundle, _write("bundle.tar.gz", data))


def test_the_valid_bases_load(catalog: None) -> None:
    """The mutations start from documents that load, so they explore the edge of validity."""
    inv = load_inventory(_write("ok.yml", _dump(VALID_INVENTORY).encode()))
    assert [s.name for s in inv.sites] == ["eu", "us"]
    assert len(load_waivers(_write("ok-w.yml", _dump(VALID_WAIVERS).encode()), INVENTORY)) == 2
    (WORK / "profiles").mkdir(exist_ok=True)
    _write("profiles/prop.yml", _dump(VALID_PROFILE).encode())
    assert load_profile("prop", WORK / "profiles").steps[0].id == "a"
