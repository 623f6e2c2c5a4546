"""The rendered registry `config.yml` and the metadata-mode rules built on it.

Omnibus writes `storage`, `notifications.endpoints` and `database` as one-line JSON, so the
file is read with a YAML loader, never regexes (fact sheet, A7). `summary` keeps what the
checks need and drops secrets (passwords, `http.secret`); notification `Authorization` values
become digests. The decision table for the metadata mode of each source, and the prefer-mode
hazard, are pure functions here so they can be tested without a deployment.

>>> config_mode(True, None), config_mode("false", None), config_mode("prefer", True)
('database', 'legacy', 'legacy')
>>> config_mode("prefer", False), config_mode("prefer", None)
('database', None)
>>> lockfile_mode({"database-in-use": True, "filesystem-in-use": False, "readable": True})
'database'
>>> header_mode("false"), gitlab_v1_mode(404, True), gitlab_v1_mode(404, False)
('legacy', 'legacy', 'not-gitlab')
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from .versions import at_least

STORAGE_EXTRAS = ("maintenance", "cache", "delete", "redirect")
DEFAULT_REGISTRY_PATH = "/var/opt/gitlab/gitlab-rails/shared/registry"
LOCKFILE_DIR = "docker/registry/lockfiles"
LOCKFILES = ("database-in-use", "filesystem-in-use")
BUNDLED_PG_DIR = "/var/opt/gitlab/postgresql"


class ConfigError(ValueError):
    """config.yml exists but cannot be read as the registry's configuration."""


def digest(value: Any) -> str:
    """A stable sha256 of a secret, so two sites' secrets can be compared, never shown."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def endpoints_summary(endpoints: Any) -> list[dict[str, Any]]:
    """Notification endpoints with the Authorization values as digests (last one counts)."""
    out = []
    for ep in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(ep, dict):
            continue
        auth = ((ep.get("headers") or {}).get("Authorization")
                if isinstance(ep.get("headers"), dict) else None)
        if isinstance(auth, str):
            auth = [auth]
        out.append({"name": ep.get("name"), "url": ep.get("url"),
                    "auth_digest": digest(auth[-1]) if auth else None})
    return out


def summary(text: str) -> dict[str, Any]:
    """What the checks need from a rendered config.yml; raises ConfigError when unreadable."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config.yml is not YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise ConfigError("config.yml is not a mapping")
    storage = doc.get("storage") if isinstance(doc.get("storage"), dict) else {}
    backends = [k for k in storage if k not in STORAGE_EXTRAS]
    backend = backends[0] if backends else None
    root = None
    if backend == "filesystem" and isinstance(storage.get("filesystem"), dict):
        root = storage["filesystem"].get("rootdirectory") or DEFAULT_REGISTRY_PATH
    readonly = ((storage.get("maintenance") or {}).get("readonly") or {}).get("enabled") \
        if isinstance(storage.get("maintenance"), dict) else None
    db = doc.get("database") if isinstance(doc.get("database"), dict) else {}
    auth = doc.get("auth") if isinstance(doc.get("auth"), dict) else {}
    token = auth.get("token") if isinstance(auth.get("token"), dict) else {}
    http = doc.get("http") if isinstance(doc.get("http"), dict) else {}
    return {
        "storage_backend": backend,
        "storage_root": root,
        "readonly": readonly,
        "http_addr": http.get("addr"),
        "database": {k: db.get(k) for k in ("enabled", "host", "port", "user", "dbname",
                                             "_prefer_mode_overridden")},
        "database_rendered": "database" in doc,
        "token_issuer": token.get("issuer"),
        "token_realm": token.get("realm"),
        "rootcertbundle": token.get("rootcertbundle"),
        "notifications": endpoints_summary((doc.get("notifications") or {}).get("endpoints")
                                           if isinstance(doc.get("notifications"), dict) else None),
    }


def enabled_value(raw: Any) -> str | None:
    """Normalise `database.enabled`: 'true', 'false', 'prefer', None (unset) or 'invalid:<v>'."""
    if raw is None:
        return None
    if raw in (True, "true"):
        return "true"
    if raw in (False, "false"):
        return "false"
    if raw == "prefer":
        return "prefer"
    return f"invalid:{raw!r}"


def config_mode(raw_enabled: Any, filesystem_lock: bool | None) -> str | None:
    """The mode `database.enabled` gives (fact sheet B9): None when it cannot be told.

    `prefer` means database unless a `filesystem-in-use` lockfile exists; an unreadable
    lockfile leaves a prefer-mode registry undecided. The registry's own default is false.
    """
    value = enabled_value(raw_enabled) or "false"
    if value == "true":
        return "database"
    if value == "false":
        return "legacy"
    if value == "prefer":
        return None if filesystem_lock is None else ("legacy" if filesystem_lock else "database")
    return None


def header_mode(header: str | None) -> str | None:
    """`Gitlab-Container-Registry-Database-Enabled` on an authorised `/v2/` (fact sheet C1)."""
    if header is None:
        return None
    return {"true": "database", "false": "legacy"}.get(header.strip().lower())


def gitlab_v1_mode(status: int | None, version_header: bool) -> str | None:
    """`/gitlab/v1/` with a token (fact sheet C2): 200 database, 404 + version header legacy."""
    if status == 200:
        return "database"
    if status == 404:
        return "legacy" if version_header else "not-gitlab"
    return None


def lockfile_mode(locks: dict[str, Any] | None) -> str | None:
    """The storage lockfiles (fact sheet C4, B10): one of them names the mode, both is invalid."""
    if not locks or not locks.get("readable"):
        return None
    db, fs = bool(locks.get("database-in-use")), bool(locks.get("filesystem-in-use"))
    if db and fs:
        return "invalid: both lockfiles"
    return "database" if db else "legacy" if fs else None


def prefer_hazard(*, mode: str, has_data: bool, rb_enabled: Any, rb_enabled_set: bool,
                  bundled_pg_enabled: bool, filesystem_lock: bool | None) -> str | None:
    """Why a legacy registry would come up in database mode with an empty DB, or None.

    Fact sheet B9 (INFERENCE from the registry code): a legacy registry with data but no
    `filesystem-in-use` lockfile, switched to `prefer` (explicitly, or by the 19.0 default
    when the key is unset), starts on the empty database and hides every image. An explicit
    `false` is safe, and omnibus rewrites `prefer` to `false` when its bundled PostgreSQL is
    off (fact sheet A3).

    >>> prefer_hazard(mode="legacy", has_data=True, rb_enabled=None, rb_enabled_set=False,
    ...               bundled_pg_enabled=True, filesystem_lock=False) is not None
    True
    >>> prefer_hazard(mode="legacy", has_data=True, rb_enabled="prefer", rb_enabled_set=True,
    ...               bundled_pg_enabled=False, filesystem_lock=False) is None
    True
    """
    if mode != "legacy" or not has_data or filesystem_lock:
        return None
    value = enabled_value(rb_enabled) if rb_enabled_set else None
    if value not in (None, "prefer"):
        return None
    if not bundled_pg_enabled:
        return None  # omnibus rewrites prefer to false without its PostgreSQL
    how = "set to 'prefer'" if value == "prefer" else "unset (GitLab 19.0 makes it 'prefer')"
    lock = ("no filesystem-in-use lockfile" if filesystem_lock is False
            else "the lockfiles cannot be read")
    return (f"registry['database']['enabled'] is {how}, the registry is legacy with data and "
            f"there is {lock}: on the next start it would use the empty metadata database")


def normal_host(host: Any) -> str:
    """Hosts compared loosely: localhost and 127.0.0.1 alike, sockets by directory."""
    text = str(host or "").strip().rstrip("/").lower()
    return "127.0.0.1" if text in ("localhost", "::1", "127.0.0.1") else text


def is_loopback(addr: str | None) -> bool:
    """Is a `host:port` listen address loopback-only?

    >>> is_loopback("127.0.0.1:5000"), is_loopback("0.0.0.0:5000"), is_loopback(":5000")
    (True, False, False)
    """
    if not addr:
        return True  # omnibus default 127.0.0.1:5000 (fact sheet A2)
    host = addr.rsplit(":", 1)[0].strip("[]").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


PG_FLOOR_NUM, PG_FLOOR = 150000, "15"
REGISTRY_WITH_FLOOR = "4.39.0"


def pg_floor(version_num: int, registry_version: str | None) -> str:
    """DB-002's rule (fact sheet B1, F3): `pass` at PostgreSQL 15 or later; below it `warn`
    for a registry older than 4.39 (the floor is documented, not enforced), else `fail`
    (4.39+ refuses to start; an unknown version counts as enforcing).

    >>> pg_floor(150004, "4.39.0-gitlab"), pg_floor(160002, None)
    ('pass', 'pass')
    >>> pg_floor(140011, "4.39.0-gitlab"), pg_floor(140011, "v4.40.1-gitlab")
    ('fail', 'fail')
    >>> pg_floor(140011, None)
    'fail'
    >>> pg_floor(140011, "4.38.2-gitlab"), pg_floor(130016, "3.93.0-gitlab")
    ('warn', 'warn')
    """
    if version_num >= PG_FLOOR_NUM:
        return "pass"
    if registry_version and not at_least(registry_version.lstrip("v").split("-")[0],
                                         REGISTRY_WITH_FLOOR):
        return "warn"
    return "fail"
