"""The metadata-mode rules several checks share: what each source says about the mode, and
how hosts and addresses compare. Pure functions of observed values, tested without a
deployment.

>>> config_mode(True, None), config_mode("false", None), config_mode("prefer", True)
('database', 'legacy', 'legacy')
>>> config_mode("prefer", False), config_mode("prefer", None)
('database', None)
>>> lockfile_mode(Lockfiles(True, dir="/d", database_in_use=True, filesystem_in_use=False))
'database'
>>> header_mode("false"), gitlab_v1_mode(404, True), gitlab_v1_mode(404, False)
('legacy', 'legacy', 'not-gitlab')
"""

from __future__ import annotations

from typing import Any

from geopreflight.probes.models import Lockfiles


def enabled_value(raw: Any) -> str | None:
    """Normalise `database.enabled`: 'true', 'false', 'prefer', None (unset) or 'invalid:<v>'.

    >>> enabled_value(True), enabled_value("false"), enabled_value(None), enabled_value("yes")
    ('true', 'false', None, "invalid:'yes'")
    """
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
    """The mode `database.enabled` gives: None when it cannot be told.

    `prefer` means database unless a `filesystem-in-use` lockfile exists; an unreadable
    lockfile leaves a prefer-mode registry undecided. The registry's own default is false
    (https://gitlab.com/gitlab-org/container-registry/-/blob/master/docs/configuration.md).
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
    """`Gitlab-Container-Registry-Database-Enabled` on an authorised `/v2/`
    (https://gitlab.com/gitlab-org/container-registry/-/blob/master/registry/handlers/app.go)."""
    if header is None:
        return None
    return {"true": "database", "false": "legacy"}.get(header.strip().lower())


def gitlab_v1_mode(status: int | None, version_header: bool) -> str | None:
    """`/gitlab/v1/` with a token: 200 database, 404 + version header legacy
    (https://gitlab.com/gitlab-org/container-registry/-/blob/master/docs/spec/gitlab/api.md)."""
    if status == 200:
        return "database"
    if status == 404:
        return "legacy" if version_header else "not-gitlab"
    return None


def lockfile_mode(locks: Lockfiles | None) -> str | None:
    """The storage lockfiles: one of them names the mode, both is invalid
    (https://docs.gitlab.com/administration/packages/container_registry_metadata_database/)."""
    if locks is None or not locks.readable:
        return None
    db, fs = bool(locks.database_in_use), bool(locks.filesystem_in_use)
    if db and fs:
        return "invalid: both lockfiles"
    return "database" if db else "legacy" if fs else None


def normal_host(host: Any) -> str:
    """Hosts compared loosely: localhost and 127.0.0.1 alike, sockets by directory.

    >>> normal_host("LocalHost"), normal_host("/var/opt/gitlab/postgresql/")
    ('127.0.0.1', '/var/opt/gitlab/postgresql')
    """
    text = str(host or "").strip().rstrip("/").lower()
    return "127.0.0.1" if text in ("localhost", "::1", "127.0.0.1") else text


def is_loopback(addr: str | None) -> bool:
    """Is a `host:port` listen address loopback-only?

    >>> is_loopback("127.0.0.1:5000"), is_loopback("0.0.0.0:5000"), is_loopback(":5000")
    (True, False, False)
    """
    if not addr:
        return True  # omnibus default 127.0.0.1:5000 (source: REG-012's rationale)
    host = addr.rsplit(":", 1)[0].strip("[]").lower()
    return host in ("localhost", "::1") or host.startswith("127.")
