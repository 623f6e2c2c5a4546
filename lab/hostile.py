"""A hostile server for fault tests: everything a broken or malicious endpoint can do to a
client, on 127.0.0.1.

HTTP (optionally over TLS): the first path segment picks the behaviour, so one server gives
every fault a base URL of its own (`server.base("drip-headers")` is a GitLab or registry URL
whose every request drips). `Hostile(silent=True)` accepts connections and never says a word
(a blackhole at the TCP level: no HTTP, no TLS handshake, no PostgreSQL startup).
`FakePostgres` completes PostgreSQL's startup handshake and then never answers a query.

Every request is recorded: method, path, and whether an Authorization header came (never its
value), so a test can prove a credential was not sent.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import socketserver
import ssl
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODES = {
    "ok": "200 with a small JSON object",
    "drip-headers": "the status line and headers, one byte a second, forever",
    "drip-body": "headers at once, then the body one byte a second",
    "endless-chunked": "a chunked body that never ends",
    "huge-body": "a 3 GiB body (Content-Length), sent as fast as the client reads",
    "gzip-bomb": "Content-Encoding: gzip, endless zeros that compress about 1000:1",
    "big-json": "a 200 MiB JSON list, chunked",
    "500": "500 with an HTML page",
    "502": "502 with an HTML page",
    "503": "503 with an HTML page",
    "invalid-json": "200, Content-Type JSON, a body that is not",
    "redirect-loop": "302 to itself",
    "endless-pages": "a JSON list page with X-Next-Page and Link to the next page, forever",
    "reset": "reads the request, then resets the connection",
    "blackhole": "reads the request, never answers",
    "foreign-realm": "a registry: /v2/ answers 401 with a Bearer realm on this server, "
                     "which records whether the token request brought credentials",
    "canary-location": "a registry and its GitLab for --canary: a Bearer realm on this server "
                       "that gives a token, and a blob upload (POST) answered 202 with "
                       "`Location: upload_location` (set it to another server)",
}
HTML = b"<html><body><h1>Bad gateway</h1><p>nginx</p></body></html>\n"
REASONS = {200: "OK", 302: "Found", 401: "Unauthorized", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Seen:
    """One request as the server saw it; `authorization` says whether the header came."""

    method: str
    path: str
    mode: str
    authorization: bool


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: Hostile


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.owner._handle(self.request)  # type: ignore[attr-defined]


class Hostile:
    """The server; `url` is its origin, `base(mode)` a URL whose requests get that mode."""

    def __init__(self, *, tls: tuple[str, str] | None = None, silent: bool = False) -> None:
        self.silent = silent
        self._tls = None
        if tls:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(*tls)
        self.stopped = threading.Event()
        self.upload_location = "/canary-location/upload"
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()

    def base(self, mode: str) -> str:
        assert mode in MODES, mode
        return f"{self.url}/{mode}"

    def seen(self, mode: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if mode is None or s.mode == mode]

    def stop(self) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Hostile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- one connection --------------------------------------------------------------------

    def _handle(self, sock: socket.socket) -> None:
        if self.silent:
            self.stopped.wait()
            return
        try:
            if self._tls:
                sock = self._tls.wrap_socket(sock, server_side=True)
            f = sock.makefile("rb")
            while not self.stopped.is_set():
                request = _read_request(f)
                if request is None:
                    return
                method, path, headers = request
                mode, _, rest = path.lstrip("/").partition("/")
                with self._lock:
                    self._seen.append(Seen(method, path, mode, "authorization" in headers))
                if not self._respond(sock, mode, "/" + rest, headers, method):
                    return
        except (OSError, ssl.SSLError):
            return

    def _respond(self, sock: socket.socket, mode: str, rest: str,
                 headers: dict[str, str], method: str = "GET") -> bool:
        """Answer one request; False when the connection must end."""
        send = sock.sendall
        if mode == "drip-headers":
            head = _head(200, {"Content-Type": "application/json", "Content-Length": "2"})
            for i in range(len(head)):
                send(head[i:i + 1])
                if self.stopped.wait(1):
                    return False
            return False
        if mode == "drip-body":
            send(_head(200, {"Content-Type": "application/json", "Content-Length": "100000"}))
            while not self.stopped.wait(1):
                send(b" ")
            return False
        if mode in ("endless-chunked", "big-json", "gzip-bomb"):
            extra = {"Content-Encoding": "gzip"} if mode == "gzip-bomb" else {}
            send(_head(200, {"Content-Type": "application/json",
                             "Transfer-Encoding": "chunked", **extra}))
            for piece in _STREAMS[mode]():
                if self.stopped.is_set():
                    return False
                send(b"%x\r\n%s\r\n" % (len(piece), piece))
            send(b"0\r\n\r\n")
            return True
        if mode == "huge-body":
            size = 3 * 2**30
            send(_head(200, {"Content-Type": "application/octet-stream",
                             "Content-Length": str(size)}))
            block = b"\0" * 2**20
            for _ in range(size // len(block)):
                if self.stopped.is_set():
                    return False
                send(block)
            return True
        if mode in ("500", "502", "503"):
            send(_reply(int(mode), HTML, "text/html"))
        elif mode == "invalid-json":
            send(_reply(200, b'{"version": "17.10.2-ee", oops', "application/json"))
        elif mode == "redirect-loop":
            send(_head(302, {"Location": f"/{mode}{rest}", "Content-Length": "0"}))
        elif mode == "endless-pages":
            page = int(_query(rest).get("page", "1") or 1)
            nxt = f"{self.url}/{mode}{rest.split('?')[0]}?per_page=100&page={page + 1}"
            send(_reply(200, json.dumps([{"id": page}]).encode(), "application/json",
                        {"X-Next-Page": str(page + 1), "Link": f'<{nxt}>; rel="next"'}))
        elif mode == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        elif mode == "blackhole":
            self.stopped.wait()
            return False
        elif mode == "foreign-realm" and rest.startswith("/v2/"):
            realm = f"{self.url}/foreign-realm/jwt/auth"
            send(_reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', "application/json",
                        {"WWW-Authenticate":
                         f'Bearer realm="{realm}",service="container_registry"'}))
        elif mode == "foreign-realm":
            send(_reply(200, b'{"token": "stolen"}', "application/json"))
        elif mode == "canary-location" and method == "POST":
            send(_head(202, {"Location": self.upload_location, "Content-Length": "0"}))
        elif mode == "canary-location" and rest.startswith("/v2/"):
            realm = f"{self.url}/canary-location/jwt/auth"
            send(_reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', "application/json",
                        {"WWW-Authenticate":
                         f'Bearer realm="{realm}",service="container_registry"'}))
        elif mode == "canary-location" and rest.startswith("/jwt/auth"):
            send(_reply(200, b'{"token": "push-token"}', "application/json"))
        else:
            send(_reply(200, b'{"hostile": true}', "application/json"))
        return True


def _read_request(f: Any) -> tuple[str, str, dict[str, str]] | None:
    """Request line and headers (lower-case names); None at the end of the connection."""
    line = f.readline(65536)
    if not line.strip():
        return None
    method, path = line.decode("latin-1").split()[:2]
    headers: dict[str, str] = {}
    while True:
        h = f.readline(65536)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length:
        f.read(length)
    return method, path, headers


def _query(path: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(path).query))


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _reply(status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> bytes:
    return _head(status, {"Content-Type": ctype, "Content-Length": str(len(body)),
                          **(headers or {})}) + body


def _endless_chunks() -> Any:
    block = b"x" * 65536
    while True:
        yield block


def _big_json() -> Any:
    """`[0,0,...,0]`, 200 MiB."""
    block = b"0," * 32768
    yield b"["
    for _ in range(200 * 2**20 // len(block)):
        yield block
    yield b"0]"


def _gzip_bomb() -> Any:
    """A gzip stream of zeros without end, compressed on the fly (about 1 KiB per MiB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * 2**20
    first = c.compress(zeros) + c.flush(zlib.Z_SYNC_FLUSH)
    yield first
    while True:
        out = c.compress(zeros) + c.flush(zlib.Z_SYNC_FLUSH)
        if out:
            yield out


_STREAMS = {"endless-chunked": _endless_chunks, "big-json": _big_json, "gzip-bomb": _gzip_bomb}


class FakePostgres:
    """Speaks PostgreSQL's startup (no SSL, trust auth, ReadyForQuery) and then never answers a
    query: a server that is up, authenticates, and hangs. Cancel requests are read and closed;
    `queries` counts the queries that arrived, `cancels` the cancel requests.

    `cleartext=True`: a credential thief instead. It asks for the password in clear text
    (AuthenticationCleartextPassword) and keeps every PasswordMessage it gets in `passwords`;
    `connections` counts the startups it saw. `address` picks the loopback address."""

    def __init__(self, *, cleartext: bool = False, address: str = "127.0.0.1") -> None:
        self.stopped = threading.Event()
        self.queries = 0
        self.cancels = 0
        self.cleartext = cleartext
        self.connections = 0
        self.passwords: list[bytes] = []
        self.address = address
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((address, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def dsn(self) -> str:
        return (f"host={self.address} port={self.port} dbname=registry user=registry "
                "sslmode=disable")

    def stop(self) -> None:
        self.stopped.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._startup(conn)
        except (OSError, ValueError):
            return

    def _startup(self, conn: socket.socket) -> None:
        while True:
            length, code = struct.unpack("!ii", _exact(conn, 8))
            _exact(conn, length - 8)
            if code == 80877103:  # SSLRequest: no
                conn.sendall(b"N")
                continue
            if code == 80877102:  # CancelRequest
                self.cancels += 1
                return
            break
        self.connections += 1
        if self.cleartext:
            conn.sendall(_msg(b"R", struct.pack("!i", 3)))  # AuthenticationCleartextPassword
            kind = _exact(conn, 1)
            length = struct.unpack("!i", _exact(conn, 4))[0]
            payload = _exact(conn, length - 4)
            if kind == b"p":
                self.passwords.append(payload.rstrip(b"\0"))
            return
        params = {"server_version": "15.8", "server_encoding": "UTF8",
                  "client_encoding": "UTF8", "DateStyle": "ISO, MDY",
                  "integer_datetimes": "on", "standard_conforming_strings": "on",
                  "TimeZone": "UTC"}
        out = _msg(b"R", struct.pack("!i", 0))
        for k, v in params.items():
            out += _msg(b"S", k.encode() + b"\0" + v.encode() + b"\0")
        out += _msg(b"K", struct.pack("!ii", 4242, 1234)) + _msg(b"Z", b"I")
        conn.sendall(out)
        conn.settimeout(0.5)
        while not self.stopped.is_set():
            try:
                kind = conn.recv(1)
            except TimeoutError:
                continue
            if not kind:
                return
            conn.settimeout(None)
            length = struct.unpack("!i", _exact(conn, 4))[0]
            _exact(conn, length - 4)
            if kind in (b"Q", b"P"):
                self.queries += 1
            conn.settimeout(0.5)


def _exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        part = conn.recv(n - len(buf))
        if not part:
            raise ValueError("closed")
        buf += part
    return buf


def _msg(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def tls_files(directory: Path, name: str = "hostile") -> tuple[Path, Path, Path]:
    """A fresh CA and a certificate it signs for 127.0.0.1: (ca.pem, cert.pem, key.pem)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def cert(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return b.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert(f"{name} CA", ca_key, f"{name} CA", ca_key, True)
    leaf = cert("127.0.0.1", key, f"{name} CA", ca_key, False)
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / f"{name}-ca.pem", directory / f"{name}.pem", directory / f"{name}.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def main() -> None:
    """`python -m lab.hostile`: serve until interrupted and print each mode's base URL."""
    server = Hostile()
    for mode, what in MODES.items():
        print(f"{server.base(mode):50}  {what}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
