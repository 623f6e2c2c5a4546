"""The lab's modules import one another one way: no cycle, function-local imports included
(a local import hides a cycle from Python's start-up, not from the design)."""

from __future__ import annotations

import ast
from pathlib import Path

LAB = Path(__file__).resolve().parent.parent / "lab"


def lab_imports(source: str) -> set[str]:
    """The lab modules a module's source imports, anywhere in it (`import lab.x`, `from lab
    import x`, `from lab.x import y`)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("lab.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "lab":
                found |= {a.name for a in node.names}
            elif node.module.startswith("lab."):
                found.add(node.module.split(".")[1])
    return found


def cycles(sources: dict[str, str]) -> list[list[str]]:
    """Every import cycle among the modules (each as the path that closes it)."""
    graph = {name: lab_imports(src) & set(sources) for name, src in sources.items()}
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            found.append(path[path.index(name):] + [name])
            return
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    return found


def lab_sources() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(LAB.glob("*.py"))}


def test_the_lab_has_no_import_cycle():
    sources = lab_sources()
    assert {"cli", "deploy", "actions", "scenario", "reconfigure", "teardown", "model"} <= set(
        sources)
    assert cycles(sources) == []


def test_a_function_local_import_back_is_a_cycle():
    """What the test above catches: a lazy import back, like the `from lab import cli` inside
    a function of scenario.py that once closed cli -> deploy -> scenario -> cli."""
    sources = lab_sources()
    sources["scenario"] += "\n\ndef _late() -> None:\n    from lab import cli\n"
    assert ["cli", "deploy", "scenario", "cli"] in cycles(sources)
