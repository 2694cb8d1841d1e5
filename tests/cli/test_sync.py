"""``polyarch sync`` against real registries: regsync's file and skopeo sync's, tag
filters, platform subsets, a second run that costs two requests an image, a run killed
and run again, shards that split the work, a dry run that writes nothing, failures that
do not stop the rest, and files it refuses, each with the key named."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.clirun import POLYARCH, assert_clean_error, polyarch
from tests.content import images_for, layout_tags, multi, unique
from tests.imagegen import make_image
from tests.registry_server import RegistryFactory, RegistryServer

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def seed_repository(registry: RegistryServer, tags: list[str], seed: int) -> str:
    """A repository with ``tags``, each a 3-platform index of its own."""
    repository = unique("sync/src")
    for number, tag in enumerate(tags):
        multi(images_for(seed + number)).push(registry, repository, tag)
    return f"{registry.host}/{repository}"


def write(tmp_path: Path, document: object, name: str = "sync.yml") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def sync(*args: str) -> subprocess.CompletedProcess[str]:
    return polyarch("sync", *args, text=True)


def tags_of(registry: RegistryServer, repository: str) -> list[str]:
    result = polyarch("tags", f"{registry.host}/{repository}", text=True)
    return sorted(result.stdout.split()) if result.returncode == 0 else []


def test_a_repository_is_mirrored_with_its_filters_then_costs_two_requests_an_image(
    tmp_path: Path, registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    source = seed_repository(registry, ["v1.0.0", "v1.2.0", "v1.3.0-rc.1", "v2.0.0", "latest",
                                        "dev-1"], 1601)  # fmt: skip
    other = registry_factory()
    mirror = unique("sync/mirror")
    only_amd = unique("sync/amd")
    spec = {
        "version": 1,
        "defaults": {"parallel": 2},
        "sync": [
            {
                "source": source,
                "target": f"{other.host}/{mirror}",
                "type": "repository",
                "tags": {"semverRange": [">=1.0.0, <2"], "deny": ["v1\\.0\\..*"]},
            },
            {
                "source": source,
                "target": f"{other.host}/{mirror}",
                "type": "repository",
                "tags": {"allow": ["late.*"]},
            },
            {
                "source": f"{source}:v2.0.0",
                "target": f"{other.host}/{only_amd}:2",
                "type": "image",
                "platforms": ["linux/amd64"],
                "attestations": "drop",
            },
        ],
    }
    path = write(tmp_path, spec)

    result = sync(str(path))

    assert result.returncode == 0, result.stderr
    assert tags_of(other, mirror) == ["latest", "v1.2.0"]  # no rc, no 1.0, no 2, no dev
    assert tags_of(other, only_amd) == ["2"]
    single = json.loads(polyarch("inspect", f"{other.host}/{only_amd}:2", text=True).stdout)
    assert [m["platform"]["architecture"] for m in single["manifests"]] == ["amd64"]
    assert "synced 3 images: 3 copied, 0 up to date, 0 failed" in result.stderr

    since_source, since_target = registry.mark(), other.mark()
    again = sync("--format", "json", str(path))

    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert [i["status"] for i in report["images"]] == ["up to date"] * 3
    source_requests = [e for e in registry.requests(since_source) if e.path != "/v2/"]
    target_requests = [e for e in other.requests(since_target) if e.path != "/v2/"]
    assert not [e for e in target_requests if e.method in WRITES]
    # Each image: a HEAD at each end; and one tag list for the repository, read once.
    assert len(target_requests) == 3
    assert len(source_requests) == 3 + 2  # two repository entries list the same tags
    assert report["requests"] == len(source_requests) + len(target_requests)


def test_a_killed_sync_goes_on_where_it_stopped(
    tmp_path: Path, registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    repository = unique("sync/big")
    for number in range(6):
        images = [
            make_image(p, seed=1610 + number, oci=True, layers=4, layer_size=2 * 1024 * 1024)
            for p in ({"os": "linux", "architecture": "amd64"},
                      {"os": "linux", "architecture": "arm64"})
        ]  # fmt: skip
        multi(images).push(registry, repository, f"t{number}")
    other = registry_factory()
    mirror = unique("sync/resumed")
    path = write(
        tmp_path,
        {"sync": [{"source": f"{registry.host}/{repository}",
                   "target": f"{other.host}/{mirror}"}]},
    )  # fmt: skip
    run = subprocess.Popen(
        [POLYARCH, "sync", "--parallel", "1", "--jobs", "2", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert run.stderr is not None
    line = run.stderr.readline()  # the first image is there
    assert line.startswith("copied"), line
    time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    run.stderr.close()
    assert run.stdout is not None
    run.stdout.close()
    done = tags_of(other, mirror)
    assert 1 <= len(done) < 6

    result = sync(str(path))

    assert result.returncode == 0, result.stderr
    assert tags_of(other, mirror) == [f"t{n}" for n in range(6)]
    assert f"{len(done)} up to date" in result.stderr
    for tag in (f"t{n}" for n in range(6)):
        verified = polyarch("verify", f"{other.host}/{mirror}:{tag}", text=True)
        assert verified.returncode == 0, verified.stdout + verified.stderr


def test_shards_split_the_repositories_between_runs(
    tmp_path: Path, registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    sources = [seed_repository(registry, ["1"], 1620 + n) for n in range(6)]
    other = registry_factory()
    entries = [
        {"source": source, "target": f"{other.host}/mirror/{n}", "type": "repository"}
        for n, source in enumerate(sources)
    ]
    path = write(tmp_path, {"sync": entries})

    shares = []
    for index in range(3):
        result = sync("--shard", f"{index}/3", "--format", "json", str(path))
        assert result.returncode == 0, result.stderr
        shares.append({i["target"] for i in json.loads(result.stdout)["images"]})

    every = set().union(*shares)
    assert len(every) == 6 == sum(len(share) for share in shares)  # all, none twice
    assert sync("--shard", "1/3", "--format", "json", str(path)).stdout.count("up to date") == len(
        shares[1]
    )  # stable: the same share again
    assert_clean_error(sync("--shard", "3/3", str(path)), 2)
    assert_clean_error(sync("--shard", "x", str(path)), 2)


def test_a_dry_run_writes_nothing(
    tmp_path: Path, registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    source = seed_repository(registry, ["a", "b"], 1630)
    other = registry_factory()
    path = write(tmp_path, {"sync": [{"source": source, "target": f"{other.host}/dry/run"}]})
    since = other.mark()

    result = sync("--dry-run", str(path))

    assert result.returncode == 0, result.stderr
    assert not [e for e in other.requests(since) if e.method in WRITES]
    assert result.stderr.count("would copy") == 2
    assert "2 images, 2 to copy, 0 up to date" in result.stderr


def test_an_image_that_fails_does_not_stop_the_others(
    tmp_path: Path, registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    source = seed_repository(registry, ["1"], 1640)
    other = registry_factory()
    path = write(
        tmp_path,
        {"sync": [
            {"source": f"{source}:missing", "target": f"{other.host}/fail/a", "type": "image"},
            {"source": f"{source}:1", "target": f"{other.host}/fail/b", "type": "image"},
        ]},
    )  # fmt: skip

    result = sync(str(path))

    assert result.returncode == 3  # the first failure's: not found
    assert "Traceback" not in result.stderr
    assert "1 copied, 0 up to date, 1 failed" in result.stderr
    assert tags_of(other, "fail/b") == ["1"]


def test_a_layout_is_a_target_too(tmp_path: Path, registry: RegistryServer) -> None:
    source = seed_repository(registry, ["1", "2"], 1650)
    layout = tmp_path / "mirror"
    path = write(tmp_path, {"sync": [{"source": source, "target": f"oci:{layout}"}]})

    assert sync(str(path)).returncode == 0
    assert sorted(layout_tags(layout)) == ["1", "2"]
    assert "2 up to date" in sync(str(path)).stderr


def test_skopeo_sync_files_are_read_with_a_target(
    tmp_path: Path, registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    source = seed_repository(registry, ["1.0", "1.1", "2.0", "edge"], 1660)
    name = source.split("/", 1)[1]
    other = registry_factory()
    text = (
        f"{registry.host}:\n"
        f"  images:\n    {name}: ['edge']\n"
        f"  images-by-tag-regex:\n    {name}: '^1\\.'\n"
        f"  images-by-semver:\n    {name}: '>= 2.0'\n"
    )
    path = write(tmp_path, text, "skopeo.yml")

    result = sync("--target", f"{other.host}/skopeo", str(path))

    assert result.returncode == 0, result.stderr
    last = name.rsplit("/", 1)[-1]
    assert tags_of(other, f"skopeo/{last}") == ["1.0", "1.1", "2.0", "edge"]
    scoped = sync("--target", f"{other.host}/scoped", "--scoped", str(path))
    assert scoped.returncode == 0, scoped.stderr
    scope = registry.host.replace(":", "_")
    assert tags_of(other, f"scoped/{scope}/{name}") == ["1.0", "1.1", "2.0", "edge"]
    assert_clean_error(sync(str(path)), 2)  # skopeo's shape needs --target


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"sync": [{"source": "a/b", "target": "c/d", "tgas": {}}]}, "'tgas'"),
        ({"sync": [{"source": "a/b", "target": "c/d", "schedule": "1h"}]}, "'schedule'"),
        ({"creds": [], "sync": [{"source": "a/b", "target": "c/d"}]}, "'creds'"),
        ({"sync": [{"source": "a/b", "target": "c/d", "tags": {"allow": ["("]}}]}, "'('"),
        ({"sync": [{"source": "a/b", "target": "c/d", "tags": {"semverRange": ">>1"}}]}, ">>1"),
        ({"sync": [{"source": "a/b", "target": "c/d", "type": "tag"}]}, "'tag'"),
        ({"sync": [{"source": "a/b", "target": "c/d", "platforms": ["linux/"]}]}, "linux/"),
        ({"sync": [{"source": "a/b", "target": "c/d", "referrers": "yes"}]}, "referrers"),
        ({"sync": [{"source": "a/b", "target": "c/d", "attestations": "x"}]}, "attestations"),
        ({"version": 2, "sync": [{"source": "a/b", "target": "c/d"}]}, "version 2"),
        ({"sync": []}, "one at least"),
        ("sync:\n  - source: a/b\n    source: c/d\n    target: e/f\n", "'source' is given twice"),
        ("sync: [", "not valid YAML"),
    ],
)
def test_a_file_it_cannot_do_is_refused_naming_why(
    tmp_path: Path, document: object, named: str
) -> None:
    path = write(tmp_path, document)

    stderr = assert_clean_error(sync(str(path)), 2)

    assert named in stderr
    assert str(path) in stderr


def test_max_requests_stops_a_sync_between_images(
    tmp_path: Path, registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    source = seed_repository(registry, ["a", "b", "c", "d"], 1670)
    other = registry_factory()
    path = write(tmp_path, {"sync": [{"source": source, "target": f"{other.host}/max/m"}]})

    result = sync("--parallel", "1", "--max-requests", "40", "--format", "json", str(path))

    assert result.returncode == 5, result.stderr
    assert "--max-requests 40 are spent" in result.stderr
    report = json.loads(result.stdout)
    assert report["requests"] <= 40
    assert report["not_begun"] + report["copied"] + report["failed"] == 4
    assert report["not_begun"] >= 1
    # No tag names a half-written image: each one there is whole.
    for tag in tags_of(other, "max/m"):
        assert polyarch("verify", f"{other.host}/max/m:{tag}", text=True).returncode == 0
    assert sync(str(path)).returncode == 0
    assert tags_of(other, "max/m") == ["a", "b", "c", "d"]


def layout_with_tags(path: Path, tags: list[str], seed: int) -> str:
    """An OCI layout holding one image under each of ``tags`` (``ref.name`` may be any
    string in a layout)."""
    image = make_image({"os": "linux", "architecture": "amd64"}, seed=seed, oci=True)
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for data in [*image.blobs.values(), image.manifest]:
        (blobs / hashlib.sha256(data).hexdigest()).write_bytes(data)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entries = [
        {**image.descriptor(), "annotations": {"org.opencontainers.image.ref.name": tag}}
        for tag in tags
    ]
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    return f"oci:{path}"


def test_a_tag_a_registry_cannot_hold_fails_alone(tmp_path: Path, registry: RegistryServer) -> None:
    source = layout_with_tags(tmp_path / "src", ["1.0", "a b", "docker.io/x:2", "1.1"], 1690)
    target = f"{registry.host}/{unique('sync/odd')}"
    path = write(tmp_path, {"sync": [{"source": source, "target": target}]})

    result = sync("--format", "json", str(path))

    assert result.returncode == 6, result.stderr  # the registry cannot hold those names
    assert "'a b' is no tag" in result.stderr
    report = json.loads(result.stdout)
    assert report["copied"] == 2
    assert len(report["entries_not_listed"]) == 2
    assert tags_of(registry, target.split("/", 1)[1]) == ["1.0", "1.1"]


def test_layout_tags_with_slashes_go_where_they_say(tmp_path: Path) -> None:
    tags = ["docker.io/library/busybox", "team/app/1.0"]
    source = layout_with_tags(tmp_path / "src", tags, 1691)
    mirror = tmp_path / "mirror"
    path = write(tmp_path, {"sync": [{"source": source, "target": f"oci:{mirror}"}]})

    result = sync(str(path))

    assert result.returncode == 0, result.stderr
    assert sorted(layout_tags(mirror)) == sorted(tags)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mirror", "src", "sync.yml"]


def test_patterns_are_matched_in_linear_time(tmp_path: Path) -> None:
    """Python's re would backtrack for ever on (a+)+ against forty a's and a dash; RE2,
    as Go's regexp (regsync's, skopeo's), does not."""
    source = layout_with_tags(tmp_path / "src", ["a" * 40 + "-", "aaa"], 1692)
    spec = {"sync": [{"source": source, "target": f"oci:{tmp_path / 'dst'}",
                      "tags": {"allow": ["(a+)+"]}}]}  # fmt: skip
    path = write(tmp_path, spec)

    result = polyarch("sync", "--dry-run", str(path), text=True, timeout=30)

    assert result.returncode == 0, result.stderr
    assert "1 images, 1 to copy" in result.stderr
    lookahead = write(tmp_path, {"sync": [{**spec["sync"][0], "tags": {"allow": ["(?=a)a"]}}]})
    assert "no pattern Go reads" in assert_clean_error(sync(str(lookahead)), 2)


def test_two_entries_that_write_one_tag_are_refused(tmp_path: Path) -> None:
    one = layout_with_tags(tmp_path / "one", ["1"], 1693)
    two = layout_with_tags(tmp_path / "two", ["1"], 1694)
    target = f"oci:{tmp_path / 'dst'}"
    path = write(tmp_path, {"sync": [{"source": one, "target": target},
                                     {"source": two, "target": target}]})  # fmt: skip

    stderr = assert_clean_error(sync(str(path)), 2)

    assert "two entries write" in stderr
    same = write(tmp_path, {"sync": [{"source": one, "target": target},
                                     {"source": one, "target": target,
                                      "platforms": ["linux/amd64"]}]}, "same.yml")  # fmt: skip
    assert "with other options" in assert_clean_error(sync(str(same)), 2)
    again = write(tmp_path, {"sync": [{"source": one, "target": target}] * 2}, "again.yml")
    assert sync(str(again)).returncode == 0  # the same entry twice is one


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("sync: [{? [a, b] : x}]\n", "a key is a list"),
        ("x-a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nx-b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
         "x-c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nx-d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
         "version: *d\nsync: [{source: a/b, target: c/d}]\n", "version a list is not 1"),
        ("version: true\nsync: [{source: a/b, target: c/d}]\n", "version True is not 1"),
        ("defaults: []\nsync: [{source: a/b, target: c/d}]\n", "defaults must be a mapping"),
        ("sync: [{source: a/b, target: c/d, tags: 0}]\n", "tags must be a mapping"),
        ("sync: [{source: a/b, target: 'c/d:1'}]\n", "names a tag or digest"),
        ("sync: [{source: a/b, target: 'c/d@sha256:" + "1" * 64 + "', type: image}]\n",
         "names a digest"),
    ],
)  # fmt: skip
def test_yaml_that_is_no_sync_file_is_refused(tmp_path: Path, text: str, named: str) -> None:
    path = write(tmp_path, text)

    stderr = assert_clean_error(sync(str(path)), 2)

    assert named in stderr
    assert len(stderr) < 1000


def test_anchors_merge_into_entries(tmp_path: Path, registry: RegistryServer) -> None:
    source = seed_repository(registry, ["1", "2"], 1695)
    text = (
        "x-common: &common\n  type: repository\n  tags: {allow: ['1']}\n"
        f"sync:\n  - <<: *common\n    source: {source}\n    target: oci:{tmp_path / 'm'}\n"
    )
    path = write(tmp_path, text)

    assert sync(str(path)).returncode == 0
    assert layout_tags(tmp_path / "m") == {"1": layout_tags(tmp_path / "m")["1"]}


def test_tags_of_one_digest_move_each_blob_once(
    tmp_path: Path, registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    content = multi(images_for(1696))
    repository = unique("sync/same")
    for tag in ("1", "1.0", "1.0.0", "latest"):
        content.push(registry, repository, tag)
    other = registry_factory()
    path = write(tmp_path, {"sync": [{"source": f"{registry.host}/{repository}",
                                      "target": f"{other.host}/same/m"}]})  # fmt: skip
    since = other.mark()

    result = sync("--parallel", "4", str(path))

    assert result.returncode == 0, result.stderr
    uploads = [e for e in other.requests(since) if e.method == "PUT" and "/uploads/" in e.path]
    assert len(uploads) == len(content.blobs)  # four tags, each blob uploaded once
    assert tags_of(other, "same/m") == ["1", "1.0", "1.0.0", "latest"]
