"""`--lang=ja`: the catalogs cover every message the code marks (found by Babel's extraction,
so a new English string shows up here untranslated), keep each message's placeholders, use
the glossary's words, and a real lab run in Japanese keeps the exit code, summary.json's
machine fields and a JUnit that validates, with aligned terminal columns and a report.html
that Chromium renders in Japanese."""

from __future__ import annotations

import ast
import gettext
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema
import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from test_cli_command import geopreflight
from test_html import element, render, text

from geopreflight.i18n import LOCALE_DIR, catalog_path, width
from projectfixtures import SCHEMAS
from standin import ROOT, run_pytest

PO = LOCALE_DIR / "ja" / "LC_MESSAGES" / "geopreflight.po"
GLOSSARY = ROOT / "docs" / "glossary-ja.yml"


def extracted() -> dict[str | tuple[str, ...], list[str]]:
    """Every message babel.cfg finds in the code (msgid -> where), as `pybabel extract`."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str | tuple[str, ...], list[str]] = {}
    for name, line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map):
        key = message if isinstance(message, str) else tuple(message)
        found.setdefault(key, []).append(f"{name}:{line}")
    return found


def japanese() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f)


def fields(text: str) -> set[str]:
    """Named placeholders (`{site}`); a remediation's Ruby hash braces are none."""
    return set(re.findall(r"\{([A-Za-z_]\w*)\}", text))


def test_every_marked_message_has_a_japanese_translation_with_its_placeholders() -> None:
    ja = japanese()
    assert ja.plural_forms == "nplurals=1; plural=0;"
    problems = []
    for msgid, where in extracted().items():
        entry = ja.get(msgid)
        forms = list(entry.string) if entry and isinstance(entry.string, tuple) else \
            [entry.string] if entry else []
        if not entry or entry.fuzzy or not all(forms):
            problems.append(f"no Japanese translation: {msgid!r} ({where[0]})")
            continue
        english = set().union(*(fields(m) for m in
                                (msgid if isinstance(msgid, tuple) else (msgid,))))
        for form in forms:
            if fields(form) != english:
                problems.append(f"placeholders {sorted(fields(form))} in {form!r}, expected "
                                f"{sorted(english)} as in {msgid!r} ({where[0]})")
    assert not problems, "\n".join(problems)


def test_the_extraction_sees_titles_remediations_steps_and_the_verdict() -> None:
    found = extracted()
    assert "GitLab 17.3 or later on every site" in found  # a @check title
    assert any(w.startswith("geopreflight/profile_files/migrate-legacy.yml") for w in
               found["Verify that Geo replication of the container registry continues working"])
    assert "NOT READY" in found and ("{n} blocking check failed",
                                     "{n} blocking checks failed") in found


OUTCOMES = {"Fail", "Warn", "NotApplicable", "CannotEvaluate"}


def _words(node: ast.expr) -> bool:
    """Whether a literal or f-string is a sentence to translate (not a value like `legacy`)."""
    parts = [node] if isinstance(node, ast.Constant) else \
        [v for v in getattr(node, "values", []) if isinstance(v, ast.Constant)]
    text = " ".join(p.value for p in parts if isinstance(p.value, str))
    return bool(re.search(r"[A-Za-z]{2,}", text)) and " " in text


def _is_check(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Call) and getattr(d.func, "id", None) == "check"
        for d in node.decorator_list)


def _bare(node: ast.AST) -> list[ast.AST]:
    """The sentences in a message expression that are not inside a `_()` call."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_":
        return []
    if isinstance(node, ast.Constant | ast.JoinedStr):
        return [node] if _words(node) else []
    return [n for child in ast.iter_child_nodes(node) for n in _bare(child)]


def test_every_check_message_goes_through_the_catalog() -> None:
    """A check's Fail/Warn/NotApplicable/CannotEvaluate message, or the message a check
    returns on a pass, written as a bare string or f-string (or glued from them) could never
    be translated: its sentences must be `_()` calls."""
    bare = []
    for path in sorted((ROOT / "geopreflight" / "checks").glob("*.py")):
        tree = ast.parse(path.read_text())
        returns = {id(n) for f in ast.walk(tree) if _is_check(f) for n in ast.walk(f)
                   if isinstance(n, ast.Return)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in OUTCOMES:
                found = node.args[:1]
            elif id(node) in returns and node.value is not None:
                found = [node.value]
            else:
                continue
            bare += [f"{path.name}:{n.lineno}" for arg in found for n in _bare(arg)]
    assert not bare, "messages not marked with _(): " + ", ".join(bare)


# The writers of what an operator reads: guidance, reports, run set-up and session.
WRITERS = ("guidance.py", "reports/__init__.py", "reports/run.py", "reports/html.py",
           "reports/terminal.py", "canary.py",
           "session.py", "runinput.py")
# literals in them that are no sentence to translate: commands, the names causes and facts
# are keyed by, error texts matched (not shown), pytest's marker help
MACHINE = {"sudo gitlab-ctl registry-database import", "sudo gitlab-ctl reconfigure",
           "metadata database", "host files", "cannot connect", "cannot connect (",
           "no answer within", "timed out", "not evaluated", "does not exist",
           "ssh is not installed where geopreflight runs", "checks of severity ",
           "rows that gate the step", "rows that only report",
           # the canary's fact sources: provenance in facts.json, English as every probe's
           "(no registry for ", " (HEAD), the manifest by digest and its layer blob (GET)"}
_MARKUP = re.compile(r"<[^<>]*>|^[^<>]*>|<[^<>]*$")
_SENTENCE = re.compile(r"[A-Za-z]{2,} [a-z]{2,}")


def _unmarked(path: Path) -> list[str]:
    """The English words in `path` outside `_()`, `N_()` and `ngettext()` (docstrings, HTML
    markup, CSS and MACHINE apart)."""
    tree = ast.parse(path.read_text())
    skip = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    skip |= {id(m) for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, "id", None) in ("_", "N_", "ngettext") for m in ast.walk(n)}
    return [f"{path.relative_to(ROOT)}:{n.lineno}: {n.value[:60]!r}" for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip
            and n.value not in MACHINE and not n.value.lstrip().startswith("body{")
            and _SENTENCE.search(_MARKUP.sub("", n.value))]


def test_every_sentence_the_writers_show_goes_through_the_catalog() -> None:
    """The `next:` actions, the not-yet fixes, the causes, report.html's labels, the canary's
    lines and the usage errors: an English literal there prints in English under --lang=ja."""
    bare = [hit for name in WRITERS for hit in _unmarked(ROOT / "geopreflight" / name)]
    assert not bare, "sentences not marked with _():\n" + "\n".join(bare)


def test_the_japanese_catalog_uses_the_glossary_words() -> None:
    terms = yaml.safe_load(GLOSSARY.read_text())["terms"]
    assert {t["ja"] for t in terms} >= {
        "プライマリサイト", "セカンダリサイト", "コンテナレジストリ", "メタデータデータベース",
        "レガシーメタデータ", "読み取り専用", "インポート", "レプリケーション"}
    for t in terms:
        assert t["source"] and isinstance(t["verified"], bool), t
    problems = []
    for entry in japanese():
        if not entry.id:
            continue
        english = " ".join(entry.id) if isinstance(entry.id, tuple) else entry.id
        text = "".join(entry.string) if isinstance(entry.string, tuple) else entry.string
        for t in terms:
            if re.search(t["en"], english, re.I) and t["ja"] not in text:
                problems.append(f"{t['ja']} missing from {text!r} (for {english!r})")
    assert not problems, "\n".join(problems)


def test_the_installed_catalog_is_the_compiled_po() -> None:
    """The .mo a run reads is the build's compilation of the .po (rebuild after editing it)."""
    out = io.BytesIO()
    write_mo(out, japanese())
    out.seek(0)
    fresh = gettext.GNUTranslations(out)
    with catalog_path("ja").open("rb") as f:
        installed = gettext.GNUTranslations(f)
    assert installed._catalog == fresh._catalog  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["option", "variable"])
def test_another_language_is_a_usage_error_naming_the_choices(how: str, tmp_path: Path) -> None:
    args, env = ["--profile=migrate-legacy", f"--inventory={tmp_path / 'none.yml'}"], {}
    if how == "option":
        args.append("--lang=fr")
    else:
        env["GEOPREFLIGHT_LANG"] = "fr"
    r = run_pytest(*args, env={"PATH": "/usr/bin:/bin", **env})
    assert r.returncode == 4, r.stdout + r.stderr
    assert "fr" in r.stderr and "en, ja" in r.stderr, r.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("args, said", [
    (["verify", "missing.tar.gz"], "その証跡バンドルはありません"),
    (["diff", "before", "after"], "そのバンドルまたはレポートフォルダはありません"),
    (["--inventory=x.yml"], "--profileが指定されていません"),
    (["--profle=migrate-legacy"], "不明なオプション--profle: --profileのことですか?")])
def test_the_command_s_own_errors_are_japanese(args: list[str], said: str,
                                               tmp_path: Path) -> None:
    r = geopreflight(*args, cwd=tmp_path, env={"PATH": "/usr/bin:/bin",
                                              "GEOPREFLIGHT_LANG": "ja"})
    assert r.returncode == 4 and said in r.stderr, r.stderr


def test_the_command_s_own_help_is_japanese(tmp_path: Path) -> None:
    r = geopreflight("--help", cwd=tmp_path, env={"PATH": "/usr/bin:/bin",
                                                  "GEOPREFLIGHT_LANG": "ja"})
    first = r.stdout.splitlines()[0]
    assert r.returncode == 0 and first.endswith(
        "このGitLab Geoデプロイは、コンテナレジストリのメタデータデータベース手順の"), first
    assert "終了コード: 0 準備完了または完了" in r.stdout and "\nコマンド:\n" in r.stdout


def test_verify_and_diff_refuse_another_language(tmp_path: Path) -> None:
    r = geopreflight("verify", "missing.tar.gz", cwd=tmp_path,
                     env={"PATH": "/usr/bin:/bin", "GEOPREFLIGHT_LANG": "fr"})
    assert r.returncode == 4 and "GEOPREFLIGHT_LANG=fr" in r.stderr and "en, ja" in r.stderr


# -- a real run in Japanese -------------------------------------------------------------------
HUMAN = ("title", "message", "remediation")


def machine(summary: dict[str, Any]) -> dict[str, Any]:
    """summary.json without its human sentences and timing: what parsers and CI read."""
    out = {k: v for k, v in summary.items()
           if k not in ("notes", "started_at", "duration_s")}
    out["checks"] = [{k: v for k, v in c.items() if k not in HUMAN} for c in summary["checks"]]
    out["next"] = [{k: v for k, v in a.items() if k != "action"}
                   for a in summary.get("next") or []]
    return out


def run(lab: Any, tmp: Path, *args: str) -> tuple[Any, dict[str, Any], Path]:
    reports = tmp / "reports"
    r = run_pytest("--profile=migrate-legacy", f"--inventory={lab.inventory}",
                   f"--report-dir={reports}", *args, env=lab.environ())
    folder = (reports / "latest").resolve()
    return r, json.loads((folder / "summary.json").read_text()), folder


def junit(folder: Path) -> ET.Element:
    tree = ET.parse(folder / "junit.xml")
    for el in tree.iter():  # junit-xml's two quirks, as tests/test_cli.py forgives them
        el.attrib.pop("disabled", None)
        if "time" in el.attrib:
            el.attrib["time"] = f"{float(el.attrib['time']):.3f}"
    xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(tree)
    return tree.getroot()


@pytest.mark.lab
@pytest.mark.parametrize("scenario, verdict", [("legacy-both", "READY"),
                                               ("not-read-only", "NOT_READY")])
def test_a_japanese_run_keeps_codes_and_machine_fields(lab: Any, tmp_path: Path,
                                                       scenario: str, verdict: str) -> None:
    deployment = lab(scenario)
    en, en_summary, _en_folder = run(deployment, tmp_path / "en")
    ja, ja_summary, folder = run(deployment, tmp_path / "ja", "--lang=ja")
    assert ja.returncode == en.returncode == ja_summary["exit_code"], ja.stdout[-3000:]
    assert ja_summary["verdict"] == verdict
    assert machine(ja_summary) == machine(en_summary)
    last = ja.stdout.strip().splitlines()[-1]
    word = {"READY": "判定: 準備完了", "NOT_READY": "判定: 準備未完了"}[verdict]
    assert last.startswith("geopreflight: migrate-legacy ステップ ") and word in last, last
    titles = {c["title"] for c in ja_summary["checks"]}
    assert "すべてのサイトがGitLab 17.3以降である" in titles
    root = junit(folder)
    names = [case.get("name") for case in root.iter("testcase")]
    assert any("すべてのサイトがGitLab 17.3以降である" in n for n in names)
    failures = [f for f in root.iter("failure")]
    assert len(failures) == sum(c["outcome"] == "fail" for c in ja_summary["checks"])
    for f in failures:
        assert "対処: " in f.text and "ドキュメント: https://docs.gitlab.com/ja-jp/" in f.text
        assert "(英語版: https://docs.gitlab.com/" in f.text
    page = (folder / "report.html").read_text()
    if verdict == "READY":  # what to do next, in Japanese, with GitLab's command as it is
        assert "次: us-secondaryで: レジストリを読み取り専用にし、" in ja.stdout, ja.stdout[-3000:]
        assert ": sudo gitlab-ctl registry-database import(ドキュメント: " in ja.stdout
        assert ja_summary["next"][0]["action"].startswith("レジストリを読み取り専用にし、")
        assert "<h2>次の作業</h2>" in page and ">(GitLabドキュメント)</a>" in page
    if verdict == "NOT_READY":
        assert "<strong>最初に対処するもの:</strong>" in page
        table = [line for line in ja.stdout.splitlines() if line.startswith("  失敗  ")]
        assert table, ja.stdout[-3000:]
        starts = {width(line[:line.index("  対処: ")]) for line in table}
        assert len(starts) == 1, table  # the fix column lines up in display cells
        assert all(width(line) <= 2 + 100 + max(starts) for line in table)


@pytest.mark.lab
def test_report_html_renders_in_japanese_with_both_doc_links(lab: Any, tmp_path: Path) -> None:
    _r, data, folder = run(lab("not-read-only"), tmp_path, "--lang=ja")
    dom = render(folder / "report.html", tmp_path)
    assert '<html lang="ja">' in dom
    verdict = text(element(dom, "verdict"))
    assert verdict.startswith("判定: 準備未完了") and "ブロッキングチェック" in verdict, verdict
    assert f'data-verdict="{data["verdict"]}"' in element(dom, "verdict")
    failing = [c for c in data["checks"] if c["outcome"] == "fail"]
    assert failing
    for c in failing:
        row = element(dom, f'{c["id"]}-{c["site"] or "deployment"}')
        assert "失敗" in text(row) and "対処:" in text(row) and c["title"] in text(row), row
        assert 'href="https://docs.gitlab.com/ja-jp/' in row
        assert 'hreflang="en">英語版</a>' in row
