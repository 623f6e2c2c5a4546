"""--step=auto finds the migrate-legacy position in the lab's states."""

from __future__ import annotations

import pytest

from labrun import run

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("scenario, step, verdict", [
    ("legacy-both", "prerequisites", "READY"),
    ("secondary-imported", "import-primary", "READY"),
    ("both-imported", None, "COMPLETE"),
])
def test_auto_position(lab, scenario, step, verdict):
    s = run(lab(scenario), step="auto")
    assert (s["step"], s["verdict"]) == (step, verdict), s["steps"]


def test_both_imported_verifies_replication(lab):
    s = run(lab("both-imported"), step="verify-replication")
    assert s["verdict"] == "READY", [(c["id"], c["site"], c["message"]) for c in s["checks"]
                                     if c["outcome"] not in ("pass", "not-applicable")]
