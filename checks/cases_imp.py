"""Unit cases of the IMP checks (test_imp.py), on recorded lab runs (see geopreflight.cases)."""

from __future__ import annotations

from geopreflight.cases import Case, host, rb

P, S = "eu-primary", "us-secondary"
UNREADABLE = {host(S, "lockfiles"): {"readable": False, "why": "object storage: no S3 access"}}
NO_LOCKFILE = {host(S, "lockfiles", "filesystem-in-use"): False}
BOTH = {host(S, "lockfiles", "database-in-use"): True}

CASES: list[Case] = [
    # IMP-001: filesystem-in-use only: not imported yet
    Case("IMP-001", "pass", S, "legacy-both", {}, "a legacy registry with data, not imported",
         message="filesystem-in-use only"),
    Case("IMP-001", "fail", S, "secondary-imported", {}, "imported already (import twice)",
         message="database-in-use in the storage"),
    Case("IMP-001", "fail", S, "legacy-both", NO_LOCKFILE,
         "no lockfile: the registry never wrote filesystem-in-use", message="no lockfile",
         name="no-lockfile"),
    Case("IMP-001", "fail", S, "legacy-both", BOTH, "both lockfiles stop the registry",
         message="database-in-use and filesystem-in-use", name="both"),
    Case("IMP-001", "fail", S, "add-geo-external-db", {},
         "no registry on the site: nothing to import", message="has no registry",
         name="no-registry"),
    Case("IMP-001", "error", S, "legacy-both", UNREADABLE,
         "lockfiles that cannot be read are not assumed", message="object storage"),
    # IMP-002: database-in-use only: the import finished
    Case("IMP-002", "pass", S, "secondary-imported", {}, "the importer swapped the lockfiles",
         message="database-in-use only"),
    Case("IMP-002", "fail", S, "legacy-both", {}, "not imported",
         message="filesystem-in-use in the storage"),
    Case("IMP-002", "fail", S, "secondary-imported",
         {host(S, "lockfiles", "filesystem-in-use"): True},
         "a failed import restored filesystem-in-use beside it", message="and filesystem",
         name="both"),
    Case("IMP-002", "fail", S, "secondary-imported", {rb(S, "registry", "enable"): False},
         "the registry is disabled in gitlab.rb", message="has no registry", name="disabled"),
    Case("IMP-002", "error", S, "legacy-both", UNREADABLE, "lockfiles unreadable"),
]
