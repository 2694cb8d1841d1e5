"""The cache on disk (real files): entries checked on every read, made-up ones ignored,
the whole bounded, nothing but whole files written."""

from __future__ import annotations

import json
import os
from pathlib import Path

from polyarch.cache import MAX_PLACES, Cache
from polyarch.digest import Digest

REGISTRY = "registry.example:5000"


def kept(cache: Cache, data: bytes, media_type: str = "application/x") -> Digest:
    digest = Digest.of(data)
    cache.keep_content(digest, media_type, data)
    return digest


def test_content_comes_back_checked(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    digest = kept(cache, b'{"a": 1}', "application/vnd.oci.image.manifest.v1+json")
    assert cache.content(digest) == ("application/vnd.oci.image.manifest.v1+json", b'{"a": 1}')
    entry = next(p for p in (tmp_path / "content").rglob("*") if p.is_file())
    entry.write_bytes(entry.read_bytes().replace(b"1", b"2"))  # same length, other bytes
    assert cache.content(digest) is None
    assert not entry.exists()  # dropped: the next fetch writes it again
    kept(cache, b'{"a": 1}')
    assert cache.content(digest) is not None


def test_a_symlinked_entry_is_never_read(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    digest = kept(cache, b"real")
    entry = next(p for p in (tmp_path / "cache" / "content").rglob("*") if p.is_file())
    outside = tmp_path / "outside"
    outside.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(outside)
    assert cache.content(digest) is None
    assert not entry.is_symlink()
    assert outside.exists()


def test_places_are_kept_most_recent_first_and_bounded(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    digest = Digest.of(b"blob")
    for n in range(MAX_PLACES + 3):
        cache.saw(REGISTRY, f"team/repo{n}", digest)
    cache.saw(REGISTRY, "team/repo5", digest)
    places = cache.places(REGISTRY, digest)
    assert places[0] == "team/repo5"
    assert len(places) == MAX_PLACES
    assert cache.places("other.example", digest) == []


def test_made_up_places_are_left_out(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    digest = Digest.of(b"blob")
    cache.saw(REGISTRY, "team/app", digest)
    entry = next(p for p in (tmp_path / "places").rglob("*") if p.is_file())
    entry.write_text(
        json.dumps({REGISTRY: ["team/app", "../x", "A B", 5, "a" * 300], "bad host/x": ["y"]})
    )
    assert cache.places(REGISTRY, digest) == ["team/app"]
    assert cache.places("bad host/x", digest) == []
    entry.write_text("[1, 2")
    assert cache.places(REGISTRY, digest) == []
    cache.saw("bad host", "team/app", digest)  # not a place: nothing written
    cache.saw(REGISTRY, "../../etc", digest)
    assert cache.places(REGISTRY, digest) == []


def test_a_tag_hint_is_only_a_digest(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    digest = Digest.of(b"index")
    cache.hint_tag(f"{REGISTRY}/team/app:1", digest)
    assert cache.tag_hint(f"{REGISTRY}/team/app:1") == digest
    entry = next(p for p in (tmp_path / "tags").iterdir())
    entry.write_text("sha256:not-a-digest")
    assert cache.tag_hint(f"{REGISTRY}/team/app:1") is None


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    for n in range(40):
        Cache(tmp_path).keep_content(Digest.of(b"%d" % n * 1000), None, b"%d" % n * 1000)
    total = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert total > 20_000
    old = sorted((p for p in tmp_path.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime)
    for n, path in enumerate(old):  # the oldest first
        os.utime(path, (1_000_000 + n, 1_000_000 + n))
    bounded = Cache(tmp_path, max_bytes=20_000)
    bounded.keep_content(Digest.of(b"new"), None, b"new")  # a process's first write prunes
    total = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert total <= 20_000
    assert bounded.content(Digest.of(b"new")) == (None, b"new")
    assert not old[0].exists()  # least recently used out first
    assert old[-1].exists()


def test_a_cache_that_cannot_be_written_is_only_a_cache(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    cache = Cache(blocked / "cache")
    kept(cache, b"data")  # no error
    assert cache.content(Digest.of(b"data")) is None
    assert not list(tmp_path.rglob(".tmp-*"))


def test_pruning_deletes_only_the_caches_own_entries(tmp_path: Path) -> None:
    """``--cache-dir`` may name a directory with other files in it: they stay."""
    (tmp_path / "notes.txt").write_bytes(b"x" * 30_000)
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "README").write_bytes(b"y" * 30_000)
    for path in (tmp_path / "notes.txt", tmp_path / "content" / "README"):
        os.utime(path, (1_000_000, 1_000_000))
    cache = Cache(tmp_path, max_bytes=1_000)
    for n in range(5):
        cache.keep_content(Digest.of(b"%d" % n * 500), None, b"%d" % n * 500)
    assert (tmp_path / "notes.txt").exists()
    assert (tmp_path / "content" / "README").exists()


def test_a_fifo_in_the_cache_is_no_entry(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    digest = kept(cache, b"data")
    entry = next(p for p in (tmp_path / "content").rglob("*") if p.is_file())
    entry.unlink()
    os.mkfifo(entry)
    assert cache.content(digest) is None  # neither the open nor the read waits
    hinted = "registry.example/app:1"
    cache.hint_tag(hinted, digest)
    hint = next((tmp_path / "tags").iterdir())
    hint.unlink()
    os.mkfifo(hint)
    assert cache.tag_hint(hinted) is None
