"""Load and validate `inventory.yml`: the sites of one deployment and how to reach them.

Secrets are resolved here, from the environment (`*_env`) or a file (`*_file`), and kept in
`Secret` objects whose repr never shows the value. Every mistake is a UsageError with the
file, the line and what was expected.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .errors import UsageError
from .schema import Reader
from .yamlfile import LineDict, LineList, loads

ROLES = ("primary", "secondary")


class Secret:
    """A secret value with a harmless repr.

    >>> s = Secret("glpat-abc", "$TOKEN")
    >>> s, str(s), s.reveal()
    (Secret($TOKEN), '***', 'glpat-abc')
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.source})"

    def __str__(self) -> str:
        return "***"


@dataclass(frozen=True)
class GitLab:
    url: str
    token: Secret
    username: str | None = None
    ca_bundle: str | None = None
    verify_tls: bool = True

    @property
    def verify(self) -> bool | str:
        """What `requests` takes as `verify`."""
        return self.ca_bundle or self.verify_tls


@dataclass(frozen=True)
class Registry:
    url: str


@dataclass(frozen=True)
class MetadataDB:
    """Either a DSN or discrete keys; `conninfo()` gives psycopg what it needs."""

    dsn: Secret | None = None
    host: str | None = None
    port: int | None = None
    dbname: str | None = None
    user: str | None = None
    password: Secret | None = None
    sslmode: str | None = None

    def conninfo(self) -> dict[str, str]:
        if self.dsn is not None:
            return {"conninfo": self.dsn.reveal()}
        keys = {"host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user,
                "sslmode": self.sslmode,
                "password": self.password.reveal() if self.password else None}
        return {k: str(v) for k, v in keys.items() if v is not None}


@dataclass(frozen=True)
class Host:
    target: str
    root: str = "/"


@dataclass(frozen=True)
class Site:
    name: str
    role: str
    gitlab: GitLab
    registry: Registry | None = None
    metadata_db: MetadataDB | None = None
    host: Host | None = None


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 5.0
    read_s: float = 10.0


@dataclass(frozen=True)
class Inventory:
    path: str
    deployment: str
    sites: tuple[Site, ...]
    timeouts: Timeouts = Timeouts()
    replication_lag_s: float = 300.0
    import_method: str | None = None  # one-step | three-step; --import-method overrides
    sha256: str = ""
    warnings: tuple[str, ...] = ()
    secrets: tuple[Secret, ...] = field(default=(), repr=False)

    @property
    def primary(self) -> Site:
        return next(s for s in self.sites if s.role == "primary")

    def site(self, name: str) -> Site:
        return next(s for s in self.sites if s.name == name)


class _Loader:
    """Reads one inventory file; collects secrets and warnings as it goes."""

    def __init__(self, path: str, resolve_secrets: bool = True) -> None:
        self.r = Reader(path)
        self.resolve = resolve_secrets
        self.secrets: list[Secret] = []
        self.warnings: list[str] = []

    def secret(self, node: LineDict, base: str, where: str, *, required: bool) -> Secret | None:
        """`<base>_env`, `<base>_file` or (with a warning) an inline `<base>`."""
        given = [k for k in (f"{base}_env", f"{base}_file", base) if node.get(k) is not None]
        if len(given) > 1:
            raise self.r.error(f"{where}: give only one of {', '.join(given)}", node, given[1])
        if not given:
            if required:
                raise self.r.error(f"{where}.{base}_env: missing (expected the name of an "
                                   f"environment variable holding the {base})", node)
            return None
        key = given[0]
        name = self.r.get(node, key, str, where)
        if not self.resolve:  # re-judging recorded facts: the secret is never used
            return Secret("", f"{where}.{key}")
        if key.endswith("_env"):
            value = os.environ.get(name)
            if not value:
                raise self.r.error(f"{where}.{key}: the environment variable {name} is not set",
                                   node, key)
            secret = Secret(value.strip(), f"${name}")
        elif key.endswith("_file"):
            try:
                value = Path(name).read_text().strip()
            except OSError as exc:
                raise self.r.error(f"{where}.{key}: cannot read the secret file {name}: "
                                   f"{exc.strerror}", node, key) from None
            if not value:
                raise self.r.error(f"{where}.{key}: the secret file {name} is empty", node, key)
            secret = Secret(value, name)
        else:
            secret = Secret(str(node[key]), f"{where}.{key}")
            self.warnings.append(f"{self.r.file}:{node.line_of(key)}: {where}.{key} is an inline "
                                 f"secret; prefer {base}_env or {base}_file")
        self.secrets.append(secret)
        return secret

    def url(self, node: LineDict, key: str, where: str) -> str:
        value = self.r.get(node, key, str, where)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.r.error(f"{where}.{key}: expected an http(s) URL with a host, got "
                               f"{value!r}", node, key)
        return value.rstrip("/")

    def site(self, node: LineDict, where: str) -> Site:
        r = self.r
        r.only(node, {"name", "role", "gitlab", "registry", "metadata_db", "host"}, where)
        name = r.get(node, "name", str, where)
        role = r.get(node, "role", str, where, choices=ROLES)
        gl = r.mapping(r.get(node, "gitlab", LineDict, where), f"{where}.gitlab")
        gw = f"{where}.gitlab"
        r.only(gl, {"url", "token_env", "token_file", "token", "username", "ca_bundle",
                    "verify_tls"}, gw)
        gitlab = GitLab(url=self.url(gl, "url", gw),
                        token=self.secret(gl, "token", gw, required=True),  # type: ignore[arg-type]
                        username=r.get(gl, "username", str, gw, required=False),
                        ca_bundle=r.get(gl, "ca_bundle", str, gw, required=False),
                        verify_tls=r.get(gl, "verify_tls", bool, gw, required=False, default=True))
        registry = None
        if node.get("registry") is not None:
            reg = r.mapping(node["registry"], f"{where}.registry")
            r.only(reg, {"url"}, f"{where}.registry")
            registry = Registry(url=self.url(reg, "url", f"{where}.registry"))
        db = None
        if node.get("metadata_db") is not None:
            dw = f"{where}.metadata_db"
            d = r.mapping(node["metadata_db"], dw)
            r.only(d, {"dsn_env", "dsn_file", "dsn", "host", "port", "dbname", "user",
                       "password_env", "password_file", "password", "sslmode"}, dw)
            dsn = self.secret(d, "dsn", dw, required=False)
            if dsn is None and d.get("host") is None:
                raise r.error(f"{dw}: expected dsn_env (or dsn_file), or host with port, dbname "
                              "and user", d)
            db = MetadataDB(dsn=dsn, host=r.get(d, "host", str, dw, required=False),
                            port=r.get(d, "port", int, dw, required=False),
                            dbname=r.get(d, "dbname", str, dw, required=dsn is None),
                            user=r.get(d, "user", str, dw, required=dsn is None),
                            password=self.secret(d, "password", dw, required=False),
                            sslmode=r.get(d, "sslmode", str, dw, required=False))
        host = None
        if node.get("host") is not None:
            hw = f"{where}.host"
            h = r.mapping(node["host"], hw)
            r.only(h, {"target", "root"}, hw)
            host = Host(target=r.get(h, "target", str, hw),
                        root=r.get(h, "root", str, hw, required=False, default="/"))
        return Site(name=name, role=role, gitlab=gitlab, registry=registry, metadata_db=db,
                    host=host)

    def inventory(self, doc: object, sha256: str) -> Inventory:
        r = self.r
        top = r.mapping(doc, "inventory")
        r.only(top, {"deployment", "sites", "timeouts", "thresholds", "import_method"}, "")
        method = r.get(top, "import_method", str, "", required=False,
                       choices=("one-step", "three-step"))
        deployment = r.get(top, "deployment", str, "")
        sites_node = r.get(top, "sites", LineList, "")
        if not sites_node:
            raise r.error("sites: expected at least one site", top, "sites")
        sites = []
        for i, s in enumerate(sites_node):
            where = f"sites[{i}]"
            if not isinstance(s, LineDict):
                raise r.error(f"{where}: expected a mapping with name, role and gitlab",
                              sites_node, i)
            site = self.site(s, where)
            if any(x.name == site.name for x in sites):
                raise r.error(f"{where}.name: the site name {site.name!r} is used twice", s, "name")
            sites.append(site)
        primaries = [s for s in sites if s.role == "primary"]
        if len(primaries) != 1:
            raise r.error(f"sites: expected exactly one site with role: primary, found "
                          f"{len(primaries)} (the Geo API is asked of the primary)", sites_node)
        timeouts = Timeouts()
        if top.get("timeouts") is not None:
            t = r.mapping(top["timeouts"], "timeouts")
            r.only(t, {"connect_s", "read_s"}, "timeouts")
            timeouts = Timeouts(
                connect_s=_positive(r, t, "connect_s", "timeouts", Timeouts.connect_s),
                read_s=_positive(r, t, "read_s", "timeouts", Timeouts.read_s))
        lag = 300.0
        if top.get("thresholds") is not None:
            th = r.mapping(top["thresholds"], "thresholds")
            r.only(th, {"replication_lag_s"}, "thresholds")
            lag = _positive(r, th, "replication_lag_s", "thresholds", lag)
        return Inventory(path=r.file, deployment=deployment, sites=tuple(sites),
                         timeouts=timeouts, replication_lag_s=lag, import_method=method,
                         sha256=sha256,
                         warnings=tuple(self.warnings), secrets=tuple(self.secrets))


def _positive(r: Reader, node: LineDict, key: str, where: str, default: float) -> float:
    value = r.get(node, key, float, where, required=False, default=default)
    if value <= 0:
        raise r.error(f"{where}.{key}: expected a number above 0", node, key)
    return value


def load_inventory(path: str | Path) -> Inventory:
    """Read, validate and resolve one inventory file."""
    path = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the inventory: {exc.strerror} (use --inventory=PATH)",
                         file=path) from None
    return load_inventory_text(raw.decode("utf-8", errors="replace"), path,
                               sha256=hashlib.sha256(raw).hexdigest())


def load_inventory_text(text: str, name: str, *, sha256: str | None = None,
                        resolve_secrets: bool = True) -> Inventory:
    """Validate inventory text; without `resolve_secrets`, secrets are placeholders."""
    doc = loads(text, name)
    sha = sha256 or hashlib.sha256(text.encode()).hexdigest()
    return _Loader(name, resolve_secrets).inventory(doc, sha)
