"""How long each phase of a registry import will take: a range and what it rests on.

Pure: counts, storage backend, import method and calibration in; per phase a low and a high
number of seconds and a one-line basis out. Nothing here reads the deployment or the clock.

Calibration, in order of trust: the site's own finished imports, the other sites' finished
imports (Geo's seed procedure imports the secondaries first, so the primary's import has a
predictor that ran on the same content), a previous run's evidence, then GitLab's published
rates. A finished import scales by tags (the unit the tag import walks); published rates are by
bytes, so without the storage size they take an assumed size per tag and the range is wide.

>>> runs = [Run("us-secondary", "import", 30.0, 120, "filesystem", "import_statistics")]
>>> e = estimate("eu-primary", Content(tags=240), "filesystem", "one-step", others=runs)
>>> [(p.phase, p.low_s, p.high_s, p.read_only) for p in e.phases]
[('import', 48.0, 90.0, True)]
>>> e.phases[0].basis.split(";")[0]
"calibrated from us-secondary's finished one-step import (120 tags in 30 s, import_statistics)"
>>> wide = estimate("us-secondary", Content(tags=100), "s3", "one-step").phases[0]
>>> wide.basis.startswith("published rates"), wide.high_s / wide.low_s > 20
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ONE_STEP = ("import",)
THREE_STEP = ("step-one", "step-two", "step-three")
READ_ONLY = frozenset({"import", "step-two"})  # the registry is read-only during these
LABELS = {"import": "one-step import", "step-one": "step one (pre-import)",
          "step-two": "step two (tags)", "step-three": "step three (common blobs)"}

# A finished import predicts another only so well: the content differs in shape (tags per
# manifest, layers per image), the network and the storage's throttling differ from run to run.
# The range is the runs' per-tag rates widened by these factors (a judgement, not a measurement).
CALIBRATED_LOW, CALIBRATED_HIGH = 0.8, 1.5
# Another backend than the runs': its latency per request differs, so the range widens.
OTHER_BACKEND_LOW, OTHER_BACKEND_HIGH = 0.5, 3.0

MB = 1_000_000
GB = 1000 * MB
TB = 1000 * GB
# One-step import of the same 100 GB registry: 8 minutes on S3, 52 minutes on GCS (GitLab's
# metadata database page, "How long will the import take"; the figures are as quoted in
# https://gitlab.com/gitlab-org/gitlab/-/issues/423459 and UNVERIFIED against the page itself):
# https://docs.gitlab.com/administration/packages/container_registry_metadata_database/
ONE_STEP_BYTES_PER_S = {"s3": (100 * GB / (8 * 60), 100 * GB / (8 * 60) / 2),
                        "gcs": (100 * GB / (52 * 60), 100 * GB / (52 * 60) / 2)}
# Step one: "Users have reported step one import completed at rates of 2 to 4 TB per hour":
# https://docs.gitlab.com/administration/packages/container_registry_metadata_database_three_step_import/
STEP_ONE_BYTES_PER_S = (4 * TB / 3600, 2 * TB / 3600)
# Step two takes about 4 to 10 % of step one's time (UNVERIFIED: as quoted in the feedback issue
# https://gitlab.com/gitlab-org/gitlab/-/issues/423459, not found on a docs page).
STEP_TWO_OF_STEP_ONE = (0.04, 0.10)
# Without the storage's size, each tag is taken as 20 MB to 500 MB of image data (an
# assumption, UNVERIFIED for any one registry: it is why the published-rate range is wide).
BYTES_PER_TAG = (20 * MB, 500 * MB)
PUBLISHED_URL = ("https://docs.gitlab.com/administration/packages/"
                 "container_registry_metadata_database_three_step_import/")


@dataclass(frozen=True)
class Content:
    """What the site will import: tags (required for an estimate), optionally bytes."""

    tags: int | None
    repositories: int | None = None
    bytes: int | None = None
    source: str = ""  # where the counts come from, said in the basis


@dataclass(frozen=True)
class Run:
    """One finished phase of an import: how long it took on how many tags."""

    site: str
    phase: str  # import | step-one | step-two | step-three
    seconds: float
    tags: int
    driver: str  # the storage driver it read (filesystem, s3, gcs, azure)
    source: str  # import_statistics, or the evidence bundle it came from

    @property
    def per_tag_s(self) -> float:
        return self.seconds / max(self.tags, 1)


@dataclass(frozen=True)
class PhaseRange:
    site: str
    phase: str
    low_s: float
    high_s: float
    basis: str

    @property
    def read_only(self) -> bool:
        return self.phase in READ_ONLY


@dataclass(frozen=True)
class Estimate:
    site: str
    method: str
    phases: tuple[PhaseRange, ...]

    @property
    def read_only_s(self) -> tuple[float, float]:
        """The read-only part: the sum of the read-only phases' ranges."""
        ro = [p for p in self.phases if p.read_only]
        return sum(p.low_s for p in ro), sum(p.high_s for p in ro)


def phases_of(method: str) -> tuple[str, ...]:
    return THREE_STEP if method == "three-step" else ONE_STEP


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def runs_of(site: str, statistics: Iterable[object], source: str = "import_statistics"
            ) -> list[Run]:
    """The finished phases among a site's import_statistics rows (models.ImportRun): a
    one-step run is one `import` phase; a three-step command is one step. A phase with an
    error, or without its finish, is no calibration."""
    out = []
    for r in statistics:
        def get(name: str, r: object = r) -> Any:
            return getattr(r, name, None)

        flags = (get("pre_import"), get("tag_import"), get("blob_import"))
        phase = {(True, True, True): "import", (True, False, False): "step-one",
                 (False, True, False): "step-two", (False, False, True): "step-three"}.get(
            tuple(bool(f) for f in flags))
        if phase is None or any(get(f"{p}_error") for p in
                                ("pre_import", "tag_import", "blob_import")):
            continue
        seconds = _seconds(get("started_at"), get("finished_at"))
        if seconds is None or seconds < 0:
            continue
        tags = get("tags_count") or get("manifests_count") or 0
        out.append(Run(site, phase, seconds, int(tags), get("storage_driver") or "unknown",
                       source))
    return out


def format_duration(seconds: float) -> str:
    """12 s, 4.5 min, 3.2 h, 2.1 d: readable at a glance.

    >>> [format_duration(s) for s in (0.4, 59, 270, 11520, 950400)]
    ['0.4 s', '59 s', '4.5 min', '3.2 h', '11.0 d']
    """
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _calibrated(site: str, phase: str, tags: int, backend: str, runs: Sequence[Run],
                whose: str) -> PhaseRange:
    same = [r for r in runs if r.driver == backend]
    used = same or list(runs)
    low = min(r.per_tag_s for r in used) * tags * CALIBRATED_LOW
    high = max(r.per_tag_s for r in used) * tags * CALIBRATED_HIGH
    note = ""
    if not same:
        low, high = low * OTHER_BACKEND_LOW, high * OTHER_BACKEND_HIGH
        note = f"; those runs read {used[0].driver} storage, this site {backend}: widened"
    runs_text = ", ".join(f"{r.tags} tags in {format_duration(r.seconds)}" for r in used[:3])
    sites = sorted({r.site for r in used})
    who = {"this site": "this site's", "a previous run": f"a previous run: {', '.join(sites)}'s"
           }.get(whose, f"{', '.join(sites)}'s")
    return PhaseRange(site, phase, round(low, 1), round(high, 1),
                      f"calibrated from {who} finished {LABELS[phase].split(' (')[0]} "
                      f"({runs_text}, {used[0].source}){note}; scaled to {tags} tags")


def _published(site: str, phase: str, content: Content, backend: str) -> PhaseRange:
    if content.bytes is not None:
        size = (content.bytes, content.bytes)
        sized = f"{content.bytes / GB:.1f} GB in storage"
    else:
        size = (content.tags * BYTES_PER_TAG[0], content.tags * BYTES_PER_TAG[1])
        sized = (f"{content.tags} tags taken as {BYTES_PER_TAG[0] // MB} MB to "
                 f"{BYTES_PER_TAG[1] // MB} MB each (storage size unknown)")
    fast_one, _ = ONE_STEP_BYTES_PER_S["s3"]
    _, slow_one = ONE_STEP_BYTES_PER_S["gcs"]
    fast, slow = ONE_STEP_BYTES_PER_S.get(backend, (fast_one, slow_one))
    one = (size[0] / fast, size[1] / slow)
    step_one = (size[0] / STEP_ONE_BYTES_PER_S[0], size[1] / STEP_ONE_BYTES_PER_S[1])
    if phase == "import":
        low, high = one
        rate = ("one-step import of 100 GB: 8 min on S3, 52 min on GCS"
                + ("" if backend in ONE_STEP_BYTES_PER_S else f"; {backend}: the whole span"))
    elif phase == "step-one":
        low, high = step_one
        rate = "step one at 2 to 4 TB an hour"
    else:  # step two; step three has no published rate and is taken like step two
        low, high = (step_one[0] * STEP_TWO_OF_STEP_ONE[0], step_one[1] * STEP_TWO_OF_STEP_ONE[1])
        rate = "step two at 4 to 10 % of step one" + (
            " (no published rate for step three: taken like step two, UNVERIFIED)"
            if phase == "step-three" else "")
    return PhaseRange(site, phase, round(low, 1), round(high, 1),
                      f"published rates ({rate}; {PUBLISHED_URL}); {sized}")


def estimate(site: str, content: Content, backend: str, method: str, *,
             own: Sequence[Run] = (), others: Sequence[Run] = (),
             previous: Sequence[Run] = ()) -> Estimate:
    """A range per phase of `method` for importing `content` on `site`, each phase from the
    most trusted calibration that has it: own runs, other sites' runs, a previous run's
    evidence, then published rates."""
    if content.tags is None:
        raise ValueError("an estimate needs the number of tags to import")
    out = []
    for phase in phases_of(method):
        for whose, runs in (("this site", own), ("other sites", others),
                            ("a previous run", previous)):
            mine = [r for r in runs if r.phase == phase and r.tags > 0]
            if mine:
                out.append(_calibrated(site, phase, content.tags, backend, mine, whose))
                break
        else:
            out.append(_published(site, phase, content, backend))
    return Estimate(site, method, tuple(out))
