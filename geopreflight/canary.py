"""`--canary`'s pytest hook: registered only with the option, it runs the canary
(probes/canary.py) once and adds its facts to the run, announcing the one write it makes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from .facts import Fact, observe
from .http import Http
from .i18n import _
from .inventory import Inventory, Site
from .probes import Probe, ProbeContext
from .probes.canary import Canary
from .probes.models import CanaryPushed, CanarySeen
from .redact import Redactor


class CanaryPlugin:
    """Registered only with --canary: adds the canary's facts to the run, once."""

    def __init__(self, inventory: Inventory, wait_s: float, redactor: Redactor,
                 say: Callable[[str], None] = print) -> None:
        self.canary = Canary(inventory, wait_s)
        self.redactor = redactor
        self.facts: list[Fact] | None = None
        self.say = say  # the write announces itself, and names what it left behind
        self.left: str | None = None  # `<registry>/<repository>:<tag>`, once pushed

    def pytest_geopreflight_facts(self) -> list[Fact]:
        if self.facts is None:
            self.facts = self._run()
        return self.facts

    def _run(self) -> list[Fact]:
        c, inv = self.canary, self.canary.inventory
        tag = "c" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        pc = ProbeContext(inv, Http(*c.timeout))

        def push(_pc: ProbeContext, _site: Site | None) -> tuple[CanaryPushed, str]:
            repo = c.repository()
            pushed = CanaryPushed(repo, tag, c.push(repo, tag))
            return pushed, f"{_url(inv.primary)}/v2/{repo}/manifests/{tag} (PUT)"

        self.say(_("--canary: pushing one tiny image to {site}'s registry ({url}), the one "
                   "write of this run").format(site=inv.primary.name, url=_url(inv.primary)))
        pushed = observe(Probe("canary.pushed", "deployment", push), pc, None, self.redactor)
        if pushed.error:
            self.say(_("--canary: the push failed: {error}").format(error=pushed.error))
            return [pushed]
        done: CanaryPushed = pushed.value
        self.left = f"{_url(inv.primary).split('://', 1)[-1]}/{done.repository}:{tag}"
        self.say(_("--canary: pushed {tag} ({digest}); waiting up to {seconds} s for it on "
                   "every secondary; it stays in the registries: delete that tag when "
                   "done").format(tag=self.left, digest=done.digest, seconds=f"{c.wait_s:g}"))
        deadline = time.monotonic() + c.wait_s

        def seen(_pc: ProbeContext, site: Site | None) -> tuple[CanarySeen, str]:
            assert site is not None
            seconds, via = c.seen(site, done.repository, tag, done.digest, deadline)
            return (CanarySeen(round(seconds, 2), done.digest, blob_via=via),
                    f"{_url(site)}/v2/{done.repository}/manifests/{tag} (HEAD), the "
                    "manifest by digest and its layer blob (GET)")

        probe = Probe("canary.seen", "site", seen)
        return [pushed] + [observe(probe, pc, site, self.redactor) for site in inv.sites
                           if site.role == "secondary"]


def _url(site: Site) -> str:
    return site.registry.own_url if site.registry else f"(no registry for {site.name})"
