"""Unit cases of the VER checks (test_ver.py), on recorded lab runs (see geopreflight.cases)."""

from __future__ import annotations

from geopreflight.cases import FAILED, REMOVE, Case, geo_status

P, S = "eu-primary", "us-secondary"
OLD = "17.2.9-ee"

CASES: list[Case] = [
    # VER-001: the 17.3 floor, on the version the site reports about itself
    Case("VER-001", "pass", S, "legacy-both", {},
         "17.10.2-ee from the secondary's own Geo status", message="from its Geo status"),
    Case("VER-001", "pass", P, "add-geo-external-db", {},
         "not a Geo site yet: the version comes from its own /api/v4/metadata",
         message="/api/v4/metadata", name="no-geo"),
    Case("VER-001", "fail", S, "legacy-both", {geo_status(2, "version"): OLD},
         "the secondary on 17.2.9 (the old-version scenario)", message="needs 17.3 or later"),
    Case("VER-001", "fail", S, "legacy-both", {geo_status(2, "version"): "17.3.0-rc42-ee"},
         "a 17.3.0 release candidate comes before 17.3.0", name="rc"),
    Case("VER-001", "fail", P, "add-geo-external-db",
         {("gitlab.own_answer", P, "version"): OLD},
         "a future Geo site on 17.2.9 (new-instance-old-version), read from /api/v4/metadata",
         name="no-geo"),
    Case("VER-001", "pass", S, "legacy-both",
         {geo_status(2, "version"): None},
         "a Geo status without a version falls back to the host's version file",
         message="the host's version file", name="version-file"),
    Case("VER-001", "error", S, "legacy-both", {geo_status(2, "version"): "unknown"},
         "a version that does not parse is not judged", message="not a GitLab version"),
    Case("VER-001", "error", S, "legacy-both", {("geo.sites", None): FAILED("timed out")},
         "the Geo sites API failed: no version can be attributed", name="geo-failed"),
    # VER-002: 17.5 for Linux package installs
    Case("VER-002", "pass", S, "legacy-both", {}, "17.10.2-ee is past both floors"),
    Case("VER-002", "fail", S, "legacy-both", {geo_status(2, "version"): "17.4.1-ee"},
         "17.4 on a Linux package install (version manifest present)",
         message="Linux package install"),
    Case("VER-002", "warn", S, "legacy-both",
         {geo_status(2, "version"): "17.4.1-ee", ("host.gitlab_version", S): FAILED("no host")},
         "17.4 and the install type unknown: a warning, not a pass", message="install type"),
    Case("VER-002", "warn", S, "legacy-both",
         {geo_status(2, "version"): "17.4.1-ee", ("host.gitlab_version", S, "install"): "unknown",
          ("host.gitlab_version", S, "manifest"): None},
         "17.4 without a version manifest (not a Linux package install as far as we know)",
         message="no version manifest", name="no-manifest"),
    Case("VER-002", "error", S, "legacy-both", {("geo.statuses", None): FAILED("timed out")},
         "the Geo statuses failed: the site's version is unknown"),
    # VER-003: one version and revision on every site (Geo statuses; before Geo, own answers)
    Case("VER-003", "pass", None, "legacy-both", {}, "both sites on 17.10.2-ee, one revision"),
    Case("VER-003", "fail", None, "legacy-both", {geo_status(2, "version"): OLD},
         "the secondary on another version", message="different versions"),
    Case("VER-003", "fail", None, "legacy-both", {geo_status(2, "revision"): "0123456789a"},
         "same version, another revision", name="revision"),
    Case("VER-003", "pass", None, "add-geo-external-db", {},
         "before Geo: each instance's own /api/v4/metadata says 17.10.2-ee",
         message="us-secondary (own answer)", name="before-geo"),
    Case("VER-003", "fail", None, "add-geo-external-db",
         {("gitlab.own_answer", S, "version"): OLD},
         "before Geo, the instances run different versions: Geo setup needs the same",
         message="us-secondary (own answer): 17.2.9-ee", name="before-geo"),
    Case("VER-003", "error", None, "add-geo-external-db",
         {("gitlab.own_answer", S): FAILED("connection refused")},
         "an instance that does not answer cannot be compared", name="before-geo"),
    Case("VER-003", "error", None, "legacy-both", {geo_status(2, "version"): REMOVE},
         "a Geo site whose status has no version cannot be compared", message="no status"),
    Case("VER-003", "error", None, "legacy-both", {("geo.statuses", None): FAILED("HTTP 500")},
         "the Geo statuses failed", name="statuses-failed"),
]

CASES += [
    # VER-004: no GitLab 19.0.0 or 19.0.1 on a Geo site (fixed in 19.0.2)
    Case("VER-004", "pass", S, "legacy-both", {}, "17.10 predates the 19.0 regressions"),
    Case("VER-004", "pass", S, "legacy-both", {geo_status(2, "version"): "19.0.2-ee"},
         "19.0.2 has the fixes", name="19.0.2"),
    Case("VER-004", "fail", S, "legacy-both", {geo_status(2, "version"): "19.0.1-ee"},
         "19.0.1 skips OCI index tags (gitlab#600486)",
         message="us-secondary runs GitLab 19.0.1-ee", name="19.0.1"),
    Case("VER-004", "fail", P, "legacy-both", {geo_status(1, "version"): "19.0.0-ee"},
         "19.0.0 on the primary", message="runs GitLab 19.0.0-ee", name="19.0.0"),
    Case("VER-004", "not-applicable", P, "add-geo-external-db", {}, "not a Geo site yet",
         name="no-geo"),
    Case("VER-004", "error", S, "legacy-both", {geo_status(2, "version"): "nineteen"},
         "a version that is not one cannot be judged", name="garbage"),
]

# multinode: the secondary lists two nodes (hosts:), main (every role) and sidekiq1 (sidekiq)
MN, SK, MAIN = "multinode", f"{S}/sidekiq1", f"{S}/main"
CASES += [
    # VER-005: every Rails, Sidekiq and registry node on the version its site reports
    Case("VER-005", "pass", SK, MN, {}, "the Sidekiq node's version file says the site's 17.10.2",
         message="us-secondary host sidekiq1: 17.10.2-ee, as us-secondary reports (from its Geo "
                 "status", name="sidekiq-node"),
    Case("VER-005", "fail", SK, MN, {("host.gitlab_version", SK, "version"): "17.10.1-ee"},
         "the Sidekiq node left on 17.10.1 while the site reports 17.10.2 (a node the upgrade "
         "missed; multinode-node-other-version)",
         message="us-secondary host sidekiq1 runs GitLab 17.10.1-ee (its version file); "
                 "us-secondary reports 17.10.2-ee", name="sidekiq-node"),
    Case("VER-005", "pass", MAIN, MN, {("host.gitlab_version", SK, "version"): "17.10.1-ee"},
         "the node on the site's version passes: only the one left behind is named",
         name="other-node-behind"),
    Case("VER-005", "fail", MAIN, MN, {geo_status(2, "version"): "17.11.0-ee"},
         "the site reports 17.11 (the upgraded node that ran the status update) while main "
         "still runs 17.10.2", message="us-secondary reports 17.11.0-ee", name="site-ahead"),
    Case("VER-005", "pass", S, "legacy-both", {}, "one host: its version file matches the "
         "site's Geo status", name="one-host"),
    Case("VER-005", "fail", S, "legacy-both", {("host.gitlab_version", S, "version"): OLD},
         "one host whose installed package is not what the site runs (upgraded, not "
         "restarted, or the reverse)", message="us-secondary runs GitLab 17.2.9-ee",
         name="one-host"),
    Case("VER-005", "pass", SK, MN, {geo_status(2, "version"): None},
         "without a Geo status version the site's registry node's file is the reference",
         message="the host's version file", name="no-status"),
    Case("VER-005", "fail", SK, MN, {geo_status(2, "version"): None,
                                     ("host.gitlab_version", SK, "version"): OLD},
         "without a Geo status version, the Sidekiq node differs from the registry node's file",
         message="us-secondary reports 17.10.2-ee (from the host's version file)",
         name="no-status"),
    Case("VER-005", "error", SK, MN, {("host.gitlab_version", SK, "version"): None},
         "a node without a version file is not taken as agreeing (fail closed)",
         message="no GitLab version file", name="no-file"),
    Case("VER-005", "error", SK, MN, {("host.gitlab_version", SK): FAILED(
        "host sidekiq1 (ssh://ops@sidekiq1): cannot log in over SSH: connection refused")},
         "a node that cannot be read", name="unreadable"),
]
