"""Unit cases of the REP checks (test_rep.py), on recorded lab runs (see geopreflight.cases)."""

from __future__ import annotations

from geopreflight.cases import FAILED, NOW, REMOVE, Case, geo_site, geo_status

S = "us-secondary"
STATUSES_FAILED = {("geo.statuses", None): FAILED("GET /api/v4/geo_sites/status: HTTP 500")}
NOT_GEO = {geo_site(2, "name"): "ap-tertiary", geo_site(2, "url"): "https://ap.example.com/",
           geo_site(2, "internal_url"): "https://ap.example.com/"}

CASES: list[Case] = [
    # REP-001: registry replication enabled on the secondary
    Case("REP-001", "pass", S, "both-imported", {}, "replication enabled"),
    Case("REP-001", "fail", S, "both-imported",
         {geo_status(2, "container_repositories_replication_enabled"): False},
         "replication turned off (replication-disabled)", message="is False"),
    Case("REP-001", "fail", S, "both-imported",
         {geo_status(2, "container_repositories_replication_enabled"): REMOVE},
         "a status without the field is not enabled", message="is None", name="missing"),
    Case("REP-001", "fail", S, "both-imported", NOT_GEO, "not a Geo site",
         message="not a Geo site", name="not-geo"),
    Case("REP-001", "fail", S, "both-imported", {geo_status(2, "geo_node_id"): 99},
         "no Geo status", message="no Geo status", name="no-status"),
    Case("REP-001", "error", S, "both-imported", STATUSES_FAILED, "the statuses failed"),
    # REP-002: synced, none failed
    Case("REP-002", "pass", S, "both-imported", {}, "failed 0, synced 2 of 2, verified 2",
         message="verified 2"),
    Case("REP-002", "fail", S, "replication-failing", {}, "one repository failing to sync",
         message="failed 1, synced 1 of 2"),
    Case("REP-002", "fail", S, "both-imported",
         {geo_status(2, "container_repositories_synced_count"): 1},
         "none failed, one not synced yet", message="synced 1 of 2", name="behind"),
    Case("REP-002", "fail", S, "both-imported",
         {geo_status(2, "container_repositories_synced_count"): None,
          geo_status(2, "container_repositories_failed_count"): None},
         "no counts: nothing is known to be synced", message="synced None", name="no-counts"),
    Case("REP-002", "error", S, "both-imported", STATUSES_FAILED, "the statuses failed"),
    Case("REP-002", "fail", S, "both-imported", {geo_status(1, "container_repositories_count"): 5},
         "100% of its own rows, but fewer than the primary's repositories",
         message="of the primary's 5", name="behind-primary"),
    Case("REP-002", "fail", S, "both-imported",
         {geo_status(2, "last_event_timestamp"): NOW(0),
          geo_status(2, "cursor_last_event_timestamp"): NOW(-1000)},
         "the Geo log cursor stopped 1000 s ago (threshold 300 s)",
         message="Geo log cursor is", name="cursor-lag"),
    Case("REP-002", "fail", S, "both-imported", {geo_status(2, "cursor_last_event_id"): None},
         "the cursor never processed an event", message="Geo log cursor", name="no-cursor"),
    Case("REP-002", "fail", S, "both-imported",
         {geo_status(2, "container_repositories_verified_count"): 1,
          geo_status(2, "container_repositories_verification_failed_count"): 1},
         "synced 2 of 2 but one repository's tag list checksum does not match (a push made "
         "while the secondary was read-only, rescued and marked synced)",
         message="verified 1 of 2, verification failed 1", name="unverified"),
    Case("REP-002", "fail", S, "both-imported",
         {geo_status(2, "container_repositories_verified_count"): None,
          geo_status(2, "container_repositories_verification_failed_count"): None},
         "no verification counts (verification off): synced alone proves nothing",
         message="verified None", name="no-verification"),
    Case("REP-002", "fail", S, "both-imported",
         {geo_status(1, "container_repositories_checksum_failed_count"): 2},
         "the primary could not checksum two repositories", message="checksum failed 2 on "
         "the primary", name="checksum-failed"),
    # REP-003: the canary round trip (--canary)
    Case("REP-003", "pass", S, "both-imported", {}, "the canary arrived with its digest",
         message="its layer blob (from the registry) match"),
    Case("REP-003", "fail", S, "both-imported", {("canary.seen", S, "blob_via"): REMOVE},
         "a recording with the manifest only: the blob (the storage) is unproven",
         message="layer blob was not read", name="manifest-only"),
    Case("REP-003", "fail", S, "both-imported",
         {("canary.seen", S): FAILED("group/x/geopreflight-canary:c1 not on us-secondary's "
                                     "registry after 60 s (last answer: layer blob "
                                     "sha256:0123456789ab: 404 from the registry)")},
         "the manifest arrived, the layer blob never did", message="layer blob", name="blob"),
    Case("REP-003", "fail", S, "both-imported",
         {("canary.seen", S): FAILED("not on us-secondary's registry after 60 s")},
         "the canary never arrived", message="after 60 s"),
    Case("REP-003", "not-applicable", S, "legacy-both", {}, "run without --canary",
         message="--canary"),
    Case("REP-003", "error", S, "both-imported",
         {("canary.pushed", None): FAILED("PUT manifest: HTTP 403")},
         "the push itself failed: replication cannot be judged", message="HTTP 403"),
]
