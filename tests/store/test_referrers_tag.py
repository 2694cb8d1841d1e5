"""The referrers tag is changed only from where it was read: two writers of one tag in
a layout both keep their referrer (the layout's lock), and a registry is asked with
``If-Match`` (CNCF distribution 2.8 ignores it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from polyarch import mediatype as mt
from polyarch.layout import LayoutStore
from polyarch.models import ImageManifest, Manifest, parse_manifest
from polyarch.ops.referrers import attach, list_referrers
from polyarch.referrers import EMPTY_CONFIG, EMPTY_JSON, referrers_tag
from tests.clirun import EXAMPLE


def referrer(store: LayoutStore, subject: Manifest, n: int) -> ImageManifest:
    store.put_blob(EMPTY_CONFIG, [EMPTY_JSON])
    document = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": f"application/x.test.{n}",
        "config": EMPTY_CONFIG.to_dict(),
        "layers": [],
        "subject": subject.descriptor().to_dict(),
    }
    manifest = parse_manifest(json.dumps(document).encode())
    assert isinstance(manifest, ImageManifest)
    store.put_manifest(manifest)
    return manifest


def layout(tmp_path: Path) -> tuple[LayoutStore, Manifest]:
    path = tmp_path / "layout"
    shutil.copytree(EXAMPLE, path)
    store = LayoutStore(path)
    return store, store.get_manifest("1.0")


def test_a_tag_moved_since_it_was_read_is_not_written(tmp_path: Path) -> None:
    store, index = layout(tmp_path)
    a, b = referrer(store, index, 1), referrer(store, index, 2)
    assert store.put_manifest_if(a, tag="t", current=None)
    assert not store.put_manifest_if(b, tag="t", current=None)  # it is at a now
    assert store.resolve("t").digest == a.digest
    assert store.put_manifest_if(b, tag="t", current=a.digest)
    assert store.resolve("t").digest == b.digest


def test_two_writers_of_one_referrers_tag_both_keep_their_referrer(tmp_path: Path) -> None:
    store, index = layout(tmp_path)
    a, b = referrer(store, index, 1), referrer(store, index, 2)
    real_get = store.get_manifest
    raced: list[bool] = []

    class Racing(LayoutStore):
        """Writer A; writer B attaches between A's read of the tag and A's write."""

        def get_manifest(self, identifier: str) -> Any:
            try:
                return real_get(identifier)  # the tag is not there yet: it raises
            finally:
                if identifier == referrers_tag(index.digest) and not raced:
                    raced.append(attach(store, index.digest, [b]))

    assert attach(Racing(store.path), index.digest, [a])
    assert raced == [True]
    assert {e.digest for e in list_referrers(store, index.digest)} == {a.digest, b.digest}
