"""A pytest plugin for tests/test_outcomes.py (loaded with `-p evaluation_counter`): it counts
how often each (check, site, node) is evaluated (`catalog._evaluate`, the one caller of a
check's function) in each probing round (an `outcomes.Evaluations`, made once per round) and
writes the counts to $EVALUATION_COUNTS as JSON: one {key: count} per round."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from geopreflight import catalog, outcomes

ROUNDS: list[Counter[str]] = []


def pytest_configure(config: Any) -> None:
    evaluate, start = catalog._evaluate, outcomes.Evaluations.__init__

    def counting_evaluate(meta: Any, ctx: Any, *args: Any) -> Any:
        if not ROUNDS:  # evaluated outside any round: a check judged by something else
            ROUNDS.append(Counter())
        ROUNDS[-1][f"{meta.id}|{ctx.site.name if ctx.site else ''}|{ctx.host or ''}"] += 1
        return evaluate(meta, ctx, *args)

    def round_starts(self: Any, *args: Any, **kwargs: Any) -> None:
        ROUNDS.append(Counter())
        start(self, *args, **kwargs)

    catalog._evaluate = counting_evaluate  # type: ignore[assignment]
    outcomes.Evaluations.__init__ = round_starts  # type: ignore[method-assign]


def pytest_unconfigure(config: Any) -> None:
    with open(os.environ["EVALUATION_COUNTS"], "w") as f:
        json.dump([dict(r) for r in ROUNDS], f)
