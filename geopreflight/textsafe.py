r"""Strings from a deployment or a bundle, made safe for where they are shown or written.

Any value the checker reports (a GitLab version, an error message, a fact from a bundle) may
hold what its reader would execute or choke on: terminal escape sequences (OSC 52 writes the
clipboard, `ESC[2J` clears the screen, colours fake a verdict), characters XML cannot carry
(U+FFFE, lone surrogates: junit.xml would not parse), or Markdown that leaves its table cell.
Each output has one function here, and every writer of that output uses it.

>>> for_terminal("17.10\x1b]52;c;ZXZpbA==\x07 ok\r\nREADY")
'17.10\\x1b]52;c;ZXZpbA==\\x07 ok\\r\\nREADY'
>>> for_terminal("\u202egnp.exe café")
'\\u202egnp.exe café'
>>> for_xml("a\ufffeb\udc80c\x1bd\tok")
'a\ufffdb\ufffdc\ufffdd\tok'
>>> markdown_cell("x\r## head ![i](http://e/x.png) <b>|y")
'x\\\\r\\#\\# head \\!\\[i\\](http://e/x.png) &lt;b&gt;\\|y'
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]; C1
# controls and DEL are legal XML but no reader wants them
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MARKDOWN = re.compile(r"[\\|!\[\]<>&`*_#]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SHOWN = frozenset({"Zs", "Co"})  # not printable to Python, but harmless: NBSP, private use


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def for_terminal(text: str) -> str:
    """`text` with every control, format (bidi, zero-width), separator, surrogate and
    unassigned character written as a `\\xNN`/`\\uNNNN` escape: one shown line stays one
    line and no byte of it reaches the terminal as a command."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or unicodedata.category(ch) in _SHOWN
                   else _escape(ch) for ch in text)


def lines_for_terminal(text: str) -> str:
    """A message of several lines (a usage error and its hint): each line as `for_terminal`
    shows it, the line breaks kept."""
    return "\n".join(map(for_terminal, text.split("\n")))


def for_xml(text: str) -> str:
    """`text` with each character XML 1.0 cannot carry (controls, U+FFFE/U+FFFF, lone
    surrogates) replaced by U+FFFD, so the document always parses."""
    return _NOT_XML.sub("\ufffd", text)


def for_json(value: Any) -> Any:
    """JSON-like data with lone surrogates replaced by U+FFFD in every string (key or value):
    strict JSON readers refuse them, and they cannot be written as UTF-8."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {for_json(k) if isinstance(k, str) else k: for_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [for_json(v) for v in value]
    return value


def markdown_cell(text: str) -> str:
    """One table cell of GitHub/GitLab Markdown: controls escaped as in the terminal (a `\\r`
    or `\\n` cannot end the row), then every character that could start a link, an image,
    raw HTML, emphasis, code or a new cell backslash-escaped or written as an entity."""
    def one(m: re.Match[str]) -> str:
        ch = m.group()
        return {"<": "&lt;", ">": "&gt;", "&": "&amp;"}.get(ch, "\\" + ch)

    return _MARKDOWN.sub(one, for_terminal(text))
