"""What a secondary trusts when it connects to the primary registry over HTTPS.

GitLab's Linux package links its embedded OpenSSL to `/opt/gitlab/embedded/ssl/certs`: the
bundled `cacert.pem` (the public CAs) plus every certificate an administrator puts in
`/etc/gitlab/trusted-certs` (linked there by `gitlab-ctl reconfigure`,
https://docs.gitlab.com/omnibus/settings/ssl/#install-custom-public-certificates). The
secondary's Rails and Sidekiq use that store for geo_registry_replication_primary_api_url, so
the checker verifies the primary registry against the same certificates, read from the
secondary's host, not against its own CA bundle.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import certifi

from ..inventory import Site
from . import ProbeContext

TRUSTED_CERTS = "/etc/gitlab/trusted-certs"
EMBEDDED_BUNDLE = "/opt/gitlab/embedded/ssl/certs/cacert.pem"
PEM_BEGIN = "-----BEGIN CERTIFICATE-----"


@contextlib.contextmanager
def host_trust(pc: ProbeContext, site: Site) -> Iterator[tuple[str, str]]:
    """A CA bundle file holding what the site's host trusts, and a note of what it holds.
    ProbeError when the host's certificates cannot be read."""
    from .host import host_files

    host = host_files(pc, site)
    custom = host.certificates(TRUSTED_CERTS) or ""
    count = custom.count(PEM_BEGIN)
    embedded = host.read(EMBEDDED_BUNDLE)
    where = f"{count} certificate(s) in {TRUSTED_CERTS} on {host.where}"
    if embedded is None:  # not the Linux package's layout: stand in the public CAs for it
        embedded = Path(certifi.where()).read_text()
        where += f" and the public CAs (no {EMBEDDED_BUNDLE} there)"
    else:
        where += f" and {EMBEDDED_BUNDLE}"
    fd, path = tempfile.mkstemp(prefix="gp-trust-", suffix=".pem")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(embedded + "\n" + custom)
        yield path, where
    finally:
        os.unlink(path)

