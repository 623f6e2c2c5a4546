"""How the metadata DB's content compares with the legacy storage's (or with the database it
was moved from): pure functions of the `storage.content`, `db.content` and
`db.content_moved_from` facts, shared by the import's completion (IMP-007) and the moved
database (DB-011).

>>> from geopreflight.probes.stored import tally
>>> from geopreflight.probes.models import DbContent
>>> st = tally({"a/b": 2, "c": 1, "d": 0}, "filesystem", 1)
>>> full = DbContent(3, 3, st.sample, st.sample_tags, st.buckets)
>>> shortfall(st, full).short
False
>>> half = tally({"a/b": 2}, "filesystem", 1)
>>> s = shortfall(st, DbContent(1, 2, half.sample, half.sample_tags, half.buckets))
>>> s.repositories, s.tags, s.names
(2, 1, ['c', 'd'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from geopreflight.i18n import _
from geopreflight.probes.models import DB_SAMPLE, DbContent, StorageContent, path_hash


@dataclass
class Shortfall:
    """What the DB lacks: at least `repositories` repositories and `tags` tags; `names` the
    storage's sampled repositories it lacks or holds fewer tags of."""

    repositories: int = 0
    tags: int = 0
    names: list[str] = field(default_factory=list)

    @property
    def short(self) -> bool:
        return bool(self.repositories or self.tags or self.names)

    def describe(self, storage: StorageContent | DbContent, db: DbContent | None,
                 old: str | None = None) -> str:
        """The counts of both sides, then the shortfall; `old` names the database the data
        was moved from when `storage` is its content."""
        held = _("{repositories} repositories, {tags} tags").format(
            repositories=db.repositories, tags=db.tags) if db else _("no tables")
        if old is None:
            first = _("storage holds {repositories} repositories and {tags} tags, the metadata "
                      "database {held}")
        else:
            first = _("compared with the old database at {old}, which holds {repositories} "
                      "repositories and {tags} tags")
        parts = [first.format(repositories=storage.repositories, tags=storage.tags, held=held,
                              old=old)]
        if self.repositories:
            parts.append(_("at least {count} repositories missing").format(
                count=self.repositories))
        if self.tags:
            parts.append(_("at least {count} tags missing").format(count=self.tags))
        if self.names:
            parts.append(_("for example {names}").format(names=", ".join(self.names[:5])))
        return "; ".join(parts)


def shortfall(storage: StorageContent | DbContent, db: DbContent | None) -> Shortfall:
    """The DB's shortfall against the storage (or against the database the data was moved
    from, whose content has the same fields): totals, per md5 bucket, and name by name for
    the storage's sample (every sampled repository whose hash is within the DB's sample's
    range must be in the DB's sample, with at least as many tags)."""
    if db is None:
        return Shortfall(storage.repositories, storage.tags, list(storage.sample))
    by_bucket = sum(max(0, s - d) for s, d in zip(storage.buckets, db.buckets, strict=False))
    covered = len(db.sample) < DB_SAMPLE  # a shorter sample is every repository the DB has
    last = path_hash(db.sample[-1]) if db.sample else ""
    names = []
    for name in storage.sample:
        if not covered and path_hash(name) > last:
            break  # beyond what the DB's sample can tell
        if db.sample_tags.get(name, -1) < storage.sample_tags.get(name, 0):
            names.append(name)
    return Shortfall(max(0, storage.repositories - db.repositories, by_bucket),
                     max(0, storage.tags - db.tags), names)
