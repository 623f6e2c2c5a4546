"""Babel extractors for the English messages that are not `_()` calls: each `@check`'s title
and remediation (declared once, translated where they are shown) and the titles in profiles.
babel.cfg names them; `pybabel extract` and tests/test_i18n.py use them, a run never does."""

from __future__ import annotations

import ast
import io
from collections.abc import Iterator
from typing import IO, Any

import yaml

CHECK_TEXTS = ("title", "remediation")

Message = tuple[int, str | None, str | tuple[str, ...], list[str]]


def extract_checks(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
                   ) -> Iterator[Message]:
    """A check module's `_()` calls, then each `@check(...)`'s title and remediation."""
    from babel.messages.extract import extract_python

    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check":
            check_id = node.args[0].value if node.args else "?"
            for kw in node.keywords:
                if kw.arg in CHECK_TEXTS and isinstance(kw.value, ast.Constant):
                    yield (kw.value.lineno, None, kw.value.value, [f"{check_id} {kw.arg}"])


def extract_profiles(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
                     ) -> Iterator[Message]:
    """A profile's title and its steps' titles."""
    text = fileobj.read().decode()
    doc = yaml.safe_load(text) or {}
    lines = text.splitlines()

    def line_of(needle: str) -> int:
        return next((n for n, line in enumerate(lines, 1) if needle in line), 0)

    if doc.get("title"):
        yield (line_of("title:"), None, doc["title"], [f"profile {doc.get('profile')} title"])
    for step in doc.get("steps") or []:
        if isinstance(step, dict) and step.get("title"):
            yield (line_of(f"id: {step.get('id')}"), None, step["title"],
                   [f"step {step.get('id')} title"])
