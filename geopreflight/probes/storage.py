"""The registry's lockfiles in object storage (S3 or S3-compatible), read only.

With `registry.storage.s3` in the inventory, each lockfile is asked for with one signed HEAD
(AWS Signature Version 4, the documented scheme every S3-compatible server takes, signed by
botocore), verified with the public CAs (AWS and most S3 services), through the run's `Http`
client, so the total deadline, the body cap and the never-write rule hold as for every other
request. Keys: `<root_directory>/docker/registry/lockfiles/<name>`, as the
registry's storage driver lays them out under its rootdirectory
(https://docs.gitlab.com/administration/packages/container_registry_metadata_database/).
Without `registry.storage`, nothing is asked: the checks say what they decided without it.
"""

from __future__ import annotations

import hashlib
import posixpath
from urllib.parse import quote

from ..http import Unreachable
from ..inventory import S3Storage, Site
from ..registry_config import LOCKFILE_DIR, LOCKFILES
from . import ProbeContext, probe, request_error, wrapped
from .models import Lockfiles

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def signed_headers(method: str, url: str, st: S3Storage) -> dict[str, str]:
    """The SigV4 headers of a request without a body (HEAD or GET), signed by botocore, AWS's
    own SDK: the signing is the maintained client's, the transport is ours (`Http`).

    >>> from geopreflight.inventory import Secret
    >>> st = S3Storage("http://127.0.0.1:9000", "b", "us-east-1", Secret("AK", "$K"),
    ...                Secret("SK", "$S"), "/")
    >>> h = signed_headers("HEAD", "http://127.0.0.1:9000/b/k", st)
    >>> sorted(h), h["Authorization"].split("/")[0]
    (['Authorization', 'X-Amz-Content-SHA256', 'X-Amz-Date'], 'AWS4-HMAC-SHA256 Credential=AK')
    """
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=url, headers={"x-amz-content-sha256": EMPTY_SHA256})
    S3SigV4Auth(Credentials(st.access_key.reveal(), st.secret_key.reveal()), "s3",
                st.region).add_auth(req)
    return {k: v for k, v in req.headers.items()
            if k.lower() in ("authorization", "x-amz-date", "x-amz-content-sha256")}


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
        try:
            reply = pc.http.get(url, headers=signed_headers("HEAD", url, st), method="HEAD",
                                 credentials_for=st.endpoint)
        except Unreachable as exc:
            raise wrapped(f"{site.name}'s registry bucket", exc, url) from None
        if reply.status not in (200, 404):
            hint = " (the key needs s3:GetObject on the bucket)" if reply.status == 403 else ""
            raise request_error("HEAD", url, f"{reply.status}, expected 200 or 404{hint}",
                                status=reply.status)
        found[name] = reply.status == 200
    where = object_url(st, "").rstrip("/")
    return (Lockfiles(True, dir=where, database_in_use=found["database-in-use"],
                      filesystem_in_use=found["filesystem-in-use"]),
            f"HEAD {where}/{{{','.join(LOCKFILES)}}} (S3 SigV4)")
