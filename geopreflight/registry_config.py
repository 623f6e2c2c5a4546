"""Parsing the rendered registry `config.yml` (the rules that judge it live in the checks).

Omnibus writes `storage`, `notifications.endpoints` and `database` as one-line JSON, so the
file is read with a YAML loader, never regexes (https://gitlab.com/gitlab-org/omnibus-gitlab/-/
blob/master/files/gitlab-cookbooks/registry/templates/default/registry-config.yml.erb).
`summary` keeps what the checks need and drops secrets (passwords, `http.secret`);
notification `Authorization` values become digests.

>>> summary("storage: {filesystem: {rootdirectory: /d}}")["storage_root"]
'/d'
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from .yamlfile import loads_host

STORAGE_EXTRAS = ("maintenance", "cache", "delete", "redirect")
DEFAULT_REGISTRY_PATH = "/var/opt/gitlab/gitlab-rails/shared/registry"
LOCKFILE_DIR = "docker/registry/lockfiles"
LOCKFILES = ("database-in-use", "filesystem-in-use")


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
        doc = loads_host(text)
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
    driver = storage.get(backend) if isinstance(storage.get(backend), dict) else {}
    readonly = ((storage.get("maintenance") or {}).get("readonly") or {}).get("enabled") \
        if isinstance(storage.get("maintenance"), dict) else None
    db = doc.get("database") if isinstance(doc.get("database"), dict) else {}
    auth = doc.get("auth") if isinstance(doc.get("auth"), dict) else {}
    token = auth.get("token") if isinstance(auth.get("token"), dict) else {}
    http = doc.get("http") if isinstance(doc.get("http"), dict) else {}
    return {
        "storage_backend": backend,
        "storage_root": root,
        # where object storage lives (s3, gcs, azure): bucket (or container), endpoint, root
        "storage_bucket": driver.get("bucket") or driver.get("container"),
        "storage_endpoint": driver.get("regionendpoint") or driver.get("region")
        or driver.get("accountname"),
        "storage_rootdirectory": driver.get("rootdirectory") if backend != "filesystem" else None,
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
