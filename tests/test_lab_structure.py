"""The lab's modules import one another one way: no cycle, function-local imports included
(a local import hides a cycle from Python's start-up, not from the design)."""

from __future__ import annotations

from pathlib import Path

from importgraph import cycles, graph, module_sources, packages

ROOT = Path(__file__).resolve().parent.parent


def test_the_lab_has_no_import_cycle():
    sources = module_sources(ROOT, "lab")
    assert {"lab.cli", "lab.deploy", "lab.actions", "lab.scenario", "lab.reconfigure",
            "lab.teardown", "lab.model"} <= set(sources)
    assert cycles(graph(sources, packages(ROOT, "lab"))) == []


def test_a_function_local_import_back_is_a_cycle():
    """What the test above catches: a lazy import back, like the `from lab import cli` inside
    a function of scenario.py that once closed cli -> actions -> scenario -> cli."""
    sources = module_sources(ROOT, "lab")
    sources["lab.scenario"] += "\n\ndef _late() -> None:\n    from lab import cli\n"
    found = cycles(graph(sources, packages(ROOT, "lab")))
    assert any(c[0] == "lab.cli" and c[-2] == "lab.scenario" for c in found), found
