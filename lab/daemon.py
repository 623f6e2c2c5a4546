"""The lab's Python services, one process per lab: per site the GitLab API stand-in and the
registry front, per Geo secondary the replicator. `up` starts it detached:

    python -m lab.daemon --dir DIR

It reads `DIR/lab.json` once; the stand-ins and fronts re-read their own files on each request.
SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from lab import front, gitlab_api, replication, state, tls
from lab.hostroot import primary_api_url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.daemon")
    parser.add_argument("--dir", required=True)
    args = parser.parse_args(argv)
    lab_dir = Path(args.dir).resolve()
    lab = state.read(lab_dir / "lab.json")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    servers: list[object] = []  # kept referenced while serving
    for site in lab["sites"]:
        run = Path(site["run"])
        servers.append(gitlab_api.serve(str(run / "gitlab-state.json"), "127.0.0.1",
                                        site["ports"]["api"], log_path=str(run / "api.log")))
        if site["registry"]["enabled"]:
            servers.append(front.serve("127.0.0.1", site["ports"]["front"],
                                       upstream_port=site["ports"]["registry"],
                                       root=Path(site["root"]),
                                       registry_version=site["registry"]["version"],
                                       gitlab=site["registry"].get("vendor") != "upstream",
                                       dsn=site["db"]["dsn"], log=run / "front.log",
                                       blobs_lost=site["registry"]["blobs_lost"]))
    if lab.get("tls"):  # HTTPS on every stand-in and front, with the lab's own CA
        context = tls.server_context(lab_dir)
        for server in servers:
            server.socket = context.wrap_socket(  # type: ignore[attr-defined]
                server.socket, server_side=True,  # type: ignore[attr-defined]
                do_handshake_on_connect=False)  # in the handler's thread, not accept()'s
        os.environ.update(tls.client_env(lab_dir))  # proxies and replicators trust it
    primary = next((s for s in lab["sites"] if s["geo"] == "primary"), None)
    workers = []
    for site in lab["sites"]:
        if site["geo"] != "secondary" or primary is None or not site["replicating"]:
            continue
        # Geo pulls from geo_registry_replication_primary_api_url and signs its tokens with
        # the secondary's own gitlab-registry.key
        w = replication.Replicator(
            site_id=site["geo_id"], primary_registry=primary_api_url(site, primary) or "",
            secondary_registry=site["registry_url"],
            events_file=Path(primary["run"]) / "events.jsonl",
            registry_file=Path(site["run"]) / "geo-registry.json",
            primary_state=Path(primary["run"]) / "gitlab-state.json",
            key_file=Path(site["key_file"]), cert_file=Path(site["cert_file"]),
            ready_file=lab_dir / "run" / "ready", failing=site["replication"]["failing"],
            delay_s=site["replication"]["delay_s"],
            verify_failing=site["replication"]["verify_failing"],
            log=Path(site["run"]) / "replication.log",
            caught_up_file=Path(site["run"]) / "replication.ready")
        w.start()
        workers.append(w)
    stop.wait()
    for w in workers:
        w.stopping.set()
    for w in workers:
        w.join(timeout=2)
    # The servers are daemon threads and every file they write is replaced atomically, so the
    # process can end now (a polite shutdown() waits up to 0.5 s per server).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
