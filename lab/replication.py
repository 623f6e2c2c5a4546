"""Geo container registry replication for one secondary, driven by real notifications.

The primary registry notifies the primary's stand-in (`geo_event` endpoint), which appends each
envelope to its events file: that file plays the Geo event log. This replicator plays the
secondary's log cursor and `Geo::ContainerRepositorySync`: for each pushed tag it syncs the
repository from the primary registry (`geo_registry_replication_primary_api_url`) to the
secondary's, with pull/push tokens it signs with the shared `gitlab-registry.key`, as Geo does.
It then writes the secondary's `container_repositories_*` counts into the primary stand-in's
Geo status, from what is really on both registries.

Knobs: `failing` (repository globs whose sync fails, as a fault injection), `delay_s` (lag).

What Geo keeps in its tracking database outlives a restart of the daemon (every reconfigure
restarts it): the log cursor and each repository's registry row (synced, failed, verified) live
in `registry_file`. A restart backfills only repositories without a row or with a failed one, and
reads the event log from the cursor on, as Geo does: a tag lost while its repository was marked
synced stays lost, however often the lab is reconfigured afterwards.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from pathlib import Path
from typing import Any

from lab import oci, state, tokens
from lab.gitlab_api import set_repository_counts


class Replicator(threading.Thread):
    """Syncs primary -> one secondary; updates that secondary's status counts."""

    def __init__(self, *, site_id: int, primary_registry: str, secondary_registry: str,
                 events_file: Path, primary_state: Path, key_file: Path, cert_file: Path,
                 ready_file: Path, failing: list[str], delay_s: float, log: Path | None,
                 caught_up_file: Path | None = None, verify_failing: list[str] = (),
                 registry_file: Path | None = None) -> None:
        super().__init__(daemon=True, name=f"replicator:{site_id}")
        self.site_id = site_id
        self.events_file = Path(events_file)
        self.primary_state = Path(primary_state)
        self.ready_file = Path(ready_file)
        self.failing = list(failing)
        self.verify_failing = list(verify_failing)
        self.delay_s = float(delay_s)
        self.log_path = log
        self.caught_up_file = caught_up_file
        self.stopping = threading.Event()
        self.states: dict[str, str] = {}  # repository -> synced | failed | pending
        self.verified: dict[str, bool] = {}  # repository -> its tag list matches the primary's
        self._written = 0  # the stand-in state file's mtime after this replicator wrote it
        self._retried = 0.0  # when failed repositories were last synced again
        self.registry_file = registry_file
        self.cursor = 0  # the events file's offset up to which every event is handled
        self._load_registry()

        def token(_challenge: str, scope: str) -> str:
            return tokens.mint(key_file, cert_file, tokens.scope_access(scope) if scope else [])

        self.src = oci.Client(primary_registry, token)
        self.dst = oci.Client(secondary_registry, token)

    def log(self, **entry: Any) -> None:
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps({"t": time.time(), **entry}) + "\n")

    def _load_registry(self) -> None:
        """The tracking database's rows and cursor from an earlier run of this replicator."""
        if not self.registry_file or not self.registry_file.exists():
            return
        saved = json.loads(self.registry_file.read_text())
        self.states = dict(saved.get("states", {}))
        self.verified = {k: bool(v) for k, v in saved.get("verified", {}).items()}
        self.cursor = int(saved.get("cursor", 0))

    def _save_registry(self) -> None:
        if not self.registry_file:
            return
        tmp = self.registry_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"states": self.states, "verified": self.verified,
                                   "cursor": self.cursor}))
        tmp.replace(self.registry_file)

    # -- syncing --------------------------------------------------------------------------------
    @staticmethod
    def _matches(patterns: list[str], repo: str) -> bool:
        return any(fnmatch.fnmatch(repo, pat) for pat in patterns)

    def in_sync(self, repo: str) -> bool:
        for tag in self.src.tags(repo):
            if self.dst.digest(repo, tag) != self.src.digest(repo, tag):
                return False
        return True

    def sync(self, repo: str, tags: set[str] | None = None) -> None:
        """Copy the tags of `repo` (all, or those named) that the secondary lacks or has with
        another digest; then note whether the repository is in sync."""
        try:
            if any(fnmatch.fnmatch(repo, pat) for pat in self.failing):
                raise oci.RegistryError("Geo::ContainerRepositorySync failed (lab knob: "
                                        "replication.failing)")
            copied, lost = [], []
            for tag in self.src.tags(repo):
                if tags is not None and tag not in tags:
                    continue
                want = self.src.digest(repo, tag)
                if want and self.dst.digest(repo, tag) != want:
                    try:
                        oci.copy(self.src, self.dst, repo, tag)
                        copied.append(tag)
                    except (oci.RegistryError, OSError) as exc:
                        lost.append(f"{tag}: {exc}")  # rescued per tag, as GitLab's sync does
            # Geo::ContainerRepositorySync#execute rescues each tag's error and marks the
            # repository synced anyway; only verification (the tag list's checksum) tells
            self.states[repo] = "synced"
            self.verified[repo] = self.in_sync(repo)
            self.log(event="synced", repository=repo, copied=copied, lost=lost)
        except (oci.RegistryError, OSError) as exc:
            self.states[repo] = "failed"
            self.log(event="failed", repository=repo, error=str(exc))

    def update_counts(self) -> None:
        """Write the secondary's counts (and the primary's) into the primary's Geo status."""
        try:
            repos = self.src.catalog()
        except (oci.RegistryError, OSError) as exc:
            self.log(event="count-error", error=str(exc))
            return
        synced = sum(1 for r in repos if self.states.get(r) == "synced")
        failed = sum(1 for r in repos if self.states.get(r) == "failed")
        verified = sum(1 for r in repos if self.states.get(r) == "synced"
                       and self.verified.get(r) and not self._matches(self.verify_failing, r))

        def change(st: dict[str, Any]) -> None:
            now = time.time()
            for status in st.get("geo_statuses", []):
                primary = status.get("container_repositories_replication_enabled") is None
                if status["geo_node_id"] == self.site_id:
                    set_repository_counts(status, primary=False, repositories=len(repos),
                                          synced=synced, failed=failed, verified=verified)
                elif primary:
                    set_repository_counts(status, primary=True, repositories=len(repos))
                else:
                    continue
                status["last_successful_status_check_timestamp"] = int(now)
                status["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now))

        state.update(self.primary_state, change)
        self._written = self._stamp()
        self._save_registry()

    def _retry_failed(self, now: float) -> bool:
        """Sync again, at most once a second, the repositories whose sync failed for a
        transient reason (a registry restarting: 502), as Geo retries a failed registry
        entry; the `failing` knob's repositories stay failed. Whether any was retried."""
        if now - self._retried < 1.0:
            return False
        self._retried = now
        again = [r for r, st in self.states.items()
                 if st == "failed" and not self._matches(self.failing, r)]
        for repo in again:
            self.sync(repo)
        return bool(again)

    def _stamp(self) -> int:
        try:
            return self.primary_state.stat().st_mtime_ns
        except OSError:
            return 0

    # -- the event loop -------------------------------------------------------------------------
    def _new_events(self, offset: int) -> tuple[int, list[dict[str, Any]]]:
        try:
            with open(self.events_file) as fh:
                fh.seek(offset)
                lines = fh.readlines()
                if lines and not lines[-1].endswith("\n"):
                    lines.pop()
                offset += sum(len(x.encode()) for x in lines)
        except FileNotFoundError:
            return offset, []
        events = []
        for line in lines:
            try:
                events.extend(json.loads(line).get("events", []))
            except ValueError:
                continue
        return offset, events

    def run(self) -> None:
        while not self.ready_file.exists() and not self.stopping.wait(0.05):
            pass
        offset = self.cursor
        try:
            for repo in self.src.catalog():  # backfill the repositories Geo has no row of
                if self.states.get(repo) == "synced":
                    continue
                if any(fnmatch.fnmatch(repo, pat) for pat in self.failing) or \
                        not self.in_sync(repo):
                    self.sync(repo)
                else:
                    self.states[repo] = "synced"
                    self.verified[repo] = True
        except (oci.RegistryError, OSError) as exc:
            self.log(event="backfill-error", error=str(exc))
        self.update_counts()
        if self.caught_up_file:
            self.caught_up_file.touch()
        pending: list[tuple[float, str, str]] = []  # (due, repository, tag)
        while not self.stopping.is_set():
            offset, events = self._new_events(offset)
            now = time.time()
            for ev in events:
                target = ev.get("target", {})
                if ev.get("action") == "push" and target.get("tag"):
                    pending.append((now + self.delay_s, target["repository"], target["tag"]))
            due = [p for p in pending if p[0] <= now]
            pending = [p for p in pending if p[0] > now]
            if due:
                by_repo: dict[str, set[str]] = {}
                for _, repo, tag in due:
                    by_repo.setdefault(repo, set()).add(tag)
                for repo, tags in by_repo.items():
                    self.sync(repo, tags)
                if not pending:
                    self.cursor = offset
                self.update_counts()
            elif self._retry_failed(now):
                self.update_counts()
            elif self._stamp() != self._written:
                # a reconfigure rewrote the stand-in's statuses from the lab model: put back
                # what this replicator knows (Geo's registry rows outlive a reconfigure)
                self.update_counts()
            self.stopping.wait(0.1)
