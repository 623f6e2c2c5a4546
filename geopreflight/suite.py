"""Where the check suites live and how they load.

The checks are a package of the product, `geopreflight.checks`, so an installed geopreflight
works from any directory. Every module is imported under that one name, by the catalog and by
pytest's collection alike, so a check is registered once.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

from . import checks as _checks_pkg

CHECKS_DIR = Path(_checks_pkg.__file__).parent
PACKAGE = _checks_pkg.__name__


def load_catalog() -> None:
    """Import every check module so the catalog is complete before profiles are validated."""
    for mod in pkgutil.iter_modules([str(CHECKS_DIR)]):
        if mod.name.startswith("test_"):
            importlib.import_module(f"{PACKAGE}.{mod.name}")


def is_checks_path(arg: str) -> bool:
    """Whether a command-line path points into the check suites (through a link, too)."""
    path = Path(arg.split("::")[0]).resolve()
    real = CHECKS_DIR.resolve()
    return path == real or real in path.parents


class CheckModule(pytest.Module):
    """A check suite, collected as the module the catalog already imported (never twice)."""

    def _getobj(self):  # noqa: ANN202 - pytest's own signature
        return importlib.import_module(f"{PACKAGE}.{self.path.stem}")


class IdleCheckModule(CheckModule):
    """A check suite in a run without --profile (`--doctest-modules geopreflight`): its
    doctests run, its checks do not (they need a profile's facts)."""

    def collect(self) -> list:
        return []


def collect_module(module_path: Path, parent: pytest.Collector, *, active: bool
                   ) -> pytest.Module | None:
    """`pytest_pycollect_makemodule` for files of the check suites."""
    if module_path.resolve().parent == CHECKS_DIR.resolve() and module_path.stem.startswith(
            "test_"):
        return (CheckModule if active else IdleCheckModule).from_parent(parent, path=module_path)
    return None
