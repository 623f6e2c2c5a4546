"""The thin front that makes Debian's registry answer like the GitLab container registry.

What it adds is what the GitLab registry adds and nothing else (lab notes, "How the GitLab
registry reveals database mode"; fact sheet C1/C2):

- on an authorised `GET|HEAD /v2/` 200: `Gitlab-Container-Registry-Version`, `-Features`
  (`tag_delete`) and `-Database-Enabled: true|false`; the 401 challenge passes through untouched;
- `/gitlab/v1/`: 401 without a valid token (auth comes first, in both modes), then 200 `{}` in
  database mode, or 404 with an empty body and only the version header in legacy mode;
- in database mode, a tagged manifest push also writes the metadata rows, as the GitLab
  registry does, so the database follows the pushes.

Mode comes from the site's rendered `config.yml` (re-read when it changes) and, for `prefer`,
the `filesystem-in-use` lockfile. With `gitlab=False` (scenario `registry.vendor: upstream`)
it adds nothing: an upstream distribution registry. Everything else, including authorisation
and the 405 that read-only maintenance mode gives to writes, is the real registry behind it.
"""

from __future__ import annotations

import fnmatch
import http.client
import json
import os
import re
import threading
import time
import urllib.parse
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab import hostroot
from lab.tokens import fingerprint

FEATURES = "tag_delete"
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection",
       "upgrade", "te", "trailer"}
MANIFEST_PUT = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
BLOB_GET = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>sha256:[0-9a-f]+)$")



LATENCY_S = float(os.environ.get("LAB_LATENCY_MS") or 0) / 1000  # added to every answer

class Front(ThreadingHTTPServer):
    """One site's registry front on host:port, proxying to the registry on upstream_port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, *, upstream_port: int, root: Path,
                 registry_version: str, dsn: str | None = None, log: Path | None = None,
                 gitlab: bool = True, blobs_lost: list[str] = ()) -> None:
        super().__init__((host, port), _Handler)
        self.blobs_lost = list(blobs_lost)  # repository globs whose blobs the storage lacks
        self.gitlab = gitlab  # False: an upstream distribution registry, nothing added
        self.upstream_port = upstream_port
        self.root = Path(root)
        self.registry_version = registry_version
        self.dsn = dsn
        self.log_path = log
        self.port = self.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._cfg: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def config(self) -> dict[str, Any]:
        """The rendered config.yml, re-read whenever its mtime changes."""
        path = self.root / hostroot.CONFIG_YML
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        with self._lock:
            if self._cfg is None or self._cfg[0] != mtime:
                self._cfg = (mtime, hostroot.read_config(self.root) or {})
            return self._cfg[1]

    def database_enabled(self) -> bool:
        """`Database.IsEnabled()`: true, or prefer without filesystem metadata in use."""
        enabled = (self.config().get("database") or {}).get("enabled", False)
        if enabled in (True, "true"):
            return True
        if enabled == "prefer":
            return not (self.root / hostroot.LOCKFILES / "filesystem-in-use").exists()
        return False

    def record(self, method: str, path: str, status: int, auth: str | None) -> None:
        """One line of front.log; of the Authorization header only its fingerprint (a test
        compares it with what object storage saw, lab/s3proxy.py)."""
        if self.log_path:
            with self._lock, open(self.log_path, "a") as fh:
                fh.write(json.dumps({"t": time.time(), "method": method, "path": path,
                                     "status": status,
                                     "auth_sha256": fingerprint(auth) if auth else None})
                         + "\n")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up (port probes); report anything else."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def shutdown(self) -> None:
        super().shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Front
    protocol_version = "HTTP/1.1"

    def parse_request(self) -> bool:
        """Every request waits LAB_LATENCY_MS first (scripts/bench: a far-away site)."""
        ok = super().parse_request()
        if ok and LATENCY_S:
            time.sleep(LATENCY_S)
        return ok

    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else None

    def _upstream(self, method: str, path: str, body: bytes | None,
                  headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheaders(), data
        finally:
            conn.close()

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes,
               length: str | None = None) -> None:
        self.send_response_only(status)
        names = {k.lower() for k, _ in headers}
        if "date" not in names:
            self.send_header("Date", formatdate(usegmt=True))
        for k, v in headers:
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", length if length is not None else str(len(body)))
        self.end_headers()
        self.server.record(self.command, self.path, status,  # logged before the client has it
                           self.headers.get("Authorization"))
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _handle(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        body = self._body()
        fwd = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        try:
            if path.startswith("/gitlab/v1") and self.server.gitlab:
                self._gitlab_v1(path, fwd)
                return
            lost = BLOB_GET.match(path)
            if lost and self.command in ("GET", "HEAD") and any(
                    fnmatch.fnmatch(lost["name"], pat) for pat in self.server.blobs_lost):
                self._reply(404, [("Content-Type", "application/json")], json.dumps(
                    {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to "
                                 "registry"}]}).encode())  # lab knob: registry.blobs_lost
                return
            status, headers, data = self._upstream(self.command, self.path, body, fwd)
        except OSError as exc:
            self._reply(502, [("Content-Type", "text/plain")], f"upstream: {exc}\n".encode())
            return
        length = next((v for k, v in headers if k.lower() == "content-length"), None)
        if path == "/v2/" and self.command in ("GET", "HEAD") and status == 200 \
                and self.server.gitlab:
            headers = [*headers,
                       ("Gitlab-Container-Registry-Version", self.server.registry_version),
                       ("Gitlab-Container-Registry-Features", FEATURES),
                       ("Gitlab-Container-Registry-Database-Enabled",
                        "true" if self.server.database_enabled() else "false")]
        m = MANIFEST_PUT.match(path)
        if self.command == "PUT" and status == 201 and m and body is not None \
                and self.server.gitlab and self.server.database_enabled() \
                and not m["ref"].startswith("sha256:"):
            err = self._record_rows(m["name"], m["ref"], body, headers)
            if err:
                status, headers, data = 500, [("Content-Type", "application/json")], json.dumps(
                    {"errors": [{"code": "UNKNOWN", "message": "unknown error",
                                 "detail": err}]}).encode()
                length = None
        self._reply(status, headers, data, length if self.command == "HEAD" else None)

    def _record_rows(self, repo: str, tag: str, body: bytes,
                     headers: list[tuple[str, str]]) -> str | None:
        """What the GitLab registry writes on a tagged manifest push in database mode."""
        import psycopg

        from lab import metadata

        if not self.server.dsn:
            return "no metadata database configured"
        digest = next((v for k, v in headers if k.lower() == "docker-content-digest"), "")
        try:
            m = json.loads(body)
            descs = [m["config"], *m.get("layers", [])] if "config" in m else []
            img = metadata.Image(repo, tag, digest, m.get("mediaType", ""), body,
                                 [{"digest": d["digest"], "mediaType": d["mediaType"],
                                   "size": d["size"]} for d in descs])
            with psycopg.connect(self.server.dsn, connect_timeout=5) as conn:
                metadata.record_manifest(conn, img)
        except (ValueError, KeyError, psycopg.Error) as exc:
            return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None

    def _gitlab_v1(self, path: str, fwd: dict[str, str]) -> None:
        version = ("Gitlab-Container-Registry-Version", self.server.registry_version)
        auth = {k: v for k, v in fwd.items() if k.lower() in ("authorization", "host")}
        status, headers, data = self._upstream("GET", "/v2/", None, auth)
        if status == 401:
            keep = [(k, v) for k, v in headers if k.lower() in ("www-authenticate", "content-type")]
            self._reply(401, keep, data)
        elif not self.server.database_enabled():
            self._reply(404, [version], b"")
        elif path == "/gitlab/v1/":
            self._reply(200, [("Content-Type", "application/json"), version], b"{}")
        else:
            self._reply(404, [("Content-Type", "application/json"), version], json.dumps(
                {"errors": [{"code": "NOT_FOUND", "message": "not found in the lab's front"}]}
            ).encode())

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def serve(host: str, port: int, **kw: Any) -> Front:
    """Start a front in a background thread."""
    front = Front(host, port, **kw)
    threading.Thread(target=front.serve_forever, daemon=True, name=f"front:{front.port}").start()
    return front
