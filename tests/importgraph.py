"""Which modules of a package import which, read from the source with `ast` (function-local
imports included: a local import hides a cycle from Python's start-up, not from the design),
and the cycles in that graph. A package's `__init__` is a module of its own, so a writer that
imports the package that imports it is a cycle too (import-linter's sibling rule misses it)."""

from __future__ import annotations

import ast
from pathlib import Path


def module_sources(root: Path, package: str) -> dict[str, str]:
    """Every module under `root/package` by dotted name (`pkg.sub` for `pkg/sub/__init__.py`)."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path.read_text()
    return out


def imports(name: str, source: str, modules: set[str], *, is_package: bool = False) -> set[str]:
    """The modules of `modules` that module `name` imports anywhere in its source."""
    here = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in modules and t != name}
    return found


def packages(root: Path, package: str) -> set[str]:
    """The dotted names of `package` and its subpackages."""
    return {".".join(p.relative_to(root).parts[:-1]) for p in (root / package).rglob("__init__.py")}


def graph(sources: dict[str, str], packages: set[str]) -> dict[str, set[str]]:
    """Each module's imports among `sources` (`packages`: the names that are packages)."""
    return {name: imports(name, src, set(sources), is_package=name in packages)
            for name, src in sources.items()}


def cycles(deps: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle found by a depth-first walk (each as the path that closes it)."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            found.append(path[path.index(name):] + [name])
            return
        if name in done:
            return
        for dep in sorted(deps[name]):
            visit(dep, [*path, name])
        done.add(name)

    for name in sorted(deps):
        visit(name, [])
    return found
