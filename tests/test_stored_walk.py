"""The filesystem storage's one-command walk (storage.content) counts exactly what the issue
defines, on a tree with the corners a real registry has: nested repositories, a repository
with no tags directory, revisions, layers and uploads that hold `tags`-like decoys, stray
files and links in a tags directory, and a hidden tag; the same whether a tags directory is
counted by its link count (ext4, tmpfs) or listed (any other filesystem: forced here with
no filesystem trusted). Run locally, as the lab's host reader runs it (scripts/bench
--content measures its cost at 1,000,000 tags)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from geopreflight.inventory import Host
from geopreflight.probes.host import HostFiles
from geopreflight.probes.stored import LIST_CAP, REPOS_DIR, Walk, parse_walk, walk_script

LISTED = walk_script(())  # no filesystem's link count trusted: every tags directory listed


def _tags(repo: Path, *names: str) -> None:
    for name in names:
        (repo / "_manifests" / "tags" / name / "current").mkdir(parents=True)
        (repo / "_manifests" / "tags" / name / "current" / "link").write_text("sha256:00")
        (repo / "_manifests" / "tags" / name / "index" / "sha256" / "00").mkdir(parents=True)


def walk(root: Path, script: str | None = None) -> Walk:
    text = HostFiles(Host("local://", str(root))).listing("/" + REPOS_DIR,
                                                          script or walk_script(), 30, LIST_CAP)
    return parse_walk(text or "")


@pytest.mark.parametrize("where", ["tmp", "shm"])
def test_the_walk_counts_repositories_and_tag_directories_only(tmp_path: Path, where: str
                                                               ) -> None:
    if where == "shm":  # tmpfs
        tmp_path = Path(tempfile.mkdtemp(dir="/dev/shm"))
    base = tmp_path / REPOS_DIR
    _tags(base / "group" / "app", "v1", "v2", ".hidden")
    _tags(base / "group" / "app" / "sub" / "image", "latest")  # nested under a repository
    _tags(base / "base", *(f"t{i}" for i in range(25)))
    (base / "group" / "bare" / "_manifests" / "revisions").mkdir(parents=True)  # no tags dir
    decoy = base / "group" / "app" / "_manifests" / "revisions" / "sha256" / "ab"
    (decoy / "_manifests" / "tags" / "x").mkdir(parents=True)  # never entered
    (base / "group" / "app" / "_layers" / "sha256" / "_manifests" / "tags" / "y").mkdir(
        parents=True)
    (base / "group" / "app" / "_uploads" / "u1" / "_manifests").mkdir(parents=True)
    tags = base / "group" / "app" / "_manifests" / "tags"
    (tags / "not-a-tag").write_text("a stray file")
    os.symlink(tags / "v1", tags / "a-link")  # a link is not a tag directory
    expected = {"group/app": 3, "group/app/sub/image": 1, "base": 25, "group/bare": 0}
    try:
        by_links, listed = walk(tmp_path), walk(tmp_path, LISTED)
    finally:
        if where == "shm":
            shutil.rmtree(tmp_path)
    assert by_links == Walk(expected, linked=3, listed=0)  # no tags directory read
    assert listed == Walk(expected, linked=0, listed=3)


def test_an_empty_storage_and_a_missing_one(tmp_path: Path) -> None:
    (tmp_path / REPOS_DIR).mkdir(parents=True)
    assert walk(tmp_path) == Walk({}, 0, 0)
    assert HostFiles(Host("local://", str(tmp_path / "none"))).listing(
        "/" + REPOS_DIR, walk_script(), 30, LIST_CAP) is None


def test_a_tags_directory_that_cannot_be_listed_fails_the_count(tmp_path: Path) -> None:
    """ls cannot list a tags directory (here: it vanished between find's visit and ls's
    read, which a permission error looks like too): the walk says so, never a short count.
    (A tags directory counted by its link count is never read, so never fails this way.)"""
    base = tmp_path / REPOS_DIR
    _tags(base / "a", "v1")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ls").write_text("#!/bin/sh\necho 'ls: cannot open directory' >&2\nexit 2\n")
    (fake / "ls").chmod(0o755)
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{fake}:{path}"
    try:
        text = HostFiles(Host("local://", str(tmp_path))).listing("/" + REPOS_DIR, LISTED, 30,
                                                                   LIST_CAP)
    finally:
        os.environ["PATH"] = path
    try:
        parse_walk(text or "")
    except ValueError as exc:
        assert "could not be read" in str(exc)
    else:
        raise AssertionError(f"a failed listing was counted: {text!r}")


def test_a_walk_cut_short_is_no_count() -> None:
    """The cap cut the answer (or awk died) before its closing tallies: an error, never the
    repositories that happened to arrive."""
    with pytest.raises(ValueError, match="cut short"):
        parse_walk("2\tgroup/app\n0\tbase\n")
