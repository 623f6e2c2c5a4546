"""Host files, read through testinfra (any host spec; `local://` for the lab).

`root` prefixes every path so the lab can keep a site's files in a directory. Reads go through
testinfra's file module; a file that is missing reads as None.
"""

from __future__ import annotations

import posixpath
from typing import Any

from ..inventory import Site
from . import ProbeContext, ProbeError, probe

VERSION_FILE = "/opt/gitlab/embedded/service/gitlab-rails/VERSION"
MANIFESTS = ("/opt/gitlab/version-manifest.json", "/opt/gitlab/version-manifest.txt")


class HostFiles:
    """One site's host, as testinfra sees it.

    >>> import tempfile, pathlib
    >>> d = tempfile.mkdtemp(); _ = (pathlib.Path(d) / "etc").mkdir()
    >>> _ = (pathlib.Path(d) / "etc" / "x").write_text("hi")
    >>> h = HostFiles("local://", d)
    >>> h.read("/etc/x"), h.read("/etc/missing")
    ('hi', None)
    """

    def __init__(self, target: str, root: str = "/") -> None:
        import testinfra

        self.target, self.root = target, root
        try:
            self._host = testinfra.get_host(target)
        except Exception as exc:  # noqa: BLE001 - any backend failure is this probe's error
            raise ProbeError(f"host {target}: {exc}".splitlines()[0]) from None

    def path(self, path: str) -> str:
        return posixpath.join(self.root, path.lstrip("/"))

    def read(self, path: str) -> str | None:
        """The file's text, or None when it does not exist."""
        full = self.path(path)
        try:
            f = self._host.file(full)
            if not f.exists:
                return None
            return f.content_string
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"cannot read {full} on {self.target}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                             full) from None


def host_files(pc: ProbeContext, site: Site) -> HostFiles:
    """The site's host (one per site and run); an error when the inventory gives none."""
    if site.host is None:
        raise ProbeError(f"the inventory gives no host for {site.name}, so its files cannot "
                         "be read")
    key = ("host", site.name)
    if key not in pc.cache:
        pc.cache[key] = HostFiles(site.host.target, site.host.root)
    return pc.cache[key]


@probe("host.gitlab_version")
def gitlab_version(pc: ProbeContext, site: Site | None) -> tuple[Any, str]:
    """The installed GitLab version and whether this is a Linux package install."""
    assert site is not None
    host = host_files(pc, site)
    text = host.read(VERSION_FILE)
    manifest = next((m for m in MANIFESTS if host.read(m) is not None), None)
    return ({"version": text.strip() if text else None,
             "install": "linux-package" if manifest else "unknown",
             "manifest": manifest},
            f"{site.host.target if site.host else ''}{host.path(VERSION_FILE)}")
