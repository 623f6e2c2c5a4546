"""What each probe observed, as typed models; `FACT_MODELS` maps every fact key to its model.

The JSON form of each model (`codec.to_json`) is the fact's `value` in facts.json, so recorded
facts load back as the same models (`Facts.from_dicts`). Models hold observations only: the
rules that judge them live in the checks. GitLab's own answers (Geo sites and statuses) are
pass-through models: the fields the checks read are typed, the rest is kept as it came.
Settings copied from a host's YAML or JSON file are `JSON`: the probe passes on whatever plain
value the file holds (a string, a number, a list...), and the checks judge it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import UnionType

from .codec import JSON, key, opt, raw, root, when

# --- the GitLab API --------------------------------------------------------------------------


@dataclass(frozen=True)
class GeoSite:
    """One entry of `GET /api/v4/geo_sites` (documented fields; the rest kept in `raw`)."""

    id: int
    name: str | None
    url: str | None
    internal_url: str | None
    primary: bool
    raw: dict[str, JSON] = raw()


@dataclass(frozen=True)
class GeoSites:
    items: list[GeoSite] = root()

    def __iter__(self) -> Iterator[GeoSite]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class GeoStatus:
    """One entry of `GET /api/v4/geo_sites/status`: what a Geo site reports about itself."""

    geo_node_id: int
    version: str | None = None
    revision: str | None = None
    healthy: bool | None = None
    health: str | None = None
    health_status: str | None = None
    last_successful_status_check_timestamp: int | float | None = None
    updated_at: str | None = None
    container_repositories_replication_enabled: bool | None = None
    container_repositories_failed_count: int | None = None
    container_repositories_synced_count: int | None = None
    container_repositories_registry_count: int | None = None
    container_repositories_verified_count: int | None = None
    container_repositories_verification_failed_count: int | None = None
    container_repositories_checksum_failed_count: int | None = None
    raw: dict[str, JSON] = raw()


@dataclass(frozen=True)
class GeoStatuses:
    items: list[GeoStatus] = root()

    def __iter__(self) -> Iterator[GeoStatus]:
        return iter(self.items)

    def of(self, geo_site_id: int) -> GeoStatus | None:
        """The status a Geo site reported, or None when it has not reported."""
        return next((s for s in self.items if s.geo_node_id == geo_site_id), None)


@dataclass(frozen=True)
class OwnAnswer:
    """What the site's own URL answers to `/api/v4/metadata` (or `/api/v4/version`)."""

    version: str
    revision: JSON  # GitLab's JSON, passed on as it came


# --- the container registry ------------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    realm: str
    service: str | None


@dataclass(frozen=True)
class GitlabV1:
    status: int
    version_header: bool


def _authorised(api: RegistryApi) -> bool:
    return api.status is not None


@dataclass(frozen=True)
class RegistryApi:
    """`/v2/` without a token, then with one: the GitLab headers and `/gitlab/v1/`.

    `problem` says why no token was obtained; the header fields exist once a token was.
    """

    url: str
    unauthenticated_status: int
    problem: str | None = opt()
    challenge: Challenge | None = opt()
    status: int | None = opt()
    api_version: str | None = when(_authorised)
    version: str | None = when(_authorised)
    features: str | None = when(_authorised)
    database_enabled: str | None = when(_authorised)
    token_accepted_by_primary: bool | None = opt()
    gitlab_v1: GitlabV1 | None = opt()


@dataclass(frozen=True)
class RegistryCatalog:
    """The catalog's first page (`n=1`): data or none, never the whole catalog."""

    repositories_on_first_page: int
    more: bool


def _answered(p: PrimaryApi) -> bool:
    return p.status is not None


@dataclass(frozen=True)
class PrimaryApi:
    """A secondary's `geo_registry_replication_primary_api_url`, asked for `/v2/`."""

    url: str | None
    error: str | None = opt()
    status: int | None = opt()
    bearer_challenge: bool | None = when(_answered)
    version: str | None = when(_answered)
    realm: str | None = opt()  # the Bearer challenge's realm: the GitLab that issues tokens
    probed_from: str | None = opt()  # the node the URL was asked from (None: the checker)
    trust: str | None = opt()  # what the secondary's host trusts, as read (HTTPS only)
    untrusted: bool | None = opt()  # the certificate failed against that trust
    trust_error: str | None = opt()  # why the host's trust could not be read


# --- the registry metadata database ----------------------------------------------------------


@dataclass(frozen=True)
class DbTable:
    """A registry table: present, and a row count capped at ROW_CAP (or why unreadable)."""

    exists: bool | None
    rows: int | None = opt()
    capped: bool | None = opt()
    error: str | None = opt()


@dataclass(frozen=True)
class RoleSetting:
    """One `pg_db_role_setting` row for the database (`database`) or every database, for a
    role (`role`; empty: every role), kept to the settings the checks judge."""

    role: str
    database: bool
    settings: dict[str, str]


@dataclass(frozen=True)
class DbRoute:
    """Where the registry's own route (config.yml's database host, port and dbname, with the
    inventory's credentials) leads: a pooler's backend is told by the server's own identity.
    `same_as_inventory`: config.yml names the inventory's own host and port, and a host of
    None a socket or no host: neither is followed."""

    host: str | None
    port: int | None
    dbname: str | None
    same_as_inventory: bool = False
    system_identifier: str | None = opt()
    reached_dbname: str | None = opt()
    started_at: str | None = opt()
    server_addr: str | None = opt()
    server_port: int | None = opt()
    error: str | None = opt()


@dataclass(frozen=True)
class DbServer:
    """What PostgreSQL says about itself, as the inventory's DSN reaches it."""

    system_identifier: str | None
    in_recovery: bool
    wal_receivers: int
    downstream: int
    version_num: int
    version: str
    dbname: str
    user: str
    server_addr: str | None
    server_port: int | None
    started_at: str | None
    default_transaction_read_only: str
    bytea_output: str
    owner: str | None
    tables: dict[str, DbTable] = field(default_factory=dict)
    # where the session's settings come from (pg_settings.source): `user`, `database` or
    # `database user` mean a setting of the checker's own role or database applies
    settings_source: dict[str, str] | None = opt()
    role_settings: list[RoleSetting] | None = opt()  # None: not read (older recordings)
    creators: list[str] | None = opt()  # login roles with CREATE on the database and public
    data_directory: str | None = opt()  # None without pg_read_all_settings

    @property
    def replica(self) -> bool:
        """In recovery, or receiving WAL: a standby of another server."""
        return self.in_recovery or self.wal_receivers > 0


@dataclass(frozen=True)
class ImportRun:
    """One row of the registry's `import_statistics`: one import command (one-step: every
    phase in one row; three-step: one row per step), with the times of each phase it ran."""

    id: int
    pre_import: bool | None = opt()
    tag_import: bool | None = opt()
    blob_import: bool | None = opt()
    storage_driver: str | None = opt()
    started_at: str | None = opt()
    finished_at: str | None = opt()
    repositories_count: int | None = opt()
    tags_count: int | None = opt()
    manifests_count: int | None = opt()
    blobs_count: int | None = opt()
    blobs_size_bytes: int | None = opt()
    pre_import_started_at: str | None = opt()
    pre_import_finished_at: str | None = opt()
    pre_import_error: str | None = opt()
    tag_import_started_at: str | None = opt()
    tag_import_finished_at: str | None = opt()
    tag_import_error: str | None = opt()
    blob_import_started_at: str | None = opt()
    blob_import_finished_at: str | None = opt()
    blob_import_error: str | None = opt()


@dataclass(frozen=True)
class ImportStatistics:
    """The registry's record of import runs (`import_statistics`, newest first, capped)."""

    present: bool  # the table exists (registry migrations of 2025 and later)
    runs: list[ImportRun] = field(default_factory=list)


@dataclass(frozen=True)
class SiteSessions:
    """Which other sites' marker sessions one site's server shows (or why it could not)."""

    sees: list[str] | None = opt()
    error: str | None = opt()


@dataclass(frozen=True)
class DbSessions:
    by_site: dict[str, SiteSessions] = root()

    def shared(self, a: str, b: str) -> bool:
        """Either site's server shows the other's marker: one PostgreSQL serves both."""
        return (b in (self._sees(a)) or a in self._sees(b))

    def _sees(self, name: str) -> list[str]:
        s = self.by_site.get(name)
        return (s.sees or []) if s else []


@dataclass(frozen=True)
class ResolvedHost:
    """The addresses the registry's database host (config.yml) resolves to, for DB-006."""

    host: str | None
    addresses: list[str] = field(default_factory=list)
    error: str | None = opt()


# --- host files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostVersion:
    version: str | None
    install: str  # linux-package | unknown
    manifest: str | None


@dataclass(frozen=True)
class RbProblem:
    line: int
    path: list[str]  # the setting's keys: registry, database, host
    reason: str


@dataclass(frozen=True)
class GitlabRb:
    """gitlab.rb's literal settings (secrets as digests) and what could not be read."""

    present: bool
    values: dict[str, JSON]  # the kept settings, nested as written: scalars, lists, hashes
    problems: list[RbProblem]


def _read(f: ClusterJson | ConfigYml | GitlabYml) -> bool:
    return bool(f.present) and f.error is None


@dataclass(frozen=True)
class ClusterJson:
    present: bool
    error: str | None = opt()
    primary: JSON = when(_read)
    secondary: JSON = when(_read)


@dataclass(frozen=True)
class ConfigDb:
    """config.yml's `database` section, values as YAML gave them."""

    enabled: JSON = None
    host: JSON = None
    port: JSON = None
    user: JSON = None
    dbname: JSON = None
    prefer_mode_overridden: JSON = key("_prefer_mode_overridden", default=None)


@dataclass(frozen=True)
class Endpoint:
    name: JSON
    url: JSON
    auth_digest: str | None


@dataclass(frozen=True)
class ConfigYml:
    """The rendered registry config.yml, summarised (secrets dropped or digested)."""

    present: bool
    error: str | None = opt()
    # the driver: a key of the storage mapping (YAML keys are scalars)
    storage_backend: str | int | float | bool | None = when(_read)
    storage_root: JSON = when(_read)
    readonly: JSON = when(_read)
    http_addr: JSON = when(_read)
    database: ConfigDb | None = when(_read)
    database_rendered: bool | None = when(_read)
    token_issuer: JSON = when(_read)
    token_realm: JSON = when(_read)
    rootcertbundle: JSON = when(_read)
    notifications: list[Endpoint] | None = when(_read)
    storage_bucket: JSON = opt()  # object storage: the bucket (Azure: container)
    storage_endpoint: JSON = opt()  # object storage: regionendpoint, else region
    storage_rootdirectory: JSON = opt()  # object storage: the driver's rootdirectory


@dataclass(frozen=True)
class GitlabYml:
    present: bool
    error: str | None = opt()
    registry_enabled: JSON = when(_read)
    notification_secret_digest: str | None = when(_read)
    geo_node_name: JSON = when(_read)
    registry_replication_enabled: JSON = when(_read)
    registry_replication_primary_api_url: JSON = when(_read)
    registry_issuer: JSON = opt()  # gitlab_rails['registry_issuer'], as Rails signs tokens
    registry_key: JSON = opt()  # the path of the token-signing key (gitlab-registry.key)


def _readable(lock: Lockfiles) -> bool:
    return lock.readable


@dataclass(frozen=True)
class Lockfiles:
    """The storage lockfiles, when the host's filesystem holds the storage."""

    readable: bool
    why: str | None = opt()
    dir: str | None = when(_readable)
    database_in_use: bool | None = when(_readable, key="database-in-use")
    filesystem_in_use: bool | None = when(_readable, key="filesystem-in-use")


@dataclass(frozen=True)
class HostConfig:
    gitlab_rb: GitlabRb
    cluster_json: ClusterJson
    config_yml: ConfigYml
    gitlab_yml: GitlabYml
    cert_digest: str | None
    lockfiles: Lockfiles
    signing_key_digest: str | None = opt()  # gitlab.yml's registry.key, as a digest
    # `registry garbage-collect` scheduled in cron or systemd: "<file>: <line>" each, or why
    # the schedules could not all be read (`gc_unreadable`)
    gc_schedules: list[str] | None = opt()
    gc_unreadable: str | None = opt()


# --- content: what the legacy storage and the metadata database hold -------------------------


DB_SAMPLE = 50  # the DB's sample is longer than storage's, so it covers it when none is missing


def path_hash(path: str) -> str:
    """The order both sides sample repositories in: md5 of the path, as PostgreSQL's md5(path).

    >>> path_hash("group/project/app")[:8]
    'cc87885d'
    """
    import hashlib

    return hashlib.md5(path.encode()).hexdigest()  # noqa: S324 - an order, not a secret


@dataclass(frozen=True)
class StorageContent:
    """The legacy storage's repositories (a `_manifests` directory) and tags (a
    `_manifests/tags/<tag>/current/link`), counted, never copied. `sample` is the repositories
    whose md5(path) sorts first (the same order `db.content` samples in, so the two compare
    name by name), `sample_tags` their tag counts, `buckets` the repositories per first hex
    digit of md5(path) (16 counts: a bucket with fewer rows in the DB proves a repository
    missing there). `read`: filesystem (one command on the node) or s3 (ListObjectsV2)."""

    read: str
    repositories: int
    tags: int
    sample: list[str] = field(default_factory=list)
    sample_tags: dict[str, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=list)
    requests: int = 0  # host commands (filesystem) or list pages (s3) it took


@dataclass(frozen=True)
class DbContent:
    """The metadata DB's `repositories` and `tags` rows, counted, with the same md5(path)-
    ordered sample (longer than storage's: every storage sample at or below its last hash
    must be in it) and buckets."""

    repositories: int
    tags: int
    sample: list[str] = field(default_factory=list)
    sample_tags: dict[str, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class DbMigrations:
    """The migration ids the registry recorded (None: the table does not exist), and the
    batched background migrations not finished (`batched_background_migrations`: None when
    the table does not exist; else {name: status} of the active, running or failed ones)."""

    schema_migrations: list[str] | None
    post_deploy_schema_migrations: list[str] | None
    background_unfinished: dict[str, str] | None = None


# --- the canary (--canary only) --------------------------------------------------------------


@dataclass(frozen=True)
class CanaryPushed:
    repository: str
    tag: str
    digest: str


@dataclass(frozen=True)
class CanarySeen:
    seconds: float
    digest: str
    blob_via: str | None = opt()  # where the layer blob came from (None: older recordings)


@dataclass(frozen=True)
class Attestations:
    """The signed-off manual items of `--attestations`, and the moment they are judged at."""

    file: str
    as_of: str
    items: list[dict[str, str | None]]  # Attestation.as_dict(): site None, the rest text


FACT_MODELS: dict[str, type | UnionType] = {
    "geo.sites": GeoSites,
    "geo.statuses": GeoStatuses,
    "gitlab.own_answer": OwnAnswer,
    "registry.api": RegistryApi,
    "registry.catalog": RegistryCatalog,
    "registry.primary_api": PrimaryApi | None,  # None: the site is not a secondary
    "db.server": DbServer,
    "db.sessions": DbSessions,
    "db.registry_host": ResolvedHost,
    "db.registry_route": DbRoute,
    "db.import_statistics": ImportStatistics,
    # a previous run's db.import_statistics (--calibrate-from BUNDLE), by the bundle's site
    "calibration.import_statistics": ImportStatistics,
    "host.gitlab_version": HostVersion,
    "host.config": HostConfig,
    "storage.lockfiles": Lockfiles,  # the bucket's, with registry.storage
    "storage.content": StorageContent,
    "db.content": DbContent | None,  # None: no repositories/tags tables (not migrated)
    # the same of metadata_db.moved_from (gathered only for a site whose inventory gives it)
    "db.content_moved_from": DbContent | None,
    "db.migrations": DbMigrations,
    "canary.pushed": CanaryPushed,
    "canary.seen": CanarySeen,
    "attestations": Attestations,
}
