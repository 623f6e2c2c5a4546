"""The schema migrations each container registry release ships, from the data file that
`scripts/registry-migrations` generates from container-registry's source
(registry/datastore/migrations/, with the commit of each release recorded in the file).

>>> m = expected("v4.39.0-gitlab")
>>> len(m["schema_migrations"]) > 100, len(m["post_deploy_schema_migrations"]) > 10
(True, True)
>>> expected("9.9.9-gitlab") is None
True
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

TABLES = ("schema_migrations", "post_deploy_schema_migrations")


@cache
def data() -> dict[str, Any]:
    """The shipped file: `versions` (tag, commit, split) and `migrations` (since, post_*)."""
    text = resources.files("geopreflight.data").joinpath("registry_migrations.json").read_text()
    return json.loads(text)


def normal(version: str) -> str:
    """`v4.39.0-gitlab` (the header) and `4.39.0-gitlab` alike.

    >>> normal("v4.39.0-gitlab"), normal(" 4.39.0-gitlab ")
    ('4.39.0-gitlab', '4.39.0-gitlab')
    """
    return version.strip().removeprefix("v")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("-")[0].split("."))


def expected(version: str) -> dict[str, list[str]] | None:
    """The migration ids the release records in each table; None for a release the data
    file does not know (then nothing can be said)."""
    doc = data()
    v = normal(version)
    release = doc["versions"].get(v)
    if release is None:
        return None
    out: dict[str, list[str]] = {t: [] for t in TABLES}
    for mid, m in doc["migrations"].items():
        if _key(m["since"]) > _key(v):
            continue
        post = m["post_dir"] if release["split"] else False
        out[TABLES[1] if post else TABLES[0]].append(mid)
    return out


def release(version: str) -> dict[str, Any] | None:
    """The release's tag and commit, as the data file recorded them."""
    return data()["versions"].get(normal(version))


def deferred(version: str, mid: str) -> bool:
    """Whether migration `mid` is a post-deployment one in release `version`."""
    rel, m = release(version), data()["migrations"].get(mid)
    if rel is None or m is None:
        return False
    return bool(m["post_dir"] if rel["split"] else m["post_flag"])
