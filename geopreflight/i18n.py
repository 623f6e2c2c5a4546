"""`--lang`: every human sentence of a run in the operator's language.

The words come from gettext catalogs: `locale/<lang>/LC_MESSAGES/geopreflight.po` beside this
module are the sources (translators edit them; Babel extracts the English, see
CONTRIBUTING.md), compiled to `.mo` when the package is built (`build_i18n.py`). English is
the source language and needs no catalog. The run's language is chosen once, before anything
is printed, and read by the writers: ids, exit codes, summary.json keys and enum values, file
names and commands never change with it.

Messages with values use named placeholders, so a translation can put them in its own order:

>>> _("{site} is read-only").format(site="eu-primary")
'eu-primary is read-only'
>>> ngettext("{n} row", "{n} rows", 2).format(n=2)
'2 rows'

Terminal columns are counted in display cells: an East Asian wide character takes two.

>>> width("READY"), width("準備完了"), ljust("合格", 6) + "|"
(5, 8, '合格  |')
>>> clip("セカンダリサイト", 9)
'セカンダ…'
"""

from __future__ import annotations

import gettext
import os
import unicodedata
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

DOMAIN = "geopreflight"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGS = ("en", "ja")
DEFAULT = "en"
ENV = "GEOPREFLIGHT_LANG"
DOCS = "https://docs.gitlab.com/"

_active: gettext.NullTranslations = gettext.NullTranslations()
_lang = DEFAULT


def _(message: str) -> str:
    """`message` in the run's language (itself in English or without a translation)."""
    return _active.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for `n` (Japanese has one form; English two)."""
    return _active.ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    """Marks a string for extraction; the writer translates it when it shows it."""
    return message


def lang() -> str:
    """The run's language (`en`, `ja`): report.html's `lang` attribute."""
    return _lang


def catalog_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.mo"


def activate(code: str) -> None:
    """Choose the run's language; a language without its compiled catalog is refused, never
    shown half in English."""
    global _active, _lang
    if code not in LANGS:
        raise ValueError(f"expected one of {', '.join(LANGS)}")
    if code == DEFAULT:
        _active, _lang = gettext.NullTranslations(), code
        return
    path = catalog_path(code)
    if not path.is_file():
        raise FileNotFoundError(f"the {code} catalog {path} is missing: the package was not "
                                "built (pip install ., or pip install -e . in a checkout)")
    with path.open("rb") as f:
        _active, _lang = gettext.GNUTranslations(f), code


def doc(url: str) -> str:
    """A GitLab documentation link as shown to people: in Japanese, the Japanese page with the
    English one beside it (the Japanese pages are machine-assisted and may lag)."""
    ja = ja_page(url)
    return url if ja == url else _("{translated} (English: {original})").format(
        translated=ja, original=url)


def ja_page(url: str) -> str:
    """docs.gitlab.com/<page> -> docs.gitlab.com/ja-jp/<page> when the run is Japanese."""
    if _lang != "ja" or not url.startswith(DOCS) or url.startswith(DOCS + "ja-jp/"):
        return url
    return DOCS + "ja-jp/" + url[len(DOCS):]


# -- display width -----------------------------------------------------------------------------
def width(text: str) -> int:
    """Terminal cells `text` takes: wide and full-width characters two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def ljust(text: str, cells: int) -> str:
    return text + " " * max(0, cells - width(text))


def clip(text: str, cells: int) -> str:
    """`text` on one line of at most `cells` cells, ending in `…` when cut."""
    text = " ".join(text.split())
    if width(text) <= cells:
        return text
    out, used = [], 1
    for c in text:
        used += width(c)
        if used > cells:
            break
        out.append(c)
    return "".join(out) + "\u2026"


# -- the option ---------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("geopreflight", "geopreflight: readiness of a GitLab Geo deployment")
    group.addoption("--lang", metavar="|".join(LANGS), default=None,
                    help=f"language of every human sentence: {' or '.join(LANGS)} (default: "
                         f"${ENV}, else {DEFAULT}); ids, exit codes and JSON keys never change")


def chosen(config: Any) -> tuple[str, str]:
    """The language asked for and where it was asked (`--lang` or the variable)."""
    given = config.getoption("lang")
    if given is not None:
        return given, f"--lang={given}"
    env = os.environ.get(ENV)
    if env:
        return env, f"{ENV}={env}"
    return DEFAULT, f"--lang={DEFAULT}"


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, int | None, int | None]:
    """With a profile, the language is chosen before anything else runs or prints (a wrapper
    goes first); another value is a usage error naming the choices."""
    if not config.option.help and config.getoption("profile", None) is not None:
        code, source = chosen(config)
        try:
            activate(code)
        except (ValueError, FileNotFoundError) as exc:
            raise pytest.UsageError(f"{source}: {exc}") from None
    return (yield)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Back to English once the run's last line is written (in-process runs, tests)."""
    activate(DEFAULT)
