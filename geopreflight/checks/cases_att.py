"""Unit cases of the ATT checks (test_att.py), on recorded lab runs (see geopreflight.cases)."""

from __future__ import annotations

from geopreflight.cases import Case

P, S = "eu-primary", "us-secondary"
FACT = ("attestations", None)
AS_OF = "2026-12-01T10:00:00Z"


def signed(*items: tuple[str, str | None], expires: str = "2026-12-02T00:00:00Z") -> dict:
    """A patch that records an --attestations file holding these (item, site) sign-offs."""
    return {FACT: {"file": "attestations.yml", "as_of": AS_OF, "items": [
        {"item": item, "site": site, "who": "jane.doe", "ticket": "CHG-1",
         "evidence": "https://tickets.example.com/CHG-1", "when": "2026-11-30T00:00:00Z",
         "expires": expires} for item, site in items]}}


CASES: list[Case] = [
    # ATT-001: the change ticket, deployment-wide
    Case("ATT-001", "pass", None, "legacy-both", signed(("change-ticket", None)),
         "a current sign-off", message="signed off by jane.doe"),
    Case("ATT-001", "fail", None, "legacy-both", signed(("registry-db-backup", S)),
         "the file holds no change ticket", message="no change-ticket attestation"),
    Case("ATT-001", "fail", None, "legacy-both",
         signed(("change-ticket", None), expires="2026-12-01T00:00:00Z"),
         "an expired sign-off no longer holds", message="expired on", name="expired"),
    Case("ATT-001", "not-applicable", None, "legacy-both", {},
         "no --attestations file given: the row says so", message="no --attestations"),
    # ATT-002: backups of the site's registry storage and registry DB before its import
    Case("ATT-002", "pass", S, "legacy-both",
         signed(("registry-db-backup", S), ("registry-storage-backup", S)),
         "the secondary's backups are signed off",
         message="registry-storage-backup for us-secondary"),
    Case("ATT-002", "pass", S, "legacy-both",
         signed(("registry-db-backup", None), ("registry-storage-backup", None)),
         "a sign-off without a site covers every site", name="every-site"),
    Case("ATT-002", "fail", S, "legacy-both",
         signed(("registry-db-backup", P), ("registry-storage-backup", S)),
         "only the primary's DB backup is signed off", message="for us-secondary"),
    Case("ATT-002", "fail", S, "legacy-both", signed(("registry-db-backup", S)),
         "the DB backed up but not the storage, which holds the images",
         message="no registry-storage-backup attestation for us-secondary", name="no-storage"),
    # ATT-003: offline garbage collection disabled after the import
    Case("ATT-003", "pass", S, "secondary-imported", signed(("offline-gc-disabled", S)),
         "signed off for the imported secondary", message="offline-gc-disabled"),
    Case("ATT-003", "fail", S, "secondary-imported", signed(("change-ticket", None)),
         "not signed off", message="no offline-gc-disabled attestation"),
]
