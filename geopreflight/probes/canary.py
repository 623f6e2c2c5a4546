"""`--canary`: the one write geopreflight ever makes, and only when asked.

It pushes a tiny image (one small layer) to the primary's registry, beside a repository that
already exists there (`<first catalog entry>/geopreflight-canary`, so it lands in an existing
project), then polls every secondary's registry until the same tag answers with the same
digest. That proves Geo replication end to end, where the Geo status can show 100% for a
replication that is broken (https://docs.gitlab.com/administration/geo/replication/
container_registry/). The image stays in the registries; its tag
names the time of the run.

Its facts go through `facts.observe` like every probe's (an unreachable registry is an error
fact, never a crash), but it is not in `PROBES`: only the `--canary` hook
(geopreflight/canary.py) runs it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import time

from ..failures import Kind, ProbeFailure, status_kind
from ..http import Http, Reply, Unreachable
from ..inventory import Inventory, Site
from ..urls import BadUrl, joined, parse, same_origin
from . import ProbeContext, ProbeError, request_error, wrapped
from .registry import CATALOG_SCOPE, challenge, token

REPOSITORY_SUFFIX = "geopreflight-canary"
POLL_S = 1.0
DEFAULT_WAIT_S = 60.0
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MAX_REDIRECTS = 3  # the registry to object storage, and a hop there


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image(tag: str) -> tuple[list[bytes], bytes]:
    """The blobs (config, layer) and the OCI manifest of a one-file image.

    >>> blobs, manifest = image("c1")
    >>> json.loads(manifest)["layers"][0]["digest"] == _digest(blobs[1])
    True
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = f"geopreflight canary {tag}\n".encode()
        info = tarfile.TarInfo("canary.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [_digest(raw.getvalue())]}},
                        separators=(",", ":")).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _digest(layer), "size": len(layer)}]},
        separators=(",", ":")).encode()
    return [config, layer], manifest


class Canary:
    """Push to the primary, then watch the secondaries; every request through `Http` (its
    deadline, body cap, URL parser and credential guard), the push token to the registry's
    own origin only."""

    def __init__(self, inventory: Inventory, wait_s: float) -> None:
        self.inventory = inventory
        self.wait_s = wait_s or DEFAULT_WAIT_S
        self.timeout = (inventory.timeouts.connect_s, inventory.timeouts.read_s)

    def _token(self, site: Site, scope: str) -> tuple[str, str]:
        """The registry URL and a token for `scope`, through the site's Bearer challenge. The
        URL is the site's own (`registry.internal_url` where given: past a location-aware
        DNS); the token comes from the realm it names, on the site's gitlab.url only."""
        if site.registry is None:
            raise ProbeError(f"the inventory gives no registry for {site.name}")
        base = site.registry.own_url
        pc = ProbeContext(self.inventory, Http(*self.timeout))  # fresh: no cached answers
        try:
            params = challenge(pc.http.get(f"{base}/v2/", verify=site.gitlab.verify))
        except Unreachable as exc:
            raise wrapped(f"{site.name}'s registry", exc, f"{base}/v2/") from None
        if not params or not params.get("realm"):
            raise ProbeError(f"GET {base}/v2/ gives no Bearer challenge")
        bearer, why = token(pc, site, params["realm"], scope)
        if bearer is None:
            raise ProbeError(why.line, failure=why)
        return base, bearer

    def _send(self, site: Site, method: str, url: str, bearer: str,
              headers: dict[str, str] | None = None, data: bytes | None = None) -> Reply:
        """One request with the bearer token, to the site's registry origin only; a fresh
        client each time, so a poll is asked again, not answered from a cache."""
        assert site.registry is not None
        headers = {"Authorization": f"Bearer {bearer}", **(headers or {})}
        http, base = Http(*self.timeout), site.registry.own_url
        try:
            if method in ("GET", "HEAD"):
                return http.get(url, headers=headers, verify=site.gitlab.verify, method=method,
                                credentials_for=base)
            return http.write(method, url, headers=headers, data=data,
                              verify=site.gitlab.verify, credentials_for=base)
        except Unreachable as exc:
            raise ProbeError(str(exc), url, exc.failure) from None

    def repository(self) -> str:
        site = self.inventory.primary
        base, bearer = self._token(site, CATALOG_SCOPE)
        r = self._send(site, "GET", f"{base}/v2/_catalog?n=1", bearer)
        try:
            repos = r.json().get("repositories") if r.status == 200 else None
        except (ValueError, AttributeError):
            repos = None
        if not repos:
            raise request_error("GET", f"{base}/v2/_catalog?n=1", f"{r.status}, no repository "
                                "to put the canary beside (it must land in an existing "
                                "project)", "", status=r.status)
        return f"{repos[0]}/{REPOSITORY_SUFFIX}"

    def push(self, repo: str, tag: str) -> str:
        """Push the canary image; its manifest digest."""
        site = self.inventory.primary
        base, bearer = self._token(site, f"repository:{repo}:push,pull")
        blobs, manifest = image(tag)
        for blob in blobs:
            r = self._send(site, "POST", f"{base}/v2/{repo}/blobs/uploads/", bearer)
            if r.status == 405:
                raise request_error("POST", f"{base}/v2/{repo}/blobs/uploads/", "405, the "
                                    "primary registry is in read-only mode", "", status=405)
            if r.status != 202 or "Location" not in r.headers:
                raise request_error("POST", f"{base}/v2/{repo}/blobs/uploads/", f"{r.status}",
                                    "", status=r.status)
            loc = _upload_location(base, repo, r.headers["Location"])
            sep = "&" if "?" in loc else "?"
            r = self._send(site, "PUT", f"{loc}{sep}digest={_digest(blob)}", bearer, data=blob,
                           headers={"Content-Type": "application/octet-stream"})
            if r.status != 201:
                why = f"PUT blob {_digest(blob)[:19]}: {r.status}"
                raise ProbeError(why, failure=ProbeFailure(status_kind(r.status), why, loc,
                                                           r.status))
        r = self._send(site, "PUT", f"{base}/v2/{repo}/manifests/{tag}", bearer, data=manifest,
                       headers={"Content-Type": OCI_MANIFEST})
        if r.status != 201:
            raise request_error("PUT", f"{base}/v2/{repo}/manifests/{tag}", f"{r.status}", "",
                                status=r.status)
        return r.headers.get("Docker-Content-Digest") or _digest(manifest)

    def seen(self, site: Site, repo: str, tag: str, digest: str, deadline: float
             ) -> tuple[float, str]:
        """Seconds until the secondary serves the tag with the digest, the manifest by
        digest and the layer blob with its content, and where the blob came from;
        ProbeError at the deadline. In database mode the manifest comes from the database,
        so only the blob proves the storage was replicated."""
        t0, last, status = time.monotonic(), "not asked", None  # status: of the last answer
        layer = _digest(image(tag)[0][1])
        while True:
            try:
                base, bearer = self._token(site, f"repository:{repo}:pull")
                r = self._send(site, "HEAD", f"{base}/v2/{repo}/manifests/{tag}", bearer,
                               headers={"Accept": OCI_MANIFEST})
                got = r.headers.get("Docker-Content-Digest")
                last, status = f"{r.status}" + (f", digest {got}" if got else ""), r.status
                if r.status == 200 and got == digest:
                    r = self._send(site, "GET", f"{base}/v2/{repo}/manifests/{digest}", bearer,
                                   headers={"Accept": OCI_MANIFEST})
                    last, status = f"manifest by digest: {r.status}", r.status
                    if r.status == 200 and _digest(r.body) == digest:
                        via, problem, status = self._blob(site, base, bearer, repo, layer)
                        if problem is None:
                            return time.monotonic() - t0, via
                        last = f"layer blob {layer[:19]}: {problem}"
            except ProbeError as exc:
                last, status = str(exc), exc.failure.status
            if time.monotonic() >= deadline:
                why = (f"{repo}:{tag} not on {site.name}'s registry after "
                       f"{time.monotonic() - t0:.0f} s (last answer: {last})")
                raise ProbeError(why, failure=ProbeFailure(Kind.TIMEOUT, why, status=status))
            time.sleep(POLL_S)


    def _blob(self, site: Site, base: str, bearer: str, repo: str, layer: str
              ) -> tuple[str, str | None, int | None]:
        """GET the layer blob, following at most MAX_REDIRECTS redirects (object storage
        answers through a pre-signed URL): the token goes only to the registry's own origin,
        a redirect elsewhere is asked without it. Returns where the blob came from, the
        problem (None: the content has its digest) and the last answer's status."""
        url, via = f"{base}/v2/{repo}/blobs/{layer}", "the registry"
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                if same_origin(url, base):
                    r = self._send(site, "GET", url, bearer)
                else:
                    r = Http(*self.timeout).get(url, verify=site.gitlab.verify)
            except (ProbeError, Unreachable) as exc:
                return via, str(exc), exc.failure.status
            if r.status in (301, 302, 303, 307, 308) and r.headers.get("Location"):
                try:
                    url = joined(url, r.headers["Location"])
                except BadUrl as exc:
                    return via, f"the blob's redirect {exc}", r.status
                via = f"a redirect to {parse(url).origin}"
                continue
            if r.status != 200:
                return via, f"{r.status} from {via}", r.status
            if _digest(r.body) != layer:
                return via, f"content from {via} does not match its digest", r.status
            return via, None, r.status
        return via, f"more than {MAX_REDIRECTS} redirects", None


def _upload_location(base: str, repo: str, location: str) -> str:
    """The upload URL the registry's `Location` names, on the registry's own origin only:
    the push token follows no Location elsewhere (a path, or the same scheme, host, port)."""
    where = f"{base}/v2/{repo}/blobs/uploads/"
    try:
        url = joined(base, location)
    except BadUrl as exc:
        raise request_error("POST", where, f"the upload Location {exc}; the push token was "
                            "not sent there", "", kind=Kind.NOT_SENT) from None
    if not same_origin(url, base):
        raise request_error("POST", where, "the upload Location is on another origin than "
                            f"the registry ({base}); the push token was not sent there", "",
                            kind=Kind.NOT_SENT)
    return url
