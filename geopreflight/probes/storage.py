"""The registry's lockfiles in object storage (S3 or S3-compatible), read only.

With `registry.storage.s3` in the inventory, each lockfile is asked for with one signed HEAD
(AWS Signature Version 4, the documented scheme every S3-compatible server takes), through the
run's `Http` client, so the total deadline, the body cap and the never-write rule hold as for
every other request. Keys: `<root_directory>/docker/registry/lockfiles/<name>`, as the
registry's storage driver lays them out under its rootdirectory
(https://docs.gitlab.com/administration/packages/container_registry_metadata_database/).
Without `registry.storage`, nothing is asked: the checks say what they decided without it.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from ..http import Unreachable
from ..inventory import S3Storage, Site
from ..registry_config import LOCKFILE_DIR, LOCKFILES
from . import ProbeContext, ProbeError, probe
from .models import Lockfiles

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign_v4(method: str, url: str, region: str, access_key: str, secret_key: str,
            now: datetime) -> dict[str, str]:
    """The headers of a SigV4-signed request without a body (HEAD or GET) for service s3.

    >>> h = sign_v4("HEAD", "http://127.0.0.1:9000/b/k", "us-east-1", "AK", "SK",
    ...             datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    >>> h["x-amz-date"], h["Authorization"].split(", ")[0]
    ('20260102T030405Z', 'AWS4-HMAC-SHA256 Credential=AK/20260102/us-east-1/s3/aws4_request')
    """
    parts = urlsplit(url)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"host": parts.netloc, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, quote(parts.path or "/", safe="/-_.~"), parts.query,
                           *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed,
                           EMPTY_SHA256])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), "s3"),
                "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {"x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                             f"SignedHeaders={signed}, Signature={signature}"}


def object_url(st: S3Storage, name: str) -> str:
    """Path-style URL of a lockfile (works on AWS and on S3-compatible servers alike).

    >>> from geopreflight.inventory import Secret
    >>> st = S3Storage("https://s3.example.com", "b", "r", Secret("a", "A"), Secret("s", "S"),
    ...                "/reg")
    >>> object_url(st, "database-in-use")
    'https://s3.example.com/b/reg/docker/registry/lockfiles/database-in-use'
    """
    key = posixpath.join(st.root_directory.strip("/"), LOCKFILE_DIR, name).lstrip("/")
    return f"{st.endpoint.rstrip('/')}/{st.bucket}/{quote(key, safe='/-_.~')}"


@probe("storage.lockfiles")
def storage_lockfiles(pc: ProbeContext, site: Site | None) -> tuple[Lockfiles, str]:
    """HEAD each lockfile in the site's bucket: 200 present, 404 absent, else an error."""
    assert site is not None
    st = site.registry.storage if site.registry else None
    if st is None:
        return (Lockfiles(False, why=f"the inventory gives no registry.storage for "
                                     f"{site.name}, so a bucket's lockfiles are not read"),
                "inventory (no registry.storage)")
    found: dict[str, bool] = {}
    for name in LOCKFILES:
        url = object_url(st, name)
        headers = sign_v4("HEAD", url, st.region, st.access_key.reveal(),
                          st.secret_key.reveal(), datetime.now(UTC))
        try:
            reply = pc.http.get(url, headers=headers, method="HEAD")
        except Unreachable as exc:
            raise ProbeError(f"{site.name}'s registry bucket: {exc}", url) from None
        if reply.status not in (200, 404):
            hint = " (the key needs s3:GetObject on the bucket)" if reply.status == 403 else ""
            raise ProbeError(f"HEAD {url}: {reply.status}, expected 200 or 404{hint}", url)
        found[name] = reply.status == 200
    where = object_url(st, "").rstrip("/")
    return (Lockfiles(True, dir=where, database_in_use=found["database-in-use"],
                      filesystem_in_use=found["filesystem-in-use"]),
            f"HEAD {where}/{{{','.join(LOCKFILES)}}} (S3 SigV4)")
