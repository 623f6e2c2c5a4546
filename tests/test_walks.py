"""Walk new-instance, add-geo-and-registry, add-registry-to-geo, add-geo-external-db and
add-geo-default-db on the lab to the end of their procedure, the lab's actions one by one,
`--step=auto` after each (design, "Step position"); and the half-moved database (IN PROGRESS).
migrate-legacy has its own walks (test_walk_migrate_legacy.py)."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from labrun import expect, needs_canary, proves_completion, run_now, walk

pytestmark = pytest.mark.lab


class Stage(NamedTuple):
    """One stage of a walk: the lab's actions, then what the checker run after them says."""

    label: str
    actions: list[str]
    step: str
    verdict: str
    why: str  # the expectation in words, shown when it fails
    statuses: dict[str, str] | None = None  # None: `expect`'s default for the verdict


FINAL = "configure-replication"  # every one of these walks ends with it
PUSH = "push --site eu-primary group/project/app:v1"
# the same last stage of add-geo-external-db and add-geo-default-db
SECONDARY = Stage("secondary", ["enable-registry --site us-secondary",
                                "setup-metadata-db --site us-secondary"], FINAL, "READY",
                  "the secondary set up is ready for configure-replication")
# per profile (the lab's scenario of the same name): its stages up to the final step, and the
# actions that do the final step; the run after those is judged by the proof tests below, like
# the proof stages `labrun.walk` adds (no-canary, canary, waived)
WALKS: dict[str, tuple[list[Stage], list[str]]] = {
    "new-instance": ([
        Stage("start", [], "setup-geo", "READY", "a new instance is ready for setup-geo"),
        Stage("geo", ["setup-geo"], "setup-metadata-db", "READY",
              "after setup-geo the metadata db is next",
              {"setup-geo": "complete", "setup-metadata-db": "next"}),
        Stage("one-db", ["setup-metadata-db --site eu-primary"], "setup-metadata-db", "READY",
              "one site set up is ready for the other"),
        Stage("both-db", ["setup-metadata-db --site us-secondary"], FINAL, "READY",
              "both sites set up is ready for configure-replication (HOST-004 is what "
              "configure-replication configures: not a requirement of it)"),
    ], [FINAL, PUSH]),
    "add-geo-and-registry": ([
        Stage("start", [], "setup-geo", "READY",
              "an instance without geo or registry is ready for setup-geo"),
        Stage("geo", ["setup-geo"], "enable-registry-and-metadata-db", "READY",
              "after setup-geo the registries are next",
              {"setup-geo": "complete", "enable-registry-and-metadata-db": "next"}),
        Stage("registries", ["enable-registry --site eu-primary",
                             "enable-registry --site us-secondary",
                             "setup-metadata-db --site eu-primary",
                             "setup-metadata-db --site us-secondary"], FINAL, "READY",
              "both registries on their databases is ready for configure-replication"),
    ], [FINAL, PUSH]),
    "add-registry-to-geo": ([
        Stage("start", [], "enable-secondary-registry", "READY",
              "geo without a secondary registry is ready to enable it"),
        Stage("enabled", ["enable-registry --site us-secondary"], "setup-metadata-db", "READY",
              "with the secondary registry enabled the metadata db is next",
              {"enable-secondary-registry": "complete", "setup-metadata-db": "next"}),
        Stage("both-db", ["setup-metadata-db --site eu-primary",
                          "setup-metadata-db --site us-secondary"], FINAL, "READY",
              "both databases set up is ready for configure-replication"),
    ], [FINAL, PUSH]),
    "add-geo-external-db": ([
        Stage("start", [], "setup-geo", "READY",
              "an instance on an external db is ready for setup-geo"),
        Stage("geo", ["setup-geo"], "secondary-registry-and-metadata-db", "READY",
              "after setup-geo the secondary registry is next",
              {"setup-geo": "complete", "secondary-registry-and-metadata-db": "next"}),
        SECONDARY,
    ], [FINAL]),
    "add-geo-default-db": ([
        Stage("start", [], "move-metadata-db", "NOT_READY",
              "a read-write registry is not ready for the dump and restore (REG-010)"),
        Stage("read-only", ["set-read-only --site eu-primary on"], "move-metadata-db", "READY",
              "read-only, the bundled registry db is ready to move"),
        Stage("moved", ["move-db --site eu-primary", "set-read-only --site eu-primary off"],
              "setup-geo", "READY", "after the move (read-write again) setup-geo is next",
              {"move-metadata-db": "complete", "setup-geo": "next"}),
        Stage("geo", ["setup-geo"], "secondary-registry-and-metadata-db", "READY",
              "after setup-geo the secondary registry is next"),
        SECONDARY,
    ], [FINAL]),
}


def stages(profile: str) -> list[tuple[str, list[str], tuple[str, ...]]]:
    """The profile's stages as `labrun.walk` takes them."""
    judged, final = WALKS[profile]
    return [(s.label, s.actions, ()) for s in judged] + [("replication", final, ())]


@pytest.fixture(scope="module")
def walked(lab):
    """The summaries of a profile's walk by stage label. Each profile is walked once, when a
    test first asks for it; a walk that failed is not tried again, its error is every test's."""
    done: dict[str, dict[str, Any] | Exception] = {}

    def of(profile: str) -> dict[str, Any]:
        if profile not in done:
            try:
                done[profile] = walk(lab, profile, profile, stages(profile))
            except Exception as e:  # kept for the profile's other tests
                done[profile] = e
        got = done[profile]
        if isinstance(got, Exception):
            raise got
        return got
    return of


@pytest.mark.parametrize("profile, stage", [
    pytest.param(p, s, id=f"{p}/{s.label}") for p, (judged, _) in WALKS.items() for s in judged])
def test_each_stage_judges_the_next_step(walked: Any, profile: str, stage: Stage) -> None:
    summary = walked(profile)[stage.label]
    try:
        expect(summary, stage.step, stage.verdict, stage.statuses)
    except AssertionError as e:
        e.add_note(stage.why)
        raise


@pytest.mark.parametrize("profile", WALKS)
def test_without_canary_replication_is_judged_not_complete(walked: Any, profile: str) -> None:
    needs_canary(walked(profile)["no-canary"], FINAL)


@pytest.mark.parametrize("profile", WALKS)
def test_the_canary_completes_the_walk(walked: Any, profile: str) -> None:
    proves_completion(walked(profile)["canary"])


@pytest.mark.parametrize("profile", WALKS)
def test_a_waiver_on_rep_003_completes_it(walked: Any, profile: str) -> None:
    proves_completion(walked(profile)["waived"])


def test_a_half_restored_move_is_in_progress(lab):
    """The registry already points at the external DB, whose restore stopped before the
    tags: the move has begun and is not finished (design, "Step position")."""
    s = run_now(lab("db-half-moved"), "add-geo-default-db")
    expect(s, "move-metadata-db", "IN_PROGRESS")
    assert ("DB-011", "eu-primary") in [(c["id"], c["site"]) for c in s["checks"]]
