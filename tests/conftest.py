"""Fixtures for geopreflight's own tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from standin import Deployment, SiteSpec  # noqa: E402

SCHEMAS = Path(__file__).resolve().parent / "schemas"  # copies of shared/schemas


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """A factory of stand-in deployments: `deployment(SiteSpec(...), ...)`, stopped after."""
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


from lab.fixtures import fresh_lab, lab  # noqa: E402,F401 - the lab's fixtures, for lab tests
