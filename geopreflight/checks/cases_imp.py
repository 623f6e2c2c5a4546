"""Unit cases of the IMP checks (test_imp.py), on recorded lab runs (see geopreflight.cases)."""

from __future__ import annotations

from geopreflight.cases import FAILED, Case, config_yml, db, geo_site, host, rb

P, S = "eu-primary", "us-secondary"
UNREADABLE = {host(S, "lockfiles"): {"readable": False, "why": "object storage: no S3 access"}}
NO_LOCKFILE = {host(S, "lockfiles", "filesystem-in-use"): False}
BOTH = {host(S, "lockfiles", "database-in-use"): True}
# the registry on S3 without registry.storage in the inventory: no lockfile source at all
ON_S3 = {config_yml(S, "storage_backend"): "s3",
         host(S, "lockfiles"): {"readable": False, "why": "s3 storage: the lockfiles live in "
                                                       "object storage, not on the host"},
         ("storage.lockfiles", S): {"readable": False, "why": "no registry.storage"}}
BUCKET = {("storage.lockfiles", S): {"readable": True, "dir": "https://s3/b/docker/registry/"
                                                              "lockfiles",
                                     "database-in-use": False, "filesystem-in-use": True}}


def _statistics(runs: list[dict]) -> dict:
    return {"present": True, "runs": runs}


# a finished one-step import recorded by the registry: 120 tags in 30 s on filesystem storage
ONE_STEP_RUN = {"id": 1, "pre_import": True, "tag_import": True, "blob_import": True,
                "storage_driver": "filesystem", "started_at": "2026-01-10T10:00:00+00:00",
                "finished_at": "2026-01-10T10:00:30+00:00", "repositories_count": 12,
                "tags_count": 120, "manifests_count": 120}
SECONDARY_DONE = {("db.import_statistics", S): _statistics([ONE_STEP_RUN]),
                  ("db.import_statistics", P): _statistics([])}
NOTHING_DONE = {("db.import_statistics", S): _statistics([]),
                ("db.import_statistics", P): _statistics([])}
# IMP-008 informs: an estimate is a number or "cannot tell", never a finding against the site
ERROR_ONLY = {"IMP-008": "an estimate is advisory: it passes with a range or cannot be made"}

CASES: list[Case] = [
    # IMP-001: filesystem-in-use only: not imported yet
    Case("IMP-001", "pass", S, "legacy-both", {}, "a legacy registry with data, not imported",
         message="filesystem-in-use only"),
    Case("IMP-001", "fail", S, "secondary-imported", {}, "imported already (import twice)",
         message="database-in-use in the storage"),
    Case("IMP-001", "fail", S, "legacy-both", NO_LOCKFILE,
         "no lockfile: the registry never wrote filesystem-in-use", message="no lockfile",
         name="no-lockfile"),
    Case("IMP-001", "fail", S, "legacy-both", BOTH, "both lockfiles stop the registry",
         message="database-in-use and filesystem-in-use", name="both"),
    Case("IMP-001", "fail", S, "add-geo-external-db", {},
         "no registry on the site: nothing to import", message="has no registry",
         name="no-registry"),
    Case("IMP-001", "error", S, "legacy-both", UNREADABLE,
         "lockfiles that cannot be read are not assumed", message="object storage"),
    Case("IMP-001", "pass", S, "legacy-both", ON_S3,
         "object storage, no bucket access: the header and the empty database decide, and "
         "the row says so", message="decided from: header", name="object-storage"),
    Case("IMP-001", "fail", S, "legacy-both", {**ON_S3, db(S, "tables", "tags", "rows"): 3},
         "object storage, no bucket access, tags in the database: the import has begun",
         message="import has begun", name="object-storage"),
    Case("IMP-001", "pass", S, "legacy-both", {**ON_S3, **BUCKET},
         "the lockfiles read from the bucket (registry.storage)", message="filesystem-in-use",
         name="bucket"),
    Case("IMP-001", "fail", S, "legacy-both",
         {**ON_S3, **BUCKET, ("storage.lockfiles", S, "database-in-use"): True},
         "both lockfiles in the bucket", message="database-in-use and filesystem-in-use",
         name="bucket"),
    Case("IMP-001", "error", S, "legacy-both",
         {**ON_S3, ("storage.lockfiles", S): FAILED("HEAD ...: 403, expected 200 or 404")},
         "registry.storage given but the bucket refused: an error, not a guess",
         message="403", name="bucket-refused"),
    # IMP-002: database-in-use only: the import finished
    Case("IMP-002", "pass", S, "secondary-imported", {}, "the importer swapped the lockfiles",
         message="database-in-use only"),
    Case("IMP-002", "fail", S, "legacy-both", {}, "not imported",
         message="filesystem-in-use in the storage"),
    Case("IMP-002", "fail", S, "secondary-imported",
         {host(S, "lockfiles", "filesystem-in-use"): True},
         "a failed import restored filesystem-in-use beside it", message="and filesystem",
         name="both"),
    Case("IMP-002", "fail", S, "secondary-imported", {rb(S, "registry", "enable"): False},
         "the registry is disabled in gitlab.rb", message="has no registry", name="disabled"),
    Case("IMP-002", "error", S, "legacy-both", UNREADABLE, "lockfiles unreadable"),
    # IMP-003 (started): rows or database-in-use show that the import began
    Case("IMP-003", "pass", S, "secondary-imported", {}, "imported rows and database-in-use",
         message="begun"),
    Case("IMP-003", "pass", S, "legacy-both", {db(S, "tables", "repositories", "rows"): 2},
         "step one (pre-import) wrote repositories, lockfiles unchanged",
         message="2 repository row(s)", name="pre-import"),
    Case("IMP-003", "fail", S, "legacy-both", {}, "nothing imported yet",
         message="no imported rows"),
    Case("IMP-003", "error", S, "legacy-both", {("db.server", S): FAILED("refused")},
         "the database cannot be read: not taken as not begun by a pass"),
    # IMP-005 (during): tags with filesystem-in-use: running or interrupted
    Case("IMP-005", "pass", S, "legacy-both", {}, "no tags before the tag import",
         message="tags not imported yet"),
    Case("IMP-005", "pass", S, "secondary-imported", {}, "the tag import finished",
         message="database-in-use", name="finished"),
    Case("IMP-005", "fail", S, "legacy-both", {db(S, "tables", "tags", "rows"): 1},
         "tags imported but filesystem-in-use still there (interrupted import)",
         message="running or was interrupted"),
    Case("IMP-005", "error", S, "legacy-both", UNREADABLE, "lockfiles unreadable"),
    # IMP-006 (during): read-only until the tags are imported
    Case("IMP-006", "pass", S, "legacy-both", {}, "read-only before the tag import",
         message="read-only while"),
    Case("IMP-006", "pass", S, "secondary-imported", {}, "database-in-use: read-only may be off",
         message="read-only may be off", name="imported"),
    Case("IMP-006", "fail", S, "legacy-both", {config_yml(S, "readonly"): False},
         "three-step after step one, read-write before step two",
         message="the tag import (one-step, or step two) needs read-only"),
    Case("IMP-006", "error", S, "legacy-both", UNREADABLE, "lockfiles unreadable"),
    # IMP-004 (deployment): every secondary imported before the primary
    Case("IMP-004", "pass", None, "secondary-imported", {}, "us-secondary imported",
         message="imported: us-secondary"),
    Case("IMP-004", "fail", None, "legacy-both", {}, "nothing imported: primary first is wrong",
         message="not imported yet: us-secondary"),
    Case("IMP-004", "error", None, "secondary-imported", UNREADABLE,
         "a secondary's lockfiles cannot be read"),
    # IMP-008 (advisory): the read-only window, calibrated on a finished import
    Case("IMP-008", "pass", P, "secondary-imported", SECONDARY_DONE,
         "the secondary's finished import calibrates the primary's estimate",
         message="calibrated from us-secondary's finished one-step import (120 tags in 30 s"),
    Case("IMP-008", "pass", S, "secondary-imported", SECONDARY_DONE,
         "the site's own import finished: its measured duration, not an estimate",
         message="measured, not estimated: one-step import took 30 s for 120 tags",
         name="measured"),
    Case("IMP-008", "pass", S, "legacy-both", NOTHING_DONE,
         "no import finished anywhere: the storage's tag count at published rates, a wide range",
         message="basis: published rates", name="published"),
    Case("IMP-008", "error", S, "legacy-both",
         {**NOTHING_DONE, ("storage.content", S): FAILED("find: timed out")},
         "the storage not counted and no import finished: no number is invented",
         message="number of tags to import is unknown"),
    Case("IMP-008", "error", P, "legacy-both",
         {("db.import_statistics", S): FAILED("connection refused"),
          ("db.import_statistics", P): FAILED("connection refused")},
         "the statistics cannot be read", message="import statistics cannot be read",
         name="unread"),
]

# multinode-registry-rw: registry2, a second registry node of the secondary, read-write
MRW, MAIN, R2 = "multinode-registry-rw", f"{S}/main", f"{S}/registry2"
CASES += [
    Case("IMP-006", "pass", MAIN, MRW, {}, "the read-only node", name="node-ro"),
    Case("IMP-006", "fail", R2, MRW, {}, "a registry node read-write before the tag import",
         message="us-secondary host registry2: the tags are not imported yet", name="node-rw"),
]

# the primary lists a Geo secondary the inventory does not name (geo-site-not-in-inventory)
ELSEWHERE = {geo_site(2, "name"): "ap-secondary", geo_site(2, "url"): "https://ap.example.com/",
             geo_site(2, "internal_url"): "https://ap.example.com/"}
CASES += [
    Case("IMP-004", "fail", None, "secondary-imported", ELSEWHERE,
         "a Geo secondary left out of the inventory cannot be shown imported",
         message="not imported yet: ap-secondary (a Geo secondary not in the inventory",
         name="not-in-inventory"),
    Case("IMP-004", "error", None, "secondary-imported", {("geo.sites", None): FAILED("401")},
         "the primary's list of Geo sites cannot be read", name="geo-sites"),
]

# IMP-007: the content the storage holds is in the database (recorded: 2 repositories,
# 3 tags, platform/base with 1 tag and group/project/app with 2)
EMPTY_DB = {"repositories": 0, "tags": 0, "sample": [], "sample_tags": {}, "buckets": [0] * 16}
HALF_DB = {"repositories": 1, "tags": 1, "sample": ["platform/base"],
           "sample_tags": {"platform/base": 1},
           "buckets": [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]}
CASES += [
    Case("IMP-007", "pass", S, "secondary-imported", {}, "every repository and tag imported",
         message="storage holds 2 repositories and 3 tags, the metadata database 2"),
    Case("IMP-007", "fail", S, "secondary-imported", {("db.content", S): EMPTY_DB},
         "emptied import: filesystem-in-use deleted, enabled true, the registry wrote "
         "database-in-use over an empty database", message="at least 2 repositories missing",
         name="emptied"),
    Case("IMP-007", "fail", S, "secondary-imported", {("db.content", S): HALF_DB},
         "the importer skipped a repository and still swapped the lockfiles",
         message="for example group/project/app", name="partial"),
    Case("IMP-007", "fail", S, "secondary-imported",
         {("db.content", S, "sample_tags", "group/project/app"): 1, ("db.content", S, "tags"): 2},
         "a repository with fewer tags in the database than links in storage",
         message="at least 1 tags missing; for example group/project/app", name="tags"),
    Case("IMP-007", "fail", S, "secondary-imported",
         {("db.content", S, "repositories"): 5,
          ("db.content", S, "buckets"): [3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]},
         "more repositories in the database in total, but one bucket of the storage's is "
         "short: a missing repository the totals hide", message="at least 1 repositories",
         name="bucket"),
    Case("IMP-007", "fail", S, "secondary-imported", {("db.content", S): None},
         "database-in-use but no repositories table at all", message="no tables",
         name="no-tables"),
    Case("IMP-007", "pass", S, "secondary-imported",
         {("storage.content", S, "repositories"): 0, ("storage.content", S, "tags"): 0,
          ("storage.content", S, "sample"): [], ("storage.content", S, "sample_tags"): {},
          ("storage.content", S, "buckets"): [0] * 16, ("db.content", S): None},
         "a registry with no data: nothing to import", message="nothing to import",
         name="no-data"),
    Case("IMP-007", "not-applicable", S, "legacy-both", {},
         "filesystem-in-use: the tag import has not finished, content is judged after it",
         message="has not finished"),
    Case("IMP-007", "error", S, "secondary-imported",
         {("storage.content", S): FAILED("cannot count: permission denied")},
         "the storage cannot be counted: never a pass", message="permission denied"),
    Case("IMP-007", "error", S, "secondary-imported",
         {("db.content", S): FAILED("refused")}, "the database cannot be read",
         name="db-refused"),
    Case("IMP-007", "pass", S, "legacy-both",
         {**ON_S3, ("registry.api", S, "database_enabled"): "true",
          ("db.content", S): {"repositories": 2, "tags": 3,
                              "sample": ["platform/base", "group/project/app"],
                              "sample_tags": {"platform/base": 1, "group/project/app": 2},
                              "buckets": [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]}},
         "object storage without lockfile access: the registry's header says database, so "
         "the content is compared", message="the metadata database 2 repositories",
         name="object-storage"),
]
