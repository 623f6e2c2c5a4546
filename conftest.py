"""Loads geopreflight's pytest plugin for this checkout; it stays inactive without --profile."""

pytest_plugins = ["geopreflight.plugin"]
