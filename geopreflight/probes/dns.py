"""Name resolution the checks need, done here so that a check never touches DNS and a replay
(`--from-evidence`) is a pure function of the recorded facts."""

from __future__ import annotations

from ..inventory import Site
from ..resolver import Unresolved, addresses
from . import ProbeContext, ProbeError, probe
from .models import ResolvedHost


def resolve(host: str, timeout_s: float) -> ResolvedHost:
    """The addresses `host` resolves to, within `timeout_s`, sorted."""
    try:
        return ResolvedHost(host, sorted(addresses(host, timeout_s)))
    except Unresolved as exc:
        return ResolvedHost(host, error=f"{host} did not resolve within {timeout_s:g} s"
                            if exc.timed_out else f"{host} does not resolve: {exc}")


@probe("db.registry_host")
def registry_db_host(pc: ProbeContext, site: Site | None) -> tuple[ResolvedHost, str]:
    """The addresses of the database host the registry's rendered config.yml names (DB-006
    compares them with the server the inventory's DSN reaches). A socket path or an unset
    host is not resolved. Read on the site's registry node (`site.host`): DB-006 first fails
    any other registry node whose config.yml names another database, so one stands for all."""
    from .host import CONFIG_YML, _config_yml, host_files

    assert site is not None
    if site.host is None:
        raise ProbeError(f"the inventory gives no host for {site.name}, so its config.yml "
                         "cannot be read")
    config = _config_yml(host_files(pc, site))
    host = (config.get("database") or {}).get("host") if not config.get("error") else None
    if not host or str(host).startswith("/"):
        return ResolvedHost(None if not host else str(host)), f"{CONFIG_YML} database.host"
    return (resolve(str(host), pc.inventory.timeouts.connect_s),
            f"getaddrinfo({host}) from {CONFIG_YML} database.host")
