"""What the registry holds: repositories and tags in the legacy storage and in the metadata DB,
counted, never copied (a few names as a sample).

The legacy storage keeps a repository as a `_manifests` directory under
`docker/registry/v2/repositories/<path>/` and each tag as `_manifests/tags/<tag>/` (whose
`current/link` names its manifest):
the layout the importer walks (https://gitlab.com/gitlab-org/container-registry/-/blob/master/
registry/datastore/importer.go, and the storage driver's path mapper,
https://gitlab.com/gitlab-org/container-registry/-/blob/master/registry/storage/paths.go).
On filesystem storage the whole tree is walked by ONE command on the registry node (`find`,
pruned at each repository's revisions, layers, uploads and tags, each tags directory counted
by its link count where the filesystem keeps it exact (else listed by `ls`), never entering a
tag, tallied by `awk` there, so only one line per repository comes back), with its own
deadline and cap; on S3 it is listed with
ListObjectsV2, at most `MAX_PAGES` pages of 1,000 keys, starting after a subtree the count
never needs (layers, revisions, uploads, a tag's index) when a page ends inside one. The
metadata DB's counts come from its `repositories` and `tags` tables in a read-only
transaction.

Both sides sample the repositories whose md5(path) sorts first, so a check can compare them
name by name without either side sending every name, and count repositories per first hex
digit of md5(path) (`buckets`), so a missing repository shows even when the totals hide it.
"""

from __future__ import annotations

import posixpath
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import NamedTuple
from urllib.parse import quote, urlencode

from ..failures import Kind, ProbeFailure, status_kind
from ..http import Unreachable
from ..inventory import S3Storage, Site
from . import ProbeContext, ProbeError, probe, wrapped
from .models import DB_SAMPLE, DbContent, StorageContent, path_hash

REPOS_DIR = "docker/registry/v2/repositories"
SAMPLE = 10       # storage: the repositories named in a fact
LIST_S = 300.0    # the deadline of the one walk of a filesystem storage
LIST_CAP = 64 * 1024 * 1024  # one line per repository: about 1.5 million repositories
MAX_PAGES = 10_000  # S3 pages of 1,000 keys (about 2 million tags, at ~5 keys per tag)
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

# Filesystems whose directory link count is 2 + its subdirectories (ext4 sets 1 once a
# directory has more than 65,000; btrfs always 1; NFS reports its server's): on them a tags
# directory's tags are its link count minus 2, read from the stat find already makes, so
# the directory is never read. Anywhere else, and for a link count of 1, it is listed.
LINK_FSTYPES = ("ext2", "ext3", "ext4", "xfs", "tmpfs")


def walk_script(link_fstypes: tuple[str, ...] = LINK_FSTYPES) -> str:
    """The one command that counts a filesystem storage on its node.

    $1 the repositories directory, $2 the cap. Prints `file`, then "<tags>\t<repository>"
    per repository and "#linked\t<n>" / "#listed\t<n>" (tags directories counted by link
    count, listed); "!walk-failed" when find (or ls) could not read part of the tree (counts
    would be short). find never enters a repository's revisions, layers or uploads, nor its
    `_manifests/tags/`: a tags directory on one of `link_fstypes` with a link count above 1
    is counted by it (`-printf %n`); any other is listed by `ls -fpN` (batched by
    `-exec ... +`, with /dev/null first so every listing carries its "<dir>:" header), which
    reads its entries without a stat and marks directories with "/". Both count exactly the
    subdirectories (a stray file or a symbolic link is no tag). On 1,000,000 tags the link
    count takes a third of the listing's system time (scripts/bench --content).
    """
    linked = " ".join(f"-o -fstype {t}" for t in link_fstypes)
    return ('d="$1"; if [ ! -e "$d" ]; then echo missing; elif [ ! -d "$d" ] || [ ! -r "$d" ] '
            '|| [ ! -x "$d" ]; then echo unreadable; echo "$d"; else echo file; '
            'cd "$d" || exit 1; '
            '{ find . \\( -name _layers -o -name _uploads -o -name revisions '
            '-path "*/_manifests/revisions" \\) -prune -o -name tags -path "*/_manifests/tags" '
            f'-type d -prune \\( \\( -false {linked} \\) -links +1 -printf "%n %p\\n" '
            '-o -exec ls -fpN /dev/null {} + \\) -o -type d -name _manifests -print '
            '2>/dev/null || echo "!walk-failed"; } '
            '| awk \'$0 == "!walk-failed" {print; next} '
            '/^[0-9]+ \\.\\/.*\\/_manifests\\/tags$/ {r = ""; k = index($0, " "); '
            'p = substr($0, k + 3, length($0) - k - 18); n[p] += $1 - 2; linked++; next} '
            '/^\\.\\/.*\\/_manifests\\/tags:$/ {r = substr($0, 3, length($0) - 19); listed++; '
            'next} '
            '/^\\.\\/.*\\/_manifests$/ {r = ""; p = substr($0, 3, length($0) - 13); '
            'if (!(p in n)) n[p] = 0; next} '
            'r != "" && /\\/$/ && $0 != "./" && $0 != "../" {n[r]++} '
            'END {for (r in n) print n[r] "\\t" r; print "#linked\\t" linked + 0; '
            'print "#listed\\t" listed + 0}\' | head -c "$2"; fi')


_WALK = walk_script()


def tally(tags_by_repository: dict[str, int], read: str, requests: int) -> StorageContent:
    """Counts, the md5-ordered sample and the buckets of a storage's repositories.

    >>> c = tally({"a/b": 2, "c": 0}, "filesystem", 1)
    >>> c.repositories, c.tags, sum(c.buckets), sorted(c.sample)
    (2, 2, 2, ['a/b', 'c'])
    """
    ordered = sorted(tags_by_repository, key=path_hash)
    buckets = [0] * 16
    for name in ordered:
        buckets[int(path_hash(name)[0], 16)] += 1
    sample = ordered[:SAMPLE]
    return StorageContent(read, len(ordered), sum(tags_by_repository.values()), sample,
                          {n: tags_by_repository[n] for n in sample}, buckets, requests)


class Walk(NamedTuple):
    """A finished walk: {repository: tags}, and how many tags directories were counted by
    link count and how many listed (what the fact's source says)."""

    tags_by_repository: dict[str, int]
    linked: int
    listed: int


def parse_walk(text: str) -> Walk:
    """The walk's lines; an error when the walk was incomplete (a part unread, or its closing
    tallies missing: cut short).

    >>> parse_walk("2\\tgroup/app\\n0\\tbase\\n#linked\\t1\\n#listed\\t0\\n")
    Walk(tags_by_repository={'group/app': 2, 'base': 0}, linked=1, listed=0)
    """
    out: dict[str, int] = {}
    ends: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("!"):
            raise ValueError("part of the tree could not be read (permission denied or a "
                             "file vanished while walking)")
        count, _, repo = line.partition("\t")
        if line.startswith("#") and repo.isdigit():
            ends[count] = int(repo)
        elif repo and count.isdigit():
            out[repo] = int(count)
        else:
            raise ValueError(f"unexpected line {line[:80]!r}")
    if set(ends) != {"#linked", "#listed"}:
        raise ValueError("the walk ended before its tallies (cut short)")
    return Walk(out, ends["#linked"], ends["#listed"])


@probe("storage.content")
def storage_content(pc: ProbeContext, site: Site | None) -> tuple[StorageContent, str]:
    """Count the legacy storage's repositories and tags: S3 with `registry.storage`, else the
    filesystem storage of config.yml, walked on the site's registry node."""
    assert site is not None
    st = site.registry.storage if site.registry else None
    if st is not None:
        return _s3_content(pc, site, st)
    from .host import CONFIG_YML, _config_yml, host_files

    host = host_files(pc, site)
    config = _config_yml(host)
    if not config.get("present") or config.get("error"):
        raise ProbeError(f"{site.name}: no readable {CONFIG_YML} says where the registry's "
                         f"storage is ({config.get('error') or 'missing'})")
    if config.get("storage_backend") != "filesystem":
        raise ProbeError(f"{site.name}: {config.get('storage_backend')} storage: give "
                         "registry.storage.s3 in the inventory so its repositories can be "
                         "listed")
    where = posixpath.join(str(config["storage_root"]), REPOS_DIR)
    try:
        text = host.listing(where, _WALK, max(LIST_S, pc.inventory.timeouts.read_s), LIST_CAP)
        found = parse_walk(text) if text is not None else Walk({}, 0, 0)  # nothing pushed
    except ValueError as exc:
        raise ProbeError(f"cannot count {host.path(where)} on {host.where}: {exc}",
                         host.path(where)) from None
    return (tally(found.tags_by_repository, "filesystem", 1),
            f"{host.target}{host.path(where)} (one find, tallied on the node; tags "
            f"directories: {found.linked} counted by link count, {found.listed} listed)")


def _s3_content(pc: ProbeContext, site: Site, st: S3Storage) -> tuple[StorageContent, str]:
    from .storage import signed_headers

    prefix = posixpath.join(st.root_directory.strip("/"), REPOS_DIR).lstrip("/") + "/"
    base = f"{st.endpoint.rstrip('/')}/{st.bucket}"
    found: dict[str, int] = {}
    after: dict[str, str] = {}  # where the next page starts: a continuation token or a key
    for page in range(1, MAX_PAGES + 1):
        query = {"list-type": "2", "max-keys": "1000", "prefix": prefix, **after}
        url = f"{base}?{urlencode(sorted(query.items()), quote_via=quote, safe='-_.~')}"
        try:
            reply = pc.http.get(url, headers=signed_headers("GET", url, st),
                                credentials_for=st.endpoint)
        except Unreachable as exc:
            raise wrapped(f"{site.name}'s registry bucket", exc, base) from None
        if reply.status != 200:
            hint = " (the key needs s3:ListBucket on the bucket)" if reply.status == 403 else ""
            why = (f"ListObjectsV2 {base} prefix {prefix}: {reply.status}, expected "
                   f"200{hint}")
            raise ProbeError(why, base, ProbeFailure(status_kind(reply.status), why, url,
                                                     reply.status))
        try:
            doc = ET.fromstring(reply.body)
        except ET.ParseError as exc:
            why = f"ListObjectsV2 {base}: not S3's XML ({exc})"
            raise ProbeError(why, base, ProbeFailure(Kind.PARSE, why, url)) from None
        last = ""
        for item in doc.iter(f"{S3_NS}Contents"):
            last = item.findtext(f"{S3_NS}Key") or ""
            _count_key(last[len(prefix):], found)
        token = doc.findtext(f"{S3_NS}NextContinuationToken")
        if doc.findtext(f"{S3_NS}IsTruncated") != "true" or not token:
            return tally(found, "s3", page), f"ListObjectsV2 {base} prefix {prefix} ({page} pages)"
        skip = _skip_past(last)
        after = {"start-after": skip} if skip else {"continuation-token": token}
    raise ProbeError(f"{site.name}'s registry bucket holds more than {MAX_PAGES * 1000} keys "
                     f"under {prefix}: not counted (the cap on one listing)", base)


# What a count never needs: a repository's layer and revision links, its uploads, and a tag's
# index of past digests (often most of the keys). A page that ends inside one of them is
# followed by a listing that starts after it (`start-after`), not by the rest of it. No
# repository lies inside one (a path component starts with a letter or digit), and the
# repository was already counted by the key that ended the page.
_SKIPPED = ("/_layers/", "/_uploads/", "/_manifests/revisions/")


def _skip_past(key: str) -> str | None:
    """The key after which the subtree holding `key` ends ('0' sorts right after '/'), or
    None when `key` is in nothing skipped.

    >>> _skip_past("r/a/_layers/sha256/ab/link"), _skip_past("r/a/_manifests/tags/v/current/link")
    ('r/a/_layers0', None)
    >>> _skip_past("r/a/_manifests/tags/v1/index/sha256/ab/link")
    'r/a/_manifests/tags/v1/index0'
    """
    head, sep, rest = key.partition("/_manifests/tags/")
    if sep:
        tag, _, tail = rest.partition("/")
        return f"{head}{sep}{tag}/index0" if tail.startswith("index/") else None
    for part in _SKIPPED:
        i = key.find(part)
        if i >= 0:
            return key[:i + len(part) - 1] + "0"
    return None


def _count_key(rel: str, found: dict[str, int]) -> None:
    """One listed key: a repository where `_manifests/` starts, a tag at its current link.

    >>> f = {}; _count_key("a/b/_manifests/tags/v1/current/link", f)
    >>> _count_key("a/b/_manifests/revisions/sha256/x/link", f); _count_key("c/_layers/x", f)
    >>> f
    {'a/b': 1}
    """
    repo, sep, rest = rel.partition("/_manifests/")
    if not sep:
        return
    parts = rest.split("/")
    tag = len(parts) == 4 and parts[0] == "tags" and parts[2:] == ["current", "link"]
    found[repo] = found.get(repo, 0) + (1 if tag else 0)


CONTENT_SQL = {
    "counts": "SELECT (SELECT count(*) FROM repositories), (SELECT count(*) FROM tags)",
    "buckets": "SELECT substr(md5(path), 1, 1), count(*) FROM repositories GROUP BY 1",
    "sample": f"""SELECT r.path, (SELECT count(*) FROM tags t WHERE t.repository_id = r.id
  {{partition}}) FROM repositories r ORDER BY md5(r.path) LIMIT {DB_SAMPLE}""",
}
# The registry's tags are partitioned by top-level namespace: naming it lets each count use
# one partition's index instead of every partition's
# (https://gitlab.com/gitlab-org/container-registry/-/blob/master/registry/datastore/
# migrations/structure.sql)
PARTITIONED = ("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = "
               "'tags' AND column_name = 'top_level_namespace_id')")


@probe("db.content")
def db_content(pc: ProbeContext, site: Site | None) -> tuple[DbContent | None, str]:
    """Count the metadata DB's repositories and tags (None: the tables do not exist yet)."""
    assert site is not None
    return _content(pc, site)


def _moved(site: Site) -> bool:
    """Whether the inventory names the database the site's registry data was moved from."""
    return site.metadata_db is not None and site.metadata_db.moved_from is not None


@probe("db.content_moved_from", applies=_moved)
def db_content_moved_from(pc: ProbeContext, site: Site | None
                          ) -> tuple[DbContent | None, str]:
    """The same counts of the database the registry's data was moved from
    (`metadata_db.moved_from`), read the same way: DB-011 compares the moved database with
    it. Its failures say it is the old database, so no one looks for the fault in the new."""
    assert site is not None and site.metadata_db is not None
    old = replace(site, metadata_db=site.metadata_db.moved_from)
    try:
        return _content(pc, old)
    except ProbeError as exc:
        said = "the old database (metadata_db.moved_from)"
        raise ProbeError(f"{said}: {exc}", exc.source,
                         replace(exc.failure, cause=f"{said}: {exc.failure.cause}")) from None


def _content(pc: ProbeContext, site: Site) -> tuple[DbContent | None, str]:
    """`site.metadata_db`'s repositories and tags, counted in one read-only transaction."""
    import psycopg

    from .database import _first, _where, connect

    with connect(pc, site, f"geopreflight-{uuid.uuid4().hex[:12]}") as conn:
        try:
            with conn.transaction():
                there = conn.execute("SELECT to_regclass('repositories') IS NOT NULL AND "
                                     "to_regclass('tags') IS NOT NULL").fetchone()[0]
                if not there:
                    return None, f"{_where(site)} (no repositories or tags table)"
                repositories, tags = conn.execute(CONTENT_SQL["counts"]).fetchone()
                buckets = [0] * 16
                for digit, count in conn.execute(CONTENT_SQL["buckets"]).fetchall():
                    buckets[int(digit, 16)] = count
                by_namespace = conn.execute(PARTITIONED).fetchone()[0]
                sample = conn.execute(CONTENT_SQL["sample"].format(
                    partition="AND t.top_level_namespace_id = r.top_level_namespace_id"
                    if by_namespace else "")).fetchall()
        except psycopg.Error as exc:
            raise ProbeError(f"{site.name}'s registry metadata database: {_first(exc)}",
                             _where(site)) from None
    return (DbContent(repositories, tags, [p for p, _ in sample], dict(sample), buckets),
            f"{_where(site)} repositories, tags (read-only transaction)")
