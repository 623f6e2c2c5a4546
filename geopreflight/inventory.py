"""Load and validate `inventory.yml`: the sites of one deployment and how to reach them.

Secrets are resolved here, from the environment (`*_env`) or a file (`*_file`), and kept in
`Secret` objects whose repr never shows the value. A secret must be one line of printable
characters (a token file with a second line would put the token into an HTTP library's error
message); a DSN must parse, checked here so libpq's parse error, which quotes the DSN, never
reaches a report. Every mistake is a UsageError with the file, the line and what was expected,
and never the value: it may be a secret.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from . import urls
from .errors import UsageError
from .i18n import _
from .schema import Reader
from .yamlfile import LineDict, LineList, decode, loads, read_input

ROLES = ("primary", "secondary")
HOST_ROLES = ("rails", "sidekiq", "registry", "database")  # what a node of a site runs
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SECRET_FILE_MAX = 64 * 1024
MAX_TIMEOUT_S = 600.0            # a longer wait per request is a mistake, not a setting
MAX_LAG_S = 7 * 24 * 3600.0


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
    location_aware: bool = False  # the URL is shared with another site (location-aware DNS)

    @property
    def verify(self) -> bool | str:
        """What `requests` takes as `verify`."""
        return self.ca_bundle or self.verify_tls


@dataclass(frozen=True)
class Registry:
    url: str
    storage: S3Storage | None = None
    location_aware: bool = False  # the URL is shared with another site (location-aware DNS)
    # This site's registry at an address of its own, past the shared DNS: where the canary
    # reads a location-aware site (else it cannot tell which site answered).
    internal_url: str | None = None

    @property
    def own_url(self) -> str:
        """Where this site's registry answers for itself alone: `internal_url`, else `url`."""
        return self.internal_url or self.url


@dataclass(frozen=True)
class S3Storage:
    """Read access to a registry's S3 (or S3-compatible) bucket: HEAD/GET of the lockfiles."""

    endpoint: str
    bucket: str
    region: str
    access_key: Secret = field(repr=False)
    secret_key: Secret = field(repr=False)
    root_directory: str = "/"


@dataclass(frozen=True)
class MetadataDB:
    """A DSN, discrete keys, or both: keys given beside a DSN override the DSN's own (so a
    `sslmode: verify-full` beside `dsn_env` always holds); `conninfo()` gives psycopg what it
    needs (psycopg lets keyword arguments override the conninfo string)."""

    dsn: Secret | None = None
    host: str | None = None
    port: int | None = None
    dbname: str | None = None
    user: str | None = None
    password: Secret | None = None
    sslmode: str | None = None
    # The database the registry's data was moved from (pg_dump/pg_restore), when still
    # running: DB-011 compares the two, since images pushed in database mode leave no tag
    # links in storage and only the old database knows them.
    moved_from: MetadataDB | None = None

    @property
    def label(self) -> str:
        """Where the database is, without credentials: the DSN's variable or file, or
        postgresql://host:port/dbname."""
        if self.dsn is not None:
            return f"postgresql DSN from {self.dsn.source}"
        return f"postgresql://{self.host}:{self.port or 5432}/{self.dbname}"

    def conninfo(self) -> dict[str, str]:
        keys = {"host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user,
                "sslmode": self.sslmode,
                "password": self.password.reveal() if self.password else None}
        out = {k: str(v) for k, v in keys.items() if v is not None}
        return {"conninfo": self.dsn.reveal(), **out} if self.dsn is not None else out


@dataclass(frozen=True)
class Host:
    """One node whose files are read: a testinfra target, a path prefix, what it runs and
    how to log in. `name` labels a node of `hosts:` in rows and facts (None for `host:`)."""

    target: str
    root: str = "/"
    roles: tuple[str, ...] = HOST_ROLES
    ssh_config: str | None = None
    ssh_identity_file: str | None = None
    sudo: bool = False
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.target


@dataclass(frozen=True)
class Site:
    name: str
    role: str
    gitlab: GitLab
    registry: Registry | None = None
    metadata_db: MetadataDB | None = None
    host: Host | None = None           # `host:`, or the first registry node of `hosts:`
    hosts: tuple[Host, ...] = ()       # `hosts:` (named nodes); (host,) for `host:`

    def nodes(self, roles: tuple[str, ...] = HOST_ROLES) -> tuple[Host, ...]:
        """The site's hosts that run any of `roles`."""
        return tuple(h for h in self.hosts if set(h.roles) & set(roles))


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
    notes: tuple[str, ...] = ()          # for the reports: e.g. a site with TLS unverified
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
        self.notes: list[str] = []
        self.unset: list[tuple[str, str, int | None]] = []  # (variable, key, line): all at once

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
            if not value or not value.strip():
                self.unset.append((name, f"{where}.{key}", node.line_of(key)))
                return Secret("", f"${name}")
            secret, what = Secret(value.strip(), f"${name}"), f"the environment variable {name}"
        elif key.endswith("_file"):
            try:
                value = decode(read_input(name, "secret file", SECRET_FILE_MAX), name,
                               "secret file").strip()
            except UsageError as exc:
                raise self.r.error(f"{where}.{key}: {exc.message}: {name}", node, key) from None
            if not value:
                raise self.r.error(f"{where}.{key}: the secret file {name} is empty", node, key)
            secret, what = Secret(value, name), f"the secret file {name}"
        else:
            secret, what = Secret(name.strip(), f"{where}.{key}"), "the inline value"
            self.warnings.append(f"{self.r.file}:{node.line_of(key)}: {where}.{key} is an inline "
                                 f"secret; prefer {base}_env or {base}_file")
        problem = _secret_problem(secret.reveal(), header=base == "token")
        if problem:
            raise self.r.error(f"{where}.{key}: {what} {problem}", node, key)
        self.secrets.append(secret)
        return secret

    def raise_unset(self) -> None:
        """Every unset secret variable in one message, so one run names them all."""
        if not self.unset:
            return
        uses: dict[str, list[str]] = {}
        for name, key, line in self.unset:
            uses.setdefault(name, []).append(f"{key}, line {line}")
        first_key, first_line = self.unset[0][1], self.unset[0][2]
        if len(uses) == 1:
            name, where = next(iter(uses.items()))
            also = f" (also {'; '.join(where[1:])})" if len(where) > 1 else ""
            raise UsageError(f"{first_key}: the environment variable {name} is not set{also}",
                             file=self.r.file, line=first_line)
        names = ", ".join(f"{name} ({'; '.join(where)})" for name, where in uses.items())
        raise UsageError(f"{len(uses)} environment variables are not set: {names}; set them "
                         "all, then run again", file=self.r.file, line=first_line)

    def dsn(self, node: LineDict, where: str) -> tuple[Secret | None, dict[str, str]]:
        """The DSN secret and its parsed keys; libpq's parse error quotes the DSN, so it is
        replaced by one that names only where the DSN came from."""
        secret = self.secret(node, "dsn", where, required=False)
        if secret is None or not self.resolve or not secret.reveal():
            return secret, {}
        from psycopg.conninfo import conninfo_to_dict

        key = next(k for k in ("dsn_env", "dsn_file", "dsn") if node.get(k) is not None)
        try:
            parsed = {k: str(v) for k, v in conninfo_to_dict(secret.reveal()).items()}
        except Exception:  # noqa: BLE001 - libpq's message quotes the DSN: never shown
            raise self.r.error(f"{where}.{key}: the DSN in {secret.source} is not a valid "
                               "PostgreSQL connection string (expected key=value pairs or "
                               "postgresql://user@host:port/dbname)", node, key) from None
        if parsed.get("password"):  # as libpq decoded it (%41 -> A), for the redactor
            self.secrets.append(Secret(parsed["password"], secret.source))
        if parsed.get("sslmode", "prefer") not in SSLMODES:
            raise self.r.error(f"{where}.{key}: the DSN in {secret.source} has an unknown "
                               f"sslmode (expected one of {', '.join(SSLMODES)})", node, key)
        port = parsed.get("port", "5432")
        if not all(p.isdigit() and 0 < int(p) < 65536 for p in port.split(",")):
            raise self.r.error(f"{where}.{key}: the DSN in {secret.source} has a port that is "
                               "not a number from 1 to 65535", node, key)
        return secret, parsed

    def url(self, node: LineDict, key: str, where: str) -> str:
        """A base URL. Never echoed in a message: it may carry a credential. A URL with
        `user:password@` or a query (`?private_token=...`) is refused: the token goes in
        `token_env`/`token_file`, where it is kept out of every report."""
        value = self.r.get(node, key, str, where)
        expected = "expected an http(s) URL with a host, like https://gitlab.example.com"
        try:
            parts = urls.parse(value)  # the one parser: the host checked is the one connected
        except urls.BadUrl as exc:
            if exc.credentials:
                raise self.r.error(f"{where}.{key}: the URL holds credentials "
                                   "(user:password@); give the token with token_env or "
                                   "token_file instead", node, key) from None
            raise self.r.error(f"{where}.{key}: {expected} (this one {exc})", node,
                               key) from None
        if parts.path.rstrip("/").endswith("/api/v4"):
            raise self.r.error(f"{where}.{key}: the URL ends in /api/v4; give the base URL "
                               "(https://gitlab.example.com): geopreflight adds the API path "
                               "itself", node, key)
        if parts.query is not None or "#" in value:
            raise self.r.error(f"{where}.{key}: the URL has a query or fragment (a token in "
                               "?private_token= would be recorded); give the base URL and the "
                               "token with token_env or token_file", node, key)
        return value.rstrip("/")

    def name(self, node: LineDict, key: str, where: str, *, required: bool = True) -> str | None:
        """A name that goes into reports, test ids or a header: one printable line."""
        value = self.r.get(node, key, str, where, required=required)
        if value is not None and (not value.strip() or not value.isprintable()):
            raise self.r.error(f"{where}.{key}: expected a non-empty name of printable "
                               "characters on one line", node, key)
        return value

    def storage(self, reg: LineDict, where: str) -> S3Storage | None:
        """`registry.storage.s3`: where the registry's lockfiles are read from when its
        storage is a bucket (the only driver with read support so far)."""
        r = self.r
        if reg.get("storage") is None:
            return None
        sw = f"{where}.storage"
        st = r.mapping(reg["storage"], sw)
        r.only(st, {"s3"}, sw)
        s3w = f"{sw}.s3"
        s3 = r.mapping(r.get(st, "s3", LineDict, sw), s3w)
        r.only(s3, {"endpoint", "bucket", "region", "access_key_env", "access_key_file",
                    "access_key", "secret_key_env", "secret_key_file", "secret_key",
                    "root_directory"}, s3w)
        bucket = self.name(s3, "bucket", s3w)
        if bucket is None or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise r.error(f"{s3w}.bucket: expected an S3 bucket name (3-63 lower-case letters, "
                          "digits, dots and dashes)", s3, "bucket")
        root = r.get(s3, "root_directory", str, s3w, required=False, default="/")
        if not root.startswith("/") or not root.isprintable():
            raise r.error(f"{s3w}.root_directory: expected an absolute path such as / or "
                          "/registry (the registry's storage rootdirectory)", s3,
                          "root_directory")
        return S3Storage(endpoint=self.url(s3, "endpoint", s3w), bucket=bucket,
                         region=self.name(s3, "region", s3w) or "",
                         access_key=self.secret(s3, "access_key", s3w,
                                                required=True),  # type: ignore[arg-type]
                         secret_key=self.secret(s3, "secret_key", s3w,
                                                required=True),  # type: ignore[arg-type]
                         root_directory=root)

    def shared_url(self, site: Site, earlier: list[Site], node: LineDict, where: str) -> None:
        """Two sites at one GitLab or registry URL answer for each other (location-aware
        DNS): every check of one would read the other, and the canary would read the primary
        back. A usage error unless both mark the URL `location_aware: true`."""
        def same(a: str, b: str) -> bool:
            return a.rstrip("/").lower() == b.rstrip("/").lower()

        for other in earlier:
            pairs = [("gitlab", site.gitlab, other.gitlab)]
            if site.registry and other.registry:
                pairs.append(("registry", site.registry, other.registry))
            for section, mine, theirs in pairs:
                if same(mine.url, theirs.url) and not (mine.location_aware and
                                                       theirs.location_aware):
                    sub = node.get(section)
                    raise self.r.error(
                        f"{where}.{section}.url: {mine.url} is also {other.name}'s "
                        f"{section} URL; two sites at one URL cannot be told apart (expected "
                        f"a URL of this site's own, or location_aware: true under {section}: "
                        "on both sites when the DNS is location-aware)",
                        sub if isinstance(sub, LineDict) else node,
                        "url" if isinstance(sub, LineDict) else section)
            if not (site.registry and other.registry):
                continue
            mine_, theirs_ = site.registry, other.registry
            for key, url, clash in (("internal_url", mine_.internal_url, theirs_.url),
                                    ("internal_url", mine_.internal_url, theirs_.own_url),
                                    ("url", mine_.url, theirs_.internal_url)):
                if url and clash and same(url, clash):
                    raise self.r.error(
                        f"{where}.registry.{key}: {url} is also one of {other.name}'s registry "
                        "URLs; registry.internal_url must reach its own site's registry only",
                        node["registry"], key)

    def site(self, node: LineDict, where: str) -> Site:
        r = self.r
        r.only(node, {"name", "role", "gitlab", "registry", "metadata_db", "host", "hosts"},
               where)
        name = self.name(node, "name", where)
        role = r.get(node, "role", str, where, choices=ROLES)
        gl = r.mapping(r.get(node, "gitlab", LineDict, where), f"{where}.gitlab")
        gw = f"{where}.gitlab"
        r.only(gl, {"url", "token_env", "token_file", "token", "username", "ca_bundle",
                    "verify_tls", "location_aware"}, gw)
        gitlab = GitLab(url=self.url(gl, "url", gw),
                        token=self.secret(gl, "token", gw, required=True),  # type: ignore[arg-type]
                        username=self.name(gl, "username", gw, required=False),
                        ca_bundle=r.get(gl, "ca_bundle", str, gw, required=False),
                        verify_tls=r.get(gl, "verify_tls", bool, gw, required=False, default=True),
                        location_aware=r.get(gl, "location_aware", bool, gw, required=False,
                                             default=False))
        if not gitlab.verify_tls:
            self.warnings.append(f"{r.file}:{gl.line_of('verify_tls')}: {gw}.verify_tls is "
                                 f"false: TLS certificates of site {name} are not verified")
            self.notes.append(_("TLS verification is off for site {site} (verify_tls: false): "
                                "its GitLab and registry certificates were not checked").format(
                                    site=name))
        registry = None
        if node.get("registry") is not None:
            reg = r.mapping(node["registry"], f"{where}.registry")
            r.only(reg, {"url", "internal_url", "storage", "location_aware"},
                   f"{where}.registry")
            registry = Registry(url=self.url(reg, "url", f"{where}.registry"),
                                storage=self.storage(reg, f"{where}.registry"),
                                location_aware=r.get(reg, "location_aware", bool,
                                                     f"{where}.registry", required=False,
                                                     default=False),
                                internal_url=self.url(reg, "internal_url", f"{where}.registry")
                                if reg.get("internal_url") is not None else None)
        db = None
        if node.get("metadata_db") is not None:
            db = self.metadata_db(node, "metadata_db", where, moved=True)
        host, hosts = self.hosts(node, where)
        return Site(name=name, role=role, gitlab=gitlab, registry=registry, metadata_db=db,
                    host=host, hosts=hosts)

    def metadata_db(self, parent: LineDict, key: str, where: str, *, moved: bool
                    ) -> MetadataDB:
        """`metadata_db`, and with `moved` its `moved_from` (the same keys, one level deep:
        the database the registry's data was moved from)."""
        r = self.r
        dw = f"{where}.{key}"
        d = r.get(parent, key, LineDict, where)
        r.only(d, {"dsn_env", "dsn_file", "dsn", "host", "port", "dbname", "user",
                   "password_env", "password_file", "password", "sslmode",
                   *(("moved_from",) if moved else ())}, dw)
        dsn = self.dsn(d, dw)[0]
        if dsn is None and d.get("host") is None:
            raise r.error(f"{dw}: expected dsn_env (or dsn_file), or host with port, dbname "
                          "and user", d)
        port = r.get(d, "port", int, dw, required=False)
        if port is not None and not 0 < port < 65536:
            raise r.error(f"{dw}.port: expected a port number from 1 to 65535", d, "port")
        return MetadataDB(dsn=dsn, host=self.name(d, "host", dw, required=False), port=port,
                          dbname=self.name(d, "dbname", dw, required=dsn is None),
                          user=self.name(d, "user", dw, required=dsn is None),
                          password=self.secret(d, "password", dw, required=False),
                          sslmode=r.get(d, "sslmode", str, dw, required=False,
                                        choices=SSLMODES),
                          moved_from=self.metadata_db(d, "moved_from", dw, moved=False)
                          if moved and d.get("moved_from") is not None else None)

    def hosts(self, node: LineDict, where: str) -> tuple[Host | None, tuple[Host, ...]]:
        """`host:` (one node) or `hosts:` (named nodes with roles); the default host is the
        first node running the registry (its config.yml and lockfiles), else the first."""
        r = self.r
        if node.get("host") is not None and node.get("hosts") is not None:
            raise r.error(f"{where}: give host (one node) or hosts (a list of nodes), not both",
                          node, "hosts")
        if node.get("host") is not None:
            host = self.host(r.mapping(node["host"], f"{where}.host"), f"{where}.host",
                             named=False)
            return host, (host,)
        if node.get("hosts") is None:
            return None, ()
        items = r.get(node, "hosts", LineList, where)
        if not items:
            raise r.error(f"{where}.hosts: expected at least one host", node, "hosts")
        hosts: list[Host] = []
        for i, item in enumerate(items):
            hw = f"{where}.hosts[{i}]"
            if not isinstance(item, LineDict):
                raise r.error(f"{hw}: expected a mapping with target", items, i)
            h = self.host(item, hw, named=True)
            if any(x.name == h.name for x in hosts):
                raise r.error(f"{hw}: the host name {h.name!r} is used twice in {where}.hosts "
                              "(give each node its own name:)", item)
            hosts.append(h)
        default = next((h for h in hosts if "registry" in h.roles), hosts[0])
        return default, tuple(hosts)

    def host(self, h: LineDict, hw: str, *, named: bool) -> Host:
        r = self.r
        r.only(h, {"target", "root", "ssh_config", "ssh_identity_file", "sudo",
                   *(("roles", "name") if named else ())}, hw)
        target = r.get(h, "target", str, hw)
        if not target.strip() or not target.isprintable():
            raise r.error(f"{hw}.target: expected a testinfra host spec such as "
                          "ssh://user@host or local://", h, "target")
        problem = _target_problem(target)
        if problem:
            raise r.error(f"{hw}.target: {problem} (expected a testinfra host spec such as "
                          "ssh://user@host or local://)", h, "target")
        roles = HOST_ROLES
        if h.get("roles") is not None:
            raw = r.get(h, "roles", LineList, hw)
            for j, role in enumerate(raw):
                if role not in HOST_ROLES:
                    raise r.error(f"{hw}.roles[{j}]: unknown role {role!r} (expected "
                                  f"{', '.join(HOST_ROLES)})", raw, j)
            if not raw:
                raise r.error(f"{hw}.roles: expected at least one of {', '.join(HOST_ROLES)}",
                              h, "roles")
            roles = tuple(raw)
        name = self.name(h, "name", hw, required=False) if named else None
        root = r.get(h, "root", str, hw, required=False, default="/")
        if named and name is None:
            name = _default_host_name(target, root)
        return Host(target=target, root=root, roles=roles,
                    ssh_config=r.get(h, "ssh_config", str, hw, required=False),
                    ssh_identity_file=r.get(h, "ssh_identity_file", str, hw, required=False),
                    sudo=r.get(h, "sudo", bool, hw, required=False, default=False), name=name)

    def inventory(self, doc: object, sha256: str) -> Inventory:
        r = self.r
        top = r.mapping(doc, "inventory")
        r.only(top, {"deployment", "sites", "timeouts", "thresholds", "import_method"}, "")
        method = r.get(top, "import_method", str, "", required=False,
                       choices=("one-step", "three-step"))
        deployment = self.name(top, "deployment", "")
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
            self.shared_url(site, sites, s, where)
            sites.append(site)
        self.raise_unset()
        primaries = [s for s in sites if s.role == "primary"]
        if len(primaries) != 1:
            raise r.error(f"sites: expected exactly one site with role: primary, found "
                          f"{len(primaries)} (the Geo API is asked of the primary)", sites_node)
        timeouts = Timeouts()
        if top.get("timeouts") is not None:
            t = r.mapping(top["timeouts"], "timeouts")
            r.only(t, {"connect_s", "read_s"}, "timeouts")
            timeouts = Timeouts(
                connect_s=_seconds(r, t, "connect_s", "timeouts", Timeouts.connect_s,
                                   MAX_TIMEOUT_S),
                read_s=_seconds(r, t, "read_s", "timeouts", Timeouts.read_s, MAX_TIMEOUT_S))
        lag = 300.0
        if top.get("thresholds") is not None:
            th = r.mapping(top["thresholds"], "thresholds")
            r.only(th, {"replication_lag_s"}, "thresholds")
            lag = _seconds(r, th, "replication_lag_s", "thresholds", lag, MAX_LAG_S)
        return Inventory(path=r.file, deployment=deployment, sites=tuple(sites),
                         timeouts=timeouts, replication_lag_s=lag, import_method=method,
                         sha256=sha256, warnings=tuple(self.warnings),
                         notes=tuple(self.notes), secrets=tuple(self.secrets))


def _target_problem(target: str) -> str | None:
    """Why a target is refused, read by testinfra's own parser (the one that builds the ssh
    command, percent-decoding included): a host or user beginning with `-` would be an
    option to ssh (`-oProxyCommand=...` runs a local command)."""
    from testinfra.backend import parse_hostspec
    from testinfra.backend.base import BaseBackend

    try:
        spec = BaseBackend.parse_hostspec(parse_hostspec(target)[0])
    except Exception:  # noqa: BLE001 - any failure of testinfra's parser is a bad target
        return "testinfra cannot read it as a host spec"
    for what, value in (("host", spec.name), ("user", spec.user), ("port", spec.port)):
        if value and str(value).startswith("-"):
            return (f"its {what} begins with '-', which ssh would read as an option, not a "
                    f"{what}")
    return None


def _default_host_name(target: str, root: str = "/") -> str:
    """A node's name when `name:` is not given: the target's host (`ssh://ops@rails1` ->
    `rails1`); for one without a host (`local://`), the last part of its root (two local
    nodes of one site differ by their roots), else the whole target."""
    parts = urlsplit(target if "://" in target else f"ssh://{target}")
    return parts.hostname or PurePosixPath(root).name or target


def _seconds(r: Reader, node: LineDict, key: str, where: str, default: float,
             most: float) -> float:
    """A finite number of seconds above 0 and at most `most` (nan and inf never end)."""
    value = r.get(node, key, float, where, required=False, default=default)
    if not math.isfinite(value) or not 0 < value <= most:
        raise r.error(f"{where}.{key}: expected a number above 0 and at most {most:g}", node, key)
    return value


def _secret_problem(value: str, *, header: bool) -> str | None:
    """Why a secret cannot be used, never quoting it; None when it is fine."""
    if "\n" in value or "\r" in value:
        return "has more than one line (a second line or a comment?): a secret is one line"
    if any(unicodedata.category(c)[0] == "C" for c in value):
        return "holds a control character: a secret is one line of printable characters"
    if header and not all("!" <= c <= "~" for c in value):
        return "holds a space or a non-ASCII character: a token is printable ASCII"
    return None


def load_inventory(path: str | Path, *, resolve_secrets: bool = True) -> Inventory:
    """Read, validate and resolve one inventory file (without `resolve_secrets`, for runs
    that probe nothing, secrets are placeholders and need not be set)."""
    path = str(path)
    try:
        raw = read_input(path, "inventory")
    except UsageError as exc:
        raise UsageError(f"{exc.message} (use --inventory=PATH)", file=path) from None
    return load_inventory_text(decode(raw, path, "inventory"), path,
                               sha256=hashlib.sha256(raw).hexdigest(),
                               resolve_secrets=resolve_secrets)


def load_inventory_text(text: str, name: str, *, sha256: str | None = None,
                        resolve_secrets: bool = True) -> Inventory:
    """Validate inventory text; without `resolve_secrets`, secrets are placeholders."""
    doc = loads(text, name)
    sha = sha256 or hashlib.sha256(text.encode()).hexdigest()
    return _Loader(name, resolve_secrets).inventory(doc, sha)
