"""The registry metadata schema (our own DDL, named like the registry's tables) and its rows.

`migrate` plays `registry database migrate up`; `import_storage` plays `registry database
import` (one-step, or one of the three steps): it walks the filesystem storage the way the real
importer does and writes a row for every tagged image. `record_manifest` is what a registry
in database mode writes on a manifest push.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

DDL = """
CREATE TABLE schema_migrations (id text PRIMARY KEY, applied_at timestamptz);
CREATE TABLE post_deploy_schema_migrations (id text PRIMARY KEY, applied_at timestamptz);
CREATE TABLE top_level_namespaces (
  id bigserial PRIMARY KEY, name text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz);
CREATE TABLE repositories (
  id bigserial PRIMARY KEY,
  top_level_namespace_id bigint NOT NULL REFERENCES top_level_namespaces ON DELETE CASCADE,
  parent_id bigint, name text NOT NULL, path text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz);
CREATE TABLE blobs (
  digest text PRIMARY KEY, media_type text NOT NULL, size bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE repository_blobs (
  repository_id bigint NOT NULL REFERENCES repositories ON DELETE CASCADE,
  blob_digest text NOT NULL REFERENCES blobs, created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, blob_digest));
CREATE TABLE manifests (
  id bigserial PRIMARY KEY,
  repository_id bigint NOT NULL REFERENCES repositories ON DELETE CASCADE,
  digest text NOT NULL, schema_version integer NOT NULL, media_type text NOT NULL,
  configuration_blob_digest text, total_size bigint NOT NULL, payload bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (repository_id, digest));
CREATE TABLE tags (
  id bigserial PRIMARY KEY,
  repository_id bigint NOT NULL REFERENCES repositories ON DELETE CASCADE,
  manifest_id bigint NOT NULL REFERENCES manifests ON DELETE CASCADE, name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz,
  UNIQUE (repository_id, name));
CREATE TABLE batched_background_migrations (
  id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, status smallint NOT NULL DEFAULT 0);
CREATE TABLE import_statistics (
  id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz NOT NULL, finished_at timestamptz, storage_driver text NOT NULL,
  pre_import boolean NOT NULL, tag_import boolean NOT NULL, blob_import boolean NOT NULL,
  repositories_count integer NOT NULL DEFAULT 0, tags_count integer NOT NULL DEFAULT 0,
  manifests_count integer NOT NULL DEFAULT 0, blobs_count integer, blobs_size_bytes bigint,
  pre_import_started_at timestamptz, pre_import_finished_at timestamptz, pre_import_error text,
  tag_import_started_at timestamptz, tag_import_finished_at timestamptz, tag_import_error text,
  blob_import_started_at timestamptz, blob_import_finished_at timestamptz,
  blob_import_error text);
"""

PENDING = ("pre", "post", "background")  # the `db.pending` knob: what `migrate` leaves undone


def migrate(conninfo: str, owner: str, version: str = "4.39.0-gitlab",
            pending: tuple[str, ...] = ()) -> None:
    """Create the schema as `owner` and record the migrations of the registry `version` the
    site announces: the real ids of that release (the data file geopreflight ships, generated
    from container-registry's source). `pending`: leave the release's last pre-deployment
    (`pre`) or post-deployment (`post`) migration unrecorded, or a background migration
    active (`background`)."""
    from geopreflight.registry_migrations import TABLES, expected

    ids = expected(version)
    if ids is None:
        raise ValueError(f"registry {version}: not a release the migration list knows")
    with psycopg.connect(conninfo, autocommit=False) as conn:
        conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(owner)))
        conn.execute(DDL)
        for table, kind in zip(TABLES, ("pre", "post"), strict=True):
            for mid in ids[table][:-1] if kind in pending else ids[table]:
                conn.execute(f"INSERT INTO {table} (id, applied_at) VALUES (%s, now())", (mid,))
        conn.execute("INSERT INTO batched_background_migrations (name, status) VALUES "
                     "('BackfillLabExample', %s)", (1 if "background" in pending else 2,))


@dataclass
class Image:
    """One tagged image found in storage."""

    repository: str
    tag: str
    digest: str
    media_type: str
    payload: bytes
    blobs: list[dict[str, Any]] = field(default_factory=list)


def _blob_path(root: Path, digest: str) -> Path:
    algo, hexd = digest.split(":", 1)
    return root / "docker/registry/v2/blobs" / algo / hexd[:2] / hexd / "data"


def tagged_images(storage_root: Path) -> list[Image]:
    """Every tagged image in a filesystem storage tree (`docker/registry/v2/...`)."""
    repos_dir = storage_root / "docker/registry/v2/repositories"
    images = []
    for tags_dir in sorted(repos_dir.glob("**/_manifests/tags")):
        repo = str(tags_dir.parent.parent.relative_to(repos_dir))
        for tag_dir in sorted(tags_dir.iterdir()):
            link = tag_dir / "current/link"
            if not link.exists():
                continue
            digest = link.read_text().strip()
            payload = _blob_path(storage_root, digest).read_bytes()
            m = json.loads(payload)
            descs = [m["config"], *m.get("layers", [])] if "config" in m else []
            images.append(Image(repo, tag_dir.name, digest, m.get("mediaType", ""), payload,
                                [{"digest": d["digest"], "mediaType": d["mediaType"],
                                  "size": d["size"]} for d in descs]))
    return images


def record_manifest(conn: psycopg.Connection, img: Image, tag: bool = True) -> None:
    """Rows for one tagged image: namespace, repository, blobs, manifest and (unless `tag` is
    false, as in a pre-import) the tag."""
    top = img.repository.split("/")[0]
    ns = conn.execute("INSERT INTO top_level_namespaces (name) VALUES (%s) ON CONFLICT (name) "
                      "DO UPDATE SET updated_at = now() RETURNING id", (top,)).fetchone()[0]
    repo = conn.execute(
        "INSERT INTO repositories (top_level_namespace_id, name, path) VALUES (%s, %s, %s) "
        "ON CONFLICT (path) DO UPDATE SET updated_at = now() RETURNING id",
        (ns, img.repository.rsplit("/", 1)[-1], img.repository)).fetchone()[0]
    for b in img.blobs:
        conn.execute("INSERT INTO blobs (digest, media_type, size) VALUES (%s, %s, %s) "
                     "ON CONFLICT DO NOTHING", (b["digest"], b["mediaType"], b["size"]))
        conn.execute("INSERT INTO repository_blobs (repository_id, blob_digest) VALUES (%s, %s) "
                     "ON CONFLICT DO NOTHING", (repo, b["digest"]))
    config = next((b["digest"] for b in img.blobs if "config" in b["mediaType"]), None)
    man = conn.execute(
        "INSERT INTO manifests (repository_id, digest, schema_version, media_type, "
        "configuration_blob_digest, total_size, payload) VALUES (%s, %s, 2, %s, %s, %s, %s) "
        "ON CONFLICT (repository_id, digest) DO UPDATE SET media_type = EXCLUDED.media_type "
        "RETURNING id",
        (repo, img.digest, img.media_type, config,
         len(img.payload) + sum(b["size"] for b in img.blobs), img.payload)).fetchone()[0]
    if tag:
        conn.execute("INSERT INTO tags (repository_id, manifest_id, name) VALUES (%s, %s, %s) "
                     "ON CONFLICT (repository_id, name) DO UPDATE SET "
                     "manifest_id = EXCLUDED.manifest_id, updated_at = now()",
                     (repo, man, img.tag))


def forget(conninfo: str, images: list[tuple[str, str]]) -> list[str]:
    """Delete the rows of tagged images, as a dump taken before they were pushed lacks them:
    each tag, its manifest unless another tag names it, and its repository once no tag is
    left in it. Returns the images it did not find."""
    missing = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for repo, tag in images:
            gone = conn.execute("DELETE FROM tags t USING repositories r WHERE "
                                "t.repository_id = r.id AND r.path = %s AND t.name = %s "
                                "RETURNING r.id, t.manifest_id", (repo, tag)).fetchone()
            if gone is None:
                missing.append(f"{repo}:{tag}")
                continue
            conn.execute("DELETE FROM manifests m WHERE id = %s AND NOT EXISTS "
                         "(SELECT 1 FROM tags t WHERE t.manifest_id = m.id)", (gone[1],))
            conn.execute("DELETE FROM repositories r WHERE id = %s AND NOT EXISTS "
                         "(SELECT 1 FROM tags t WHERE t.repository_id = r.id)", (gone[0],))
    return missing


class ImportRefused(Exception):
    """The import would harm data, as the real command refuses."""


class ImportInterrupted(Exception):
    """The import stopped part way; what it wrote so far stays (lab: `--interrupt`)."""


# What each phase of `registry database import` does (fact sheet B3, B4, B6): `pre` is step
# one (--pre-import: manifests and their blobs, no tags), `tags` step two (--all-repositories:
# every repository with its tags), `blobs` step three (--common-blobs: every blob in storage),
# `all` the one-step import (the three back to back).
PHASES = ("pre", "tags", "blobs", "all")


def _check_ready(conn: psycopg.Connection, phase: str) -> None:
    pending = conn.execute("SELECT to_regclass('schema_migrations') IS NULL").fetchone()[0]
    if pending or not conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]:
        raise ImportRefused("there are pending database migrations, use the 'registry "
                            "database migrate' CLI command to check and apply them")
    if phase in ("tags", "all") and conn.execute("SELECT count(*) FROM tags").fetchone()[0]:
        raise ImportRefused("halting import to protect data: tags already present in "
                            "database - this may be an imported registry!")


def storage_blobs(storage_root: Path) -> list[tuple[str, int]]:
    """Every blob in a filesystem storage tree, referenced or not: (digest, size)."""
    out = []
    for data in sorted((storage_root / "docker/registry/v2/blobs").glob("*/*/*/data")):
        out.append((f"{data.parent.parent.parent.name}:{data.parent.name}", data.stat().st_size))
    return out


def import_storage(conninfo: str, storage_root: Path, phase: str = "all",
                   stop_after: int | None = None, skip_half: bool = False,
                   rate: float | None = None, freeze_after: int | None = None) -> dict[str, int]:
    """Import a phase of the filesystem metadata, one transaction per repository (what was
    imported before a failure stays, UNVERIFIED for the real importer); refuse when tags
    already exist (tag import) or migrations are pending. `stop_after` repositories: the
    import is interrupted there (ImportInterrupted; its import_statistics row carries the
    error and no finished_at). `skip_half`: every other repository is skipped and the import
    still finishes, as the real importer skips a repository whose `_manifests` paths it cannot
    find (importer.go). `rate`: at most that many repositories a second (the lab's imports are
    otherwise too fast to watch). `freeze_after` repositories: the command stops moving there
    and never ends (a hung import; kill it).

    The import_statistics row is written when the command ends, with each phase's start and
    finish, as the registry's `import[]` statistics show them (docs/spec/gitlab/api.md; the
    row appearing only at the end is an INFERENCE from the example's `created_at`)."""
    if phase not in PHASES:
        raise ValueError(phase)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _check_ready(conn, phase)
        images = tagged_images(storage_root)
        now = lambda: conn.execute("SELECT clock_timestamp()").fetchone()[0]  # noqa: E731
        times: dict[str, Any] = {"started_at": now()}
        ran = [p for p, on in (("pre_import", phase in ("pre", "all")),
                               ("tag_import", phase in ("tags", "all")),
                               ("blob_import", phase in ("blobs", "all"))) if on]

        def record(error: str | None = None) -> None:
            counts = counts_of(conn)
            row = {"storage_driver": "filesystem", **{p: p in ran for p in
                   ("pre_import", "tag_import", "blob_import")}, **times,
                   "repositories_count": counts["repositories"], "tags_count": counts["tags"],
                   "manifests_count": counts["manifests"]}
            if error:
                row[f"{ran[-1] if 'tag_import' not in ran else 'tag_import'}_error"] = error
            else:
                row["finished_at"] = now()
            if "blob_import" in ran and not error:
                row["blobs_count"] = counts["blobs"]
                row["blobs_size_bytes"] = conn.execute(
                    "SELECT COALESCE(sum(size), 0) FROM blobs").fetchone()[0]
            names = list(row)
            conn.execute(f"INSERT INTO import_statistics ({', '.join(names)}) VALUES "
                         f"({', '.join(['%s'] * len(names))})", [row[n] for n in names])

        if phase != "blobs":
            repos = sorted({i.repository for i in images})
            if skip_half:
                repos = repos[::2]
            for part in [p for p in ("pre_import", "tag_import") if p in ran]:
                times[f"{part}_started_at"] = now()
                if part == "pre_import" and phase == "all":
                    times["pre_import_finished_at"] = now()  # one walk writes both below
                    continue
                for n, repo in enumerate(repos):
                    if stop_after is not None and n >= stop_after:
                        record(f"import stopped after {n} of {len(repos)} repositories")
                        raise ImportInterrupted(f"import stopped after {n} of {len(repos)} "
                                                "repositories")
                    if freeze_after is not None and n >= freeze_after:
                        while True:  # hung: alive, writing nothing, until killed
                            time.sleep(3600)
                    with conn.transaction():
                        for img in (i for i in images if i.repository == repo):
                            record_manifest(conn, img, tag=phase != "pre")
                    if rate:
                        time.sleep(1 / rate)
                times[f"{part}_finished_at"] = now()
        if phase in ("blobs", "all"):
            times["blob_import_started_at"] = now()
            with conn.transaction():  # layers and configs; manifests live in `manifests`
                manifests = {r[0] for r in conn.execute("SELECT digest FROM manifests")}
                for digest, size in storage_blobs(storage_root):
                    if digest in manifests:
                        continue
                    conn.execute("INSERT INTO blobs (digest, media_type, size) VALUES "
                                 "(%s, 'application/octet-stream', %s) ON CONFLICT DO NOTHING",
                                 (digest, size))
            times["blob_import_finished_at"] = now()
        record()
        return counts_of(conn)


def counts_of(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("repositories", "manifests", "tags", "blobs")}
