"""Unit cases of the GEO checks (test_geo.py), on recorded lab runs (see geopreflight.cases)."""

from __future__ import annotations

from geopreflight.cases import FAILED, NOW, REMOVE, Case, geo_site, geo_status

P, S = "eu-primary", "us-secondary"
GEO_FAILED = {("geo.sites", None): FAILED("GET /api/v4/geo_sites: HTTP 403")}
# GEO-003 judges the status's age against the clock: a recorded status is made fresh again.
FRESH = {geo_status(2, "last_successful_status_check_timestamp"): NOW(-60)}
ELSEWHERE = {geo_site(2, "name"): "ap-tertiary", geo_site(2, "url"): "https://ap.example.com/",
             geo_site(2, "internal_url"): "https://ap.example.com/"}

ERROR_ONLY = {"GEO-006": "a site that does not answer cannot be judged: an error, not a fail"}

CASES: list[Case] = [
    # GEO-001: exactly one primary in the Geo sites API
    Case("GEO-001", "pass", None, "legacy-both", {}, "one primary, one secondary"),
    Case("GEO-001", "fail", None, "legacy-both", {geo_site(2, "primary"): True},
         "two sites flagged primary", message="2 primaries"),
    Case("GEO-001", "fail", None, "add-geo-external-db", {}, "Geo not set up: no site",
         message="0 primaries"),
    Case("GEO-001", "error", None, "legacy-both", GEO_FAILED, "the Geo sites API failed"),
    # GEO-002: the inventory site is the Geo site with the expected role
    Case("GEO-002", "pass", S, "legacy-both", {}, "matched by name, secondary",
         message="matched by name"),
    Case("GEO-002", "pass", S, "legacy-both", {geo_site(2, "name"): "us-renamed"},
         "a renamed Geo site still matches by its url", message="matched by url",
         name="by-url"),
    Case("GEO-002", "fail", P, "legacy-both",
         {geo_site(1, "primary"): False, geo_site(2, "primary"): True},
         "the inventory says primary, GitLab says secondary (a failover)",
         message="whose role is secondary"),
    Case("GEO-002", "fail", S, "legacy-both", ELSEWHERE,
         "no Geo site has the site's name or url", message="matches no Geo site",
         name="no-match"),
    Case("GEO-002", "error", S, "legacy-both", GEO_FAILED, "the Geo sites API failed"),
    # GEO-003: the secondary is healthy, with a status fresher than an hour
    Case("GEO-003", "pass", S, "legacy-both", FRESH, "Healthy, a minute old",
         message="Healthy"),
    Case("GEO-003", "fail", S, "legacy-both",
         {**FRESH, geo_status(2, "healthy"): False, geo_status(2, "health_status"): "Unhealthy",
          geo_status(2, "health"): "Geo node has a database that is writable"},
         "unhealthy, with GitLab's text (secondary-unhealthy)", message="GitLab says: Geo node"),
    Case("GEO-003", "fail", S, "legacy-both",
         {geo_status(2, "last_successful_status_check_timestamp"): NOW(-7200)},
         "a healthy status two hours old is stale", message="120 minutes old", name="stale"),
    Case("GEO-003", "fail", S, "legacy-both", {geo_status(2, "geo_node_id"): 99},
         "the secondary never reported a status", message="no Geo status", name="no-status"),
    Case("GEO-003", "fail", S, "legacy-both", ELSEWHERE, "not a Geo site, so no health",
         message="not a Geo site", name="not-geo"),
    Case("GEO-003", "error", S, "legacy-both",
         {geo_status(2, "last_successful_status_check_timestamp"): REMOVE,
          geo_status(2, "updated_at"): "yesterday"},
         "a status without a usable timestamp cannot be judged fresh",
         message="no usable timestamp"),
    Case("GEO-003", "error", S, "legacy-both", {("geo.statuses", None): FAILED("HTTP 500")},
         "the Geo statuses failed", name="statuses-failed"),
    # GEO-004: no Geo site yet (the add-geo scenarios)
    Case("GEO-004", "pass", None, "add-geo-external-db", {}, "an instance without Geo"),
    Case("GEO-004", "fail", None, "legacy-both", {}, "Geo already set up",
         message="already configured"),
    Case("GEO-004", "error", None, "add-geo-external-db", GEO_FAILED,
         "the Geo sites API failed: an empty answer is not assumed"),
    # GEO-005: every Geo site is in the inventory (advisory)
    Case("GEO-005", "pass", None, "legacy-both", {}, "both Geo sites are inventory sites"),
    Case("GEO-005", "fail", None, "legacy-both", ELSEWHERE,
         "a Geo site nobody listed is never checked", message="ap-tertiary"),
    Case("GEO-005", "error", None, "legacy-both", GEO_FAILED, "the Geo sites API failed"),
    # GEO-006: GitLab answers at the site's own URL
    Case("GEO-006", "pass", S, "legacy-both", {}, "the secondary answers"),
    Case("GEO-006", "error", S, "legacy-both",
         {("gitlab.own_answer", S): FAILED("cannot connect (connection refused)")},
         "a site that does not answer is an error naming why", message="connection refused"),
    # GEO-007: the secondary's Geo site replicates every container repository
    Case("GEO-007", "pass", S, "legacy-both", {}, "enabled, capacity 10, no selective sync",
         message="capacity 10"),
    Case("GEO-007", "fail", S, "legacy-both", {geo_site(2, "enabled"): False},
         "a disabled secondary site replicates nothing (geo-site-disabled)",
         message="the Geo site is disabled"),
    Case("GEO-007", "fail", S, "legacy-both",
         {geo_site(2, "container_repositories_max_capacity"): 0},
         "capacity 0: no container repository sync job runs", message="is 0", name="capacity"),
    Case("GEO-007", "warn", S, "legacy-both",
         {geo_site(2, "selective_sync_type"): "namespaces",
          geo_site(2, "selective_sync_namespace_ids"): [25]},
         "selective sync leaves repositories off the secondary (geo-selective-sync)",
         message="namespaces: [25]"),
    Case("GEO-007", "fail", S, "add-geo-external-db", {}, "not a Geo site yet",
         message="not a Geo site", name="no-geo"),
    Case("GEO-007", "error", S, "legacy-both", {geo_site(2, "enabled"): REMOVE},
         "an answer without the field cannot be judged", name="no-field"),
    Case("GEO-007", "error", S, "legacy-both", GEO_FAILED, "the Geo sites API failed",
         name="api"),
]
