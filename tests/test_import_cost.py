"""An installed geopreflight loads into every pytest run of its environment through the pytest11
entry point; without --profile it must cost next to nothing (issue 22: about 80 ms before, for
requests, psycopg, testinfra and the whole pipeline). The modules it imports are what a clock
would measure, without the noise of a busy machine (`scripts/bench --imports` gives the time)."""

from __future__ import annotations

import json
import subprocess
import sys

from standin import ROOT

LIGHT = {"geopreflight", "geopreflight.plugin", "geopreflight.suite", "geopreflight.checks",
         "geopreflight.errors", "geopreflight.options"}  # options: the declarations, stdlib only


def test_the_inactive_plugin_imports_only_its_hooks() -> None:
    code = ("import json, sys, pytest; before = set(sys.modules); import geopreflight.plugin; "
            "print(json.dumps(sorted(m for m in set(sys.modules) - before "
            "if m.split('.')[0] not in sys.stdlib_module_names)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert set(json.loads(out)) <= LIGHT, sorted(set(json.loads(out)) - LIGHT)


def test_bench_prints_what_the_import_costs() -> None:
    """The time is the benchmark's to print (a busy machine makes a timed test flaky); the
    test above holds what the time depends on."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench"), "--imports",
                          "--runs", "3"], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert float(out.split(": ")[1].split(" ms")[0]) > 0, out
