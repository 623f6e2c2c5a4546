"""Signed-off manual items (`--attestations`): what no probe can see, vouched for by a named
person with a ticket and a link to the evidence (the backup and offline garbage collection:
https://docs.gitlab.com/administration/packages/container_registry_metadata_database/)."""

from __future__ import annotations

from geopreflight import attestations as att
from geopreflight.catalog import Fail, NotApplicable, check
from geopreflight.context import CheckContext
from geopreflight.i18n import _

from . import GEO_PAGE, METADATA_DB_PAGE


def _signed_off(ctx: CheckContext, item: str) -> str:
    """Pass naming who signed `item` off for this row's site; fail saying what to sign off."""
    if not ctx.facts.has(att.FACT):
        raise NotApplicable(_("no --attestations file given"))
    site = ctx.site.name if ctx.site else None
    found, why = att.find(ctx.fact(att.FACT, None), item, site)
    if found is None:
        raise Fail(_("{why}: sign off that {to_sign_off}").format(
                       why=why, to_sign_off=att.to_sign_off(item, site)),
                   observed=why, expected=f"a current {item} attestation"
                                          + (f" for {site}" if site else ""))
    return (_("{item}{value}: signed off by {value2} on {value3} ({value4}), evidence "
              "{value5}, expires {value6}").format(
                item=item, value=' for ' + site if site else '', value2=found['who'],
                value3=found['when'], value4=found['ticket'], value5=found['evidence'],
                value6=found['expires']))


@check("ATT-001", title="The change ticket is signed off", severity="high", scope="deployment",
       rationale="Change management (SOC 2 CC8.1, ISO 27001 A.8.32) asks that each step of the "
                 "migration (https://docs.gitlab.com/administration/packages/container_registry/"
                 "using_geo_with_the_container_registry/) runs under an approved change; the "
                 "approval lives in a ticket no probe can read, so a named person attests to it.",
       remediation="Add a change-ticket item to the --attestations file: who approved it, when, "
                   "the ticket, a link to it and an expiry covering the change window.",
       doc=GEO_PAGE)
def test_att_001_change_ticket(ctx: CheckContext) -> str:
    return _signed_off(ctx, "change-ticket")


@check("ATT-002", title="Backups of the site's registry storage and metadata database were taken",
       severity="high",
       rationale="The import cannot be undone: reverting to legacy metadata, or downgrading after "
                 "the import, needs backups taken before it. The registry's storage holds the "
                 "images and is what the import turns over to the database (its lockfiles, and "
                 "what garbage collection may then delete); object storage must be backed up "
                 "separately from gitlab-backup, and the registry database is in gitlab-backup "
                 "only from 18.10 with its credentials set. Geo replicates neither the registry "
                 "database nor a site's storage backup, so each site's are taken on their own "
                 "(https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database/, https://docs.gitlab.com/administration/"
                 "backup_restore/backup_gitlab/#container-registry).",
       remediation="Back up the site's registry storage (the bucket, or the filesystem path) and "
                   "its registry database (pg_dump; gitlab-backup includes it from 18.10), then "
                   "add registry-storage-backup and registry-db-backup items for the site to "
                   "the --attestations file with links to the backups' records.",
       doc=METADATA_DB_PAGE)
def test_att_002_registry_storage_and_db_backup(ctx: CheckContext) -> str:
    return "; ".join(_signed_off(ctx, item)
                     for item in ("registry-db-backup", "registry-storage-backup"))


@check("ATT-003", title="Offline garbage collection is disabled for the imported registry",
       severity="high",
       rationale="Once the registry uses the metadata database, GitLab's offline garbage collector "
                 "refuses to run, but an upstream or third-party collector still deletes data of "
                 "tagged images: no offline GC may stay automated (https://docs.gitlab.com/"
                 "administration/packages/container_registry_metadata_database/).",
       remediation="Remove the cron jobs or scripts that run registry-garbage-collect (or any "
                   "other offline GC) for the site, then add an offline-gc-disabled item for "
                   "it to the --attestations file.",
       doc=METADATA_DB_PAGE)
def test_att_003_offline_gc_disabled(ctx: CheckContext) -> str:
    return _signed_off(ctx, "offline-gc-disabled")
