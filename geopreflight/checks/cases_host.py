"""Unit cases of the HOST checks (test_host.py), on recorded lab runs (see
geopreflight.cases)."""

from __future__ import annotations

from geopreflight.cases import (
                              FAILED,
                              REMOVE,
                              SAME_AS,
                              Case,
                              config_yml,
                              geo_site,
                              geo_status,
                              host,
                              rb,
)

P, S = "eu-primary", "us-secondary"
HOST_FAILED = {("host.config", S): FAILED("ssh us-secondary: timed out after 10 s")}
ENABLED = ("registry", "database", "enabled")
# gitlab.rb sets enabled from ENV['...'] (unparsed-gitlab-rb): the value cannot be read
UNPARSED = {host(S, "gitlab_rb", "problems"): [
    {"line": 12, "path": list(ENABLED), "reason": "ENV['REGISTRY_DB_ENABLED'] is not a literal"}]}
OTHER_SECRET = "sha256:" + "0" * 64
# 19.x, gitlab.rb prefer, omnibus's PostgreSQL on (prefer-managed-pg)
PREFER_19 = {rb(S, *ENABLED): "prefer", rb(S, "postgresql", "enable"): True,
             geo_status(2, "version"): "19.0.2-ee"}
# multinode: the secondary lists two nodes (hosts:), main (every role) and sidekiq1 (sidekiq)
MN, SK, MAIN = "multinode", f"{S}/sidekiq1", f"{S}/main"
NO_URL = {rb(SK, "gitlab_rails", "geo_registry_replication_primary_api_url"): REMOVE}

CASES: list[Case] = [
    # HOST-001: the host's Geo role
    Case("HOST-001", "pass", S, "legacy-both", {}, "geo_secondary_role in gitlab.rb",
         message="from /etc/gitlab/gitlab.rb"),
    Case("HOST-001", "pass", S, "legacy-both",
         {host(S, "cluster_json"): {"present": True, "primary": False, "secondary": True}},
         "gitlab-cluster.json agrees", message="gitlab-cluster.json", name="cluster-json"),
    Case("HOST-001", "fail", P, "legacy-both",
         {host(P, "cluster_json"): {"present": True, "primary": False, "secondary": True}},
         "gitlab-cluster.json overrides gitlab.rb (failover-cluster-json)",
         message="makes the host a Geo secondary"),
    Case("HOST-001", "fail", S, "add-geo-external-db", {}, "no Geo role at all",
         message="Geo nothing", name="no-role"),
    Case("HOST-001", "error", S, "legacy-both", {rb(S, "geo_primary_role"): {"enable": True}},
         "gitlab.rb enables both roles", message="both geo_primary_role and geo_secondary_role"),
    Case("HOST-001", "error", S, "legacy-both",
         {host(S, "cluster_json"): {"present": True, "error": "not JSON"}},
         "an unreadable gitlab-cluster.json is not skipped", message="not JSON",
         name="cluster-json"),
    Case("HOST-001", "error", S, "legacy-both", HOST_FAILED, "the host could not be read",
         name="host"),
    # HOST-002 / HOST-003: registry['database']['enabled'] explicit true / false
    Case("HOST-002", "pass", S, "both-imported", {}, "enabled true after the import"),
    Case("HOST-002", "fail", S, "legacy-both", {}, "still false", message="is false"),
    Case("HOST-002", "fail", S, "both-imported", {rb(S, *ENABLED): "prefer"},
         "prefer is not an explicit true", message="is prefer", name="prefer"),
    Case("HOST-002", "fail", S, "both-imported", {rb(S, *ENABLED): REMOVE}, "unset",
         message="is unset", name="unset"),
    Case("HOST-002", "pass", S, "both-imported", PREFER_19,
         "prefer on 19.x with omnibus's PostgreSQL and database-in-use: database mode",
         message="the database-in-use lockfile makes database mode on GitLab 19.0.2-ee",
         name="prefer-managed-pg"),
    Case("HOST-002", "fail", S, "both-imported",
         {**PREFER_19, rb(S, "postgresql", "enable"): False},
         "prefer without omnibus's PostgreSQL is rewritten to false", message="is prefer",
         name="prefer-external"),
    Case("HOST-002", "fail", S, "both-imported",
         {**PREFER_19, host(S, "lockfiles", "database-in-use"): False},
         "prefer without database-in-use could start legacy", message="is prefer",
         name="prefer-no-lockfile"),
    Case("HOST-002", "error", S, "both-imported", UNPARSED,
         "a value from ENV[...] cannot be judged", message="ENV["),
    Case("HOST-003", "pass", S, "legacy-both", {}, "enabled false before the import"),
    Case("HOST-003", "fail", S, "secondary-imported", {}, "enabled true", message="is true"),
    Case("HOST-003", "fail", S, "legacy-both", {rb(S, *ENABLED): REMOVE},
         "unset could start the registry on the database", message="is unset", name="unset"),
    Case("HOST-003", "error", S, "legacy-both", UNPARSED,
         "a value from ENV[...] cannot be judged (unparsed-gitlab-rb)", message="ENV["),
    Case("HOST-003", "error", S, "legacy-both", {host(S, "gitlab_rb", "present"): False},
         "no gitlab.rb on the host", message="does not exist", name="no-gitlab-rb"),
    # HOST-004: the primary's geo_event notification endpoint
    Case("HOST-004", "pass", P, "legacy-both", {}, "endpoint and secret match",
         message="secrets match"),
    Case("HOST-004", "fail", P, "legacy-both", {config_yml(P, "notifications"): []},
         "no geo_event endpoint", message="no notification endpoint named geo_event"),
    Case("HOST-004", "fail", P, "legacy-both",
         {config_yml(P, "notifications", 0, "url"): "http://127.0.0.1:1/api/v4/other"},
         "geo_event points elsewhere", message="geo_event points at", name="url"),
    Case("HOST-004", "fail", P, "legacy-both",
         {host(P, "gitlab_yml", "notification_secret_digest"): OTHER_SECRET},
         "gitlab.yml's secret differs (replication-misconfigured)",
         message="differs from the Authorization of eu-primary's geo_event", name="secret"),
    Case("HOST-004", "fail", P, "legacy-both",
         {host(P, "gitlab_yml", "notification_secret_digest"): None},
         "gitlab.yml has no secret", message="is not set", name="no-secret"),
    Case("HOST-004", "error", P, "legacy-both", {config_yml(P, "present"): False},
         "no config.yml", message="config.yml does not exist"),
    # HOST-005: the secondary's replication settings
    Case("HOST-005", "pass", S, "legacy-both", {}, "enabled, primary_api_url set"),
    Case("HOST-005", "fail", S, "legacy-both",
         {rb(S, "gitlab_rails", "geo_registry_replication_enabled"): False},
         "replication off in gitlab.rb", message="enabled False"),
    Case("HOST-005", "fail", S, "legacy-both",
         {rb(S, "gitlab_rails", "geo_registry_replication_primary_api_url"): REMOVE},
         "no primary_api_url", message="primary_api_url unset", name="no-url"),
    Case("HOST-005", "error", S, "legacy-both", HOST_FAILED, "the host could not be read"),
    Case("HOST-005", "pass", SK, MN, {}, "the Sidekiq node has both settings, as main does",
         message="primary_api_url", name="sidekiq-node"),
    Case("HOST-005", "fail", SK, MN, NO_URL,
         "the Sidekiq node lacks primary_api_url (multinode-sidekiq-no-url)",
         message="us-secondary host sidekiq1: enabled True, primary_api_url unset",
         name="sidekiq-node"),
    Case("HOST-005", "fail", MAIN, MN, {
        rb(SK, "gitlab_rails", "geo_registry_replication_primary_api_url"): "http://other:5000"},
         "the nodes of one site set different URLs: the failure names both",
         message="us-secondary host main: enabled True", name="nodes-differ"),
    Case("HOST-005", "error", MAIN, MN, {("host.config", SK): FAILED(
        "host sidekiq1 (ssh://ops@sidekiq1): cannot log in over SSH: connection refused")},
         "another node that cannot be read is not taken as agreeing",
         message="host sidekiq1", name="other-node-unreadable"),
    # HOST-006: one token certificate (registry nodes), signing key (Rails and Sidekiq
    # nodes) and issuer everywhere
    Case("HOST-006", "pass", None, "legacy-both", {}, "one certificate, key and issuer"),
    Case("HOST-006", "pass", None, MN, {}, "every node of hosts: agrees", name="multinode"),
    Case("HOST-006", "fail", None, "legacy-both", {host(S, "cert_digest"): OTHER_SECRET},
         "the secondary trusts its own key (key-mismatch)",
         message="different token certificates: us-secondary differs from eu-primary"),
    Case("HOST-006", "fail", None, "legacy-both",
         {config_yml(S, "token_issuer"): "other-issuer"}, "another issuer",
         message="us-secondary config.yml: 'other-issuer'", name="issuer"),
    Case("HOST-006", "fail", None, "legacy-both",
         {host(S, "gitlab_yml", "registry_issuer"): "other-issuer"},
         "Rails signs with another issuer than the registries verify",
         message="us-secondary gitlab.yml differs", name="rails-issuer"),
    Case("HOST-006", "error", None, "legacy-both", {host(S, "cert_digest"): None},
         "the certificate cannot be read", message="cannot be read"),
    Case("HOST-006", "error", None, "legacy-both", {host(S, "signing_key_digest"): REMOVE},
         "the signing key cannot be read (fail closed)",
         message="us-secondary: the token-signing key /var/opt/gitlab/gitlab-rails/etc/"
                 "gitlab-registry.key cannot be read", name="key-unreadable"),
    Case("HOST-006", "fail", None, MN, {host(MAIN, "cert_digest"): OTHER_SECRET},
         "a registry node of hosts: trusts another key, named by node",
         message="us-secondary host main differs", name="multinode"),
    Case("HOST-006", "fail", None, MN, {host(SK, "signing_key_digest"): OTHER_SECRET},
         "the secondary's Sidekiq node signs with another key (multinode-sidekiq-other-key)",
         message="different token-signing keys: us-secondary host sidekiq1 differs",
         name="sidekiq-key"),
    Case("HOST-006", "error", None, "add-geo-external-db", {},
         "a site without config.yml", message="config.yml does not exist", name="no-config"),
    # HOST-007: gitlab.rb and config.yml agree (advisory)
    Case("HOST-007", "pass", S, "legacy-both", {}, "no pending reconfigure"),
    Case("HOST-007", "pass", S, "legacy-both", {rb(S, *ENABLED): "prefer"},
         "prefer renders as false without the bundled PostgreSQL: no drift", name="prefer"),
    Case("HOST-007", "fail", S, "legacy-both", {rb(S, *ENABLED): True},
         "gitlab.rb edited after the reconfigure (host-drift)",
         message="database.enabled true vs false"),
    Case("HOST-007", "fail", S, "legacy-both", {rb(S, "registry", "database", "port"): 6543},
         "another port in gitlab.rb", message="database.port 6543", name="port"),
    Case("HOST-007", "fail", S, "legacy-both",
         {rb(S, "registry", "storage", "maintenance"): REMOVE},
         "read-only removed from gitlab.rb, still rendered", message="read-only False vs True",
         name="read-only"),
    Case("HOST-007", "error", S, "add-geo-external-db", {}, "no config.yml to compare with"),
    # HOST-008: the Geo site's name is geo_node_name (or external_url)
    Case("HOST-008", "pass", S, "legacy-both", {}, "named as geo_node_name"),
    Case("HOST-008", "pass", S, "legacy-both",
         {rb(S, "gitlab_rails", "geo_node_name"): REMOVE,
          geo_site(2, "name"): SAME_AS(rb(S, "external_url"), "{}/")},
         "without geo_node_name the name is external_url, slashes aside",
         name="external-url"),
    Case("HOST-008", "fail", S, "legacy-both", {geo_site(2, "name"): "us-renamed"},
         "the Geo site renamed in the admin area (host-drift)",
         message="named 'us-renamed', the host expects 'us-secondary'"),
    Case("HOST-008", "fail", S, "legacy-both",
         {geo_site(2, "name"): "x", geo_site(2, "url"): "https://x.example.com/",
          geo_site(2, "internal_url"): "https://x.example.com/"},
         "not a Geo site", message="is not a Geo site", name="not-geo"),
    Case("HOST-008", "error", S, "legacy-both", HOST_FAILED, "the host could not be read"),
    Case("HOST-008", "fail", SK, MN, {rb(SK, "gitlab_rails", "geo_node_name"): "us-old"},
         "a Sidekiq node with a stale geo_node_name, named by node",
         message="us-secondary host sidekiq1: the Geo site is named", name="sidekiq-node"),
    Case("HOST-001", "fail", SK, MN, {rb(SK, "roles"): REMOVE},
         "a Sidekiq node without the Geo secondary role", message="us-secondary host sidekiq1",
         name="sidekiq-node"),
    Case("HOST-001", "pass", SK, MN, {}, "every node of the secondary has its role",
         name="sidekiq-node"),
]

LOCKS_OFF = {rb(S, "registry", "env"): {"REGISTRY_FF_ENFORCE_LOCKFILES": "false"}}
CASES += [
    # HOST-009: the registry enforces its lockfiles (REGISTRY_FF_ENFORCE_LOCKFILES, 18.8/18.9)
    Case("HOST-009", "pass", S, "legacy-both", {}, "the flag unset", message="unset"),
    Case("HOST-009", "fail", S, "legacy-both",
         {**LOCKS_OFF, geo_status(2, "version"): "18.9.2-ee"},
         "lockfile checks off on 18.9: the lockfiles may be stale",
         message="us-secondary: registry['env'] sets REGISTRY_FF_ENFORCE_LOCKFILES='false' on "
                 "GitLab 18.9.2-ee"),
    Case("HOST-009", "pass", S, "legacy-both",
         {**LOCKS_OFF, geo_status(2, "version"): "18.10.0-ee"},
         "18.10 removed the flag: ignored", message="is ignored on GitLab 18.10.0-ee",
         name="18.10"),
    Case("HOST-009", "fail", S, "legacy-both",
         {**LOCKS_OFF, ("geo.statuses", None): FAILED("HTTP 500"),
          ("host.gitlab_version", S): REMOVE},
         "the flag off and the version unknown: fail closed",
         message="(version unknown)", name="version-unknown"),
    Case("HOST-009", "error", S, "legacy-both", HOST_FAILED, "the host could not be read"),
]

GEO_EVENT = {"name": "geo_event", "url": "http://127.0.0.1:1/api/v4/container_registry_event/"
             "events", "auth_digest": OTHER_SECRET}
CRON = ["/etc/cron.d/registry-garbage-collect:2:0 3 * * 0 root gitlab-ctl "
        "registry-garbage-collect -m"]
CASES += [
    # HOST-010: no geo_event endpoint on a secondary's registry
    Case("HOST-010", "pass", S, "both-imported", {}, "the secondary notifies nothing"),
    Case("HOST-010", "fail", S, "both-imported", {config_yml(S, "notifications"): [GEO_EVENT]},
         "a geo_event endpoint on the secondary (secondary-geo-event)",
         message="us-secondary: config.yml notifies geo_event"),
    Case("HOST-010", "error", S, "both-imported", {config_yml(S, "present"): False},
         "no config.yml", message="config.yml does not exist"),
    # HOST-011: no offline GC scheduled on a registry node in database mode
    Case("HOST-011", "pass", S, "both-imported", {}, "database mode, nothing scheduled"),
    Case("HOST-011", "fail", S, "both-imported", {host(S, "gc_schedules"): CRON},
         "a cron entry runs registry-garbage-collect (gc-cron)",
         message="us-secondary: offline garbage collection is scheduled in database mode: "
                 "/etc/cron.d/registry-garbage-collect"),
    Case("HOST-011", "not-applicable", S, "legacy-both", {},
         "legacy mode: offline GC is how a legacy registry collects", name="legacy"),
    Case("HOST-011", "error", S, "both-imported",
         {host(S, "gc_unreadable"): "permission denied on /var/spool/cron/crontabs for the "
                                    "login user"},
         "a crontab directory that cannot be read is not taken as empty",
         message="permission denied on /var/spool/cron/crontabs", name="unreadable"),
    Case("HOST-011", "error", S, "both-imported", {host(S, "gc_schedules"): REMOVE},
         "the schedules not read at all", message="were not read", name="not-read"),
    Case("HOST-011", "fail", MAIN, MN,
         {host(MAIN, "gc_schedules"): CRON, host(MAIN, "lockfiles", "database-in-use"): True,
          host(MAIN, "lockfiles", "filesystem-in-use"): False},
         "named by node", message="us-secondary host main: offline garbage collection",
         name="multinode"),
]
