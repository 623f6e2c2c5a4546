"""Versions: the floors of the procedure, and the same version on every Geo site."""

from __future__ import annotations

from dataclasses import replace

from geopreflight.catalog import CannotEvaluate, Fail, NotApplicable, Warn, check
from geopreflight.context import CheckContext
from geopreflight.facts import FactError
from geopreflight.i18n import _
from geopreflight.probes.models import GeoSites
from geopreflight.versions import at_least, parse

from . import GEO_PAGE, METADATA_DB_PAGE
from . import _views as sv
from ._geo import geo_match, own_version, status_of

GEO_FLOOR = "17.3"
LINUX_PACKAGE_FLOOR = "17.5"


def _version(ctx: CheckContext) -> tuple[str, str]:
    assert ctx.site is not None
    own = own_version(ctx, ctx.site)
    try:
        parse(own.version)
    except ValueError:
        raise CannotEvaluate(_("{site} reports {version!r}, which is not a GitLab version").format(
                                 site=ctx.site.name, version=own.version)) from None
    return own.version, own.source


@check("VER-001", title="GitLab 17.3 or later on every site", severity="critical",
       rationale="GitLab's Geo page lists GitLab 17.3 or later (database metadata support) as the "
                 "prerequisite (https://docs.gitlab.com/administration/packages/"
                 "container_registry/using_geo_with_the_container_registry/); the metadata "
                 "database is GA in 17.3. Judged on the version the site itself reports in its Geo "
                 "status, because a secondary proxies /api/v4/version to the primary "
                 "(https://docs.gitlab.com/development/geo/proxying/). A release candidate of "
                 "17.3.0 comes before 17.3.0 and does not meet the floor.",
       remediation="Upgrade the site to GitLab 17.3 or later (17.5 or later for a Linux "
                   "package install), all Geo sites to the same version, before continuing.",
       doc=GEO_PAGE)
def test_ver_001_gitlab_17_3_or_later(ctx: CheckContext) -> str:
    version, source = _version(ctx)
    if not at_least(version, GEO_FLOOR):
        raise Fail(_("{site} runs GitLab {version} (from {source}); the procedure needs "
                     "{geo_floor} or later").format(
                       site=ctx.site.name, version=version, source=source, geo_floor=GEO_FLOOR),
                   observed=version, expected=f">= {GEO_FLOOR}")
    return _("{version} (from {source})").format(version=version, source=source)


@check("VER-002", title="GitLab 17.5 or later on Linux package installs", severity="high",
       rationale="The metadata database page gives 17.5 as the minimum for Linux package installs "
                 "(https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database/), while the Geo page says 17.3; the "
                 "stricter floor applies to Linux package installs. The install type comes from "
                 "the version manifest of the site's registry node, where the Linux package's "
                 "registry-database commands run (VER-005 compares every node's version).",
       remediation="Upgrade Linux package installs to GitLab 17.5 or later (18.3 or later is "
                   "recommended) before enabling or importing the metadata database.",
       doc=METADATA_DB_PAGE)
def test_ver_002_gitlab_17_5_on_linux_package(ctx: CheckContext) -> str:
    version, source = _version(ctx)
    if at_least(version, LINUX_PACKAGE_FLOOR):
        return _("{version} (from {source})").format(version=version, source=source)
    try:
        install = ctx.fact("host.gitlab_version").install
    except FactError as exc:
        install, why = "unknown", str(exc)
    else:
        why = _("no version manifest on the host")
    if install == "linux-package":
        raise Fail(_("{site} is a Linux package install on GitLab {version}; the metadata "
                     "database needs {linux_package_floor} or later there").format(
                       site=ctx.site.name, version=version,
                       linux_package_floor=LINUX_PACKAGE_FLOOR),
                   observed=version, expected=f">= {LINUX_PACKAGE_FLOOR}")
    raise Warn(_("{site} runs GitLab {version} and its install type is unknown ({why}); Linux "
                 "package installs need {linux_package_floor} or later").format(
                   site=ctx.site.name, version=version, why=why,
                   linux_package_floor=LINUX_PACKAGE_FLOOR),
               observed=version, expected=f">= {LINUX_PACKAGE_FLOOR} on a Linux package install")


@check("VER-003", title="All Geo sites run the same version and revision", severity="high",
       scope="deployment",
       rationale="GitLab requires every Geo site to run the same GitLab version "
                 "(https://docs.gitlab.com/administration/geo/); each Geo site reports its own "
                 "version and revision in its Geo status (https://docs.gitlab.com/api/geo_sites/). "
                 "Before Geo exists (setup-geo) each instance is asked itself, through its own "
                 "/api/v4/metadata (https://docs.gitlab.com/api/metadata/), since no instance "
                 "proxies yet.",
       remediation="Upgrade the sites so that all run the same version and revision; follow "
                   "GitLab's Geo upgrade order (secondaries, then the primary).",
       doc="https://docs.gitlab.com/administration/geo/replication/upgrading_the_geo_sites/")
def test_ver_003_same_version_on_every_site(ctx: CheckContext) -> str:
    sites: GeoSites = ctx.fact("geo.sites", None)
    seen: dict[tuple[str, str | None], list[str]] = {}
    for g in sites:
        status = status_of(ctx, g)
        if not status or not status.version:
            raise CannotEvaluate(_("Geo site {g!r} has no status with a version").format(
                                     g=g.name))
        seen.setdefault((status.version, status.revision), []).append(str(g.name))
    for site in ctx.inventory.sites:  # not a Geo site yet: its own /api/v4/metadata
        if geo_match(ctx, site).geo_site is None:
            own = own_version(ctx, site)
            seen.setdefault((own.version, own.revision), []).append(f"{site.name} (own answer)")
    if sum(len(v) for v in seen.values()) < 2:
        raise NotApplicable(_("only one site, nothing to compare"))
    if len(seen) > 1:
        found = "; ".join(f"{', '.join(names)}: {v} ({r})" for (v, r), names in seen.items())
        raise Fail(_("the sites run different versions: {found}").format(found=found),
                   observed=found,
                   expected="one version and revision on every site")
    (version, revision), names = next(iter(seen.items()))
    return _("every site runs {version} ({revision}): {names}").format(
               version=version, revision=revision, names=', '.join(names))


GEO_BROKEN = ("19.0.0", "19.0.2")  # [from, fixed in)


@check("VER-004", title="No GitLab 19.0.0 or 19.0.1 on a Geo site", severity="critical",
       rationale="On GitLab 19.0.0 and 19.0.1 Geo's container repository sync silently skips "
                 "tags whose manifest is an OCI image index: tag counts match while docker pull "
                 "from the secondary answers 'manifest unknown' (https://gitlab.com/gitlab-org/"
                 "gitlab/-/issues/600486); and 19.0 makes an unset registry['database']"
                 "['enabled'] prefer, whose fallback answered 500 on /gitlab/v1/ and could leave "
                 "the registry's data inaccessible until registry v4.40.1-gitlab "
                 "(https://gitlab.com/gitlab-org/gitlab/-/issues/600955). Both are fixed in "
                 "19.0.2 (https://docs.gitlab.com/update/versions/gitlab_19_changes/). Judged on "
                 "the version each Geo site reports about itself.",
       remediation="Upgrade every Geo site to GitLab 19.0.2 or later before migrating or "
                   "replicating the registry; resync the container repositories of a secondary "
                   "that replicated on 19.0.0 or 19.0.1.",
       doc="https://docs.gitlab.com/update/versions/gitlab_19_changes/")
def test_ver_004_no_gitlab_19_0_0_or_19_0_1_with_geo(ctx: CheckContext) -> str:
    if geo_match(ctx, ctx.site).geo_site is None:
        raise NotApplicable(_("{site} is not a Geo site").format(site=ctx.site.name))
    version, source = _version(ctx)
    if at_least(version, GEO_BROKEN[0]) and not at_least(version, GEO_BROKEN[1]):
        raise Fail(_("{site} runs GitLab {version} (from {source}): Geo skips OCI image index "
                     "tags and /gitlab/v1/ fails in prefer fallback until {fixed}").format(
                       site=ctx.site.name, version=version, source=source,
                       fixed=GEO_BROKEN[1]),
                   observed=version,
                   expected=f">= {GEO_BROKEN[1]} (or before {GEO_BROKEN[0]})")
    return _("{version} (from {source})").format(version=version, source=source)


NODE_ROLES = ("rails", "sidekiq", "registry")  # the nodes whose GitLab code serves the registry


@check("VER-005", title="Every Rails, Sidekiq and registry node runs the site's version",
       severity="high",
       rationale="GitLab's version is per node: each node runs the package installed on it, "
                 "and the Rails code reads its version from that node's VERSION file "
                 "(Gitlab::VERSION in https://gitlab.com/gitlab-org/gitlab/-/blob/master/lib/"
                 "gitlab.rb; /opt/gitlab/embedded/service/gitlab-rails/VERSION in a Linux "
                 "package), while a site reports one version (its Geo status, https://"
                 "docs.gitlab.com/api/geo_sites/, or /api/v4/metadata). A multi-node site is "
                 "upgraded one node at a time (https://docs.gitlab.com/update/zero_downtime/), "
                 "so a node can be left on another version: a Sidekiq node running Geo's "
                 "registry sync, or a registry node, with other code than VER-001 to VER-004 "
                 "judged on the site's report. Each node's version file is compared with the "
                 "site's report (without a Geo status, the site's registry node's file).",
       remediation="Finish the upgrade: install the site's GitLab version on the node named "
                   "(every Rails, Sidekiq and registry node the same), reconfigure and restart "
                   "it.",
       doc="https://docs.gitlab.com/update/zero_downtime/", host_roles=NODE_ROLES)
def test_ver_005_every_node_on_the_site_version(ctx: CheckContext) -> str:
    where = sv.where(ctx)
    own = own_version(replace(ctx, host=None), ctx.site)  # the site's, not this node's, report
    node = ctx.fact("host.gitlab_version")
    if not node.version:
        raise CannotEvaluate(_("{where}: no GitLab version file on the node "
                               "(/opt/gitlab/embedded/service/gitlab-rails/VERSION)").format(
                                 where=where), missing_on=ctx.site.name)
    if node.version != own.version:
        raise Fail(_("{where} runs GitLab {node_version} (its version file); {site} reports "
                     "{version} (from {source})").format(
                       where=where, node_version=node.version, site=ctx.site.name,
                       version=own.version, source=own.source),
                   observed=node.version, expected=f"{own.version} (the site's)")
    return _("{where}: {version}, as {site} reports (from {source})").format(
               where=where, version=node.version, site=ctx.site.name, source=own.source)
