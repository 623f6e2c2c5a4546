"""geopreflight: is this GitLab Geo deployment ready for the next step of the registry
metadata database procedure, and if not, exactly why and how to fix it."""

__version__ = "0.1.0"
