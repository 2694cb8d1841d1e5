"""OCI 1.1 referrers: ``--attestations referrers`` (copy, create/push), ``copy --referrers``
and ``inspect --referrers``, against CNCF distribution 2.8 (no referrers API: the
referrers tag ``sha256-<hex>``), OCI layouts (the tag in ``index.json``), and the API as
the spec describes it, played in front of the real registry (:mod:`tests.referrers_api`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.clirun import assert_clean_error, polyarch
from tests.content import (
    push_buildx_image,
    registry_has_blob,
    registry_manifest,
    skopeo_raw,
    unique,
)
from tests.fault_proxy import FaultProxy, Status
from tests.imagegen import OCI_INDEX, OCI_MANIFEST, SyntheticImage, make_image, sha256_digest
from tests.referrers_api import ReferrersAPI
from tests.registry_server import RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
ATTESTATION_ARTIFACT = "application/vnd.docker.attestation.manifest.v1+json"
SIGNATURE_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
EMPTY = b"{}"
EMPTY_DIGEST = sha256_digest(EMPTY)


def referrers_tag(digest: str) -> str:
    return digest.replace(":", "-")


def listing(server: RegistryServer, repository: str, subject: str) -> list[dict[str, Any]]:
    raw = registry_manifest(server, repository, referrers_tag(subject))
    assert raw is not None, f"no referrers tag for {subject}"
    document = json.loads(raw)
    assert document["mediaType"] == OCI_INDEX
    entries: list[dict[str, Any]] = document["manifests"]
    return entries


def buildx_image(server: RegistryServer, repository: str, seed: int) -> list[SyntheticImage]:
    images = [make_image(p, seed=seed, oci=True) for p in (AMD64, ARM64)]
    push_buildx_image(server, repository, images, "1.0")
    return images


def signature(
    server: RegistryServer, repository: str, subject: bytes, media_type: str, *, by: str = "ci"
) -> bytes:
    """A cosign-like signature artifact of ``subject``, pushed by digest."""
    payload = b'{"critical":{"image":{"docker-manifest-digest":"%s"}},"by":"%s"}' % (
        sha256_digest(subject).encode(),
        by.encode(),
    )
    server.push_blob(repository, EMPTY)
    server.push_blob(repository, payload)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE_ARTIFACT,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": EMPTY_DIGEST,
                "size": 2,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": sha256_digest(payload),
                    "size": len(payload),
                    "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ..."},
                }
            ],
            "subject": {
                "mediaType": media_type,
                "digest": sha256_digest(subject),
                "size": len(subject),
            },
            "annotations": {"org.opencontainers.image.created": "2026-12-03T08:00:00Z"},
        },
        indent=2,
    ).encode()
    server.push_manifest(repository, sha256_digest(manifest), manifest, OCI_MANIFEST)
    return manifest


def attach_by_tag(
    server: RegistryServer, repository: str, subject: bytes, referrer: bytes, *, times: int = 1
) -> None:
    """List ``referrer`` under ``subject`` with the referrers tag, as cosign and oras do."""
    entry = {
        "mediaType": OCI_MANIFEST,
        "digest": sha256_digest(referrer),
        "size": len(referrer),
        "artifactType": json.loads(referrer)["artifactType"],
    }
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry] * times}
    ).encode()
    server.push_manifest(repository, referrers_tag(sha256_digest(subject)), index, OCI_INDEX)


# -- --attestations referrers --------------------------------------------------------------


def test_copy_moves_attestations_into_referrers_of_their_images(registry: RegistryServer) -> None:
    repository = unique("ref/src")
    images = buildx_image(registry, repository, 1201)
    source_index = registry_manifest(registry, repository, "1.0")
    assert source_index is not None
    originals = {
        e["annotations"]["vnd.docker.reference.digest"]: e["digest"]
        for e in json.loads(source_index)["manifests"]
        if "annotations" in e
    }
    target = unique("ref/moved")

    result = polyarch(
        "copy", "--attestations", "referrers", f"{registry.host}/{repository}:1.0",
        f"{registry.host}/{target}:1.0", text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "2 referrers" in result.stderr
    index = registry_manifest(registry, target, "1.0")
    assert index is not None
    # The index has the images only, each entry as it was.
    assert json.loads(index)["manifests"] == json.loads(source_index)["manifests"][:2]
    for image in images:
        [entry] = listing(registry, target, image.manifest_digest)
        assert entry["artifactType"] == ATTESTATION_ARTIFACT
        referrer_raw = registry_manifest(registry, target, entry["digest"])
        assert referrer_raw is not None
        assert entry["size"] == len(referrer_raw)
        referrer = json.loads(referrer_raw)
        assert referrer["artifactType"] == ATTESTATION_ARTIFACT
        assert referrer["subject"] == {
            "mediaType": OCI_MANIFEST,
            "digest": image.manifest_digest,
            "size": len(image.manifest),
        }
        assert referrer["config"]["digest"] == EMPTY_DIGEST
        attestation = json.loads(
            registry_manifest(registry, repository, originals[image.manifest_digest]) or b""
        )
        assert referrer["layers"] == attestation["layers"]  # the same in-toto statements
        for layer in referrer["layers"]:
            assert registry_has_blob(registry, target, layer["digest"])
        # The attestation as buildx wrote it is not in the target.
        assert registry_manifest(registry, target, originals[image.manifest_digest]) is None
    assert registry_has_blob(registry, target, EMPTY_DIGEST)
    # skopeo and docker read what was pushed.
    tag = referrers_tag(images[0].manifest_digest)
    assert skopeo_raw(f"docker://{registry.host}/{target}:{tag}") == registry_manifest(
        registry, target, tag
    )
    docker = subprocess.run(
        ["docker", "manifest", "inspect", "--insecure", f"{registry.host}/{target}:1.0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert docker.returncode == 0, docker.stderr
    assert [m["digest"] for m in json.loads(docker.stdout)["manifests"]] == [
        image.manifest_digest for image in images
    ]

    again = polyarch(
        "copy", "--attestations", "referrers", f"{registry.host}/{repository}:1.0",
        f"{registry.host}/{target}:1.0", text=True,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    for image in images:
        assert len(listing(registry, target, image.manifest_digest)) == 1  # not listed twice


def test_create_and_push_move_attestations_into_referrers(
    registry: RegistryServer, tmp_path: Path
) -> None:
    repository = unique("ref/members")
    images = buildx_image(registry, repository, 1202)
    target = unique("ref/list")
    env = {"POLYARCH_HOME": str(tmp_path / "home")}
    name = f"{registry.host}/{target}:1.0"

    created = polyarch(
        "create", "--attestations", "referrers", name, f"{registry.host}/{repository}:1.0",
        env=env, text=True,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    pending = polyarch("inspect", name, env=env)
    assert pending.returncode == 0, pending.stderr
    assert len(json.loads(pending.stdout)["manifests"]) == 2  # the images only
    pushed = polyarch("push", name, env=env, text=True)
    assert pushed.returncode == 0, pushed.stderr

    index = registry_manifest(registry, target, "1.0")
    assert index is not None
    assert [m["digest"] for m in json.loads(index)["manifests"]] == [
        i.manifest_digest for i in images
    ]
    for image in images:
        [entry] = listing(registry, target, image.manifest_digest)
        referrer = json.loads(registry_manifest(registry, target, entry["digest"]) or b"")
        assert referrer["subject"]["digest"] == image.manifest_digest
    assert registry_has_blob(registry, target, EMPTY_DIGEST)


def test_copy_moves_attestations_into_a_layout_and_back(
    registry: RegistryServer, tmp_path: Path
) -> None:
    repository = unique("ref/tolayout")
    images = buildx_image(registry, repository, 1203)
    layout = tmp_path / "out"

    result = polyarch(
        "copy", "--attestations", "referrers", f"{registry.host}/{repository}:1.0",
        f"oci:{layout}:1.0", text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    tags = {
        m["annotations"]["org.opencontainers.image.ref.name"]: m
        for m in json.loads((layout / "index.json").read_bytes())["manifests"]
    }
    assert set(tags) == {"1.0", *(referrers_tag(i.manifest_digest) for i in images)}
    raw = skopeo_raw(f"oci:{layout}:{referrers_tag(images[1].manifest_digest)}")
    [entry] = json.loads(raw)["manifests"]
    assert entry["artifactType"] == ATTESTATION_ARTIFACT

    found = polyarch("inspect", "--referrers", f"oci:{layout}:1.0", text=True)
    assert found.returncode == 0, found.stderr
    assert [len(s["referrers"]) for s in json.loads(found.stdout)] == [0, 1, 1]

    back = unique("ref/fromlayout")
    carried = polyarch(
        "copy", "--referrers", f"oci:{layout}:1.0", f"{registry.host}/{back}:1.0", text=True
    )
    assert carried.returncode == 0, carried.stderr
    for image in images:
        assert len(listing(registry, back, image.manifest_digest)) == 1


# -- copy --referrers ---------------------------------------------------------------------


def test_copy_carries_referrers_and_theirs(registry: RegistryServer) -> None:
    repository = unique("ref/carry")
    image = make_image(AMD64, seed=1204, oci=True)
    registry.push_image(repository, image, tag="1.0")
    signed = signature(registry, repository, image.manifest, OCI_MANIFEST)
    attach_by_tag(registry, repository, image.manifest, signed)
    # A signature of the signature: two levels deep.
    countersigned = signature(registry, repository, signed, OCI_MANIFEST)
    attach_by_tag(registry, repository, signed, countersigned)
    target = unique("ref/carried")

    plain = polyarch(
        "copy", f"{registry.host}/{repository}:1.0", f"{registry.host}/{target}:plain", text=True
    )
    assert plain.returncode == 0, plain.stderr
    assert registry_manifest(registry, target, referrers_tag(image.manifest_digest)) is None

    result = polyarch(
        "copy", "--referrers", f"{registry.host}/{repository}:1.0", f"{registry.host}/{target}:1.0",
        text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "2 referrers" in result.stderr
    assert registry_manifest(registry, target, sha256_digest(signed)) == signed
    assert registry_manifest(registry, target, sha256_digest(countersigned)) == countersigned
    assert [e["digest"] for e in listing(registry, target, image.manifest_digest)] == [
        sha256_digest(signed)
    ]
    assert [e["digest"] for e in listing(registry, target, sha256_digest(signed))] == [
        sha256_digest(countersigned)
    ]
    [entry] = listing(registry, target, image.manifest_digest)
    assert entry["annotations"] == {"org.opencontainers.image.created": "2026-12-03T08:00:00Z"}
    for layer in json.loads(signed)["layers"]:
        assert registry_has_blob(registry, target, layer["digest"])


def test_copy_adds_to_a_referrers_list_the_target_has(registry: RegistryServer) -> None:
    repository = unique("ref/merge")
    image = make_image(AMD64, seed=1205, oci=True)
    registry.push_image(repository, image, tag="1.0")
    ours = signature(registry, repository, image.manifest, OCI_MANIFEST)
    attach_by_tag(registry, repository, image.manifest, ours)
    target = unique("ref/merged")
    registry.push_image(target, image, tag="1.0")
    theirs = signature(registry, target, image.manifest, OCI_MANIFEST, by="someone else")
    # Written by another tool, compactly: its entry stays byte for byte.
    theirs_raw = (
        b'{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s",'
        b'"size":%d,"artifactType":"x/y","annotations":{"a":"1.50"}}]}'
        % (OCI_INDEX.encode(), OCI_MANIFEST.encode(), sha256_digest(theirs).encode(), len(theirs))
    )
    registry.push_manifest(target, referrers_tag(image.manifest_digest), theirs_raw, OCI_INDEX)

    result = polyarch(
        "copy", "--referrers", f"{registry.host}/{repository}:1.0", f"{registry.host}/{target}:1.0",
        text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    entries = listing(registry, target, image.manifest_digest)
    assert entries[0] == json.loads(theirs_raw)["manifests"][0]  # what was there stays
    raw = registry_manifest(registry, target, referrers_tag(image.manifest_digest)) or b""
    assert b'"annotations": {\n            "a": "1.50"' in raw
    assert entries[1]["digest"] == sha256_digest(ours)


def test_copy_refuses_a_referrers_tag_that_holds_something_else(registry: RegistryServer) -> None:
    repository = unique("ref/occupied")
    image = make_image(AMD64, seed=1206, oci=True)
    registry.push_image(repository, image, tag="1.0")
    attach_by_tag(
        registry,
        repository,
        image.manifest,
        signature(registry, repository, image.manifest, OCI_MANIFEST),
    )
    target = unique("ref/occupied-target")
    other = make_image(ARM64, seed=1207, oci=True)
    registry.push_image(target, other, tag=referrers_tag(image.manifest_digest))

    result = polyarch(
        "copy", "-q", "--referrers", f"{registry.host}/{repository}:1.0",
        f"{registry.host}/{target}:1.0", text=True,
    )  # fmt: skip

    stderr = assert_clean_error(result, 7)
    assert "not the OCI index of a referrers list" in stderr
    assert (
        registry_manifest(registry, target, referrers_tag(image.manifest_digest)) == other.manifest
    )
    # Refused before the tag was moved: the copy's tag goes last.
    assert registry_manifest(registry, target, "1.0") is None


def test_a_subset_copy_carries_the_referrers_of_the_images_it_keeps(
    registry: RegistryServer,
) -> None:
    repository = unique("ref/subset")
    images = buildx_image(registry, repository, 1208)
    moved = unique("ref/subset-moved")
    first = polyarch(
        "copy", "--attestations", "referrers", f"{registry.host}/{repository}:1.0",
        f"{registry.host}/{moved}:1.0", text=True,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    index = registry_manifest(registry, moved, "1.0")
    assert index is not None
    attach_by_tag(registry, moved, index, signature(registry, moved, index, OCI_INDEX))
    target = unique("ref/subset-target")

    result = polyarch(
        "copy", "--referrers", "--platform", "linux/arm64", f"{registry.host}/{moved}:1.0",
        f"{registry.host}/{target}:arm", text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "1 referrer of" in result.stderr
    assert "describe that index, not the one written" in result.stderr
    assert len(listing(registry, target, images[1].manifest_digest)) == 1
    assert registry_manifest(registry, target, referrers_tag(images[0].manifest_digest)) is None


# -- inspect --referrers ------------------------------------------------------------------


def test_inspect_lists_the_referrers_of_an_index_and_its_entries(registry: RegistryServer) -> None:
    repository = unique("ref/inspect")
    images = buildx_image(registry, repository, 1209)
    moved = unique("ref/inspected")
    first = polyarch(
        "copy", "--attestations", "referrers", f"{registry.host}/{repository}:1.0",
        f"{registry.host}/{moved}:1.0", text=True,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    [entry] = listing(registry, moved, images[0].manifest_digest)
    referrer = registry_manifest(registry, moved, entry["digest"])
    assert referrer is not None
    signed = signature(registry, moved, referrer, OCI_MANIFEST)
    attach_by_tag(registry, moved, referrer, signed)

    result = polyarch("inspect", "--referrers", f"{registry.host}/{moved}:1.0", text=True)

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert [s["subject"]["digest"] for s in found] == [
        sha256_digest(registry_manifest(registry, moved, "1.0") or b""),
        *(image.manifest_digest for image in images),
    ]
    assert found[0]["referrers"] == []
    assert found[1]["subject"]["platform"] == {"architecture": "amd64", "os": "linux"}
    [listed] = found[1]["referrers"]
    assert listed["digest"] == entry["digest"]
    assert listed["artifactType"] == ATTESTATION_ARTIFACT
    assert [r["digest"] for r in listed["referrers"]] == [sha256_digest(signed)]

    tree = polyarch(
        "inspect", "--referrers", "--format", "text", f"{registry.host}/{moved}:1.0", text=True
    )
    assert tree.returncode == 0, tree.stderr
    assert f"referrer  OCI manifest ({ATTESTATION_ARTIFACT})" in tree.stdout
    assert f"referrer  OCI manifest ({SIGNATURE_ARTIFACT})" in tree.stdout
    assert "https://slsa.dev/provenance/v0.2" in tree.stdout

    plain = polyarch("inspect", "--referrers", f"{registry.host}/{repository}:1.0", text=True)
    assert plain.returncode == 0, plain.stderr
    assert all(s["referrers"] == [] for s in json.loads(plain.stdout))


def test_inspect_referrers_refuses_docker_verbose_form(registry: RegistryServer) -> None:
    result = polyarch("inspect", "--referrers", "--verbose", f"{registry.host}/x:1", text=True)
    assert "docker's form" in assert_clean_error(result, 2)


# -- a registry with the referrers API -----------------------------------------------------


def test_a_registry_with_the_referrers_api_lists_them_itself(registry: RegistryServer) -> None:
    repository = unique("ref/api-src")
    images = buildx_image(registry, repository, 1210)
    signed = signature(registry, repository, images[0].manifest, OCI_MANIFEST)
    attach_by_tag(registry, repository, images[0].manifest, signed)
    with FaultProxy(registry.url) as proxy:
        api = ReferrersAPI(proxy, page_size=1)
        target = unique("ref/api")

        result = polyarch(
            "copy", "--attestations", "referrers", "--referrers",
            f"{registry.host}/{repository}:1.0", f"{proxy.host}/{target}:1.0", text=True,
        )  # fmt: skip

        assert result.returncode == 0, result.stderr
        assert "3 referrers" in result.stderr
        for image in images:
            # The registry said it lists them (OCI-Subject): no referrers tag was written.
            assert registry_manifest(registry, target, referrers_tag(image.manifest_digest)) is None
        listed = [e["digest"] for e in api.entries(target, images[0].manifest_digest)]
        assert sha256_digest(signed) in listed
        assert len(listed) == 2
        assert len(api.entries(target, images[1].manifest_digest)) == 1

        found = polyarch("inspect", "--referrers", f"{proxy.host}/{target}:1.0", text=True)

        assert found.returncode == 0, found.stderr
        by_subject = {s["subject"]["digest"]: s["referrers"] for s in json.loads(found.stdout)}
        assert [r["digest"] for r in by_subject[images[0].manifest_digest]] == listed
        # Two referrers, one a page: the second page was asked for, by the Link.
        assert any("/referrers/" in s.path and "page=1" in s.target for s in proxy.seen)
        assert not any(
            s.path.endswith(referrers_tag(images[0].manifest_digest)) for s in proxy.seen
        )


def test_a_referrers_listing_is_checked_against_what_it_names(registry: RegistryServer) -> None:
    repository = unique("ref/api-lies")
    image = make_image(AMD64, seed=1211, oci=True)
    other = make_image(ARM64, seed=1211, oci=True)
    registry.push_image(repository, image, tag="1.0")
    registry.push_image(repository, other, tag="other")
    elsewhere = signature(registry, repository, other.manifest, OCI_MANIFEST)
    with FaultProxy(registry.url) as proxy:
        api = ReferrersAPI(proxy)
        # The API lists, under the image, a signature of another image.
        api.extra_entries.append(
            {"mediaType": OCI_MANIFEST, "digest": sha256_digest(elsewhere), "size": len(elsewhere)}
        )

        found = polyarch("inspect", "--referrers", f"{proxy.host}/{repository}:1.0", text=True)

        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)[0]["referrers"] == []
        assert f"but its subject is {other.manifest_digest}; left out" in found.stderr

        api.loop = True  # every page links to the first
        api.page_size = 1
        api.extra_entries.append(dict(api.extra_entries[0]))
        looping = polyarch("inspect", "--referrers", f"{proxy.host}/{repository}:1.0", text=True)

        assert "back to a page already read" in assert_clean_error(looping, 6)


def test_a_referrer_listed_but_gone_is_left_out_with_a_warning(registry: RegistryServer) -> None:
    repository = unique("ref/gone")
    image = make_image(AMD64, seed=1212, oci=True)
    registry.push_image(repository, image, tag="1.0")
    kept = signature(registry, repository, image.manifest, OCI_MANIFEST)
    gone = signature(registry, repository, image.manifest, OCI_MANIFEST, by="deleted since")
    entries = [
        {"mediaType": OCI_MANIFEST, "digest": sha256_digest(m), "size": len(m)}
        for m in (gone, kept)
    ]
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    registry.push_manifest(repository, referrers_tag(image.manifest_digest), index, OCI_INDEX)
    deleted = registry.request("DELETE", f"/v2/{repository}/manifests/{sha256_digest(gone)}")
    assert deleted.status == 202
    target = unique("ref/gone-target")

    result = polyarch(
        "copy", "--referrers", f"{registry.host}/{repository}:1.0", f"{registry.host}/{target}:1.0",
        text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert f"{sha256_digest(gone)} among the referrers" in result.stderr
    assert "does not hold it; left out" in result.stderr
    assert [e["digest"] for e in listing(registry, target, image.manifest_digest)] == [
        sha256_digest(kept)
    ]


def test_attestations_buildkit_made_referrers_already_move_as_they_are(
    registry: RegistryServer,
) -> None:
    repository = unique("ref/oci-artifact")
    image = make_image(AMD64, seed=1213, oci=True)
    registry.push_image(repository, image)
    statement = (
        b'{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://spdx.dev/Document"}'
    )
    registry.push_blob(repository, statement)
    registry.push_blob(repository, EMPTY)
    # BuildKit's oci-artifact=true: the attestation is a referrer, and still an index entry.
    attestation = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": ATTESTATION_ARTIFACT,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": EMPTY_DIGEST,
                "size": 2,
                "data": "e30=",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.in-toto+json",
                    "digest": sha256_digest(statement),
                    "size": len(statement),
                    "annotations": {"in-toto.io/predicate-type": "https://spdx.dev/Document"},
                }
            ],
            "subject": {
                "mediaType": OCI_MANIFEST,
                "digest": image.manifest_digest,
                "size": len(image.manifest),
            },
        }
    ).encode()
    registry.push_manifest(repository, sha256_digest(attestation), attestation, OCI_MANIFEST)
    entries = [
        image.descriptor(),
        {
            "mediaType": OCI_MANIFEST,
            "digest": sha256_digest(attestation),
            "size": len(attestation),
            "annotations": {
                "vnd.docker.reference.digest": image.manifest_digest,
                "vnd.docker.reference.type": "attestation-manifest",
            },
            "platform": {"architecture": "unknown", "os": "unknown"},
        },
    ]
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    registry.push_manifest(repository, "1.0", index, OCI_INDEX)
    target = unique("ref/oci-artifact-target")

    result = polyarch(
        "copy", "--attestations", "referrers", f"{registry.host}/{repository}:1.0",
        f"{registry.host}/{target}:1.0", text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert [e["digest"] for e in listing(registry, target, image.manifest_digest)] == [
        sha256_digest(attestation)
    ]
    assert registry_manifest(registry, target, sha256_digest(attestation)) == attestation
    copied = registry_manifest(registry, target, "1.0")
    assert copied is not None
    assert [e["digest"] for e in json.loads(copied)["manifests"]] == [image.manifest_digest]


def test_a_referrer_listed_again_and_again_is_fetched_and_copied_once(
    registry: RegistryServer,
) -> None:
    repository = unique("ref/again")
    image = make_image(AMD64, seed=1214, oci=True)
    registry.push_image(repository, image, tag="1.0")
    signed = signature(registry, repository, image.manifest, OCI_MANIFEST)
    attach_by_tag(registry, repository, image.manifest, signed, times=50)
    target = unique("ref/again-target")
    since = registry.mark()

    result = polyarch(
        "copy", "--referrers", f"{registry.host}/{repository}:1.0", f"{registry.host}/{target}:1.0",
        text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "; 1 referrer" in result.stderr
    fetched = [
        r for r in registry.requests(since)
        if r.method == "GET" and r.path.endswith(f"/{repository}/manifests/{sha256_digest(signed)}")
    ]  # fmt: skip
    assert len(fetched) == 1
    assert len(listing(registry, target, image.manifest_digest)) == 1


def test_referrers_deeper_than_polyarch_follows_are_named(registry: RegistryServer) -> None:
    repository = unique("ref/deep")
    image = make_image(AMD64, seed=1215, oci=True)
    registry.push_image(repository, image, tag="1.0")
    subject = image.manifest
    for level in range(5):
        signed = signature(registry, repository, subject, OCI_MANIFEST, by=f"level {level}")
        attach_by_tag(registry, repository, subject, signed)
        subject = signed

    result = polyarch("inspect", "--referrers", f"{registry.host}/{repository}:1.0", text=True)

    assert result.returncode == 0, result.stderr
    assert "has referrers 5 levels down; polyarch follows 4 levels" in result.stderr
    depth, level = 0, json.loads(result.stdout)[0]["referrers"]
    while level:
        depth, level = depth + 1, level[0].get("referrers", [])
    assert depth == 4


def test_a_single_image_copy_moves_its_attestations_into_referrers(
    registry: RegistryServer,
) -> None:
    repository = unique("ref/single")
    images = buildx_image(registry, repository, 1216)
    target = unique("ref/single-target")

    result = polyarch(
        "copy", "--single", "--platform", "linux/arm64", "--attestations", "referrers",
        f"{registry.host}/{repository}:1.0", f"{registry.host}/{target}:arm64", text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert registry_manifest(registry, target, "arm64") == images[1].manifest
    [entry] = listing(registry, target, images[1].manifest_digest)
    assert entry["artifactType"] == ATTESTATION_ARTIFACT


def test_a_list_pushed_without_attestations_gets_them_as_referrers_later(
    registry: RegistryServer, tmp_path: Path
) -> None:
    repository = unique("ref/later")
    images = buildx_image(registry, repository, 1217)
    env = {"POLYARCH_HOME": str(tmp_path / "home")}
    target = unique("ref/later-list")
    name = f"{registry.host}/{target}:1.0"
    for how in ("drop", "referrers"):
        created = polyarch(
            "create", "--attestations", how, name, f"{registry.host}/{repository}:1.0", env=env
        )
        assert created.returncode == 0, created.stderr
        pushed = polyarch("push", "--purge", name, env=env, text=True)
        assert pushed.returncode == 0, pushed.stderr
    # The same index both times; the second push still put the referrers.
    for image in images:
        assert len(listing(registry, target, image.manifest_digest)) == 1


def test_amending_a_list_with_drop_drops_the_attestations_it_had(
    registry: RegistryServer, tmp_path: Path
) -> None:
    repository = unique("ref/amend")
    buildx_image(registry, repository, 1218)
    other = make_image({"os": "linux", "architecture": "s390x"}, seed=1218, oci=True)
    registry.push_image(repository, other, tag="s390x")
    env = {"POLYARCH_HOME": str(tmp_path / "home")}
    name = f"{registry.host}/{unique('ref/amended')}:1.0"
    created = polyarch(
        "create", "--attestations", "referrers", name, f"{registry.host}/{repository}:1.0", env=env
    )
    assert created.returncode == 0, created.stderr

    kept = polyarch("create", "--amend", name, f"{registry.host}/{repository}:s390x", env=env)
    assert kept.returncode == 0, kept.stderr
    # Still moving the attestations out: the index has the images only.
    assert len(json.loads(polyarch("inspect", name, env=env).stdout)["manifests"]) == 3
    dropped = polyarch(
        "create", "--amend", "--attestations", "drop", name,
        f"{registry.host}/{repository}:s390x", env=env,
    )  # fmt: skip
    assert dropped.returncode == 0, dropped.stderr
    listed = json.loads(polyarch("inspect", name, env=env).stdout)["manifests"]
    assert len(listed) == 3
    assert all("annotations" not in e for e in listed)


def test_the_tree_escapes_what_content_says(registry: RegistryServer) -> None:
    repository = unique("ref/escapes")
    image = make_image(AMD64, seed=1219, oci=True)
    registry.push_image(repository, image, tag="1.0")
    sneaky = json.loads(signature(registry, repository, image.manifest, OCI_MANIFEST))
    sneaky["artifactType"] = "x/\u001b[5mblink"
    sneaky["annotations"] = {"title": "\u001b]0;pwned\u0007\nline"}
    raw = json.dumps(sneaky).encode()
    registry.push_manifest(repository, sha256_digest(raw), raw, OCI_MANIFEST)
    attach_by_tag(registry, repository, image.manifest, raw)

    tree = polyarch(
        "inspect", "--referrers", "--format", "text", f"{registry.host}/{repository}:1.0",
        text=True,
    )  # fmt: skip

    assert tree.returncode == 0, tree.stderr
    assert "\x1b" not in tree.stdout
    assert "\x07" not in tree.stdout
    assert "x/\\u001b[5mblink" in tree.stdout
    assert "\\u001b]0;pwned\\u0007\\u000aline" in tree.stdout


def test_an_oci_subject_header_naming_another_subject_is_not_believed(
    registry: RegistryServer,
) -> None:
    repository = unique("ref/api-wrong")
    images = buildx_image(registry, repository, 1220)
    with FaultProxy(registry.url) as proxy:
        api = ReferrersAPI(proxy)
        api.claimed_subject = "sha256:" + "0" * 64
        target = unique("ref/api-wrong-target")

        result = polyarch(
            "copy", "--attestations", "referrers", f"{registry.host}/{repository}:1.0",
            f"{proxy.host}/{target}:1.0", text=True,
        )  # fmt: skip

    assert result.returncode == 0, result.stderr
    for image in images:  # so the referrers tag lists them
        assert len(listing(registry, target, image.manifest_digest)) == 1


def test_a_referrers_tag_that_moved_meanwhile_is_read_again(registry: RegistryServer) -> None:
    repository = unique("ref/if-match")
    image = make_image(AMD64, seed=1221, oci=True)
    registry.push_image(repository, image, tag="1.0")
    attach_by_tag(
        registry,
        repository,
        image.manifest,
        signature(registry, repository, image.manifest, OCI_MANIFEST),
    )
    target = unique("ref/if-match-target")
    with FaultProxy(registry.url) as proxy:
        # A registry that honours If-None-Match: another writer got there first.
        proxy.add(Status(412), method="PUT", path=r"/manifests/sha256-", count=1)

        result = polyarch(
            "copy", "--referrers", f"{registry.host}/{repository}:1.0",
            f"{proxy.host}/{target}:1.0", text=True,
        )  # fmt: skip

        puts = [s for s in proxy.seen if s.method == "PUT" and "/manifests/sha256-" in s.path]
    assert result.returncode == 0, result.stderr
    assert [s.status for s in puts] == [412, 201]
    assert all(s.headers.get("if-none-match") == "*" for s in puts)
    assert len(listing(registry, target, image.manifest_digest)) == 1
