"""A small registry client over the Distribution API: token auth, push, copy, inspect.

Enough of what `docker push`/`skopeo copy` do to move real images between real registries:
the bearer-token dance (401 challenge -> token -> retry), monolithic blob uploads, manifests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable
from urllib.parse import urljoin

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
D2_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
D2_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join([OCI_MANIFEST, D2_MANIFEST, OCI_INDEX, D2_LIST])

TokenFn = Callable[[str, str], str]  # (challenge realm/service header, scope) -> bearer token


class RegistryError(Exception):
    """A registry answered something other than what the operation needed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def basic_auth_tokens(username: str, password: str, timeout: float = 10) -> TokenFn:
    """Tokens from the challenge's realm (GitLab's `/jwt/auth`) with HTTP basic auth."""

    def get(challenge: str, scope: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        q = {"service": params.get("service", "container_registry")}
        if scope:
            q["scope"] = scope
        r = requests.get(params["realm"], params=q, auth=(username, password), timeout=timeout)
        if r.status_code != 200:
            raise RegistryError(f"token request to {params['realm']} answered {r.status_code}",
                                r.status_code)
        return r.json()["token"]

    return get


class Client:
    """One registry (base URL) with a token source; tokens are cached per scope."""

    def __init__(self, base: str, tokens: TokenFn | None, timeout: float = 10) -> None:
        self.base = base.rstrip("/")
        self.tokens = tokens
        self.timeout = timeout
        self._cache: dict[str, str] = {}
        self.session = requests.Session()

    def request(self, method: str, path: str, scope: str = "", **kw: object) -> requests.Response:
        url = path if path.startswith("http") else self.base + path
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if scope in self._cache:
            headers["Authorization"] = f"Bearer {self._cache[scope]}"
        r = self.session.request(method, url, headers=headers, timeout=self.timeout,
                                 allow_redirects=False, **kw)  # type: ignore[arg-type]
        challenge = r.headers.get("WWW-Authenticate", "")
        if r.status_code == 401 and self.tokens and "Bearer" in challenge:
            self._cache[scope] = self.tokens(challenge, scope)
            headers["Authorization"] = f"Bearer {self._cache[scope]}"
            r = self.session.request(method, url, headers=headers, timeout=self.timeout,
                                     allow_redirects=False, **kw)  # type: ignore[arg-type]
        return r

    # -- reads --------------------------------------------------------------------------------
    def manifest(self, repo: str, ref: str) -> tuple[bytes, str, str] | None:
        """(payload, media type, digest) or None when the manifest is unknown."""
        r = self.request("GET", f"/v2/{repo}/manifests/{ref}", f"repository:{repo}:pull",
                         headers={"Accept": ACCEPT})
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise RegistryError(f"GET manifest {repo}:{ref}: {r.status_code}", r.status_code)
        return r.content, r.headers["Content-Type"], r.headers.get("Docker-Content-Digest",
                                                                   sha256(r.content))

    def digest(self, repo: str, ref: str) -> str | None:
        found = self.manifest(repo, ref)
        return found[2] if found else None

    def tags(self, repo: str) -> list[str]:
        r = self.request("GET", f"/v2/{repo}/tags/list", f"repository:{repo}:pull")
        if r.status_code == 404:
            return []
        if r.status_code != 200:
            raise RegistryError(f"GET tags {repo}: {r.status_code}", r.status_code)
        return sorted(r.json().get("tags") or [])

    def catalog(self) -> list[str]:
        r = self.request("GET", "/v2/_catalog?n=1000", "registry:catalog:*")
        if r.status_code != 200:
            raise RegistryError(f"GET catalog: {r.status_code}", r.status_code)
        return sorted(r.json().get("repositories") or [])

    def blob(self, repo: str, digest: str) -> bytes:
        """The blob's bytes; a redirect (object storage's pre-signed URL) is followed once,
        without the registry's token, as Geo's sync does."""
        r = self.request("GET", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull")
        if r.is_redirect:
            r = self.session.get(urljoin(r.url, r.headers["Location"]), timeout=self.timeout,
                                 allow_redirects=False)
        if r.status_code != 200:
            raise RegistryError(f"GET blob {repo}@{digest}: {r.status_code}", r.status_code)
        if sha256(r.content) != digest:
            raise RegistryError(f"blob {digest} arrived with another digest")
        return r.content

    # -- writes -------------------------------------------------------------------------------
    def upload_blob(self, repo: str, data: bytes) -> str:
        d = sha256(data)
        scope = f"repository:{repo}:pull,push"
        if self.request("HEAD", f"/v2/{repo}/blobs/{d}", scope).status_code == 200:
            return d
        r = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope)
        if r.status_code != 202:
            raise RegistryError(
                f"POST blob upload {repo}: {r.status_code} {r.text[:200].strip()}", r.status_code)
        loc = r.headers["Location"]
        loc = self.base + loc if loc.startswith("/") else loc
        r = self.request("PUT", f"{loc}{'&' if '?' in loc else '?'}digest={d}", scope, data=data,
                         headers={"Content-Type": "application/octet-stream"})
        if r.status_code != 201:
            raise RegistryError(f"PUT blob {repo}@{d}: {r.status_code}", r.status_code)
        return d

    def put_manifest(self, repo: str, ref: str, payload: bytes, media_type: str) -> str:
        r = self.request("PUT", f"/v2/{repo}/manifests/{ref}", f"repository:{repo}:pull,push",
                         data=payload, headers={"Content-Type": media_type})
        if r.status_code != 201:
            raise RegistryError(
                f"PUT manifest {repo}:{ref}: {r.status_code} {r.text[:200].strip()}", r.status_code)
        return r.headers.get("Docker-Content-Digest", sha256(payload))


def _layer(text: str) -> tuple[bytes, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        data = text.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(data), 0
        tf.addfile(info, io.BytesIO(data))
    tar = raw.getvalue()
    return gzip.compress(tar, mtime=0), sha256(tar)


def build_image(repo: str, tag: str, salt: str = "") -> tuple[list[bytes], bytes]:
    """A tiny real OCI image: ([config, layer], manifest). Same inputs, same digest."""
    layer, diff_id = _layer(f"hello from {repo}:{tag}{salt}\n")
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/hello.txt"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}},
                        separators=(",", ":")).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}],
    }, separators=(",", ":")).encode()
    return [config, layer], manifest


def push(client: Client, repo: str, tag: str, salt: str = "") -> str:
    """Push a tiny image as repo:tag; returns the manifest digest."""
    blobs, manifest = build_image(repo, tag, salt)
    for b in blobs:
        client.upload_blob(repo, b)
    return client.put_manifest(repo, tag, manifest, OCI_MANIFEST)


def copy(src: Client, dst: Client, repo: str, tag: str) -> str:
    """Pull repo:tag from `src` and push it to `dst` byte for byte (same digest)."""
    found = src.manifest(repo, tag)
    if found is None:
        raise RegistryError(f"{repo}:{tag} not found on the source", 404)
    payload, media_type, digest = found
    m = json.loads(payload)
    if media_type in (OCI_INDEX, D2_LIST):
        for child in m.get("manifests", []):
            sub = src.manifest(repo, child["digest"])
            if sub is None:
                raise RegistryError(f"{repo}@{child['digest']} not found on the source", 404)
            _copy_blobs(src, dst, repo, json.loads(sub[0]))
            dst.put_manifest(repo, child["digest"], sub[0], sub[1])
    else:
        _copy_blobs(src, dst, repo, m)
    got = dst.put_manifest(repo, tag, payload, media_type)
    if got != digest:
        raise RegistryError(f"{repo}:{tag} landed as {got}, expected {digest}")
    return digest


def _copy_blobs(src: Client, dst: Client, repo: str, manifest: dict) -> None:
    for desc in [manifest.get("config"), *manifest.get("layers", [])]:
        if desc:
            dst.upload_blob(repo, src.blob(repo, desc["digest"]))


def split_ref(image: str) -> tuple[str, str]:
    """`group/app:v1` -> ("group/app", "v1"); no tag means `latest`."""
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, "latest"
    return name, tag
