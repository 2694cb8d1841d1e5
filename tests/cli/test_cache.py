"""The cache between runs, against real registries: a copy to a sibling repository mounts
every blob from where the first copy put it, a refused mount falls back to an upload, a
no-op copy or push costs two requests, ``inspect --verbose`` reads children and configs
from the cache; a damaged entry is never trusted, and processes share one cache."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.clirun import POLYARCH, assert_clean_error, polyarch
from tests.content import images_for, multi, unique
from tests.registry_server import AccessLogEntry, RegistryFactory, RegistryServer


def cache_dir() -> Path:
    return Path(os.environ["POLYARCH_HOME"]) / "cache"


def seeded(registry: RegistryServer, seed: int) -> str:
    repository = unique("cache/src")
    return multi(images_for(seed, layers=3)).push(registry, repository, "1")


def after_first_contact(entries: list[AccessLogEntry]) -> list[AccessLogEntry]:
    """The requests after the ping every run starts with (``GET /v2/``)."""
    return [e for e in entries if e.path != "/v2/"]


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    result = polyarch(*args, text=True)
    assert result.returncode == 0, result.stderr
    return result


def test_a_copy_to_a_sibling_repository_mounts_what_the_first_copy_put(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    source = seeded(registry, 1401)
    other = registry_factory()
    ok("copy", "-q", source, f"{other.host}/{unique('cache/first')}:1")
    since = other.mark()

    result = ok("copy", source, f"{other.host}/{unique('cache/second')}:1")

    served = other.requests(since)
    assert not [e for e in served if e.method == "PUT" and "/blobs/" in e.path]  # no upload
    mounts = [e for e in served if e.method == "POST" and "mount=" in e.uri]
    assert len(mounts) == 12  # 3 x (3 layers + config)
    assert all(e.status == 201 for e in mounts)
    assert "0 copied (0 B), 12 mounted" in result.stderr


def test_a_refused_mount_falls_back_to_an_upload(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    source = seeded(registry, 1402)
    other = registry_factory()
    first = unique("cache/first")
    ok("copy", "-q", source, f"{other.host}/{first}:1")
    # Every place the cache knows now names a repository that has none of the blobs.
    for entry in (cache_dir() / "places").rglob("*"):
        if entry.is_file():
            text = entry.read_text()
            entry.write_text(text.replace(first, "cache/empty"))
    since = other.mark()

    result = ok("copy", source, f"{other.host}/{unique('cache/second')}:1")

    served = other.requests(since)
    mounts = [e for e in served if e.method == "POST" and "mount=" in e.uri]
    assert mounts
    assert all(e.status == 202 for e in mounts)  # refused: an upload begins
    assert "12 copied" in result.stderr
    target = result.stdout.strip()
    assert target.startswith("sha256:")


def test_a_copy_or_push_already_there_costs_two_requests(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    source = seeded(registry, 1403)
    other = registry_factory()
    destination = f"{other.host}/{unique('cache/dst')}:1"
    ok("copy", "-q", source, destination)
    before_source, before_target = registry.mark(), other.mark()

    result = ok("copy", source, destination)

    requests = after_first_contact(registry.requests(before_source)) + after_first_contact(
        other.requests(before_target)
    )
    assert [(e.method, e.status) for e in requests] == [("HEAD", 200), ("HEAD", 200)]
    assert "nothing to copy" in result.stderr
    assert result.stderr.endswith("nothing to copy; 2 requests\n")

    # Without the cache: the source's GET instead of its HEAD, still two.
    before_source = registry.mark()
    ok("copy", "--no-cache", source, destination)
    served = after_first_contact(registry.requests(before_source))
    assert [e.method for e in served] == ["GET"]

    # A pushed list already at its digest: one HEAD.
    listed = f"{registry.host}/{unique('cache/list')}:1"
    ok("create", listed, source)
    ok("push", listed)
    ok("create", "--amend", listed, source)
    since = registry.mark()
    result = ok("push", listed)
    assert [e.method for e in after_first_contact(registry.requests(since))] == ["HEAD"]
    assert "nothing to push; 1 request\n" in result.stderr


def test_inspect_verbose_reads_children_and_configs_from_the_cache(
    registry: RegistryServer,
) -> None:
    source = seeded(registry, 1404)
    first = ok("inspect", "--verbose", source)
    since = registry.mark()

    again = ok("inspect", "--verbose", source)

    assert again.stdout == first.stdout
    served = after_first_contact(registry.requests(since))
    assert [(e.method, e.path.rsplit("/", 2)[-2:]) for e in served] == [
        ("HEAD", ["manifests", "1"])
    ]
    # --no-cache asks for everything again: the index and its 3 children.
    since = registry.mark()
    assert ok("inspect", "--verbose", "--no-cache", source).stdout == first.stdout
    assert len(after_first_contact(registry.requests(since))) == 4


def test_a_damaged_entry_is_fetched_again_and_rewritten(registry: RegistryServer) -> None:
    source = seeded(registry, 1405)
    first = ok("inspect", "--verbose", source)
    entries = sorted(p for p in (cache_dir() / "content").rglob("*") if p.is_file())
    assert len(entries) == 4  # the index and its children
    damaged, symlinked, truncated = entries[0], entries[1], entries[2]
    damaged.write_bytes(damaged.read_bytes().replace(b"{", b"[", 1))
    outside = cache_dir().parent / "outside"
    outside.write_bytes(symlinked.read_bytes())
    symlinked.unlink()
    symlinked.symlink_to(outside)
    truncated.write_bytes(truncated.read_bytes()[:10])
    since = registry.mark()

    again = ok("inspect", "--verbose", source)

    assert again.stdout == first.stdout
    fetched = [e for e in after_first_contact(registry.requests(since)) if e.method == "GET"]
    assert len(fetched) == 3  # each bad entry once, from the registry
    assert not symlinked.is_symlink()  # written again, as a file of its own
    since = registry.mark()
    assert ok("inspect", "--verbose", source).stdout == first.stdout
    assert [e.method for e in after_first_contact(registry.requests(since))] == ["HEAD"]


def test_made_up_places_are_ignored(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    source = seeded(registry, 1406)
    other = registry_factory()
    ok("copy", "-q", source, f"{other.host}/{unique('cache/first')}:1")
    for entry in (cache_dir() / "places").rglob("*"):
        if entry.is_file():
            places = json.loads(entry.read_text())
            entry.write_text(
                json.dumps({other.host: ["../../etc", "a b", "UPPER", 7], "bad host!": ["x"]})
                if places
                else "not json"
            )
    since = other.mark()

    result = ok("copy", source, f"{other.host}/{unique('cache/second')}:1")

    served = other.requests(since)
    assert not [e for e in served if "mount=" in e.uri]  # no place was good enough to ask
    assert "12 copied" in result.stderr


def test_two_processes_share_one_cache(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    sources = [seeded(registry, 1407), seeded(registry, 1408)]
    other = registry_factory()
    commands = [["inspect", "--verbose", source] for source in sources * 2] + [
        ["copy", "-q", source, f"{other.host}/{unique('cache/par')}:{n}"]
        for n, source in enumerate(sources * 2)
    ]
    runs = [
        subprocess.Popen(
            [POLYARCH, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for command in commands
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
    # Every entry left is whole: the next run trusts them all and fetches nothing.
    for source in sources:
        since = registry.mark()
        ok("inspect", "--verbose", source)
        assert [e.method for e in after_first_contact(registry.requests(since))] == ["HEAD"]
    assert not [p for p in cache_dir().rglob(".tmp-*")]  # no temporary file left


def test_no_cache_writes_no_cache(registry: RegistryServer) -> None:
    source = seeded(registry, 1409)
    ok("inspect", "--verbose", "--no-cache", source)
    ok("copy", "-q", "--no-cache", source, f"{registry.host}/{unique('cache/nc')}:1")
    assert not cache_dir().exists()
    # Or elsewhere, when asked.
    elsewhere = cache_dir().parent / "elsewhere"
    ok("inspect", "--verbose", "--cache-dir", str(elsewhere), source)
    assert any(p.is_file() for p in (elsewhere / "content").rglob("*"))
    assert not cache_dir().exists()


def test_max_requests_stops_before_the_tag_moves(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    source = seeded(registry, 1410)
    other = registry_factory()
    destination = f"{other.host}/{unique('cache/max')}:1"

    result = polyarch("copy", "--max-requests", "12", source, destination, text=True)

    stderr = assert_clean_error(result, 5)
    assert "--max-requests 12 are spent" in stderr
    assert polyarch("digest", destination, text=True).returncode == 3  # no tag
    # Run again without the bound: what was sent is not sent again.
    ok("copy", "-q", source, destination)
    assert ok("verify", destination).returncode == 0


def test_the_summary_says_what_the_rate_limit_leaves(
    registry: RegistryServer, tmp_path: Path
) -> None:
    from tests.fault_proxy import FaultProxy, Reply, Rewrite, Upstream

    source = seeded(registry, 1411)
    left = iter(range(90, 0, -1))

    def limited(upstream: Upstream) -> Reply:
        headers = [
            *upstream.headers,
            ("ratelimit-limit", "100;w=21600"),
            ("ratelimit-remaining", f"{next(left)};w=21600"),
        ]
        return Reply(upstream.status, headers, upstream.body)

    with FaultProxy(registry.url) as proxy:
        proxy.add(Rewrite(limited), method="GET", path="/manifests/")
        through = source.replace(registry.host, proxy.host)
        result = ok("copy", "--no-cache", through, f"oci:{tmp_path / 'layout'}:1")
        debug = polyarch("--debug", "inspect", "--no-cache", through, text=True)

    # Four GETs of manifests (the index, three images): the last answer's count is shown.
    summary = result.stderr.splitlines()[-1]
    assert summary.endswith(f" requests; {proxy.host} rate limit: 87 of 100 left per 6 h")
    assert "rate limit: 86 of 100 left per 6 h" in debug.stderr


def test_verify_asks_the_registry_not_the_cache(registry: RegistryServer) -> None:
    content = multi(images_for(1412, layers=1))
    repository = unique("cache/verify")
    source = content.push(registry, repository, "1")
    ok("inspect", "--verbose", source)  # every child in the cache now
    child = json.loads(content.root)["manifests"][0]["digest"]
    deleted = polyarch("delete", f"{registry.host}/{repository}@{child}", text=True)
    assert deleted.returncode == 0, deleted.stderr

    result = polyarch("verify", "--format", "json", source, text=True)

    assert result.returncode == 6, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [f["code"] for f in report["findings"]] == ["missing-manifest"]


def test_copy_verify_mends_a_target_that_lost_a_child(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    content = multi(images_for(1413, layers=1))
    source = content.push(registry, unique("cache/mend"), "1")
    other = registry_factory()
    repository = unique("cache/mended")
    destination = f"{other.host}/{repository}:1"
    ok("copy", "-q", source, destination)
    child = json.loads(content.root)["manifests"][1]["digest"]
    assert polyarch("delete", f"{other.host}/{repository}@{child}").returncode == 0

    plain = ok("copy", source, destination)  # the tag is at the digest: trusted
    mended = polyarch("copy", "--verify", source, destination, text=True)

    assert "nothing to copy" in plain.stderr
    assert mended.returncode == 0, mended.stderr
    assert "is at the digest but not whole: copying what is missing" in mended.stderr
    assert "copied 4 manifests" in mended.stderr
    assert ok("verify", destination).returncode == 0


def test_the_cache_answers_only_for_what_a_repository_holds(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    content = multi(images_for(1414, layers=1))
    source = content.push(registry, unique("cache/held"), "1")
    ok("inspect", "--verbose", source)  # the index, its children: all in the cache
    other = registry_factory()
    elsewhere = f"{other.host}/{unique('cache/not-here')}@{content.digest}"

    assert polyarch("inspect", elsewhere, text=True).returncode == 3  # asked, not found
    missing = polyarch("copy", elsewhere, f"{other.host}/{unique('cache/to')}:1", text=True)
    assert missing.returncode == 3, missing.stderr
    # Where it is, a digest named on the command line costs one HEAD, its children none.
    since = registry.mark()
    by_digest = source.rsplit(":", 1)[0] + "@" + content.digest
    ok("inspect", "--verbose", by_digest)
    assert [e.method for e in after_first_contact(registry.requests(since))] == ["HEAD"]


def test_a_media_type_written_beside_cached_bytes_is_not_believed(
    registry: RegistryServer, tmp_path: Path
) -> None:
    content = multi(images_for(1415, layers=1))
    source = content.push(registry, unique("cache/kind"), "1")
    first = ok("inspect", "--verbose", source)
    for entry in (cache_dir() / "content").rglob("*"):
        if entry.is_file():
            _, _, body = entry.read_bytes().partition(b"\n")
            entry.write_bytes(b"application/vnd.docker.distribution.manifest.v2+json\n" + body)

    assert ok("inspect", "--verbose", source).stdout == first.stdout
    ok("copy", "-q", source, f"oci:{tmp_path / 'layout'}:1")
