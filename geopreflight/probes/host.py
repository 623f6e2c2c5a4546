"""Host files, read through testinfra (any host spec; `local://` for the lab).

`root` prefixes every path so the lab can keep a site's files in a directory. Reads go through
testinfra's file module; a file that is missing reads as None.
"""

from __future__ import annotations

import posixpath
from typing import Any

from ..inventory import Site
from . import ProbeContext, ProbeError, probe
from .codec import from_json
from .models import HostConfig, HostVersion

VERSION_FILE = "/opt/gitlab/embedded/service/gitlab-rails/VERSION"
MANIFESTS = ("/opt/gitlab/version-manifest.json", "/opt/gitlab/version-manifest.txt")
# The files read are configuration (a full gitlab.rb template is about 150 KiB), a version, a
# certificate and lockfiles: 2 MiB is far above any of them.
HOST_CAP = 2 * 1024 * 1024
# One command per file, bounded in time (`timeout`) and size (`head -c`); only a regular file
# is read, so a FIFO or a link to /dev/zero is an error at once. Works over SSH as well.
_READ = ('if [ ! -e "$1" ]; then echo missing; elif [ ! -f "$1" ]; then echo not-a-file; '
         'else echo file; head -c "$2" -- "$1"; fi')


class HostFiles:
    """One site's host, as testinfra sees it.

    >>> import tempfile, pathlib
    >>> d = tempfile.mkdtemp(); _ = (pathlib.Path(d) / "etc").mkdir()
    >>> _ = (pathlib.Path(d) / "etc" / "x").write_text("hi")
    >>> h = HostFiles("local://", d)
    >>> h.read("/etc/x"), h.read("/etc/missing")
    ('hi', None)
    """

    def __init__(self, target: str, root: str = "/", timeout_s: float = 10.0) -> None:
        import testinfra

        self.target, self.root, self.timeout_s = target, root, timeout_s
        try:
            self._host = testinfra.get_host(target)
        except Exception as exc:  # noqa: BLE001 - any backend failure is this probe's error
            raise ProbeError(f"host {target}: {exc}".splitlines()[0]) from None

    def path(self, path: str) -> str:
        return posixpath.join(self.root, path.lstrip("/"))

    def read(self, path: str) -> str | None:
        """The file's text, or None when it does not exist; an error for anything but a
        regular UTF-8 file of at most HOST_CAP bytes read within the timeout."""
        full = self.path(path)
        try:
            out = self._host.run("timeout %s sh -c %s sh %s %s", f"{self.timeout_s:g}", _READ,
                                 full, str(HOST_CAP + 1))
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"cannot read {full} on {self.target}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                             full) from None
        kind, _, data = out.stdout_bytes.partition(b"\n")
        problem = {124: f"no answer within {self.timeout_s:g} s (read_s)"}.get(out.rc)
        if problem is None and kind == b"missing":
            return None
        if problem is None and kind == b"not-a-file":
            problem = "not a regular file (a FIFO, a device, a directory), so not read"
        elif problem is None and (out.rc != 0 or kind != b"file"):
            problem = f"the read failed (exit {out.rc})"
        elif problem is None and len(data) > HOST_CAP:
            problem = f"larger than {HOST_CAP // 2**20} MiB (the cap on a host file)"
        if problem is None:
            try:
                return data.decode()
            except UnicodeDecodeError:
                problem = "not UTF-8 text"
        raise ProbeError(f"cannot read {full} on {self.target}: {problem}", full)


def host_files(pc: ProbeContext, site: Site) -> HostFiles:
    """The site's host (one per site and run); an error when the inventory gives none."""
    if site.host is None:
        raise ProbeError(f"the inventory gives no host for {site.name}, so its files cannot "
                         "be read")
    key = ("host", site.name)
    if key not in pc.cache:
        pc.cache[key] = HostFiles(site.host.target, site.host.root,
                                  pc.inventory.timeouts.read_s)
    return pc.cache[key]


@probe("host.gitlab_version")
def gitlab_version(pc: ProbeContext, site: Site | None) -> tuple[HostVersion, str]:
    """The installed GitLab version and whether this is a Linux package install."""
    assert site is not None
    host = host_files(pc, site)
    text = host.read(VERSION_FILE)
    manifest = next((m for m in MANIFESTS if host.read(m) is not None), None)
    return (HostVersion(text.strip() if text else None,
                        "linux-package" if manifest else "unknown", manifest),
            f"{site.host.target if site.host else ''}{host.path(VERSION_FILE)}")


# --- registry, Geo and PostgreSQL settings (gitlab.rb, rendered files, lockfiles) -----------

GITLAB_RB = "/etc/gitlab/gitlab.rb"
CLUSTER_JSON = "/etc/gitlab/gitlab-cluster.json"
CONFIG_YML = "/var/opt/gitlab/registry/config.yml"
GITLAB_YML = "/var/opt/gitlab/gitlab-rails/etc/gitlab.yml"


def _gitlab_rb(host: HostFiles) -> dict[str, Any]:
    """Only the settings the checks read (an allow-list): gitlab.rb's secrets stay on the host."""
    from ..gitlab_rb import facts, parse

    text = host.read(GITLAB_RB)
    if text is None:
        return {"present": False, "values": {}, "problems": []}
    return {"present": True, **facts(parse(text))}


def _cluster_json(host: HostFiles) -> dict[str, Any]:
    import json

    text = host.read(CLUSTER_JSON)
    if text is None:
        return {"present": False}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return {"present": True, "error": f"{CLUSTER_JSON} is not JSON: {exc}"}
    if not isinstance(doc, dict):
        return {"present": True, "error": f"{CLUSTER_JSON} is not a JSON object"}
    return {"present": True, "primary": doc.get("primary"), "secondary": doc.get("secondary")}


def _config_yml(host: HostFiles) -> dict[str, Any]:
    from ..registry_config import ConfigError, summary

    text = host.read(CONFIG_YML)
    if text is None:
        return {"present": False}
    try:
        return {"present": True, **summary(text)}
    except ConfigError as exc:
        return {"present": True, "error": str(exc)}


def _gitlab_yml(host: HostFiles) -> dict[str, Any]:
    import yaml

    from ..registry_config import digest

    text = host.read(GITLAB_YML)
    if text is None:
        return {"present": False}
    try:
        doc = yaml.safe_load(text)
        prod = doc.get("production", doc) if isinstance(doc, dict) else {}
        reg = prod.get("registry") or {}
        geo = prod.get("geo") or {}
    except (yaml.YAMLError, AttributeError) as exc:
        return {"present": True, "error": f"{GITLAB_YML} is not readable YAML: "
                                          f"{str(exc).splitlines()[0]}"}
    secret = reg.get("notification_secret")
    rep = geo.get("registry_replication") or {}
    return {"present": True, "registry_enabled": reg.get("enabled"),
            "notification_secret_digest": digest(secret) if secret else None,
            "geo_node_name": geo.get("node_name"),
            "registry_replication_enabled": rep.get("enabled"),
            "registry_replication_primary_api_url": rep.get("primary_api_url")}


def _digest_file(host: HostFiles, path: str | None) -> str | None:
    from ..registry_config import digest

    if not path:
        return None
    text = host.read(path)
    return digest(text.strip()) if text is not None else None


def _lockfiles(host: HostFiles, config: dict[str, Any]) -> dict[str, Any]:
    from ..registry_config import LOCKFILE_DIR, LOCKFILES

    if not config.get("present") or config.get("error"):
        return {"readable": False, "why": "no readable rendered config.yml says where the "
                                          "storage is"}
    if config.get("storage_backend") != "filesystem":
        return {"readable": False, "why": f"{config.get('storage_backend')} storage: the "
                                          "lockfiles live in object storage, not on the host"}
    base = posixpath.join(config["storage_root"], LOCKFILE_DIR)
    out: dict[str, Any] = {"readable": True, "dir": base}
    for name in LOCKFILES:
        out[name] = host.read(posixpath.join(base, name)) is not None
    return out


@probe("host.config")
def host_config(pc: ProbeContext, site: Site | None) -> tuple[HostConfig, str]:
    """gitlab.rb, gitlab-cluster.json, the rendered config.yml and gitlab.yml, the token
    certificate's digest and the storage lockfiles: only what checks need, secrets as digests."""
    assert site is not None
    host = host_files(pc, site)
    config = _config_yml(host)
    value = {"gitlab_rb": _gitlab_rb(host), "cluster_json": _cluster_json(host),
             "config_yml": config, "gitlab_yml": _gitlab_yml(host),
             "cert_digest": _digest_file(host, config.get("rootcertbundle")),
             "lockfiles": _lockfiles(host, config)}
    target = site.host.target if site.host else ""
    paths = ", ".join(host.path(p) for p in (GITLAB_RB, CONFIG_YML, GITLAB_YML))
    return from_json(HostConfig, value), f"{target}{paths}"
