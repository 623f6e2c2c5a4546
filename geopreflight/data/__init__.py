"""Data shipped with geopreflight (generated from GitLab's source; see each file's generator)."""
