"""Host configuration read through testinfra: gitlab.rb (Ruby, parsed literally), the
cluster file, and the rendered config.yml and gitlab.yml. Secrets are compared as digests."""

from __future__ import annotations

from dataclasses import replace

from geopreflight.catalog import CannotEvaluate, Fail, check
from geopreflight.context import CheckContext
from geopreflight.gitlab_rb import Unparsed, geo_role
from geopreflight.i18n import _
from geopreflight.inventory import Site
from geopreflight.probes.models import ConfigDb

from . import GEO_SETUP, METADATA_DB_PAGE
from . import _views as sv
from ._geo import geo_match, match_site_url
from ._rules import enabled_value

GEO_REGISTRY = "https://docs.gitlab.com/administration/geo/replication/container_registry/"
# The node roles (inventory `hosts:`) each check runs on, one row per such node: the Geo and
# replication settings on every Rails and Sidekiq node (Sidekiq runs the Geo registry sync),
# the registry's own settings on every registry node. UNVERIFIED: which omnibus roles render
# which of these files on a split node; the checks read what each node has.
APP = ("rails", "sidekiq")
REGISTRY = ("registry",)


def _where(ctx: CheckContext) -> str:
    """The row's site, and its node when the site lists several (`hosts:`)."""
    return f"{ctx.site.name} host {ctx.host}" if ctx.host else ctx.site.name


def _nodes(ctx: CheckContext, site: Site, roles: tuple[str, ...]
           ) -> list[tuple[str, CheckContext]]:
    """(label, context) of each node of `site` running one of `roles`, the context reading
    that node's host facts; the site's one host for `host:`."""
    named = [h.name for h in site.nodes(roles) if h.name]
    if not named:
        return [(site.name, replace(ctx, site=site, host=None))]
    return [(f"{site.name} host {n}", replace(ctx, site=site, host=n)) for n in named]


def _role(ctx: CheckContext) -> tuple[str | None, str]:
    cluster = sv.host(ctx).cluster_json
    if cluster.present:
        if cluster.error:
            raise CannotEvaluate(f"{_where(ctx)}: {cluster.error}")
        for role in ("primary", "secondary"):
            if getattr(cluster, role) is True:
                return role, "/etc/gitlab/gitlab-cluster.json"
    try:
        return geo_role(sv.rb(ctx)), "/etc/gitlab/gitlab.rb"
    except Unparsed as exc:
        raise CannotEvaluate(f"{_where(ctx)}: {exc}") from None


@check("HOST-001", title="The host's Geo role is the expected one", severity="critical",
       rationale="The role comes from /etc/gitlab/gitlab-cluster.json first (it overrides "
                 "gitlab.rb after a failover, https://gitlab.com/gitlab-org/omnibus-gitlab/-/blob/"
                 "master/files/gitlab-cookbooks/package/libraries/gitlab_cluster.rb), then "
                 "gitlab.rb's roles(['geo_*_role']) or geo_*_role['enable'] = true (the same per "
                 "https://gitlab.com/gitlab-org/omnibus-gitlab/-/blob/master/files/"
                 "gitlab-cookbooks/package/libraries/settings_dsl.rb, said of roles in general).",
       remediation="Fix roles in /etc/gitlab/gitlab.rb (or gitlab-cluster.json after a "
                   "promotion) and reconfigure, or fix the inventory's role.",
       doc=GEO_SETUP, host_roles=APP)
def test_host_001_geo_role_as_expected(ctx: CheckContext) -> str:
    role, where = _role(ctx)
    if role != ctx.site.role:
        raise Fail(_("{where}: {where2} makes the host a Geo {value}; the inventory expects "
                     "{role}").format(
                       where=_where(ctx), where2=where, value=role or 'nothing',
                       role=ctx.site.role),
                   observed=role or "no Geo role",
                   expected=ctx.site.role)
    return _("geo_{role}_role (from {where})").format(role=role, where=where)


def _expect_enabled(ctx: CheckContext, want: str) -> str:
    """Pass when gitlab.rb sets registry['database']['enabled'] to exactly `want`."""
    present = sv.rb_has(ctx, "registry", "database", "enabled")
    value = enabled_value(sv.rb_get(ctx, "registry", "database", "enabled"))
    if value != want:
        seen = value if present else "unset"
        raise Fail(_("{where}: registry['database']['enabled'] is {seen} in gitlab.rb").format(
                       where=_where(ctx), seen=seen),
                   observed=seen, expected=want)
    return _("registry['database']['enabled'] = {want}").format(want=want)


@check("HOST-002", title="registry['database'] says 'enabled' => true explicitly",
       severity="high",
       rationale="With an external database, prefer is silently rewritten to false when the "
                 "bundled PostgreSQL is off, so the steps that end in database mode need an "
                 "explicit true (https://gitlab.com/gitlab-org/omnibus-gitlab/-/blob/master/files/"
                 "gitlab-cookbooks/gitlab/libraries/registry.rb).",
       remediation="Set 'enabled' => true in registry['database'] and reconfigure.",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_host_002_database_enabled_true(ctx: CheckContext) -> str:
    return _expect_enabled(ctx, "true")


@check("HOST-003", title="registry['database'] says 'enabled' => false before the import",
       severity="critical",
       rationale="Before and during an import the docs require enabled false ('Must be false!', "
                 "https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database_one_step_import/); prefer or unset could "
                 "start the registry on the database (https://docs.gitlab.com/administration/"
                 "packages/container_registry_metadata_database/).",
       remediation="Set 'enabled' => false in registry['database'] and reconfigure.",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_host_003_database_enabled_false(ctx: CheckContext) -> str:
    return _expect_enabled(ctx, "false")


@check("HOST-004", title="The primary notifies Geo of registry events", severity="critical",
       roles=("primary",),
       rationale="The primary registry needs a notification endpoint named geo_event at "
                 "<external_url>/api/v4/container_registry_event/events whose Authorization equals "
                 "registry.notification_secret in gitlab.yml, else events get 401 "
                 "(https://docs.gitlab.com/administration/geo/replication/container_registry/, "
                 "https://gitlab.com/gitlab-org/gitlab/-/blob/master/lib/api/"
                 "container_registry_event.rb).",
       remediation="Add registry['notifications'] with the geo_event endpoint (see the doc link) "
                   "and the same secret as gitlab_rails['registry_notification_secret'], "
                   "reconfigure.",
       doc=GEO_REGISTRY, host_roles=REGISTRY)
def test_host_004_primary_notifies_geo(ctx: CheckContext) -> str:
    cfg = sv.config_yml(ctx)
    ep = next((e for e in cfg.notifications or [] if e.name == "geo_event"), None)
    external = sv.rb_get(ctx, "external_url") or ctx.site.gitlab.url
    want = f"{str(external).rstrip('/')}/api/v4/container_registry_event/events"
    if ep is None:
        raise Fail(_("{where}: config.yml has no notification endpoint named geo_event").format(
                       where=_where(ctx)),
                   observed="no geo_event endpoint", expected=f"geo_event -> {want}")
    if not match_site_url(str(ep.url or ""), want):
        raise Fail(_("{where}: geo_event points at {url}").format(where=_where(ctx), url=ep.url),
                   observed=ep.url, expected=want)
    secret = sv.host(ctx).gitlab_yml.notification_secret_digest
    if not secret or secret != ep.auth_digest:
        why = _("is not set") if not secret else _("differs from the endpoint's Authorization")
        raise Fail(_("{where}: gitlab.yml registry.notification_secret {why} (compared as "
                     "digests)").format(where=_where(ctx), why=why),
                   observed=f"secret {why}",
                   expected="the same secret on both ends")
    return _("geo_event -> {want}, secrets match").format(want=want)


def _replication(ctx: CheckContext) -> tuple[object, object]:
    """(enabled, primary_api_url) as the row's node's gitlab.rb sets them."""
    return (sv.rb_get(ctx, "gitlab_rails", "geo_registry_replication_enabled"),
            sv.rb_get(ctx, "gitlab_rails", "geo_registry_replication_primary_api_url"))


@check("HOST-005", title="The secondary replicates the registry", severity="critical",
       roles=("secondary",),
       rationale="Each secondary needs gitlab_rails['geo_registry_replication_enabled'] = true "
                 "and geo_registry_replication_primary_api_url on every Rails and Sidekiq "
                 "node: Sidekiq runs the Geo registry sync, so one node without them breaks "
                 "replication while another looks right (https://docs.gitlab.com/"
                 "administration/geo/replication/container_registry/).",
       remediation="Set both in the secondary's gitlab.rb (every Rails and Sidekiq node, the "
                   "same on each) and reconfigure.",
       doc=GEO_REGISTRY, host_roles=APP)
def test_host_005_secondary_replicates_registry(ctx: CheckContext) -> str:
    where = _where(ctx)
    enabled, url = _replication(ctx)
    if enabled is not True or not url:
        seen = f"enabled {enabled}, primary_api_url {url or 'unset'}"
        raise Fail(f"{where}: {seen}", observed=seen,
                   expected="enabled true and primary_api_url set")
    for other, node in _nodes(ctx, ctx.site, APP):
        if other == where:
            continue
        theirs = _replication(node)
        if theirs != (enabled, url):
            seen = (f"{where}: enabled {enabled}, primary_api_url {url}; {other}: enabled "
                    f"{theirs[0]}, primary_api_url {theirs[1] or 'unset'}")
            raise Fail(_("the nodes of {site} differ ({seen})").format(
                           site=ctx.site.name, seen=seen),
                       observed=seen,
                       expected="the same settings on every Rails and Sidekiq node")
    return _("enabled, primary_api_url {url}").format(url=url)


@check("HOST-006", title="Every registry trusts the same token key and issuer",
       severity="critical", scope="deployment",
       rationale="Geo needs the primary's gitlab-registry.key on every site and one token issuer, "
                 "else 'token from untrusted issuer' (https://docs.gitlab.com/administration/geo/"
                 "replication/container_registry/).",
       remediation="Copy the primary's gitlab-registry.key (and certificate) to each "
                   "secondary and every registry node, use one registry_issuer, reconfigure.",
       doc=GEO_REGISTRY)
def test_host_006_same_token_key_and_issuer(ctx: CheckContext) -> str:
    seen = {}
    for site in ctx.inventory.sites:
        for where, node in _nodes(ctx, site, REGISTRY):
            cfg = sv.config_yml(node)
            cert = sv.host(node).cert_digest
            if cert is None:
                raise CannotEvaluate(_("{where}: the token certificate {rootcertbundle} "
                                       "cannot be read").format(
                                         where=where, rootcertbundle=cfg.rootcertbundle))
            seen[where] = (cert, cfg.token_issuer)
    if len(set(seen.values())) > 1:
        found = ", ".join(f"{k}: cert {v[0][7:19]}…, issuer {v[1]}" for k, v in seen.items())
        raise Fail(_("the registries trust different token keys or issuers ({found})").format(
                       found=found),
                   observed=found, expected="one certificate and issuer everywhere")
    return _("one certificate and issuer {value!r} on every site").format(
               value=next(iter(seen.values()))[1])


@check("HOST-007", title="gitlab.rb and the rendered config.yml agree", severity="medium",
       rationale="config.yml is what the registry runs with (https://gitlab.com/gitlab-org/"
                 "omnibus-gitlab/-/blob/master/files/gitlab-cookbooks/registry/templates/default/"
                 "registry-config.yml.erb); when gitlab.rb says otherwise a gitlab-ctl reconfigure "
                 "is pending.",
       remediation="Run gitlab-ctl reconfigure (and restart the registry) after editing "
                   "gitlab.rb.",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_host_007_gitlab_rb_matches_config_yml(ctx: CheckContext) -> str:
    cfg = sv.config_yml(ctx)
    rendered = cfg.database or ConfigDb()
    rb_db = sv.rb_get(ctx, "registry", "database", default={}) or {}
    differ = []
    if "enabled" in rb_db:
        a, b = enabled_value(rb_db["enabled"]), enabled_value(rendered.enabled)
        if a != b and not (a == "prefer" and b == "false"):
            differ.append(f"database.enabled {a} vs {b}")
    for key in ("host", "port", "dbname", "user"):
        if key in rb_db and str(rb_db[key]) != str(getattr(rendered, key)):
            differ.append(f"database.{key} {rb_db[key]} vs {getattr(rendered, key)}")
    ro = sv.rb_get(ctx, "registry", "storage", "maintenance", "readonly", "enabled")
    if bool(ro) != bool(cfg.readonly):
        differ.append(f"read-only {bool(ro)} vs {bool(cfg.readonly)}")
    if differ:  # every profile only advises this check, so it reports as a warning
        raise Fail(_("{where}: gitlab.rb vs config.yml: {names}: a reconfigure is pending").format(
                       where=_where(ctx), names='; '.join(differ)),
                   observed="; ".join(differ),
                   expected="gitlab.rb and the rendered config.yml saying the same")
    return _("gitlab.rb and config.yml agree")


@check("HOST-008", title="The Geo site name matches geo_node_name or external_url",
       severity="high",
       rationale="A Geo site's name must equal gitlab_rails['geo_node_name'] when set, otherwise "
                 "external_url (https://docs.gitlab.com/api/geo_sites/).",
       remediation="Rename the Geo site in Admin > Geo > Sites, or set geo_node_name.",
       doc=GEO_SETUP, host_roles=APP)
def test_host_008_geo_site_name_matches(ctx: CheckContext) -> str:
    m = geo_match(ctx, ctx.site)
    if m.geo_site is None:
        raise Fail(_("{site} is not a Geo site").format(site=ctx.site.name), observed="no Geo site",
                   expected="a Geo site")
    node = sv.rb_get(ctx, "gitlab_rails", "geo_node_name")
    want = node or sv.rb_get(ctx, "external_url")
    name = m.geo_site.name
    if name != want and not (not node and match_site_url(str(name), str(want))):
        raise Fail(_("{where}: the Geo site is named {name!r}, the host expects {want!r}").format(
                       where=_where(ctx), name=name, want=want),
                   observed=name, expected=want)
    return _("Geo site name {name!r}").format(name=name)
