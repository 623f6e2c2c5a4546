"""The check suites: pytest modules of checks over facts, one module per area."""

GEO_PAGE = ("https://docs.gitlab.com/administration/packages/container_registry/"
            "using_geo_with_the_container_registry/")
METADATA_DB_PAGE = "https://docs.gitlab.com/administration/packages/container_registry_metadata_database/"
GEO_SITES_API = "https://docs.gitlab.com/api/geo_sites/"
GEO_SETUP = "https://docs.gitlab.com/administration/geo/setup/two_single_node_sites/"
GEO_TROUBLESHOOTING = "https://docs.gitlab.com/administration/geo/replication/troubleshooting/"
