"""A recording proxy in front of the lab's S3 server, for sites whose registry redirects.

With `registry.redirect` the registry answers a blob GET with a 307 to a pre-signed URL on
its `regionendpoint`; the lab points that endpoint here, so every request that reaches
"object storage" (the registry's own signed calls, the pre-signed GETs a client follows, the
checker's lockfile HEADs) passes through this proxy to moto and leaves one JSON line in
`run/s3-proxy.jsonl`. moto neither logs nor refuses an Authorization header on a pre-signed
URL; this log is how a test proves that no registry token reached object storage. It records
the Authorization header's scheme and a fingerprint (sha256, 16 hex digits) of its whole
value, never the value.

    python -m lab.s3proxy --port P --upstream-port Q --log RUN/s3-proxy.jsonl [--tamper BUCKET]

`--tamper BUCKET` (scenario `registry.redirect: tampered`) answers the pre-signed GETs of that
bucket with other bytes of the same length: object storage (or a CDN before it) serving the
wrong content. Bodies stream through in pieces; it listens on 127.0.0.1 only; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab import procs
from lab.tokens import fingerprint

PIECE = 64 * 1024  # bytes held at once per request, either way
TIMEOUT_S = 30.0
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te",
       "trailer"}


class Proxy(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, upstream_port: int, log: Path, tamper: list[str]) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.upstream_port = upstream_port
        self.log = log
        self.tamper = set(tamper)
        self.lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock, open(self.log, "a") as fh:
            fh.write(json.dumps(entry) + "\n")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about clients that hang up; report anything else."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: Proxy
    protocol_version = "HTTP/1.1"
    timeout = TIMEOUT_S
    disable_nagle_algorithm = True  # headers and body go out apart: no 40 ms stall each

    def log_message(self, *args: Any) -> None:
        pass

    def _send_body(self, conn: http.client.HTTPConnection) -> None:
        """The request's body to moto as it arrives (Content-Length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    conn.send(b"0\r\n\r\n")
                    return
                conn.send(f"{size:x}\r\n".encode())
                self._copy(conn, size)
                self.rfile.readline(1024)
                conn.send(b"\r\n")
        self._copy(conn, int(self.headers.get("Content-Length") or 0))

    def _copy(self, conn: http.client.HTTPConnection, left: int) -> None:
        """`left` bytes of the request's body to moto, a piece at a time."""
        while left:
            piece = self.rfile.read(min(left, PIECE))
            if not piece:
                raise ConnectionError("the client hung up mid-body")
            conn.send(piece)
            left -= len(piece)

    def _handle(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        auth = self.headers.get("Authorization")
        presigned = "X-Amz-Signature" in query or "Signature" in query  # SigV4 or V2
        bucket = url.path.lstrip("/").split("/", 1)[0]
        tamper = presigned and self.command == "GET" and bucket in self.server.tamper
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port,
                                          timeout=TIMEOUT_S)
        resp: http.client.HTTPResponse | None = None
        failed = ""
        try:  # Host as the client sent it: SigV4 signs it
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP | {"expect"}:  # this side already said 100 Continue
                    conn.putheader(k, v)
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            self._send_body(conn)
            resp = conn.getresponse()
        except OSError as exc:
            failed = f"upstream: {exc}"
        self.server.record({  # every request, also one moto never answered
            "t": time.time(), "method": self.command, "path": url.path[:512],
            "presigned": presigned, "auth_scheme": auth.split(" ", 1)[0] if auth else None,
            "auth_sha256": fingerprint(auth) if auth else None,
            "status": resp.status if resp is not None else 502,
            "tampered": tamper and resp is not None and resp.status == 200})
        try:
            if resp is None:
                self.close_connection = True
                self.send_error(502, failed)
            else:
                self._relay(resp, tamper)
        finally:
            conn.close()

    def _relay(self, resp: http.client.HTTPResponse, tamper: bool) -> None:
        """moto's answer to the client, in pieces (with `tamper`, each byte inverted)."""
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader("Content-Length")
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        bodyless = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
        if length is None and not bodyless:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if bodyless:
            return
        while piece := resp.read(PIECE):
            if tamper and resp.status == 200:
                piece = bytes(b ^ 0xFF for b in piece)
            self.wfile.write(piece if length is not None
                             else f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        if length is None:
            self.wfile.write(b"0\r\n\r\n")

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle


def start(run_dir: Path, port: int, upstream_port: int, tamper: list[str],
          timeout: float = 10.0) -> int:
    """Start the proxy detached (pidfile `run/s3-proxy.pid`) and wait until it listens."""
    argv = [sys.executable, "-m", "lab.s3proxy", "--port", str(port), "--upstream-port",
            str(upstream_port), "--log", str(run_dir / "s3-proxy.jsonl")]
    for bucket in tamper:
        argv += ["--tamper", bucket]
    return procs.spawn_listening("s3-proxy", argv, run_dir, port, "the S3 proxy", timeout,
                                 cwd=Path(__file__).resolve().parent.parent)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.s3proxy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--tamper", action="append", default=[])
    args = parser.parse_args(argv)
    server = Proxy(args.port, args.upstream_port, args.log, args.tamper)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    main()
