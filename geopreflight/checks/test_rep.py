"""Geo replication of the container registry, as the primary's Geo status reports it."""

from __future__ import annotations

from geopreflight.catalog import CannotEvaluate, Fail, NotApplicable, check
from geopreflight.context import CheckContext
from geopreflight.facts import FactError
from geopreflight.i18n import _
from geopreflight.probes.models import CanaryPushed, CanarySeen, GeoStatus

from ._geo import geo_match, status_of

GEO_REGISTRY = "https://docs.gitlab.com/administration/geo/replication/container_registry/"


def _status(ctx: CheckContext) -> GeoStatus:
    m = geo_match(ctx, ctx.site)
    if m.geo_site is None:
        raise Fail(_("{site} is not a Geo site").format(site=ctx.site.name), observed="no Geo site",
                   expected="a Geo secondary")
    status = status_of(ctx, m.geo_site)
    if status is None:
        raise Fail(_("{site} has no Geo status").format(site=ctx.site.name), observed="no status",
                   expected="a Geo status")
    return status


@check("REP-001", title="Container registry replication is enabled on the secondary",
       severity="critical", roles=("secondary",),
       rationale="The secondary's Geo status reports container_repositories_replication_enabled "
                 "from geo.registry_replication.enabled (https://gitlab.com/gitlab-org/gitlab/-/"
                 "blob/master/ee/app/models/geo_node_status.rb, https://docs.gitlab.com/"
                 "administration/geo/replication/container_registry/).",
       remediation="Set gitlab_rails['geo_registry_replication_enabled'] = true and "
                   "geo_registry_replication_primary_api_url on the secondary, reconfigure.",
       doc=GEO_REGISTRY, eventual=True)
def test_rep_001_replication_enabled(ctx: CheckContext) -> str:
    value = _status(ctx).container_repositories_replication_enabled
    if value is not True:
        raise Fail(_("{site}: container_repositories_replication_enabled is {value}").format(
                       site=ctx.site.name, value=value),
                   observed=value, expected=True)
    return _("container_repositories_replication_enabled: true")


@check("REP-002", title="Container repositories are synced and verified, none failed",
       severity="high", roles=("secondary",),
       rationale="Replication works when the secondary's status shows no failed container "
                 "repository and synced equal to its registry count, and that count covers "
                 "the primary's container_repositories_count; the secondary's Geo log cursor "
                 "(cursor_last_event_id) must keep up with the primary's last_event_id, or new "
                 "pushes are never scheduled (https://docs.gitlab.com/api/geo_sites/, "
                 "https://gitlab.com/gitlab-org/gitlab/-/blob/master/ee/app/models/"
                 "geo_node_status.rb). The cursor may lag by thresholds.replication_lag_s. "
                 "'Synced' is not 'copied': Geo::ContainerRepositorySync#execute rescues each "
                 "tag's error and marks the repository synced anyway (https://gitlab.com/"
                 "gitlab-org/gitlab/-/blob/master/ee/app/services/geo/"
                 "container_repository_sync.rb), so content is proven only by verification "
                 "(the tag list's checksum): container_repositories_verified_count equal to "
                 "the registry count, and no verification_failed or (on the primary) "
                 "checksum_failed repository.",
       remediation="Look at Admin > Geo > Sites > Replication Details > Container "
                   "Repositories on the secondary, fix the failures (geo.log) and Resync; a "
                   "cursor that does not move means the secondary's Geo log cursor "
                   "(Sidekiq, geo_log_cursor) is not running. Verified short of the registry "
                   "count, or verification or checksum failures: Resync all / Reverify all "
                   "there (or gitlab-rake 'gitlab:geo:reverify_container_repositories_since[N]' "
                   "on the primary) and wait until verified equals the registry count.",
       doc=GEO_REGISTRY, eventual=True)
def test_rep_002_repositories_synced(ctx: CheckContext) -> str:
    s = _status(ctx)
    failed = s.container_repositories_failed_count
    synced = s.container_repositories_synced_count
    total = s.container_repositories_registry_count
    seen = f"failed {failed}, synced {synced} of {total}"
    if failed != 0 or synced is None or synced != total:
        raise Fail(_("{site}: container repositories {seen}").format(
                       site=ctx.site.name, seen=seen),
                   observed=seen,
                   expected=f"failed 0, synced {total} of {total}")
    primary = _primary_status(ctx)
    on_primary = primary.raw.get("container_repositories_count") if primary else None
    if isinstance(on_primary, int) and synced < on_primary:
        raise Fail(_("{site}: synced {synced} of the primary's {on_primary} container "
                     "repositories (the secondary does not track them all yet)").format(
                       site=ctx.site.name, synced=synced, on_primary=on_primary),
                   observed=f"synced {synced}", expected=f"synced {on_primary} (the primary's)")
    _verified(ctx, s, total, seen)
    seen = f"{seen}, verified {s.container_repositories_verified_count}"
    lag = _cursor_lag(s)
    if lag is not None and lag > ctx.inventory.replication_lag_s:
        raise Fail(_("{site}: the Geo log cursor is {lag:.0f} s behind the last event "
                     "(cursor_last_event_id {value}, last_event_id {value2})").format(
                       site=ctx.site.name, lag=lag, value=s.raw.get('cursor_last_event_id'),
                       value2=s.raw.get('last_event_id')),
                   observed=f"{lag:.0f} s behind",
                   expected=f"at most {ctx.inventory.replication_lag_s:g} s")
    if on_primary is None:
        return seen
    return _("{seen} (primary: {count})").format(seen=seen, count=on_primary)


def _verified(ctx: CheckContext, s: GeoStatus, total: int | None, synced: str) -> None:
    """Verified equal to the registry count, no verification failure on the secondary and
    no checksum failure on either side (the primary computes the checksums)."""
    verified = s.container_repositories_verified_count
    failed = s.container_repositories_verification_failed_count
    primary = _primary_status(ctx)
    checksum = {"primary": primary.container_repositories_checksum_failed_count
                if primary else None,
                "secondary": s.container_repositories_checksum_failed_count}
    bad_checksums = {k: v for k, v in checksum.items() if v not in (None, 0)}
    seen = (f"verified {verified} of {total}, verification failed {failed}"
            + "".join(f", checksum failed {v} on the {k}" for k, v in bad_checksums.items()))
    if verified is None or verified != total or failed != 0 or bad_checksums:
        raise Fail(_("{site}: container repositories {synced}, but {seen}: synced is not "
                     "proven copied (Resync all / Reverify)").format(
                       site=ctx.site.name, synced=synced, seen=seen),
                   observed=f"{synced}, {seen}",
                   expected=f"verified {total} of {total}, no verification or checksum "
                            "failure")


def _primary_status(ctx: CheckContext) -> GeoStatus | None:
    m = geo_match(ctx, ctx.inventory.primary)
    return status_of(ctx, m.geo_site) if m.geo_site else None


def _cursor_lag(s: GeoStatus) -> float | None:
    """Seconds between the last Geo event and the last one the secondary's cursor processed
    (None when the status does not say); a cursor that never processed one is infinitely
    behind once there are events."""
    last, cursor = s.raw.get("last_event_timestamp"), s.raw.get("cursor_last_event_timestamp")
    if s.raw.get("last_event_id") and s.raw.get("cursor_last_event_id") is None:
        return float("inf")
    if isinstance(last, int | float) and isinstance(cursor, int | float):
        return max(0.0, float(last) - float(cursor))
    return None


@check("REP-003", title="A canary image pushed to the primary reaches the secondary",
       severity="high", roles=("secondary",),
       rationale="The Geo status counts registry rows, so it can show 100% while updates are not "
                 "synced (https://docs.gitlab.com/administration/geo/replication/"
                 "container_registry/); only an image pushed to the primary and pulled, with the "
                 "same digest, from the secondary proves replication end to end (inferred from "
                 "https://gitlab.com/gitlab-org/gitlab/-/blob/master/ee/app/services/geo/"
                 "container_repository_sync.rb). In database mode the manifest is served from "
                 "the metadata database (https://gitlab.com/gitlab-org/container-registry/-/blob/"
                 "master/registry/handlers/manifests.go), so the canary also GETs the manifest "
                 "by digest and its layer blob, following a redirect to object storage (the "
                 "token only to the registry's own origin), and checks the content's digest. "
                 "Runs only with --canary, the one option that writes.",
       remediation="Check the primary's geo_event notification endpoint (HOST-004), the "
                   "secondary's replication settings (HOST-005, REG-012) and geo.log on the "
                   "secondary; resync the repository in Admin > Geo.",
       doc=GEO_REGISTRY, eventual=True)
def test_rep_003_canary_reaches_secondary(ctx: CheckContext) -> str:
    if not ctx.facts.has("canary.pushed"):
        raise NotApplicable(_("no canary was pushed: run with --canary to prove replication "
                              "end to end (it writes one tiny image)"))
    try:
        pushed: CanaryPushed = ctx.fact("canary.pushed", None)
    except FactError as exc:  # nothing was pushed, so nothing could replicate: unknown
        raise CannotEvaluate(_("{site}: the canary could not be pushed to the primary's "
                               "registry ({primary}): {exc}").format(
                                 site=ctx.site.name, primary=ctx.inventory.primary.name,
                                 exc=exc)) from None
    name = f"{pushed.repository}:{pushed.tag}"
    if ctx.site.registry and ctx.site.registry.location_aware \
            and not ctx.site.registry.internal_url:
        raise CannotEvaluate(_("{site}'s registry URL is location-aware (shared with another "
                               "site) and the inventory gives no registry.internal_url for "
                               "it: the canary cannot tell which site answered, so it proves "
                               "nothing here; add registry.internal_url (an address that "
                               "reaches this site's registry only) under {site}, or waive "
                               "REP-003 with other evidence").format(site=ctx.site.name))
    try:
        seen: CanarySeen = ctx.fact("canary.seen")
    except FactError as exc:
        raise Fail(f"{ctx.site.name}: {exc}", observed="not replicated",
                   expected=f"{name} with digest {pushed.digest}") from None
    if seen.blob_via is None:
        raise Fail(_("{site}: {name} arrived, but its layer blob was not read (a recording "
                     "from before the canary read it): the storage is unproven").format(
                       site=ctx.site.name, name=name),
                   observed="manifest only", expected="the manifest and its layer blob")
    return _("{name} arrived with the same digest after {seconds} s; the manifest by digest "
             "and its layer blob (from {via}) match").format(name=name, seconds=seen.seconds,
                                                             via=seen.blob_via)
