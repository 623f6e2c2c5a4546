"""Loads geopreflight's pytest plugin for this checkout; it stays inactive without --profile.

Without --profile this is a run of the project's own tests, and only then are their fixtures
(tests/projectfixtures.py, with the lab's) loaded: a checker run imports nothing from tests/
or lab/."""

import sys
from pathlib import Path

pytest_plugins = ["geopreflight.plugin"]


def pytest_configure(config):
    if config.getoption("profile", None) is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
        config.pluginmanager.import_plugin("projectfixtures")
