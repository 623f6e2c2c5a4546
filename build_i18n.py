"""Build step: compile the gettext catalogs (`geopreflight/locale/*/LC_MESSAGES/*.po`) to `.mo`.

setuptools runs it as `build_py` (pyproject.toml: `[tool.setuptools.cmdclass]`), with Babel
from `[build-system] requires`: a wheel gets the `.mo` files beside the `.po` sources, and an
editable install (`pip install -e .`, as scripts/setup does) compiles them in the checkout,
where the package is imported from. Nothing is compiled when the package is imported.
"""

from __future__ import annotations

from pathlib import Path

from setuptools.command.build_py import build_py

LOCALE = Path("geopreflight") / "locale"


def compile_catalogs(source: Path, target: Path) -> list[Path]:
    """Compile every `.po` under `source` to the same place under `target`; a catalog with
    errors stops the build."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as f:
            catalog = read_po(f, abort_invalid=True)
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with mo.open("wb") as f:
            write_mo(f, catalog)
        written.append(mo)
    return written


class BuildPy(build_py):
    """build_py, then the catalogs compiled into the build (or, editable, into the checkout)."""

    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / LOCALE
        target = source if self.editable_mode else Path(self.build_lib) / LOCALE
        compile_catalogs(source, target)
