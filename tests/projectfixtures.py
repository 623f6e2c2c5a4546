"""Fixtures for geopreflight's own tests, loaded by the root conftest.py only when no
`--profile` is given: a checker run imports nothing from tests/ or lab/ (pytest would load a
`tests/conftest.py` even in a checker run)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from standin import Deployment

SCHEMAS = Path(__file__).resolve().parent / "schemas"  # copies of shared/schemas
# summary.json's schema is package data (bundles are checked with it): the tests read that copy
SUMMARY_SCHEMA = Path(__file__).resolve().parent.parent / "geopreflight" / "summary.schema.json"


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """A factory of stand-in deployments: `deployment(SiteSpec(...), ...)`, stopped after."""
    from standin import Deployment, SiteSpec

    started: list[Deployment] = []

    def make(*specs: SiteSpec, **secondary: Any) -> Deployment:
        if not specs:
            specs = (SiteSpec("eu-primary", "primary"),
                     SiteSpec("us-secondary", "secondary", **secondary))
        d = Deployment(tmp_path, list(specs)).start()
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()


pytest_plugins = ["lab.fixtures"]  # the lab's fixtures, for lab tests
