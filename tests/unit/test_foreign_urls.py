"""The URLs of non-distributable layers: which ones polyarch refuses before sending
anything, and how they are shown. (Fetching them runs against an HTTPS server on loopback
in ``tests/cli/test_nondistributable.py``.)"""

from __future__ import annotations

import pytest

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import BlobNotFoundError, RegistryError
from polyarch.models import Descriptor
from polyarch.registry import UrlBlobs
from polyarch.store import fetchable

DIGEST = Digest.of(b"a windows base layer")


def layer(*urls: str, media_type: str = mt.DOCKER_FOREIGN_LAYER) -> Descriptor:
    return Descriptor(media_type, DIGEST, 20, urls=urls)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://mcr.example/v2/blobs/x?sig=SECRET", "http://mcr.example/v2/blobs/x"),
        ("ftp://mcr.example/x?sig=SECRET", None),
        ("https://user:SECRET@mcr.example/x", "https://mcr.example/x"),
        ("https://mcr.example:443@127.0.0.1:1/x", "https://127.0.0.1:1/x"),
        ("not a url?sig=SECRET", None),
    ],
)
def test_urls_refused_before_anything_is_sent(url: str, shown: str | None) -> None:
    with UrlBlobs() as blobs, pytest.raises(RegistryError) as caught:
        blobs.open_blob(layer(url)).__enter__()
    message = str(caught.value)
    assert "SECRET" not in message
    assert caught.value.hint is None or "SECRET" not in caught.value.hint
    if shown is not None:
        assert f"from {shown}" in message
    assert blobs._transports == {}  # no connection pool was even made


def test_a_layer_without_urls_is_not_found() -> None:
    with UrlBlobs() as blobs, pytest.raises(BlobNotFoundError, match="names no URL"):
        blobs.open_blob(layer()).__enter__()


def test_every_url_failing_names_them_all() -> None:
    urls = ("http://a.example/1", "https://user:pw@b.example/2")
    with UrlBlobs() as blobs, pytest.raises(RegistryError) as caught:
        blobs.open_blob(layer(*urls)).__enter__()
    assert "https://b.example/2" in str(caught.value)
    assert caught.value.hint is not None
    assert "http://a.example/1" in caught.value.hint
    assert "pw" not in str(caught.value) + caught.value.hint


@pytest.mark.parametrize(
    ("descriptor", "expected"),
    [
        (layer("https://mcr.example/x"), True),
        (layer("https://mcr.example/x", media_type=mt.OCI_LAYER_NONDISTRIBUTABLE_ZSTD), True),
        (layer(), False),  # nowhere to fetch it from
        # URLs on a distributable layer are not followed: its registry must have it.
        (layer("https://mcr.example/x", media_type=mt.OCI_LAYER_GZIP), False),
    ],
)
def test_only_nondistributable_layers_are_fetched_from_urls(
    descriptor: Descriptor, expected: bool
) -> None:
    assert fetchable(descriptor) is expected
