"""The product's stages import downward only and have no import cycle: the `import-linter`
contracts in pyproject.toml, run as CI runs them, hold on the code and fail on a backward
import (a test that could not fail would prove nothing)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from importgraph import cycles, graph, module_sources, packages

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the package under `root`, with the repository's contracts."""
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"),
                           str(ROOT / "pyproject.toml"), "--no-cache"], cwd=root,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
                          capture_output=True, text=True, timeout=120)


def with_edit(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the package with `line` added at the end of `module` (a dotted path)."""
    shutil.copytree(ROOT / "geopreflight", tmp_path / "geopreflight",
                    ignore=shutil.ignore_patterns("__pycache__", "locale", "*.json"))
    path = tmp_path / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n\ndef _late() -> None:\n    {line}\n")
    return tmp_path


def test_the_contracts_hold() -> None:
    r = lint_imports(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 2 kept, 0 broken." in r.stdout


def test_a_backward_import_breaks_the_layers(tmp_path: Path) -> None:
    """An input reaching up into the judge (a check's catalog), function-local as such
    shortcuts usually are."""
    r = lint_imports(with_edit(tmp_path, "geopreflight.inventory",
                               "from .outcomes import judge  # noqa: F401"))
    assert r.returncode == 1
    assert "geopreflight.inventory -> geopreflight.outcomes" in r.stdout


def test_an_import_cycle_breaks_the_acyclic_contract(tmp_path: Path) -> None:
    """Two modules of one stage may import each other's way, not both ways (yamlfile reading
    the inventory back)."""
    r = lint_imports(with_edit(tmp_path, "geopreflight.yamlfile",
                               "from .inventory import load_inventory  # noqa: F401"))
    assert r.returncode == 1
    assert "No import cycle among the product's modules" in r.stdout
    assert ".yamlfile -> .inventory" in r.stdout or ".inventory -> .yamlfile" in r.stdout


def product() -> dict[str, str]:
    return module_sources(ROOT, "geopreflight")


def test_the_product_has_no_import_cycle() -> None:
    """Every module, each package's __init__ and the checks package included."""
    sources = product()
    assert {"geopreflight.reports", "geopreflight.reports.html", "geopreflight.checks",
            "geopreflight.checks.test_db", "geopreflight.suite"} <= set(sources)
    assert cycles(graph(sources, packages(ROOT, "geopreflight"))) == []


def test_a_writer_importing_its_package_is_a_cycle() -> None:
    """The cycle the report writers had (RunReport lived in reports/__init__, which imports
    the writers): the sibling contract cannot see a package and its child, this test does."""
    sources = product()
    sources["geopreflight.reports.html"] += "\ndef _late() -> None:\n    from . import write_all\n"
    found = cycles(graph(sources, packages(ROOT, "geopreflight")))
    assert ["geopreflight.reports", "geopreflight.reports.html", "geopreflight.reports"] in found
