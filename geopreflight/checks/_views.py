"""Views over one site's registry, host and database facts that several checks share.

Each accessor turns a missing or unreadable source into `CannotEvaluate` with the reason, so a
check never passes on data it could not read.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from geopreflight.catalog import CATALOG, CannotEvaluate, Outcome
from geopreflight.context import CheckContext, targets
from geopreflight.facts import FactError
from geopreflight.gitlab_rb import MISSING, Problem, RubyConfig, Unparsed
from geopreflight.i18n import _
from geopreflight.inventory import Site
from geopreflight.probes.models import (
    ConfigYml,
    DbServer,
    DbTable,
    HostConfig,
    Lockfiles,
    RegistryApi,
)

from ._rules import config_mode, gitlab_v1_mode, header_mode, lockfile_mode


def _site(ctx: CheckContext, site: Site | None) -> Site:
    s = site or ctx.site
    assert s is not None
    return s


# The node roles (inventory `hosts:`) a check runs on, one row per such node: the Rails and
# Sidekiq nodes run the Geo settings, sign the registry's tokens and receive its events; the
# registry nodes each run a registry process with their own rendered config.yml.
APP = ("rails", "sidekiq")
REGISTRY = ("registry",)


def where(ctx: CheckContext) -> str:
    """The row's site, and its node when the site lists several (`hosts:`)."""
    return f"{_site(ctx, None).name} host {ctx.host}" if ctx.host else _site(ctx, None).name


def nodes(ctx: CheckContext, site: Site, roles: tuple[str, ...]
          ) -> list[tuple[str, CheckContext]]:
    """(label, context) of each node of `site` running one of `roles`, the context reading
    that node's host facts; the site's one host for `host:`."""
    named = [h.name for h in site.nodes(roles) if h.name]
    if not named:
        return [(site.name, replace(ctx, site=site, host=None))]
    return [(f"{site.name} host {n}", replace(ctx, site=site, host=n)) for n in named]


def host(ctx: CheckContext, site: Site | None = None) -> HostConfig:
    return ctx.fact("host.config", _site(ctx, site))


def rb(ctx: CheckContext, site: Site | None = None) -> RubyConfig:
    """The site's gitlab.rb (its literal settings and the statements that could not be read)."""
    s = _site(ctx, site)
    g = host(ctx, s).gitlab_rb
    if not g.present:
        raise CannotEvaluate(_("{s}: /etc/gitlab/gitlab.rb does not exist on the host").format(
                                 s=s.name), missing_on=s.name)
    return RubyConfig(g.values, [Problem(p.line, tuple(p.path), p.reason) for p in g.problems])


def rb_get(ctx: CheckContext, *path: str, default: Any = None, site: Site | None = None) -> Any:
    try:
        return rb(ctx, site).get(*path, default=default)
    except Unparsed as exc:
        raise CannotEvaluate(f"{_site(ctx, site).name}: {exc}") from None


def rb_has(ctx: CheckContext, *path: str, site: Site | None = None) -> bool:
    return rb_get(ctx, *path, default=MISSING, site=site) is not MISSING


def disabled_reason(ctx: CheckContext, site: Site | None = None) -> str | None:
    """Why gitlab.rb says the site has no registry (omnibus rules, cited by REG-003), or None.

    None also when the host cannot be read: the other sources then decide.
    """
    try:
        url = rb_get(ctx, "registry_external_url", site=site)
        enable = rb_get(ctx, "registry", "enable", site=site)
    except (CannotEvaluate, FactError):
        return None
    if enable is False:
        return _("registry['enable'] = false")
    return None if url else _("registry_external_url is not set")


def config_yml(ctx: CheckContext, site: Site | None = None) -> ConfigYml:
    """The rendered registry config.yml summary; an error when it is missing or unreadable."""
    s = _site(ctx, site)
    c = host(ctx, s).config_yml
    if not c.present:
        raise CannotEvaluate(_("{s}: /var/opt/gitlab/registry/config.yml does not exist "
                               "(registry not enabled, or gitlab-ctl reconfigure not run)").format(
                                 s=s.name), missing_on=s.name)
    if c.error:
        raise CannotEvaluate(f"{s.name}: {c.error}")
    return c


def lockfiles(ctx: CheckContext, site: Site | None = None) -> Lockfiles:
    """The host's lockfiles; on object storage, the bucket's (`storage.lockfiles`, read
    with `registry.storage`), and when neither is readable, the host's reason."""
    s = _site(ctx, site)
    locks = host(ctx, s).lockfiles
    if locks.readable or not ctx.facts.has("storage.lockfiles", s.name):
        return locks
    bucket: Lockfiles = ctx.fact("storage.lockfiles", s)
    return bucket if bucket.readable else Lockfiles(False, why=f"{locks.why}; {bucket.why}")


def filesystem_lock(locks: Lockfiles) -> bool | None:
    """Whether a `filesystem-in-use` lockfile exists; None when the lockfiles cannot be read."""
    return bool(locks.filesystem_in_use) if locks.readable else None


def api(ctx: CheckContext, site: Site | None = None) -> RegistryApi:
    """The authorised `/v2/` answer; an error when the registry could not be authorised."""
    s = _site(ctx, site)
    value: RegistryApi = ctx.fact("registry.api", s)
    if value.problem:
        raise CannotEvaluate(_("{s}'s registry: {problem}").format(
                                 s=s.name, problem=value.problem))
    if value.status != 200:
        raise CannotEvaluate(_("{s}'s registry answers {status} to an authorised GET /v2/").format(
                                 s=s.name, status=value.status))
    return value


def gitlab_registry(ctx: CheckContext, site: Site | None = None) -> RegistryApi:
    """`api` for a GitLab container registry; the mode rules do not apply to any other."""
    value = api(ctx, site)
    if not value.version:
        raise CannotEvaluate(_("{name}'s registry sends no Gitlab-Container-Registry-Version: "
                               "not a GitLab container registry, so the metadata-mode rules "
                               "do not apply").format(name=_site(ctx, site).name))
    return value


def mode_sources(ctx: CheckContext, site: Site | None = None) -> dict[str, str]:
    """The metadata mode each readable source gives; the header source is required.

    Sources that cannot be read (lockfiles on object storage) are absent, not errors.
    """
    s = _site(ctx, site)
    why = disabled_reason(ctx, s)
    if why:  # no registry on the site: no other source has anything to say
        return {f"gitlab.rb ({why})": "disabled"}
    value = gitlab_registry(ctx, s)
    out: dict[str, str] = {}
    header = header_mode(value.database_enabled)
    if header is None:
        raise CannotEvaluate(_("{s}'s registry sends no usable "
                               "Gitlab-Container-Registry-Database-Enabled header "
                               "({database_enabled!r})").format(
                                 s=s.name, database_enabled=value.database_enabled))
    out["header Gitlab-Container-Registry-Database-Enabled"] = header
    v1 = value.gitlab_v1
    v1_mode = gitlab_v1_mode(v1.status, v1.version_header) if v1 else None
    if v1_mode and v1:
        out[f"/gitlab/v1/ ({v1.status})"] = v1_mode
    locks = lockfiles(ctx, s)
    lock_mode = lockfile_mode(locks)
    if lock_mode:
        out["storage lockfiles"] = lock_mode
    cfg = config_yml(ctx, s)
    enabled = cfg.database.enabled if cfg.database else None
    cmode = config_mode(enabled, filesystem_lock(locks))
    if cmode:
        out[f"config.yml database.enabled={enabled!r}"] = cmode
    return out


def mode(ctx: CheckContext, site: Site | None = None) -> tuple[str | None, dict[str, str]]:
    """The agreed mode (None when the sources disagree) and the sources."""
    sources = mode_sources(ctx, site)
    modes = set(sources.values())
    return (modes.pop() if len(modes) == 1 else None), sources


def describe(sources: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in sources.items())


def db(ctx: CheckContext, site: Site | None = None) -> DbServer:
    return ctx.fact("db.server", _site(ctx, site))


def table(ctx: CheckContext, name: str, site: Site | None = None) -> DbTable:
    t = db(ctx, site).tables.get(name)
    if t is None:
        raise CannotEvaluate(_("{name}: table {name2} was not read").format(
                                 name=_site(ctx, site).name, name2=name))
    if t.error:
        raise CannotEvaluate(_("{name}: cannot read table {name2}: {error}").format(
                                 name=_site(ctx, site).name, name2=name, error=t.error))
    return t


def has_data(ctx: CheckContext, site: Site | None = None) -> tuple[bool, str]:
    """Whether the registry holds at least one repository, and from where that was read.

    In every mode, what the registry itself serves: its catalog's first page (`n=1`), which
    a GitLab registry answers from its metadata database in database mode; never the rows
    behind the inventory's DSN, which may not be the database the registry uses.
    """
    s = _site(ctx, site)
    n = ctx.fact("registry.catalog", s).repositories_on_first_page
    return n > 0, _("the catalog's first page lists {n} repository(ies)").format(n=n)


def passes(ctx: CheckContext, check_id: str, site: Site) -> tuple[bool, str]:
    """Whether another check (one of this check's `depends_on`, judged before it) passes for
    `site`, and its message: the ordering rules build on the checks that decide each site's
    state. A check judged per node passes only when it passes on every such node of the site
    (the first that does not names its node). An error there is an error here."""
    messages = []
    for label, node_site, host in targets(ctx, CATALOG[check_id].host_roles, site):
        result = ctx.outcome(check_id, node_site, host)
        if result.outcome == Outcome.ERROR:
            raise CannotEvaluate(_("{check_id} for {site}: {message}").format(
                                     check_id=check_id, site=label, message=result.message))
        if result.outcome not in (Outcome.PASS, Outcome.WAIVED):
            return False, result.message
        messages.append(result.message)
    return True, "; ".join(dict.fromkeys(messages))
