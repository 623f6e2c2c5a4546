"""The files a Linux package (Omnibus) host has, under each site's host root directory.

Rendered from the lab's site model, so they always say what is running:
`etc/gitlab/gitlab.rb`, the rendered `var/opt/gitlab/registry/config.yml` (same shape as the
omnibus template: storage, notifications and database as one-line JSON),
`var/opt/gitlab/gitlab-rails/etc/gitlab.yml`, the registry key and certificate, the storage
lockfiles, and the version markers. Paths inside the files are host paths (`/var/opt/...`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

STORAGE = "var/opt/gitlab/gitlab-rails/shared/registry"
CONFIG_YML = "var/opt/gitlab/registry/config.yml"
GITLAB_RB = "etc/gitlab/gitlab.rb"
CLUSTER_JSON = "etc/gitlab/gitlab-cluster.json"
TRUSTED_CA = "etc/gitlab/trusted-certs/lab-ca.crt"
GITLAB_YML = "var/opt/gitlab/gitlab-rails/etc/gitlab.yml"
KEY = "var/opt/gitlab/gitlab-rails/etc/gitlab-registry.key"
CERT = "var/opt/gitlab/registry/gitlab-registry.crt"
PG_DIR = "var/opt/gitlab/postgresql"
LOCKFILES = f"{STORAGE}/docker/registry/lockfiles"
REPOSITORIES = "docker/registry/v2/repositories"  # under STORAGE


def rb(v: Any, indent: int = 0) -> str:
    """A Ruby literal for a Python value (hashes with `=>`, one key a line)."""
    pad = "  " * indent
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nil"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(v, list):
        if all(not isinstance(x, (dict, list)) for x in v):
            return "[" + ", ".join(rb(x) for x in v) + "]"
        return "[\n" + ",\n".join(f"{pad}  " + rb(x, indent + 1) for x in v) + f"\n{pad}]"
    if isinstance(v, dict):
        items = [f"{pad}  {rb(k)} => {rb(x, indent + 1)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    raise TypeError(type(v))


def db_enabled_value(mode: str) -> bool | str:
    """`registry['database']['enabled']` for a metadata mode."""
    return {"legacy": False, "database": True, "prefer": "prefer"}[mode]


def storage_hash(site: dict[str, Any]) -> dict[str, Any]:
    storage: dict[str, Any] = {"filesystem": {"rootdirectory": "/" + STORAGE}}
    if site.get("s3"):  # registry['storage'] on the site's bucket (the registry's s3 driver)
        from lab.s3 import driver_config

        storage = {"s3": driver_config(site["s3"])}
    if site["registry"]["read_only"]:
        storage["maintenance"] = {"readonly": {"enabled": True}}
    return storage


def notifications(site: dict[str, Any]) -> list[dict[str, Any]]:
    """The primary's `geo_event` endpoint (Geo docs, fact sheet A5); none elsewhere, and none
    while `registry.notifications` is false (Geo set up, registry replication not configured)."""
    if not site["registry"]["enabled"] or site["registry"].get("notifications") is False or (
            site["geo"] != "primary" and site["registry"].get("notifications") is not True):
        return []  # `notifications: true` on a secondary: the geo_event endpoint there too
    return [{"name": "geo_event",
             "url": f"{site['external_url']}/api/v4/container_registry_event/events",
             "timeout": "500ms", "threshold": 5, "backoff": "1s",
             "headers": {"Authorization": [site["notification_secret"]]}}]


def database_hash(site: dict[str, Any], rendered: bool) -> dict[str, Any]:
    """`registry['database']` as written in gitlab.rb, or as rendered into config.yml."""
    db = site["db"]
    enabled = db_enabled_value(site["registry"]["mode"])
    if db["bundled"]:  # host left unset: omnibus points it at the bundled PostgreSQL
        if not rendered:
            return {"enabled": enabled}
        return {"enabled": enabled, "user": db["user"], "dbname": db["dbname"],
                "port": db["port"], "sslmode": "prefer", "host": "/" + PG_DIR}
    out = {"enabled": enabled, "host": db["host"], "port": db["port"], "user": db["user"],
           "password": db["password"], "dbname": db["dbname"], "sslmode": "disable"}
    if rendered:
        out["connecttimeout"] = "5s"
    return out


def primary_api_url(site: dict[str, Any], primary: dict[str, Any] | None) -> str | None:
    """A secondary's `geo_registry_replication_primary_api_url`: the primary registry's URL,
    the primary's GitLab URL (a common mistake), the secondary's own registry (`own`: Geo then
    compares a registry with itself), or unset (`replication.primary_api_url`)."""
    if primary is None:
        return None
    return {"registry": primary["registry_url"] + "/", "gitlab": primary["external_url"] + "/",
            "own": site["registry_url"] + "/",
            "unset": None}[site["replication"].get("primary_api_url", "registry")]


def cluster_json(site: dict[str, Any]) -> str | None:
    """`/etc/gitlab/gitlab-cluster.json` as `gitlab-ctl promote`/`geo` leave it, or None."""
    role = (site.get("host") or {}).get("cluster_json")
    if not role:
        return None
    return json.dumps({"primary": role == "primary", "secondary": role == "secondary"},
                      indent=2) + "\n"


def gitlab_rb(site: dict[str, Any], primary: dict[str, Any] | None) -> str:
    reg = site["registry"]
    lines = [
        f"## GitLab configuration for site {site['name']} (geopreflight lab)",
        "## https://docs.gitlab.com/omnibus/settings/configuration/",
        "",
        f"external_url {rb(site['external_url'])}",
    ]
    if site["geo"] == "primary":
        lines.append("roles ['geo_primary_role']")
    elif site["geo"] == "secondary":
        lines.append("roles ['geo_secondary_role']")
    if site["geo"] != "none":
        lines.append(f"gitlab_rails['geo_node_name'] = {rb(site['name'])}")
    lines.append("")
    lines.append("## Container registry")
    if reg["enabled"]:
        lines += [
            f"registry_external_url {rb(site['registry_url'])}",
            "registry['enable'] = true",
            f"registry['registry_http_addr'] = {rb(site['registry_http_addr'])}",
            f"registry['debug_addr'] = {rb(site['registry_debug_addr'])}",
            f"gitlab_rails['registry_api_url'] = {rb('http://' + site['registry_http_addr'])}",
            "gitlab_rails['registry_issuer'] = 'omnibus-gitlab-issuer'",
            "",
            "## Object Storage - Container Registry",
            f"registry['storage'] = {rb(storage_hash(site))}",
            "",
            f"registry['database'] = {rb(database_hash(site, rendered=False))}",
        ]
        if notifications(site):
            lines += ["", f"registry['notifications'] = {rb(notifications(site))}"]
    else:
        lines += ["registry['enable'] = false", "gitlab_rails['registry_enabled'] = false"]
    if site["geo"] == "secondary":
        rep = site["replication"]["enabled"] and reg["enabled"]
        lines += ["", "## Geo: container registry replication",
                  f"gitlab_rails['geo_registry_replication_enabled'] = {rb(rep)}"]
        url = primary_api_url(site, primary)
        if rep and url:
            lines += ["# Primary registry's hostname and port, it will be used by",
                      "# the secondary node to directly communicate to primary registry",
                      f"gitlab_rails['geo_registry_replication_primary_api_url'] = {rb(url)}"]
    lines += ["", "## PostgreSQL"]
    if site.get("bundled_pg"):  # also after the registry's database moved out of it
        lines += ["postgresql['enable'] = true", "postgresql['listen_address'] = '127.0.0.1'",
                  f"postgresql['port'] = {site['bundled_pg']['port']}"]
    else:
        lines += ["postgresql['enable'] = false  # GitLab's databases are on external servers"]
    extra = (site.get("host") or {}).get("gitlab_rb_append") or []
    if extra:  # edited after the last reconfigure: not in config.yml or gitlab.yml
        lines += ["", "## added later", *extra]
    drop = (site.get("host") or {}).get("gitlab_rb_drop") or []  # a node that lacks a setting
    lines = [ln for ln in lines if not any(f"['{d}']" in ln for d in drop)]
    return "\n".join(lines) + "\n"


def config_yml(site: dict[str, Any]) -> str:
    """The registry configuration as omnibus renders it (registry-config.yml.erb)."""
    storage = storage_hash(site) | {"cache": {"blobdescriptor": "inmemory"},
                                    "delete": {"enabled": True}}
    out = f"""version: 0.1
log:
  level: info
  formatter: text
  fields:
    service: registry
    environment: production
storage: {json.dumps(storage, separators=(",", ":"))}
http:
  addr: {site['registry_http_addr']}
  secret: "{site['http_secret']}"
  headers:
    X-Content-Type-Options: [nosniff]
  debug:
    addr: {site['registry_debug_addr']}
    prometheus:
      enabled: true
      path: /metrics
  draintimeout: 60s
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
auth:
  token:
    realm: {site['external_url']}/jwt/auth
    service: container_registry
    issuer: omnibus-gitlab-issuer
    rootcertbundle: /{CERT}
    autoredirect: false
validation:
  disabled: true
"""
    if notifications(site):
        out += "notifications:\n  endpoints: " + json.dumps(notifications(site),
                                                           separators=(",", ":")) + "\n"
    out += "database: " + json.dumps(database_hash(site, rendered=True),
                                     separators=(",", ":")) + "\n"
    return out


def gitlab_yml(site: dict[str, Any], primary: dict[str, Any] | None) -> str:
    """The relevant part of the rendered gitlab.yml (registry and geo sections)."""
    reg = site["registry"]
    registry: dict[str, Any] = {"enabled": bool(reg["enabled"])}
    if reg["enabled"]:
        host, _, port = site["registry_url"].split("://", 1)[1].partition(":")
        registry |= {"host": host, "port": int(port),
                     "api_url": "http://" + site["registry_http_addr"],
                     "key": "/" + KEY, "path": "/" + STORAGE, "issuer": "omnibus-gitlab-issuer"}
        notes = notifications(site)
        if notes:  # gitlab_rails['registry_notification_secret'], normally the endpoint's
            registry["notification_secret"] = site.get("rails_notification_secret") or \
                notes[0]["headers"]["Authorization"][-1]
    # an unset geo_node_name renders as nil, which GitLab reads as "use external_url"
    geo: dict[str, Any] = {"node_name": site["name"] if site["geo"] != "none" else None}
    if site["geo"] == "secondary":
        rep = bool(site["replication"]["enabled"] and reg["enabled"])
        geo["registry_replication"] = {"enabled": rep}
        url = primary_api_url(site, primary)
        drop = (site.get("host") or {}).get("gitlab_rb_drop") or []  # reconfigured without it
        if rep and url and "geo_registry_replication_primary_api_url" not in drop:
            geo["registry_replication"]["primary_api_url"] = url
    host, _, port = site["external_url"].split("://", 1)[1].partition(":")
    doc = {"production": {"gitlab": {"host": host, "port": int(port), "https": False},
                          "registry": registry, "geo": geo}}
    return "# This file is managed by gitlab-ctl. (geopreflight lab rendering)\n" + yaml.safe_dump(
        doc, sort_keys=False)


def version_manifest(site: dict[str, Any]) -> dict[str, Any]:
    v = site["version"]
    edition = "gitlab-ee" if v.endswith("-ee") else "gitlab-ce"
    return {"manifest_format": 2, "build_version": f"{v}.0", "build_git_revision": site["revision"],
            "license": "MIT", "software": {
                "gitlab-rails": {"display_version": v, "locked_version": site["revision"],
                                 "source_type": "git"},
                "registry": {"display_version": "v" + site["registry"]["version"],
                             "locked_version": "v" + site["registry"]["version"]},
                "postgresql": {"display_version": "16.8", "locked_version": "16.8"},
                edition: {"display_version": v.removesuffix("-ee").removesuffix("-ce")}}}


def _write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(text, bytes):
        tmp.write_bytes(text)
    else:
        tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def render(site: dict[str, Any], primary: dict[str, Any] | None, key_pem: bytes,
           cert_pem: bytes, trusted_ca: bytes | None = None) -> None:
    """(Re)write every host file of a site, as `gitlab-ctl reconfigure` would; `trusted_ca`
    (the lab's TLS CA) goes to /etc/gitlab/trusted-certs, as an administrator puts an
    internal CA there."""
    root = Path(site["root"])
    if trusted_ca is not None:
        _write(root / TRUSTED_CA, trusted_ca)
    else:
        (root / TRUSTED_CA).unlink(missing_ok=True)
    _write(root / GITLAB_RB, gitlab_rb(site, primary), 0o600)
    _write(root / GITLAB_YML, gitlab_yml(site, primary), 0o640)
    cluster = cluster_json(site)
    if cluster:
        _write(root / CLUSTER_JSON, cluster, 0o600)
    else:
        (root / CLUSTER_JSON).unlink(missing_ok=True)
    _write(root / KEY, key_pem, 0o600)
    v = site["version"]
    _write(root / "opt/gitlab/embedded/service/gitlab-rails/VERSION", v + "\n")
    manifest = version_manifest(site)
    _write(root / "opt/gitlab/version-manifest.json", json.dumps(manifest, indent=2) + "\n")
    edition = "gitlab-ee" if v.endswith("-ee") else "gitlab-ce"
    _write(root / "opt/gitlab/version-manifest.txt",
           f"{edition} {manifest['software'][edition]['display_version']}\n\n"
           f"Component                 Installed Version   Version GUID\n"
           f"--------------------------------------------------------------------------------\n"
           f"gitlab-rails              {v:<19} git:{site['revision']}\n"
           f"registry                  v{site['registry']['version']:<18} "
           f"git:{hashlib.sha1(site['registry']['version'].encode()).hexdigest()[:12]}\n")
    gc = root / "etc/cron.d/registry-garbage-collect"
    if (site.get("host") or {}).get("gc_cron"):  # offline GC left scheduled by an operator
        _write(gc, "# m h dom mon dow user command\n"
                   "0 3 * * 0 root gitlab-ctl registry-garbage-collect -m\n")
    else:
        gc.unlink(missing_ok=True)
    (root / STORAGE).mkdir(parents=True, exist_ok=True)
    if site["registry"]["enabled"]:
        _write(root / CONFIG_YML, config_yml(site), 0o644)
        _write(root / CERT, cert_pem)
    else:
        (root / CONFIG_YML).unlink(missing_ok=True)


def set_lockfile(root: Path, which: str | None) -> None:
    """Leave exactly `which` (`filesystem-in-use`, `database-in-use`) or no lockfile."""
    d = root / LOCKFILES
    d.mkdir(parents=True, exist_ok=True)
    for name in ("filesystem-in-use", "database-in-use"):
        if name != which:
            (d / name).unlink(missing_ok=True)
    if which:
        (d / which).touch()


def lockfiles(root: Path) -> list[str]:
    d = root / LOCKFILES
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def read_config(root: Path) -> dict[str, Any] | None:
    p = root / CONFIG_YML
    return yaml.safe_load(p.read_text()) if p.exists() else None
