"""A stand-in for the GitLab API of one site.

GitLab cannot run on these machines, so this is the one part of the lab that is not the real
thing. It follows the documented endpoints and JSON shapes (`doc/api/geo_sites.md`,
`doc/api/version.md`, `doc/api/metadata.md`, the `/jwt/auth` token service, the registry
notification endpoint) as recorded in `shared/reference/gitlab-facts.md` (D1-D5, C1b, E1).

A secondary's stand-in proxies API requests to the primary's, as a Geo secondary's Workhorse
does by default, except the routes a secondary serves itself (fact sheet D1). So asking a
secondary for `/api/v4/version` returns the primary's version; a site's own version shows only
in its Geo status.

The server re-reads its state file on every request, so the lab changes a site by rewriting the
file (write a temporary file, then `os.replace`).

>>> srv = serve({"site": "s", "version": "17.10.2-ee", "revision": "r", "users": []})
>>> srv.url.startswith("http://127.0.0.1:")
True
>>> srv.shutdown()
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import threading
import time
import urllib.parse
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

LOCAL_ROUTES = (
    "/api/v4/geo_replication",
    "/api/v4/internal",
    "/api/v4/geo_sites/current/failures",
    "/api/v4/geo_nodes/current/failures",
)
REPLICABLE = "container_repositories"


def site_object(
    site_id: int, name: str, url: str, *, primary: bool, internal_url: str | None = None,
    api_base: str | None = None,
) -> dict[str, Any]:
    """A Geo site as `GET /geo_sites` shows it (documented fields)."""
    base = (api_base or url).rstrip("/")
    url = url.rstrip("/") + "/"
    return {
        "id": site_id,
        "name": name,
        "url": url,
        "internal_url": (internal_url or url).rstrip("/") + "/",
        "primary": primary,
        "enabled": True,
        "current": False,
        "files_max_capacity": 10,
        "repos_max_capacity": 25,
        "verification_max_capacity": 100,
        "container_repositories_max_capacity": 10,
        "selective_sync_type": None,
        "selective_sync_shards": [],
        "selective_sync_namespace_ids": [],
        "minimum_reverification_interval": 7,
        "sync_object_storage": False,
        "blob_download_timeout": 28800,
        "web_edit_url": f"{base}/admin/geo/sites/{site_id}/edit",
        "_links": {
            "self": f"{base}/api/v4/geo_sites/{site_id}",
            "status": f"{base}/api/v4/geo_sites/{site_id}/status",
            "repair": f"{base}/api/v4/geo_sites/{site_id}/repair",
        },
    }


def percentage(part: int | None, whole: int | None) -> str:
    """GitLab's `"NN.NN%"` formatting; 0 of 0 is `"0.00%"` as in the documented examples.

    >>> percentage(1, 3)
    '33.33%'
    >>> percentage(0, 0)
    '0.00%'
    """
    if not whole:
        return "0.00%"
    return f"{100.0 * (part or 0) / whole:.2f}%"


def status_object(
    site_id: int, *, version: str, revision: str, primary: bool, healthy: bool = True,
    health: str = "Healthy", age_s: float = 30.0, replication_enabled: bool | None = None,
    repositories: int = 0, synced: int | None = None, failed: int | None = None,
    api_base: str = "http://127.0.0.1",
) -> dict[str, Any]:
    """A Geo status as `GET /geo_sites/status` shows it (the documented fields that matter).

    On the primary the checksum fields are filled and the sync fields are null; on a secondary
    the reverse, and `container_repositories_replication_enabled` is set (fact sheet D4).
    """
    now = time.time() - age_s
    status: dict[str, Any] = {
        "geo_node_id": site_id,
        "healthy": healthy,
        "health": health,
        "health_status": "Healthy" if healthy else "Unhealthy",
        "missing_oauth_application": False,
        "db_replication_lag_seconds": None if primary else 0,
        "last_event_id": 100,
        "last_event_timestamp": int(now),
        "cursor_last_event_id": None if primary else 100,
        "cursor_last_event_timestamp": None if primary else int(now),
        "last_successful_status_check_timestamp": int(now),
        "version": version,
        "revision": revision,
        "selective_sync_type": None,
        "namespaces": [],
        "updated_at": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "storage_shards_match": True,
        "container_repositories_replication_enabled": None if primary else replication_enabled,
        "_links": {
            "self": f"{api_base}/api/v4/geo_sites/{site_id}/status",
            "site": f"{api_base}/api/v4/geo_sites/{site_id}",
        },
    }
    set_repository_counts(status, primary=primary, repositories=repositories, synced=synced,
                          failed=failed)
    return status


def set_repository_counts(
    status: dict[str, Any], *, primary: bool, repositories: int, synced: int | None = None,
    failed: int | None = None, verified: int | None = None,
) -> None:
    """Fill the `container_repositories_*` fields the way GitLab does for either role."""
    p = REPLICABLE
    if primary:
        status.update({
            f"{p}_count": repositories, f"{p}_checksum_total_count": repositories,
            f"{p}_checksummed_count": repositories, f"{p}_checksum_failed_count": 0,
            f"{p}_synced_count": None, f"{p}_failed_count": None, f"{p}_registry_count": None,
            f"{p}_verification_total_count": None, f"{p}_verified_count": None,
            f"{p}_verification_failed_count": None,
        })
        status[f"{p}_synced_in_percentage"] = "0.00%"
        status[f"{p}_verified_in_percentage"] = "0.00%"
        return
    synced = repositories if synced is None else synced
    failed = 0 if failed is None else failed
    verified = synced if verified is None else verified  # synced but not verified: failed
    status.update({
        f"{p}_count": repositories, f"{p}_checksum_total_count": None,
        f"{p}_checksummed_count": None, f"{p}_checksum_failed_count": None,
        f"{p}_synced_count": synced, f"{p}_failed_count": failed,
        f"{p}_registry_count": repositories, f"{p}_verification_total_count": repositories,
        f"{p}_verified_count": verified,
        f"{p}_verification_failed_count": failed + synced - verified,
        f"{p}_synced_in_percentage": percentage(synced, repositories),
        f"{p}_verified_in_percentage": percentage(verified, repositories),
    })



LATENCY_S = float(os.environ.get("LAB_LATENCY_MS") or 0) / 1000  # added to every answer

class _Handler(BaseHTTPRequestHandler):
    server: StandIn
    protocol_version = "HTTP/1.1"

    def parse_request(self) -> bool:
        """Every request waits LAB_LATENCY_MS first (scripts/bench: a far-away site)."""
        ok = super().parse_request()
        if ok and LATENCY_S:
            time.sleep(LATENCY_S)
        return ok

    def log_message(self, *args: Any) -> None:  # the request log is ours, below
        pass

    # -- plumbing -------------------------------------------------------------------------
    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.server.record(self.command, self.path, status)  # logged before the client has it
        self.wfile.write(data)

    def _user(self, state: dict[str, Any]) -> dict[str, Any] | None:
        token = self.headers.get("PRIVATE-TOKEN")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[7:]
        for user in state.get("users", []):
            if token and user.get("token") == token:
                return user
        return None

    def _proxy(self, target: str) -> None:
        body = None
        if self.command == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "content-length")}
        try:
            r = requests.request(self.command, target.rstrip("/") + self.path, headers=headers,
                                 data=body, timeout=(5, 30), allow_redirects=False)
        except requests.RequestException:
            self._send(502, {"message": "502 Bad Gateway"})
            return
        passthrough = {k: v for k, v in r.headers.items()
                       if k.lower() in ("link", "x-total", "x-total-pages", "x-page", "x-per-page",
                                        "x-next-page", "www-authenticate")}
        data = r.content
        self.send_response(r.status_code)
        self.send_header("Content-Type", r.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(data)))
        for k, v in passthrough.items():
            self.send_header(k, v)
        self.end_headers()
        self.server.record(self.command, self.path, r.status_code, proxied=True)
        self.wfile.write(data)

    def _dispatch(self) -> None:
        state = self.server.state()
        if state.get("hang"):
            self.server.record(self.command, self.path, None)
            self.server.hung.wait()  # accept, then never answer
            return
        path = urllib.parse.urlsplit(self.path).path
        proxy_to = state.get("proxy_to")
        proxied = path.startswith("/api/v4/") or path == "/jwt/auth"
        if proxy_to and proxied and not path.startswith(LOCAL_ROUTES):
            self._proxy(proxy_to)
            return
        if path == "/jwt/auth" and self.command == "GET":
            self._jwt_auth(state)
        elif path == "/api/v4/container_registry_event/events" and self.command == "POST":
            self._registry_event(state)
        elif path.startswith("/api/v4/") and self.command == "GET":
            self._api(state, path)
        else:
            self._send(404, {"error": "404 Not Found"})

    do_GET = do_POST = do_HEAD = _dispatch

    # -- the API ----------------------------------------------------------------------------
    def _api(self, state: dict[str, Any], path: str) -> None:
        user = self._user(state)
        if user is None:
            self._send(401, {"message": "401 Unauthorized"})
            return
        if path in ("/api/v4/version", "/api/v4/metadata"):
            body = {"version": state["version"], "revision": state["revision"]}
            if path.endswith("metadata"):
                body |= {"kas": {"enabled": False, "externalUrl": None, "version": None},
                         "enterprise": True}
            self._send(200, body)
            return
        if path == "/api/v4/user":
            self._send(200, {"id": 1, "username": user["username"],
                             "is_admin": bool(user.get("admin"))})
            return
        if not path.startswith("/api/v4/geo_sites"):
            self._send(404, {"message": "404 Not Found"})
            return
        if not user.get("admin"):
            self._send(403, {"message": "403 Forbidden"})
            return
        if state.get("admin_mode") and "admin_mode" not in user.get("scopes", []):
            self._send(403, {"message": "403 Forbidden - Admin Mode is enabled: admin_mode scope "
                                        "required"})
            return
        sites = state.get("geo_sites", [])
        statuses = state.get("geo_statuses", [])
        if path == "/api/v4/geo_sites":
            self._paginated(sites)
        elif path == "/api/v4/geo_sites/status":
            self._paginated(statuses)
        elif m := re.fullmatch(r"/api/v4/geo_sites/(\d+)(/status)?", path):
            sid = int(m.group(1))
            pool = statuses if m.group(2) else sites
            key = "geo_node_id" if m.group(2) else "id"
            found = [o for o in pool if o.get(key) == sid]
            if found:
                self._send(200, found[0])
            else:
                self._send(404, {"message": "404 GeoNode Not Found" if not m.group(2)
                                 else "404 Status for Geo site not found"})
        else:
            self._send(404, {"message": "404 Not Found"})

    def _paginated(self, items: list[Any]) -> None:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        page = max(1, int(q.get("page", ["1"])[0]))
        per_page = max(1, min(100, int(q.get("per_page", ["20"])[0])))
        total_pages = max(1, -(-len(items) // per_page))
        headers = {"X-Total": str(len(items)), "X-Total-Pages": str(total_pages),
                   "X-Page": str(page), "X-Per-Page": str(per_page),
                   "X-Next-Page": str(page + 1) if page < total_pages else ""}
        if page < total_pages:
            host = self.headers.get("Host", "127.0.0.1")
            path = urllib.parse.urlsplit(self.path).path
            headers["Link"] = (f'<http://{host}{path}?page={page + 1}&per_page={per_page}>; '
                               'rel="next"')
        self._send(200, items[(page - 1) * per_page: page * per_page], headers)

    # -- registry token service (app/services/auth/container_registry_authentication_service.rb)
    def _jwt_auth(self, state: dict[str, Any]) -> None:
        registry = state.get("registry") or {}
        if not registry.get("enabled"):
            self._send(404, {"errors": [{"code": "UNAVAILABLE", "message": "registry disabled"}]})
            return
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            name, _, token = base64.b64decode(auth[6:]).decode(errors="replace").partition(":")
            user = next((u for u in state.get("users", [])
                         if u.get("username") == name and u.get("token") == token), None)
            if user is None:
                self._send(401, {"errors": [{"code": "UNAUTHORIZED",
                                             "message": "HTTP Basic: Access denied"}]})
                return
            scopes = set(user.get("scopes", []))
            if not scopes & {"api", "read_registry", "write_registry"}:
                self._send(403, {"errors": [{"code": "DENIED", "message": "access forbidden"}]})
                return
        access = [a for a in (_grant(s, user) for s in q.get("scope", [])) if a]
        if user is None and not access:
            self._send(403, {"errors": [{"code": "DENIED", "message": "access forbidden"}]})
            return
        self._send(200, {"token": issue_token(registry, user["username"] if user else "", access)})

    # -- registry notifications (lib/api/container_registry_event.rb)
    def _registry_event(self, state: dict[str, Any]) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization") != state.get("notification_secret"):
            self._send(401, {"message": "401 Unauthorized"})
            return
        try:
            envelope = json.loads(data)
            assert isinstance(envelope.get("events"), list)
        except (ValueError, AssertionError, AttributeError):
            self._send(400, {"error": "events is missing"})
            return
        if state.get("events_file"):
            with self.server.lock, open(state["events_file"], "a") as fh:
                fh.write(json.dumps(envelope) + "\n")
        self._send(200, {})


def _grant(scope: str, user: dict[str, Any] | None) -> dict[str, Any] | None:
    """What GitLab grants for one requested scope (C1b): catalog only to admins with `*`."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    wanted = [a for a in actions.split(",") if a]
    if user is None:
        return None
    if kind == "registry":
        if name == "catalog" and wanted == ["*"] and user.get("admin"):
            return {"type": "registry", "name": "catalog", "actions": ["*"]}
        return None
    if kind == "repository" and user.get("admin"):
        return {"type": "repository", "name": name,
                "actions": [a for a in wanted if a in ("pull", "push", "delete", "*")]}
    return None


def issue_token(registry: dict[str, Any], subject: str, access: list[dict[str, Any]]) -> str:
    """An RS256 JWT with an x5c header, as GitLab signs registry tokens."""
    import jwt  # PyJWT: a lab and test dependency only

    key, x5c = _signing_material(registry["key_file"], registry["cert_file"])
    now = int(time.time())
    claims = {"iss": registry.get("issuer", "omnibus-gitlab-issuer"), "sub": subject,
              "aud": registry.get("service", "container_registry"), "iat": now, "nbf": now - 5,
              "exp": now + 300, "jti": uuid.uuid4().hex, "access": access}
    return jwt.encode(claims, key, algorithm="RS256", headers={"x5c": x5c})


_KEYS: dict[tuple[str, str, int, int], tuple[Any, list[str]]] = {}


def _signing_material(key_file: str, cert_file: str) -> tuple[Any, list[str]]:
    """The private key object and x5c chain, loaded once per file version (loading an RSA key
    with its consistency checks costs ~30 ms, too much for every token)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

    ident = (str(key_file), str(cert_file), os.stat(key_file).st_mtime_ns,
             os.stat(cert_file).st_mtime_ns)
    if ident not in _KEYS:
        key = load_pem_private_key(Path(key_file).read_bytes(), None)
        cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        _KEYS[ident] = (key, [base64.b64encode(cert.public_bytes(Encoding.DER)).decode()])
    return _KEYS[ident]


class StandIn(ThreadingHTTPServer):
    """One site's stand-in: state from a file (or a dict, for tests), a request log."""

    daemon_threads = True

    def __init__(self, state: str | os.PathLike[str] | dict[str, Any], host: str, port: int,
                 log_path: str | None = None) -> None:
        super().__init__((host, port), _Handler)
        self._state = state
        self.log_path = log_path
        self.lock = threading.Lock()
        self.hung = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.url = f"http://{host}:{self.server_address[1]}"
        self.port = self.server_address[1]

    def state(self) -> dict[str, Any]:
        if isinstance(self._state, dict):
            return self._state
        return json.loads(Path(self._state).read_text())

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the state of an in-process stand-in (tests)."""
        self._state = state

    def record(self, method: str, path: str, status: int | None, proxied: bool = False) -> None:
        entry = {"method": method, "path": path, "status": status, "proxied": proxied,
                 "t": time.time()}
        with self.lock:
            self.requests.append(entry)
            if self.log_path:
                with open(self.log_path, "a") as fh:
                    fh.write(json.dumps(entry) + "\n")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up (port probes); report anything else."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def count(self, path_prefix: str) -> int:
        """How many requests this site received under a path (tests count requests)."""
        return sum(1 for r in self.requests if r["path"].split("?")[0].startswith(path_prefix))

    def shutdown(self) -> None:
        self.hung.set()
        super().shutdown()
        self.server_close()


def serve(state: str | os.PathLike[str] | dict[str, Any], host: str = "127.0.0.1", port: int = 0,
          log_path: str | None = None) -> StandIn:
    """Start a stand-in in a background thread."""
    server = StandIn(state, host, port, log_path)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                     name=f"standin:{server.port}").start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.gitlab_api",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--state", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    server = StandIn(args.state, args.host, args.port, args.log)
    server.serve_forever()


if __name__ == "__main__":
    main()
