"""An import is complete only when its content is there (IMP-007): the lab's real storage
walked on the node, the real metadata DB counted. A mode and lockfiles that say "database"
over an empty or half-filled database are NOT READY at the import step, never READY for the
next step and never COMPLETE, naming the site, the check and the shortfall."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labrun import expect, fails_on, run_now

PROFILE, SEC = "migrate-legacy", "us-secondary"


@pytest.mark.lab
def test_an_emptied_import_is_not_ready_and_says_how_many_are_missing(lab):
    """filesystem-in-use deleted and enabled true: database-in-use over no rows. The mode
    checks (REG-006, IMP-002) pass; the content does not."""
    d = lab("emptied-import")
    s = run_now(d, PROFILE)
    expect(s, "import-secondary", "NOT_READY", {"import-secondary": "in-progress"})
    # the reports show the counts that disprove the import: storage beside the database
    content = {c["site"]: c for c in s["content"]}
    assert content[SEC]["storage"] == {"read": "filesystem", "repositories": 2, "tags": 3}
    assert content[SEC]["database"] == {"repositories": 0, "tags": 0}
    html = max(Path(d.dir, "reports").glob("walk-*/latest/report.html"),
               key=lambda p: p.stat().st_mtime).read_text()
    assert ('<tr><th scope=row>us-secondary</th><td>2</td><td>3</td><td>0</td><td>0</td></tr>'
            in html)
    r = fails_on(s, "IMP-007", SEC, "at least 2 repositories missing")
    assert "at least 3 tags missing" in r["message"]
    assert "for example" in r["message"] and "group/project/app" in r["message"]
    assert "Restore the site's registry database" in r["remediation"]
    assert "IMP-007" in s["verdict_line"] or "IMP-007" in s["stdout"]
    for ok in ("REG-006", "IMP-002"):
        assert all(c["outcome"] == "pass" for c in s["checks"]
                   if c["id"] == ok and c["site"] == SEC)


@pytest.mark.lab
def test_a_partial_import_names_the_repositories_it_skipped(lab):
    """The importer skipped half of the repositories and still swapped the lockfiles; the
    operator finished the import: NOT READY at import-secondary, naming the skipped one."""
    s = run_now(lab("partial-import"), PROFILE)
    expect(s, "import-secondary", "NOT_READY", {"import-secondary": "in-progress"})
    r = fails_on(s, "IMP-007", SEC, "at least 1 repositories missing")
    assert "platform/base" in r["message"], r["message"]  # sorted: group/... kept, this skipped
    assert "storage holds 2 repositories and 3 tags" in r["observed"]


@pytest.mark.lab
def test_verification_failures_keep_replication_unproven(lab):
    """Synced 2 of 2, but one repository's checksum does not match: verify-replication is
    NOT READY on REP-002, with Resync all / Reverify as the fix."""
    s = run_now(lab("verification-failing"), PROFILE)
    expect(s, "verify-replication", "NOT_READY")
    r = fails_on(s, "REP-002", SEC, "verified 1 of 2, verification failed 1")
    assert "Resync all / Reverify" in r["remediation"]


@pytest.mark.lab
def test_a_push_during_the_secondarys_read_only_import_is_synced_but_absent(lab):
    """The primary took a push while the secondary was read-only for its import: Geo marks
    the repository synced (the tag's error rescued), the tag is not on the secondary, and
    verification tells: never COMPLETE, NOT READY at verify-replication on REP-002."""
    d = lab("synced-but-absent")
    s = run_now(d, PROFILE)
    expect(s, "verify-replication", "NOT_READY")
    r = fails_on(s, "REP-002", SEC, "verification failed 1")
    assert "synced 2 of 2" in r["message"] or "failed 0" in r["message"], r["message"]


@pytest.mark.lab
def test_a_shared_db_is_never_complete(lab):
    """Every step's completes hold, the canary arrives, but the secondary's metadata DB
    lives in the primary's cluster: the invariants are re-judged, NOT READY at the last step
    on DB-003, and the COMPLETE plan's invariants show in the report."""
    s = run_now(lab("shared-db-complete"), PROFILE, "--canary", "--wait=30")
    expect(s, "verify-replication", "NOT_READY",
           {"import-primary": "complete", "verify-replication": "next"})
    fails_on(s, "DB-003", SEC, "eu-primary")
    assert "so not COMPLETE" in s["stdout"]
    assert any(c["id"] == "IMP-007" and c["outcome"] == "pass" for c in s["checks"])


@pytest.mark.lab
@pytest.mark.parametrize("kind,words", [
    ("pre", "1 pre-deployment pending (e.g. 20260310000000_bbm_backfill"),
    ("post", "1 post-deployment pending (e.g. 2025"),
])
def test_a_pending_migration_of_the_announced_release_is_not_ready(lab, kind, words):
    """The lab records the real migration ids of the release its registry announces
    (Gitlab-Container-Registry-Version: 4.39.0-gitlab) but one: DB-008 names it, against the
    commit of the release, and the import step is NOT READY."""
    s = run_now(lab(f"pending-{kind}-migration"), PROFILE)
    expect(s, "import-secondary", "NOT_READY")
    r = fails_on(s, "DB-008", SEC, words)
    assert "registry 4.39.0-gitlab (commit 94248efebfa4)" in r["message"]


@pytest.mark.lab
def test_a_canary_whose_blob_never_arrives_is_not_complete(lab):
    """The secondary serves the canary's manifest (HEAD by tag passes, as REP-003 used to
    check) but not its layer blob: NOT READY at verify-replication on REP-003."""
    s = run_now(lab("canary-blob-lost"), PROFILE, "--canary", "--wait=3")
    expect(s, "verify-replication", "NOT_READY")
    fails_on(s, "REP-003", SEC, "layer blob sha256:")


@pytest.mark.lab
def test_the_canary_reads_the_layer_blob(lab):
    s = run_now(lab("both-imported"), PROFILE, "--canary", "--wait=30")
    expect(s, None, "COMPLETE")
    r = next(c for c in s["checks"] if c["id"] == "REP-003" and c["site"] == SEC)
    assert "its layer blob (from the registry) match" in r["message"], r["message"]


def storage_content(lab, monkeypatch):
    """The storage.content probe alone, run against a lab as the checker runs it."""
    from geopreflight.facts import gather, load_probes
    from geopreflight.inventory import load_inventory
    from geopreflight.probes import PROBES
    from geopreflight.redact import Redactor

    for key, value in lab.environ().items():
        monkeypatch.setenv(key, value)
    load_probes()
    return gather(load_inventory(Path(lab.dir) / "inventory.yml"), Redactor([]),
                  [p for p in PROBES if p.key == "storage.content"])


@pytest.mark.lab
def test_object_storage_is_counted_page_by_page(fresh_lab, monkeypatch):
    """A registry on S3 (the lab's real S3 API): 1,200 more tags in the secondary's bucket
    take several ListObjectsV2 pages of 1,000 keys, and every tag is counted."""
    from lab import s3

    lab = fresh_lab("object-storage")
    model = next(x for x in lab.model["sites"] if x["name"] == SEC)
    client, bucket = s3.client(model["s3"]), model["s3"]["bucket"]
    base = "docker/registry/v2/repositories/group/many/_manifests/tags"
    for i in range(1200):
        for tail in ("current/link", f"index/sha256/{i:064x}/link"):
            client.put_object(Bucket=bucket, Key=f"{base}/t{i}/{tail}", Body=b"sha256:0")
    facts = storage_content(lab, monkeypatch)
    got = facts.value("storage.content", SEC)
    assert (got.read, got.repositories, got.tags) == ("s3", 3, 1203)
    assert got.requests >= 3  # 2,415 keys: three pages
    assert "ListObjectsV2" in facts.get("storage.content", SEC).source


@pytest.mark.lab
def test_object_storage_listing_skips_what_the_count_never_needs(fresh_lab, monkeypatch):
    """A repository with 3,000 layer links and 1,000 tags (each with its index of past
    digests): 5,000 more keys, which a flat listing takes at least 5 pages for. A page that
    ends among the layer links is followed by a listing that starts after them, so the count
    (still exact) takes at most 4."""
    from lab import s3

    lab = fresh_lab("object-storage")
    model = next(x for x in lab.model["sites"] if x["name"] == SEC)
    client, bucket = s3.client(model["s3"]), model["s3"]["bucket"]
    repo = "docker/registry/v2/repositories/group/many"
    keys = [f"{repo}/_layers/sha256/{i:064x}/link" for i in range(3000)] + [
        f"{repo}/_manifests/tags/t{i}/{tail}" for i in range(1000)
        for tail in ("current/link", f"index/sha256/{i:064x}/link")]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=b"sha256:0"),
                      keys))
    got = storage_content(lab, monkeypatch).value("storage.content", SEC)
    assert (got.repositories, got.tags) == (3, 1003)
    assert got.requests <= 4, got.requests
