"""The pure part of OCI 1.1 referrers: the referrers tag, the list under it, and buildx
attestations made into referrers (:mod:`polyarch.referrers`)."""

from __future__ import annotations

import json

import pytest

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import ConflictError, InvalidManifestError
from polyarch.models import Descriptor, ImageIndex, ImageManifest, parse_manifest
from polyarch.referrers import (
    EMPTY_CONFIG,
    attestation_referrer,
    listing_entry,
    referrers_tag,
    with_referrers,
)

SUBJECT = Descriptor(mt.OCI_MANIFEST, Digest("sha256:" + "1" * 64), 704)


def entry(n: int, **fields: object) -> Descriptor:
    return Descriptor(mt.OCI_MANIFEST, Digest(f"sha256:{n:064x}"), 100 + n, **fields)  # type: ignore[arg-type]


def test_the_referrers_tag_is_the_digest_with_a_dash_cut_to_64_characters() -> None:
    assert referrers_tag(Digest("sha256:" + "ab" * 32)) == "sha256-" + "ab" * 32
    assert referrers_tag(Digest("sha512:" + "c" * 128)) == "sha512-" + "c" * 64
    assert referrers_tag(Digest("sha256+b64u:" + "a" * 43)) == "sha256-b64u-" + "a" * 43


def test_a_new_list_names_each_entry_once_without_a_platform() -> None:
    listing = with_referrers(None, [entry(1, artifact_type="x/y"), entry(1), entry(2)], where="t")
    assert isinstance(listing, ImageIndex)
    assert listing.media_type == mt.OCI_INDEX
    document = json.loads(listing.raw)
    assert document["schemaVersion"] == 2
    assert [m["digest"] for m in document["manifests"]] == [entry(1).digest, entry(2).digest]
    assert document["manifests"][0]["artifactType"] == "x/y"
    assert all("platform" not in m for m in document["manifests"])


def test_entries_added_to_a_list_keep_those_it_had_as_they_were_spelled() -> None:
    raw = (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
        b'"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"'
        + entry(1).digest.encode()
        + b'","size":101,"artifactType":"x/y","data":"e30=","annotations":{"n":"1"}}],'
        b'"annotations":{"weight":"1.50"}}'
    )
    listing = parse_manifest(raw)
    assert with_referrers(listing, [entry(1)], where="t") is None
    updated = with_referrers(listing, [entry(2)], where="t")
    assert updated is not None
    document = json.loads(updated.raw)
    assert document["manifests"][0] == json.loads(raw)["manifests"][0]
    assert document["manifests"][1]["digest"] == entry(2).digest
    assert document["annotations"] == {"weight": "1.50"}


def test_a_tag_that_holds_no_oci_index_is_never_written_over() -> None:
    docker_list = parse_manifest(
        json.dumps(
            {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST, "manifests": []}
        ).encode()
    )
    with pytest.raises(ConflictError, match="not the OCI index of a referrers list"):
        with_referrers(docker_list, [entry(1)], where="r/x:sha256-1")


def attestation_manifest(**extra: object) -> ImageManifest:
    document = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": "sha256:" + "2" * 64, "size": 241},
        "layers": [
            {
                "mediaType": mt.IN_TOTO_LAYER,
                "digest": "sha256:" + "3" * 64,
                "size": 800,
                "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
            }
        ],
        **extra,
    }
    manifest = parse_manifest(json.dumps(document).encode())
    assert isinstance(manifest, ImageManifest)
    return manifest


def test_an_attestation_becomes_a_referrer_in_buildkits_oci_artifact_shape() -> None:
    original = attestation_manifest(annotations={"org.opencontainers.image.created": "now"})

    referrer = attestation_referrer(original, SUBJECT)

    assert referrer.digest != original.digest
    assert referrer.artifact_type == mt.ATTESTATION_ARTIFACT
    assert referrer.config == EMPTY_CONFIG
    assert referrer.layers == original.layers
    assert referrer.subject == SUBJECT
    assert referrer.annotations == original.annotations
    document = json.loads(referrer.raw)
    assert list(document) == [
        "schemaVersion", "mediaType", "artifactType", "config", "layers", "subject", "annotations"
    ]  # fmt: skip
    assert document["config"]["data"] == "e30="
    assert document["subject"] == {
        "mediaType": mt.OCI_MANIFEST,
        "digest": str(SUBJECT.digest),
        "size": 704,
    }
    listed = listing_entry(referrer)
    assert (listed.digest, listed.size, listed.artifact_type) == (
        referrer.digest,
        referrer.size,
        mt.ATTESTATION_ARTIFACT,
    )


def test_an_attestation_buildkit_made_a_referrer_is_kept_as_it_is() -> None:
    already = attestation_manifest(subject=SUBJECT.to_dict(), artifactType=mt.ATTESTATION_ARTIFACT)
    assert attestation_referrer(already, SUBJECT) is already
    other = Descriptor(mt.OCI_MANIFEST, Digest("sha256:" + "9" * 64), 704)
    with pytest.raises(InvalidManifestError, match="names sha256:1111"):
        attestation_referrer(already, other)


def test_a_listing_names_an_image_manifest_without_artifact_type_by_its_config_type() -> None:
    assert listing_entry(attestation_manifest()).artifact_type == mt.OCI_CONFIG
