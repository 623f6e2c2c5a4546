"""The validated input of one run: every option, the profile, the inventory (or a recorded
bundle) and the waivers, checked before anything is probed. Any mistake is a `UsageError`
(exit 4) naming the option or the file and line."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import options, signing
from . import profiles as profiles_mod
from .attestations import Attestation, load_attestations
from .errors import UsageError
from .evidence import Bundle, redacted_inventory
from .facts import Fact, Facts
from .guidance import acting_sites, not_acted_on
from .i18n import _
from .inventory import Inventory, load_inventory
from .profiles import Profile
from .redact import Redactor
from .reports.terminal import steps_listing
from .suite import load_catalog
from .textsafe import for_terminal
from .waivers import Waiver, load_waivers
from .window import calibration_facts


@dataclass
class Run:
    """The validated input of one run."""

    profile: Profile
    inventory: Inventory
    requested_step: str
    site: str | None
    report_dir: Path
    redactor: Redactor = field(default_factory=Redactor)
    facts: Facts | None = None           # recorded facts (--from-evidence)
    inventory_yml: bytes = b""           # the redacted inventory, for the evidence bundle
    waivers: list[Waiver] | None = None
    method: str = "one-step"             # the import method (--import-method or the inventory)
    attestations: list[Attestation] | None = None
    calibration: list[Fact] = field(default_factory=list)  # --calibrate-from: earlier imports
    # --from-evidence: when the bundle's run started (epoch seconds), the time its facts are
    # judged at (a Geo status fresh then is not stale because the bundle is old)
    recorded_at: float | None = None


def validate(config: pytest.Config) -> Run | int:
    """The run's input, or an exit code when the options asked only for a listing."""
    opt = config.getoption
    options.validate(config)
    name = opt("profile")
    if name == "help":
        print(_("geopreflight profiles:") + f"\n{profiles_mod.listing()}")
        return 0
    load_catalog()
    profile = profiles_mod.load_profile(name)
    step = opt("step")
    if opt("canary") and opt("from_evidence"):
        raise UsageError(_("--canary writes to the deployment; --from-evidence never "
                           "touches it: use one or the other"))
    if step != "auto" and step not in [s.id for s in profile.steps]:
        raise UsageError(_("--step={step}: not a step of {profile}; expected auto or one of: "
                           "{steps}").format(step=step, profile=profile.name,
                                             steps=", ".join(s.id for s in profile.steps)))
    if opt("list_steps"):
        print(steps_listing(profile))
        return 0
    bundle = Bundle(opt("from_evidence")) if opt("from_evidence") else None
    signing.check_options(opt("sign_with"), opt("allowed_signers"), opt("evidence"), bundle)
    inventory = bundle.inventory() if bundle else load_inventory(
        opt("inventory"), resolve_secrets=not opt("collectonly"))  # collecting probes nothing
    site = opt("site")
    if site and site not in [s.name for s in inventory.sites]:
        raise UsageError(_("--site={site}: no such site in {inventory}; expected one of: "
                           "{sites}").format(site=site, inventory=inventory.path,
                                             sites=", ".join(s.name for s in inventory.sites)))
    method = opt("import_method") or inventory.import_method or "one-step"
    if site and step != "auto" and site not in (
            acting := acting_sites(profile.step(step), inventory, method)):
        raise UsageError(not_acted_on(site, step, acting))
    for warning in inventory.warnings:
        print(f"WARNING: {for_terminal(warning)}", file=sys.stderr)
    redactor = Redactor(s.reveal() for s in inventory.secrets)
    if not opt("evidence"):
        inventory_yml = b""
    elif bundle:
        inventory_yml = bundle.files["inventory.yml"]
    else:
        inventory_yml = redacted_inventory(inventory, redactor)
    calibration = (calibration_facts(Bundle(opt("calibrate_from")))
                   if opt("calibrate_from") else [])
    return Run(profile, inventory, step, site, Path(opt("report_dir")), redactor,
               facts=bundle.facts() if bundle else None, inventory_yml=inventory_yml,
               waivers=load_waivers(opt("waivers"), inventory) if opt("waivers") else None,
               method=method,
               attestations=(load_attestations(opt("attestations"), inventory)
                             if opt("attestations") else None),
               calibration=calibration, recorded_at=bundle.started_at() if bundle else None)
