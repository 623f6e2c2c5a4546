"""The container registry: answering with GitLab token auth, enabled, its metadata mode from
every source, the prefer-mode hazard, its data, read-only maintenance, and what the
secondaries need from the primary's registry."""

from __future__ import annotations

from typing import Any

from geopreflight.catalog import CannotEvaluate, Fail, NotApplicable, check
from geopreflight.context import CheckContext
from geopreflight.facts import FactError
from geopreflight.i18n import _
from geopreflight.probes.models import PrimaryApi, RegistryApi
from geopreflight.versions import at_least

from . import GEO_PAGE, METADATA_DB_PAGE
from . import _views as sv
from ._geo import match_site_url, own_version
from ._rules import enabled_value, is_loopback
from ._views import REGISTRY

GEO_REGISTRY = "https://docs.gitlab.com/administration/geo/replication/container_registry/"
REGISTRY_ADMIN = "https://docs.gitlab.com/administration/packages/container_registry/"
ONE_STEP = ("https://docs.gitlab.com/administration/packages/"
            "container_registry_metadata_database_one_step_import/")


@check("REG-001", title="The registry answers with GitLab token authentication",
       severity="critical",
       rationale="GET /v2/ challenges with WWW-Authenticate: Bearer realm=<GitLab>/jwt/auth; a "
                 "token from the realm (service=container_registry, no scope) gets 200 with "
                 "Docker-Distribution-Api-Version: registry/2.0 (https://gitlab.com/gitlab-org/"
                 "container-registry/-/blob/master/registry/handlers/app.go; that no scope is "
                 "needed is inferred from it). A secondary's /jwt/auth is answered by the primary, "
                 "so a 401 there with a token the primary's registry accepts means the secondary "
                 "does not trust the primary's token key (inferred from https://docs.gitlab.com/"
                 "development/geo/proxying/).",
       remediation="Start the registry and make it reachable; give the inventory an admin "
                   "token with read_registry (or api); on a secondary copy the primary's "
                   "gitlab-registry.key (and certificate) and reconfigure.",
       doc=REGISTRY_ADMIN)
def test_reg_001_answers_with_token_auth(ctx: CheckContext) -> str:
    value: RegistryApi = ctx.fact("registry.api")  # GitLab refusing the token: an error
    if value.problem:
        raise Fail(f"{ctx.site.name}: {value.problem}", observed=value.problem,
                   expected="401 Bearer challenge, then 200 with a token")
    if value.status != 200:
        hint = ""
        if value.token_accepted_by_primary:
            hint = (_(": the primary's registry accepts the same token, so this registry does "
                      "not trust the primary's token-signing key (copy gitlab-registry.key "
                      "from the primary)"))
        realm = value.challenge.realm if value.challenge else "GitLab"
        raise Fail(_("{site}'s registry answers {status} to GET /v2/ with a token from "
                     "{realm}{hint}").format(
                       site=ctx.site.name, status=value.status, realm=realm, hint=hint),
                   observed=value.status, expected=200)
    if value.api_version != "registry/2.0":
        raise Fail(_("{site}'s /v2/ lacks Docker-Distribution-Api-Version: registry/2.0").format(
                       site=ctx.site.name),
                   observed=value.api_version, expected="registry/2.0")
    return _("{url}/v2/: 401 Bearer challenge, 200 with a token").format(url=value.url)


@check("REG-002", title="It is a GitLab container registry", severity="critical",
       rationale="Only the GitLab container registry has a metadata database; it sends "
                 "Gitlab-Container-Registry-Version on an authorised /v2/ (Rails calls any other "
                 "vendor 'other', https://gitlab.com/gitlab-org/gitlab/-/blob/master/lib/"
                 "container_registry/client.rb), and the mode, lockfile and PostgreSQL-floor rules "
                 "apply only to it.",
       remediation="Use the registry bundled with GitLab (registry['enable'] = true) or the "
                   "GitLab container registry; an upstream distribution registry has no "
                   "metadata database.",
       doc=REGISTRY_ADMIN)
def test_reg_002_is_gitlab_container_registry(ctx: CheckContext) -> str:
    value = sv.api(ctx)
    if not value.version:
        raise Fail(_("{site}'s registry sends no Gitlab-Container-Registry-Version on an "
                     "authorised /v2/: not a GitLab container registry").format(
                       site=ctx.site.name),
                   observed="no version header", expected="Gitlab-Container-Registry-Version")
    return _("GitLab container registry {version} (features {features})").format(
               version=value.version, features=value.features)


@check("REG-003", title="The registry is enabled on the site", severity="critical",
       rationale="registry_external_url in gitlab.rb enables the registry unless "
                 "registry['enable'] is false (https://gitlab.com/gitlab-org/omnibus-gitlab/-/"
                 "blob/master/files/gitlab-cookbooks/gitlab/libraries/registry.rb); and it must "
                 "answer (REG-001). Per registry node, since that rule decides on each node "
                 "whether it runs the registry (one node left disabled behind the site's load "
                 "balancer fails its share of requests); the answer is the site's one registry "
                 "URL.",
       remediation="Set registry_external_url (and registry['enable'] = true) in "
                   "/etc/gitlab/gitlab.rb and run gitlab-ctl reconfigure.",
       doc=REGISTRY_ADMIN, host_roles=REGISTRY)
def test_reg_003_registry_enabled(ctx: CheckContext) -> str:
    why = sv.disabled_reason(ctx)
    url = sv.rb_get(ctx, "registry_external_url")
    if why:
        raise Fail(_("{site}: the registry is not enabled in gitlab.rb ({why})").format(
                       site=sv.where(ctx), why=why),
                   observed=why, expected="registry_external_url set, registry enabled")
    value: RegistryApi = ctx.fact("registry.api")  # GitLab refusing the token: an error
    if value.problem or value.status != 200:
        raise Fail(_("{site}: enabled in gitlab.rb ({url}) but the registry does not answer: "
                     "{value}").format(
                       site=sv.where(ctx), url=url, value=value.problem or value.status),
                   observed="not answering", expected="an answering registry")
    return _("registry_external_url {url}, answering").format(url=url)


@check("REG-004", title="Every source agrees on the metadata mode", severity="high",
       rationale="The mode shows in the rendered database.enabled (prefer: database unless a "
                 "filesystem-in-use lockfile exists), the Database-Enabled header, the status of "
                 "/gitlab/v1/ and the storage lockfiles (https://docs.gitlab.com/administration/"
                 "packages/container_registry_metadata_database/, https://gitlab.com/gitlab-org/"
                 "container-registry/-/blob/master/docs/spec/gitlab/api.md). Sources that disagree "
                 "mean a pending reconfigure, a half-done import or a registry not restarted.",
       remediation="Finish the import or revert it, run gitlab-ctl reconfigure and restart the "
                   "registry so that config, lockfiles and the running registry agree.",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_reg_004_sources_agree_on_mode(ctx: CheckContext) -> str:
    agreed, sources = sv.mode(ctx)
    if agreed is None or agreed.startswith("invalid") or agreed == "not-gitlab":
        raise Fail(_("{site}: the metadata-mode sources disagree: {describe}").format(
                       site=sv.where(ctx), describe=sv.describe(sources)),
                   observed=sv.describe(sources),
                   expected="one mode from every source")
    return f"{agreed} ({sv.describe(sources)})"


def _expect_mode(ctx: CheckContext, want: str) -> str:
    agreed, sources = sv.mode(ctx)
    if agreed != want:
        raise Fail(_("{site}'s registry is {value}, expected {want} ({describe})").format(
                       site=sv.where(ctx), value=agreed or _('in no single mode'), want=want,
                       describe=sv.describe(sources)),
                   observed=agreed or sv.describe(sources),
                   expected=want)
    return f"{want} ({sv.describe(sources)})"


@check("REG-005", title="The registry uses legacy (filesystem) metadata", severity="critical",
       rationale="The migration starts from registries on legacy metadata, and a site is imported "
                 "only while it still is (scenario 6 of https://docs.gitlab.com/administration/"
                 "packages/container_registry/using_geo_with_the_container_registry/).",
       remediation="A site already in database mode is imported: skip its import. Otherwise "
                   "set registry['database'] = { 'enabled' => false } and reconfigure.",
       doc=GEO_PAGE, host_roles=REGISTRY)
def test_reg_005_legacy_metadata(ctx: CheckContext) -> str:
    return _expect_mode(ctx, "legacy")


@check("REG-006", title="The registry uses the metadata database", severity="critical",
       rationale="After its import (or its set-up) a site's registry must run in database mode: "
                 "header true, /gitlab/v1/ 200, database-in-use lockfile (https://docs.gitlab.com/"
                 "administration/packages/container_registry_metadata_database/, "
                 "https://gitlab.com/gitlab-org/container-registry/-/blob/master/docs/spec/gitlab/"
                 "api.md).",
       remediation="Finish the site's import (registry['database']['enabled'] = true, "
                   "read-only off, gitlab-ctl reconfigure).",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_reg_006_uses_metadata_database(ctx: CheckContext) -> str:
    return _expect_mode(ctx, "database")


PREFER_DEFAULT_SINCE = "19.0"  # an unset registry['database']['enabled'] means prefer


def prefer_hazard(*, mode: str, has_data: bool, rb_enabled: Any, rb_enabled_set: bool,
                  bundled_pg_enabled: bool, filesystem_lock: bool | None,
                  gitlab_version: str | None = None) -> str | None:
    """Why a legacy registry would come up in database mode with an empty DB, or None.

    Inferred from the registry's start-up code: a legacy registry with data but no
    `filesystem-in-use` lockfile, switched to `prefer` (explicitly, or by the 19.0 default
    when the key is unset), starts on the empty database and hides every image. An explicit
    `false` is safe, an unset key before GitLab 19.0 means `false`, and omnibus rewrites
    `prefer` to `false` when its bundled PostgreSQL is off (sources: REG-007's rationale).
    An unknown GitLab version counts as 19.0 or later (fail closed).

    >>> prefer_hazard(mode="legacy", has_data=True, rb_enabled=None, rb_enabled_set=False,
    ...               bundled_pg_enabled=True, filesystem_lock=False) is not None
    True
    >>> prefer_hazard(mode="legacy", has_data=True, rb_enabled=None, rb_enabled_set=False,
    ...               bundled_pg_enabled=True, filesystem_lock=False,
    ...               gitlab_version="18.11.3-ee") is None
    True
    >>> prefer_hazard(mode="legacy", has_data=True, rb_enabled="prefer", rb_enabled_set=True,
    ...               bundled_pg_enabled=False, filesystem_lock=False) is None
    True
    """
    if mode != "legacy" or not has_data or filesystem_lock:
        return None
    value = enabled_value(rb_enabled) if rb_enabled_set else None
    if value not in (None, "prefer"):
        return None
    if value is None and gitlab_version and not at_least(gitlab_version, PREFER_DEFAULT_SINCE):
        return None  # before 19.0 an unset key means false
    if not bundled_pg_enabled:
        return None  # omnibus rewrites prefer to false without its PostgreSQL
    on = _("GitLab {version}").format(version=gitlab_version) if gitlab_version else \
        _("GitLab's version unknown, so")
    how = _("set to 'prefer'") if value == "prefer" else \
        _("unset ({on} makes it 'prefer', from {since})").format(on=on, since=PREFER_DEFAULT_SINCE)
    lock = (_("no filesystem-in-use lockfile") if filesystem_lock is False
            else _("the lockfiles cannot be read"))
    return (_("registry['database']['enabled'] is {how}, the registry is legacy with data and "
              "there is {lock}: on the next start it would use the empty metadata database").format(
                how=how, lock=lock))


def _gitlab(ctx: CheckContext) -> str | None:
    """The site's own GitLab version, or None when it cannot be read."""
    try:
        return own_version(ctx, ctx.site).version
    except (CannotEvaluate, FactError):
        return None


@check("REG-007", title="No prefer-mode hazard on a legacy registry with data", severity="high",
       rationale="A legacy registry with data but no filesystem-in-use lockfile, switched to "
                 "prefer (explicitly, or by the 19.0 default when the key is unset), starts on the "
                 "empty database and hides every image (inferred from https://gitlab.com/"
                 "gitlab-org/container-registry/-/blob/master/registry/handlers/app.go; "
                 "https://gitlab.com/gitlab-org/gitlab/-/issues/600955); an explicit false is "
                 "safe, an unset key means false before GitLab 19.0 (the prefer default is "
                 "19.0's), judged on the version the site reports, and omnibus rewrites prefer "
                 "to false when its bundled PostgreSQL is off (https://gitlab.com/gitlab-org/"
                 "omnibus-gitlab/-/blob/master/files/gitlab-cookbooks/gitlab/libraries/"
                 "registry.rb).",
       remediation="Set registry['database'] = { 'enabled' => false, ... } explicitly until the "
                   "import, or restart the registry in legacy mode so that it writes the "
                   "filesystem-in-use lockfile.",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_reg_007_no_prefer_mode_hazard(ctx: CheckContext) -> str:
    agreed, sources = sv.mode(ctx)
    if agreed != "legacy":
        raise NotApplicable(_("the registry is not legacy ({value})").format(
                                value=agreed or sv.describe(sources)))
    data, how = sv.has_data(ctx)
    hazard = prefer_hazard(
        mode=agreed, has_data=data, rb_enabled=sv.rb_get(ctx, "registry", "database", "enabled"),
        rb_enabled_set=sv.rb_has(ctx, "registry", "database", "enabled"),
        bundled_pg_enabled=sv.rb_get(ctx, "postgresql", "enable", default=True) is not False,
        filesystem_lock=sv.filesystem_lock(sv.lockfiles(ctx)), gitlab_version=_gitlab(ctx))
    if hazard:
        raise Fail(f"{sv.where(ctx)}: {hazard}", observed=hazard,
                   expected="enabled false, or a filesystem-in-use lockfile")
    return _("safe ({how})").format(how=how)


@check("REG-008", title="The registry holds existing data", severity="high",
       rationale="The migration's prerequisite: both registries have existing data (images pushed) "
                 "(scenario 6 of https://docs.gitlab.com/administration/packages/"
                 "container_registry/using_geo_with_the_container_registry/). Read from what the "
                 "registry itself serves, its catalog's first page (n=1), in every mode (in "
                 "database mode the registry answers it from its own database, which the "
                 "inventory's DSN may not reach); the catalog is never walked.",
       remediation="If the registry has no images, there is nothing to migrate: use the "
                   "new-installation set-up instead of the import.",
       doc=GEO_PAGE)
def test_reg_008_holds_data(ctx: CheckContext) -> str:
    data, how = sv.has_data(ctx)
    if not data:
        raise Fail(_("{site}'s registry holds no data: {how}").format(
                       site=ctx.site.name, how=how),
                   observed=how,
                   expected="at least one repository")
    return how


@check("REG-009", title="The registry holds no data yet", severity="high",
       rationale="The new-installation scenarios start with a configured registry with no data; a "
                 "registry with images must be imported instead (scenarios 1-3 of "
                 "https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/). Read from the registry's own catalog "
                 "(first page, n=1) in every mode.",
       remediation="Import the existing data (migrate-legacy) instead of setting up the "
                   "metadata database as a new installation.",
       doc=GEO_PAGE)
def test_reg_009_holds_no_data(ctx: CheckContext) -> str:
    data, how = sv.has_data(ctx)
    if data:
        raise Fail(_("{site}'s registry already holds data: {how}").format(
                       site=ctx.site.name, how=how),
                   observed=how,
                   expected="no repository")
    return how


def _readonly(ctx: CheckContext) -> bool:
    return sv.config_yml(ctx).readonly is True


@check("REG-010", title="Read-only maintenance mode is configured", severity="critical",
       rationale="The registry must be read-only (or stopped) during a one-step import or step "
                 "two, else data written meanwhile is lost (https://docs.gitlab.com/"
                 "administration/packages/container_registry_metadata_database_one_step_import/); "
                 "the wrapper does not check it for a one-step import (https://gitlab.com/"
                 "gitlab-org/omnibus-gitlab/-/blob/master/files/gitlab-ctl-commands/lib/"
                 "gitlab_ctl/registry/import.rb). It is storage.maintenance.readonly.enabled in "
                 "the rendered config.yml.",
       remediation="Add 'maintenance' => { 'readonly' => { 'enabled' => true } } to "
                   "registry['storage'] next to the real storage backend on every registry "
                   "node, and reconfigure.",
       doc=ONE_STEP, host_roles=REGISTRY)
def test_reg_010_read_only_configured(ctx: CheckContext) -> str:
    if not _readonly(ctx):
        raise Fail(_("{site}: config.yml storage.maintenance.readonly.enabled is "
                     "{readonly!r}").format(
                       site=sv.where(ctx), readonly=sv.config_yml(ctx).readonly),
                   observed="read-write",
                   expected="storage.maintenance.readonly.enabled: true")
    return _("storage.maintenance.readonly.enabled: true")


@check("REG-011", title="Read-only maintenance mode is off", severity="high",
       rationale="After the import the registry returns to read-write with the database enabled "
                 "(https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database_one_step_import/); a read-only registry "
                 "refuses pushes (405), so a read-only secondary cannot receive Geo syncs, which "
                 "push into it (inferred from https://gitlab.com/gitlab-org/gitlab/-/blob/master/"
                 "ee/app/services/geo/container_repository_sync.rb).",
       remediation="Remove the maintenance section from registry['storage'] on every "
                   "registry node and reconfigure.",
       doc=ONE_STEP, host_roles=REGISTRY)
def test_reg_011_read_only_off(ctx: CheckContext) -> str:
    if _readonly(ctx):
        raise Fail(_("{site}: the registry is still in read-only maintenance mode").format(
                       site=sv.where(ctx)),
                   observed="storage.maintenance.readonly.enabled: true", expected="read-write")
    return "read-write"


@check("REG-012", title="The secondaries can reach the primary registry", severity="critical",
       roles=("secondary",),
       rationale="A secondary pulls from geo_registry_replication_primary_api_url, the primary "
                 "registry's address (not GitLab's URL), and aborts without a working /v2/ there "
                 "(https://gitlab.com/gitlab-org/gitlab/-/blob/master/ee/app/services/geo/"
                 "container_repository_sync.rb); the primary's registry_http_addr defaults to "
                 "loopback (https://gitlab.com/gitlab-org/omnibus-gitlab/-/blob/master/files/"
                 "gitlab-cookbooks/gitlab/libraries/registry.rb). The registry that answers must "
                 "be the primary's: its Bearer challenge names the GitLab that issues its "
                 "tokens, auth.token.realm, which omnibus renders as <external_url>/jwt/auth "
                 "(https://gitlab.com/gitlab-org/omnibus-gitlab/-/blob/master/files/"
                 "gitlab-cookbooks/registry/templates/default/registry-config.yml.erb), so the "
                 "realm must be the primary's external_url + /jwt/auth; a secondary pointed at "
                 "its own registry compares that registry with itself and marks everything "
                 "synced. The URL is asked from the secondary's node itself (one bounded curl "
                 "over the host connection), since the checker's network is not the node's. "
                 "Over HTTPS the secondary verifies the primary registry's certificate with the "
                 "Linux package's own store, its cacert.pem plus /etc/gitlab/trusted-certs "
                 "(https://docs.gitlab.com/omnibus/settings/ssl/"
                 "#install-custom-public-certificates), so the checker verifies it with those "
                 "certificates read from the secondary's host, not with its own CA bundle.",
       remediation="Set gitlab_rails['geo_registry_replication_primary_api_url'] on the "
                   "secondary to the primary registry's address, and make the primary registry "
                   "listen there (registry['registry_http_addr'] = '0.0.0.0:5000' if used). "
                   "With an internal CA, copy its certificate to /etc/gitlab/trusted-certs on "
                   "the secondary's Rails and Sidekiq nodes and run gitlab-ctl reconfigure.",
       doc=GEO_REGISTRY, host_roles=("rails", "sidekiq"))
def test_reg_012_secondary_reaches_primary_registry(ctx: CheckContext) -> str:
    value: PrimaryApi | None = ctx.fact("registry.primary_api")
    where = sv.where(ctx)
    if not value or not value.url:
        raise Fail(_("{site}: geo_registry_replication_primary_api_url is not set").format(
                       site=where),
                   observed="unset", expected="the primary registry's URL")
    url = value.url
    primary = ctx.inventory.primary
    if match_site_url(url, primary.gitlab.url):
        raise Fail(_("{site}: primary_api_url {url} is the primary's GitLab URL, not its "
                     "registry").format(site=where, url=url),
                   observed=url, expected="the primary registry's address")
    own = _own_registry(ctx, url)
    if own:
        raise Fail(_("{where}: primary_api_url {url} is the secondary's own registry ({own}): "
                     "Geo would compare a registry with itself").format(
                       where=where, url=url, own=own),
                   observed=url, expected="the primary registry's address")
    try:
        addr = sv.config_yml(ctx, primary).http_addr
    except (CannotEvaluate, FactError):
        addr = None
    if addr and is_loopback(addr) and url.split("://")[-1].rstrip("/") == addr:
        raise Fail(_("{site} uses the primary's registry_http_addr {addr}, which listens on "
                     "loopback only").format(site=where, addr=addr),
                   observed=addr, expected="an address the secondary reaches")
    if value.trust_error:
        raise CannotEvaluate(_("{site}: what the secondary trusts for {url} could not be "
                               "read: {trust_error}").format(
                                 site=where, url=url, trust_error=value.trust_error))
    origin = _("from {site} host {node}").format(site=ctx.site.name, node=value.probed_from) \
        if value.probed_from else _("from the checker (the node has no curl)")
    if value.untrusted:
        raise Fail(_("{site} does not trust the primary registry at {url}: {error}").format(
                       site=where, url=url, error=value.error),
                   observed=value.error,
                   expected="a certificate the secondary's trusted certs verify")
    if value.error or not value.bearer_challenge:
        seen = value.error or f"{value.status} without a Bearer challenge"
        raise Fail(_("{site}: GET {rstrip}/v2/ ({origin}) answers {seen}").format(
                       site=where, rstrip=url.rstrip('/'), origin=origin, seen=seen),
                   observed=seen,
                   expected="401 with WWW-Authenticate: Bearer")
    want = _primary_realm(ctx)
    if not value.realm or not match_site_url(value.realm, want):
        raise Fail(_("{site}: the registry at {url} ({origin}) sends tokens to realm {realm!r}, "
                     "not the primary's {want}: it is not the primary's registry").format(
                       site=where, url=url, origin=origin, realm=value.realm, want=want),
                   observed=value.realm, expected=want)
    trusted = _(", its certificate verified with {trust}").format(trust=value.trust) \
        if value.trust else ""
    return _("{url} answers /v2/ {origin} with a Bearer challenge from {want}{trusted}").format(
               url=url, origin=origin, want=want, trusted=trusted)
def _primary_realm(ctx: CheckContext) -> str:
    """The primary's external_url (its gitlab.rb, else the inventory's URL) + /jwt/auth."""
    primary = ctx.inventory.primary
    try:
        external = sv.rb_get(ctx, "external_url", site=primary)
    except (CannotEvaluate, FactError):
        external = None
    return f"{str(external or primary.gitlab.url).rstrip('/')}/jwt/auth"


def _own_registry(ctx: CheckContext, url: str) -> str | None:
    """Which of the secondary's own registry addresses `url` is, if any."""
    mine = {_("the inventory's registry.url"):
            ctx.site.registry.url if ctx.site.registry else None}
    try:
        mine["registry_external_url"] = sv.rb_get(ctx, "registry_external_url")
    except (CannotEvaluate, FactError):
        pass
    return next((k for k, v in mine.items() if v and match_site_url(url, str(v))), None)


@check("REG-013", title="All sites' registries use the same metadata mode", severity="medium",
       scope="deployment",
       rationale="A database-backed primary has GitLab API endpoints a legacy secondary lacks; the "
                 "Geo issue warns against syncing from a DB-backed primary to a secondary that is "
                 "not (https://gitlab.com/gitlab-org/gitlab/-/issues/458440, a proposal, not final "
                 "docs).",
       remediation="Set up the metadata database on every site before configuring replication.",
       doc=GEO_PAGE)
def test_reg_013_same_mode_on_every_site(ctx: CheckContext) -> str:
    modes = {}
    for site in ctx.inventory.sites:
        for label, node in sv.nodes(ctx, site, REGISTRY):
            modes[label] = sv.mode(node)[0] or "unclear"
    if len(set(modes.values())) > 1:
        found = ", ".join(f"{k}: {v}" for k, v in modes.items())
        raise Fail(_("the registries' metadata modes differ ({found})").format(found=found),
                   observed=found,
                   expected="the same mode on every site")
    return _("every registry: {value}").format(value=next(iter(modes.values())))
SEPARATE_STORAGE = METADATA_DB_PAGE + "#database-architecture-with-geo"


def _storage_of(ctx: CheckContext) -> str:
    """Where a registry node's storage lives: the object storage's endpoint, bucket and root
    directory, or the node and path of a filesystem storage."""
    cfg = sv.config_yml(ctx)
    if cfg.storage_backend == "filesystem":
        # the node whose config.yml this is: the row's, else the site's one `host:`
        node = ctx.site.host if not ctx.host else next(
            h for h in ctx.site.hosts if h.name == ctx.host)
        assert node is not None  # its config.yml was read
        path = f"{node.root.rstrip('/')}{cfg.storage_root}"
        return f"filesystem {node.target}{path}"
    if not cfg.storage_bucket:
        raise CannotEvaluate(_("{where}: config.yml's {backend} storage names no bucket").format(
                                 where=sv.where(ctx), backend=cfg.storage_backend))
    root = "/" + str(cfg.storage_rootdirectory or "").strip("/")
    return (f"{cfg.storage_backend} {cfg.storage_endpoint or '(default endpoint)'} bucket "
            f"{cfg.storage_bucket} root {root}")


@check("REG-014", title="Every Geo site's registry has storage of its own", severity="critical",
       scope="deployment",
       rationale="GitLab requires separate object storage per Geo site for the registry on the "
                 "metadata database (https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database/ , 'Database architecture with Geo'): "
                 "sites sharing one bucket share one lockfiles/ directory, so one site's mode "
                 "decides the other's, and each site's garbage collection deletes blobs the "
                 "other's database still references. Compared across every registry node of "
                 "every site: bucket, endpoint and root directory from each rendered "
                 "config.yml, or the node and path of filesystem storage.",
       remediation="Give each Geo site's registry its own bucket (or root directory), copy the "
                   "data, and point registry['storage'] at it.",
       doc=SEPARATE_STORAGE)
def test_reg_014_storage_distinct_across_sites(ctx: CheckContext) -> str:
    owners: dict[str, str] = {}
    for site in ctx.inventory.sites:
        for label, node in sv.nodes(ctx, site, REGISTRY):
            where = _storage_of(node)
            other = owners.setdefault(where, site.name)
            if other != site.name:
                raise Fail(_("{other} and {site} share one registry storage: {where} (read on "
                             "{label})").format(other=other, site=site.name, where=where,
                                                label=label),
                           observed=f"{other}, {site.name}: {where}",
                           expected="a storage of its own for each Geo site")
    return _("{n} site(s), each with its own storage").format(n=len(set(owners.values())))


@check("REG-015", title="The inventory's bucket is the registry's", severity="high",
       rationale="The lockfiles read through registry.storage only say something about this "
                 "registry if the inventory names the bucket (and endpoint and root directory) "
                 "that the registry's rendered config.yml uses (https://gitlab.com/gitlab-org/"
                 "omnibus-gitlab/-/blob/master/files/gitlab-cookbooks/registry/templates/"
                 "default/registry-config.yml.erb); otherwise another site's or an old "
                 "bucket's lockfiles would decide the mode. Per registry node.",
       remediation="Make registry.storage.s3 in the inventory name config.yml's bucket, "
                   "endpoint and root directory (or fix registry['storage'] and reconfigure).",
       doc=METADATA_DB_PAGE, host_roles=REGISTRY)
def test_reg_015_inventory_bucket_is_registrys(ctx: CheckContext) -> str:
    s3 = ctx.site.registry.storage if ctx.site.registry else None
    if s3 is None:
        raise NotApplicable(_("{site}: the inventory gives no registry.storage").format(
                                site=ctx.site.name))
    cfg = sv.config_yml(ctx)
    want = (f"s3 bucket {s3.bucket} at {s3.endpoint} root "
            f"/{s3.root_directory.strip('/')}")
    got = (f"{cfg.storage_backend} bucket {cfg.storage_bucket} at {cfg.storage_endpoint} root "
           f"/{str(cfg.storage_rootdirectory or '').strip('/')}")
    differ = [what for what, ok in (
        ("driver", cfg.storage_backend == "s3"), ("bucket", cfg.storage_bucket == s3.bucket),
        ("endpoint", not cfg.storage_endpoint or match_site_url(str(cfg.storage_endpoint),
                                                                s3.endpoint)
         or cfg.storage_endpoint == s3.region),
        ("root directory", str(cfg.storage_rootdirectory or "").strip("/")
         == s3.root_directory.strip("/"))) if not ok]
    if differ:
        raise Fail(_("{where}: the inventory reads {want}, config.yml uses {got} ({differ} "
                     "differ)").format(where=sv.where(ctx), want=want, got=got,
                                       differ=", ".join(differ)),
                   observed=got, expected=want)
    return _("config.yml uses the inventory's {want}").format(want=want)
