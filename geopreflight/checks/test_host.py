"""Host configuration read through testinfra: gitlab.rb (Ruby, parsed literally), the
cluster file, and the rendered config.yml and gitlab.yml. Secrets are compared as digests."""

from __future__ import annotations

from geopreflight.catalog import CannotEvaluate, Fail, NotApplicable, check
from geopreflight.context import CheckContext
from geopreflight.facts import FactError
from geopreflight.gitlab_rb import Unparsed, geo_role
from geopreflight.i18n import _
from geopreflight.probes.models import ConfigDb
from geopreflight.versions import at_least

from . import GEO_SETUP, METADATA_DB_PAGE
from . import _views as sv
from ._geo import geo_match, match_site_url, own_version
from ._rules import enabled_value
from ._views import APP, REGISTRY

GEO_REGISTRY = "https://docs.gitlab.com/administration/geo/replication/container_registry/"


def _role(ctx: CheckContext) -> tuple[str | None, str]:
    cluster = sv.host(ctx).cluster_json
    if cluster.present:
        if cluster.error:
            raise CannotEvaluate(f"{sv.where(ctx)}: {cluster.error}")
        for role in ("primary", "secondary"):
            if getattr(cluster, role) is True:
                return role, "/etc/gitlab/gitlab-cluster.json"
    try:
        return geo_role(sv.rb(ctx)), "/etc/gitlab/gitlab.rb"
    except Unparsed as exc:
        raise CannotEvaluate(f"{sv.where(ctx)}: {exc}") from None


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
                       where=sv.where(ctx), where2=where, value=role or 'nothing',
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
                       where=sv.where(ctx), seen=seen),
                   observed=seen, expected=want)
    return _("registry['database']['enabled'] = {want}").format(want=want)


PREFER_SINCE = "18.7"  # registry['database']['enabled'] = 'prefer' exists from GitLab 18.7


@check("HOST-002", title="registry['database'] says 'enabled' => true (or a safe prefer)",
       severity="high",
       rationale="With an external database, prefer is silently rewritten to false when the "
                 "bundled PostgreSQL is off, so the steps that end in database mode need an "
                 "explicit true (https://gitlab.com/gitlab-org/omnibus-gitlab/-/blob/master/files/"
                 "gitlab-cookbooks/gitlab/libraries/registry.rb). Where omnibus manages "
                 "PostgreSQL (postgresql['enable'] not false) prefer stays prefer, and with a "
                 "database-in-use lockfile the registry runs in database mode "
                 "(https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database/, prefer from GitLab 18.7 and the 19.0 "
                 "default): that prefer passes too.",
       remediation="Set 'enabled' => true in registry['database'] and reconfigure.",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_host_002_database_enabled_true(ctx: CheckContext) -> str:
    if enabled_value(sv.rb_get(ctx, "registry", "database", "enabled")) == "prefer":
        why = _prefer_safe(ctx)
        if why:
            return _("registry['database']['enabled'] = prefer, {why}").format(why=why)
    return _expect_enabled(ctx, "true")


def _prefer_safe(ctx: CheckContext) -> str | None:
    """Why a prefer runs in database mode here (omnibus-managed PostgreSQL, a database-in-use
    lockfile, GitLab 18.7 or later), or None."""
    if sv.rb_get(ctx, "postgresql", "enable", default=True) is False:
        return None  # rewritten to false without omnibus's PostgreSQL
    locks = sv.lockfiles(ctx)
    if not (locks.readable and locks.database_in_use and not locks.filesystem_in_use):
        return None
    try:
        version = own_version(ctx, ctx.site).version
    except (CannotEvaluate, FactError):
        return None
    if not at_least(version, PREFER_SINCE):
        return None
    return _("which omnibus keeps (postgresql['enable'] is on) and which the database-in-use "
             "lockfile makes database mode on GitLab {version}").format(version=version)


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
       rationale="Every registry node of the primary needs a notification endpoint named "
                 "geo_event at <external_url>/api/v4/container_registry_event/events, and the "
                 "events are received by the Rails (web) nodes, which accept one whose "
                 "Authorization equals registry.notification_secret in their gitlab.yml, else "
                 "401 (https://docs.gitlab.com/administration/geo/replication/"
                 "container_registry/ asks for the secret on every web node; "
                 "https://gitlab.com/gitlab-org/gitlab/-/blob/master/lib/api/"
                 "container_registry_event.rb). So the row is per Rails node of the primary, "
                 "compared with the endpoint of every registry node.",
       remediation="Add registry['notifications'] with the geo_event endpoint (see the doc link) "
                   "on every registry node, and the same secret as "
                   "gitlab_rails['registry_notification_secret'] on every Rails node; "
                   "reconfigure each.",
       doc=GEO_REGISTRY, host_roles=("rails",))
def test_host_004_primary_notifies_geo(ctx: CheckContext) -> str:
    rails = sv.host(ctx).gitlab_yml
    if not rails.present or rails.error:
        raise CannotEvaluate(_("{where}: gitlab.yml {why}").format(
            where=sv.where(ctx),
            why=rails.error or _("does not exist (gitlab-ctl reconfigure not run)")))
    secret = rails.notification_secret_digest
    external = sv.rb_get(ctx, "external_url") or ctx.site.gitlab.url
    want = f"{str(external).rstrip('/')}/api/v4/container_registry_event/events"
    for label, node in sv.nodes(ctx, ctx.site, REGISTRY):
        cfg = sv.config_yml(node)
        ep = next((e for e in cfg.notifications or [] if e.name == "geo_event"), None)
        if ep is None:
            raise Fail(_("{where}: config.yml has no notification endpoint named geo_event").format(
                           where=label),
                       observed="no geo_event endpoint", expected=f"geo_event -> {want}")
        if not match_site_url(str(ep.url or ""), want):
            raise Fail(_("{where}: geo_event points at {url}").format(where=label, url=ep.url),
                       observed=ep.url, expected=want)
        if not secret or secret != ep.auth_digest:
            why = _("is not set") if not secret else _(
                "differs from the Authorization of {label}'s geo_event endpoint").format(
                    label=label)
            raise Fail(_("{where}: gitlab.yml registry.notification_secret {why} (compared as "
                         "digests)").format(where=sv.where(ctx), why=why),
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
    where = sv.where(ctx)
    enabled, url = _replication(ctx)
    if enabled is not True or not url:
        seen = f"enabled {enabled}, primary_api_url {url or 'unset'}"
        raise Fail(f"{where}: {seen}", observed=seen,
                   expected="enabled true and primary_api_url set")
    for other, node in sv.nodes(ctx, ctx.site, APP):
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


@check("HOST-006", title="Every node trusts and signs with the same token key and issuer",
       severity="critical", scope="deployment",
       rationale="Geo needs the primary's gitlab-registry.key on every site and one token issuer, "
                 "else 'token from untrusted issuer' (https://docs.gitlab.com/administration/geo/"
                 "replication/container_registry/). Each registry node verifies tokens with "
                 "config.yml's auth.token.rootcertbundle and issuer; the Rails and Sidekiq nodes "
                 "sign them with gitlab.yml's registry.key and registry.issuer "
                 "(gitlab_rails['registry_key_path'], ['registry_issuer'], https://gitlab.com/"
                 "gitlab-org/omnibus-gitlab/-/blob/master/files/gitlab-cookbooks/gitlab/"
                 "templates/default/gitlab.yml.erb), and a secondary's Sidekiq signs the pull "
                 "tokens of the Geo sync (https://gitlab.com/gitlab-org/gitlab/-/blob/master/ee/"
                 "app/services/geo/container_repository_sync.rb). Compared as digests: the "
                 "certificate on every registry node, the key on every Rails and Sidekiq node "
                 "(the primary's the reference), the issuer everywhere.",
       remediation="Copy the primary's gitlab-registry.key (and certificate) to each "
                   "secondary's Rails, Sidekiq and registry nodes, use one registry_issuer, "
                   "reconfigure.",
       doc=GEO_REGISTRY)
def test_host_006_same_token_key_and_issuer(ctx: CheckContext) -> str:
    certs: dict[str, str] = {}
    keys: dict[str, str] = {}
    issuers: dict[str, object] = {}
    for site in sorted(ctx.inventory.sites, key=lambda s: s.role != "primary"):
        for where, node in sv.nodes(ctx, site, REGISTRY):
            cfg = sv.config_yml(node)
            cert = sv.host(node).cert_digest
            if cert is None:
                raise CannotEvaluate(_("{where}: the token certificate {rootcertbundle} "
                                       "cannot be read").format(
                                         where=where, rootcertbundle=cfg.rootcertbundle))
            certs[where], issuers[f"{where} config.yml"] = cert, cfg.token_issuer
        for where, node in sv.nodes(ctx, site, APP):
            hc = sv.host(node)
            if not hc.gitlab_yml.present or hc.gitlab_yml.error:
                raise CannotEvaluate(_("{where}: gitlab.yml {why}").format(
                    where=where, why=hc.gitlab_yml.error or _("does not exist")))
            if hc.signing_key_digest is None:
                path = hc.gitlab_yml.registry_key or _("(gitlab.yml registry.key is unset)")
                raise CannotEvaluate(_("{where}: the token-signing key {path} cannot be "
                                       "read").format(where=where, path=path))
            keys[where], issuers[f"{where} gitlab.yml"] = (hc.signing_key_digest,
                                                           hc.gitlab_yml.registry_issuer)
    for what, seen in ((_("token certificates"), certs), (_("token-signing keys"), keys),
                       (_("token issuers"), issuers)):
        if len(set(seen.values())) > 1:
            ref = next(iter(seen.values()))  # the primary's first node: the reference
            odd = [k for k, v in seen.items() if v != ref]
            found = ", ".join(f"{k}: {_short(v)}" for k, v in seen.items())
            message = _("the nodes use different {what}: {odd} differs from {ref} ({found})") \
                if len(odd) == 1 else \
                _("the nodes use different {what}: {odd} differ from {ref} ({found})")
            raise Fail(message.format(what=what, odd=", ".join(odd), ref=next(iter(seen)),
                                      found=found),
                       observed=found, expected=f"one of the {what} on every node")
    return _("one certificate on {certs} registry node(s), one signing key on {keys} "
             "Rails/Sidekiq node(s), issuer {issuer!r}").format(
               certs=len(certs), keys=len(keys), issuer=next(iter(issuers.values())))


def _short(value: object) -> str:
    """A digest shortened for a message; an issuer as it is."""
    text = str(value)
    return text[7:19] + "…" if text.startswith("sha256:") else repr(value)


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
                       where=sv.where(ctx), names='; '.join(differ)),
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
                       where=sv.where(ctx), name=name, want=want),
                   observed=name, expected=want)
    return _("Geo site name {name!r}").format(name=name)
LOCKFILE_FLAG_REMOVED = "18.10"  # REGISTRY_FF_ENFORCE_LOCKFILES is ignored from here on


@check("HOST-009", title="The registry enforces its lockfiles", severity="high",
       rationale="On GitLab 18.8 and 18.9 registry['env'] = { 'REGISTRY_FF_ENFORCE_LOCKFILES' "
                 "=> 'false' } turns the registry's lockfile checks off; the flag is removed in "
                 "18.10 (https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database_troubleshooting/). With it off the "
                 "filesystem-in-use and database-in-use lockfiles no longer follow the mode, so "
                 "every check that reads them (the metadata mode, IMP-001, IMP-002, the "
                 "import's completion) would judge stale lockfiles. Read per registry node from "
                 "gitlab.rb.",
       remediation="Remove REGISTRY_FF_ENFORCE_LOCKFILES from registry['env'] on every registry "
                   "node and reconfigure (or upgrade to 18.10, which ignores it).",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_host_009_lockfiles_enforced(ctx: CheckContext) -> str:
    flag = sv.rb_get(ctx, "registry", "env", "REGISTRY_FF_ENFORCE_LOCKFILES")
    if flag is None or str(flag).strip().lower() not in ("false", "0", "f", "no"):
        return _("lockfiles enforced (registry['env'] REGISTRY_FF_ENFORCE_LOCKFILES "
                 "{value})").format(value=_("unset") if flag is None else repr(flag))
    try:
        version = own_version(ctx, ctx.site).version
    except (CannotEvaluate, FactError):
        version = None
    if version and at_least(version, LOCKFILE_FLAG_REMOVED):
        return _("REGISTRY_FF_ENFORCE_LOCKFILES={flag!r} is ignored on GitLab {version}").format(
            flag=flag, version=version)
    raise Fail(_("{where}: registry['env'] sets REGISTRY_FF_ENFORCE_LOCKFILES={flag!r} on "
                 "GitLab {version}: the registry does not enforce its lockfiles, so they may not "
                 "show its mode").format(where=sv.where(ctx), flag=flag,
                                         version=version or _("(version unknown)")),
               observed=f"{flag!r}",
               expected="unset (lockfiles enforced)")


@check("HOST-010", title="A secondary's registry sends no geo_event notifications",
       severity="high", roles=("secondary",),
       rationale="Registry notifications for Geo belong on the primary only: Geo's sync pushes "
                 "into the secondary's registry, and a geo_event endpoint there echoes every "
                 "sync push back as a new event (https://docs.gitlab.com/administration/geo/"
                 "replication/container_registry/ configures them on the primary site; "
                 "https://gitlab.com/gitlab-org/charts/gitlab/-/issues/6164 is the same defect "
                 "in the Helm chart). Read per registry node from the rendered config.yml.",
       remediation="Remove the geo_event entry from registry['notifications'] on every "
                   "registry node of the secondary and reconfigure.",
       doc=GEO_REGISTRY, host_roles=REGISTRY)
def test_host_010_no_geo_event_on_secondary(ctx: CheckContext) -> str:
    cfg = sv.config_yml(ctx)
    found = [e for e in cfg.notifications or [] if e.name == "geo_event"]
    if found:
        raise Fail(_("{where}: config.yml notifies geo_event -> {url}").format(
                       where=sv.where(ctx), url=found[0].url),
                   observed=f"geo_event -> {found[0].url}",
                   expected="no geo_event endpoint on a secondary")
    names = [str(e.name) for e in cfg.notifications or []]
    return _("no geo_event endpoint ({names})").format(
        names=", ".join(names) or _("no notifications"))


@check("HOST-011", title="No offline garbage collection scheduled in database mode",
       severity="critical",
       rationale="Once the registry uses the metadata database, offline garbage collection "
                 "must not run: GitLab's refuses, but an upstream or scripted collector "
                 "deletes the data of tagged images (https://docs.gitlab.com/administration/"
                 "packages/container_registry_metadata_database/, https://docs.gitlab.com/"
                 "administration/packages/container_registry/"
                 "#container-registry-garbage-collection). Read on every registry node: the "
                 "lines of /etc/crontab, /etc/cron.d, /etc/cron.{hourly,daily,weekly,monthly}, "
                 "the user crontabs and the systemd units that run garbage-collect (one "
                 "bounded, read-only search); ATT-003 is the operator's signed word beside it.",
       remediation="Remove the cron entries and systemd timers that run registry-garbage-"
                   "collect (or registry garbage-collect) on the registry nodes.",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_host_011_no_offline_gc_scheduled(ctx: CheckContext) -> str:
    cfg = sv.config_yml(ctx)
    locks = sv.lockfiles(ctx)
    enabled = enabled_value(cfg.database.enabled if cfg.database else None)
    if not (locks.readable and locks.database_in_use) and enabled != "true":
        raise NotApplicable(_("{where} is not in database mode (database.enabled {enabled}, no "
                              "database-in-use lockfile read)").format(
                                where=sv.where(ctx), enabled=enabled or _("unset")))
    hc = sv.host(ctx)
    if hc.gc_unreadable:
        raise CannotEvaluate(_("{where}: the schedules cannot all be read: {why}").format(
                                 where=sv.where(ctx), why=hc.gc_unreadable))
    if hc.gc_schedules is None:
        raise CannotEvaluate(_("{where}: the cron and systemd schedules were not read").format(
                                 where=sv.where(ctx)))
    if hc.gc_schedules:
        seen = "; ".join(hc.gc_schedules[:3])
        raise Fail(_("{where}: offline garbage collection is scheduled in database mode: "
                     "{seen}").format(where=sv.where(ctx), seen=seen),
                   observed=seen, expected="no scheduled garbage-collect")
    return _("no cron entry or systemd unit runs garbage-collect")
