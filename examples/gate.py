#!/usr/bin/env python3
"""Gate a change job on a geopreflight preflight: `python3 gate.py SUMMARY STEP`.

Exit 0 only when the preflight judged STEP, the step this job performs, and said READY. A
verdict alone is not enough: once the secondaries are imported, `import-primary: READY` must
not let an `import-secondary` job through, and a run that judged another step (a wrong or
missing --step) proves nothing about this one. Anything else, a missing or unreadable
summary.json included, exits 1 with one line saying why. Standard library only, so it runs
in any image with python3.
"""

from __future__ import annotations

import json
import sys


def gate(path: str, step: str) -> tuple[int, str]:
    """(exit code, the line to print) for the summary at `path` and the job's `step`."""
    try:
        with open(path, encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, ValueError) as exc:
        return 1, f"gate: no readable summary.json at {path} ({exc}): the preflight did not run"
    if not isinstance(summary, dict):
        return 1, f"gate: {path} is not a geopreflight summary"
    judged, verdict = summary.get("step"), summary.get("verdict")
    if judged != step:
        return 1, (f"gate: the preflight judged step {judged!r} (asked: "
                   f"{summary.get('requested_step')!r}), not {step!r}: run it with "
                   f"--step={step}")
    if verdict != "READY":
        return 1, f"gate: {step} is {verdict}, not READY: read the preflight's report.html"
    return 0, f"gate: {step} is READY ({summary.get('deployment', 'the deployment')})"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: gate.py SUMMARY STEP", file=sys.stderr)
        return 2
    code, line = gate(*argv)
    print(line, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
