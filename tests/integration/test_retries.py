"""Retries and redirects, against the real registry behind a fault-injecting proxy.

A transient failure (no connection, a reset or a close before the answer, a timeout, 429,
500, 502, 503, 504, a body that breaks off) is retried with backoff when sending again is
safe; a blob upload that fails restarts from a new upload session when its bytes can be
read again; ``--retries N`` bounds it all, ``--retries 0`` turns it off. A blob download
redirected to another host goes there without the ``Authorization`` header.

The proxy (``tests/fault_proxy.py``) says which requests it saw and what it did to each;
the registry behind it is the oracle for what was stored.
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import itertools
import json
import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyarch.auth import Credentials
from polyarch.digest import Digest
from polyarch.errors import NetworkError, RegistryError
from polyarch.layout import LayoutStore
from polyarch.models import Descriptor, ImageManifest
from polyarch.ops.copy import copy_image
from polyarch.reference import Reference
from polyarch.registry import Registries, RegistryClient, RegistryOptions, RegistryStore
from polyarch.registry._http import MIN_RATE
from polyarch.registry._retry import retry_after as _retry_after
from tests.clirun import assert_clean_error, polyarch
from tests.content import (
    assert_complete_in_layout,
    multi,
    registry_has_blob,
    registry_manifest,
    single,
    unique,
)
from tests.fault_proxy import (
    BlobServer,
    Close,
    Delay,
    Drip,
    FaultProxy,
    Forward,
    Redirect,
    Reset,
    Rewrite,
    Status,
    cut_short,
)
from tests.imagegen import SyntheticImage, make_image, sha256_digest
from tests.loopback_server import LOOPBACK, names_on_loopback
from tests.registry_server import RegistryFactory, RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
#: Backoff for the tests: real waits, short ones.
FAST = RegistryOptions(backoff=0.01)
FAST_ENV = {"POLYARCH_RETRY_BACKOFF": "0.01"}


def _our_threads() -> set[threading.Thread]:
    return {
        t
        for t in threading.enumerate()
        if t.name.startswith(("fault-proxy", "blob-server")) or "process_request" in t.name
    }


@pytest.fixture
def proxy(registry: RegistryServer) -> Iterator[FaultProxy]:
    """A fault proxy in front of the session's anonymous registry; no thread outlives it."""
    before = _our_threads()
    with FaultProxy(registry.url) as proxy:
        yield proxy
    assert _our_threads() <= before, "the fault proxy left threads behind"


@pytest.fixture
def auth_proxy(auth_registry: RegistryServer) -> Iterator[FaultProxy]:
    before = _our_threads()
    with FaultProxy(auth_registry.url) as proxy:
        yield proxy
    assert _our_threads() <= before, "the fault proxy left threads behind"


@pytest.fixture
def blob_server() -> Iterator[BlobServer]:
    before = _our_threads()
    with BlobServer() as server:
        yield server
    assert _our_threads() <= before, "the blob server left threads behind"


def client(proxy: FaultProxy, options: RegistryOptions = FAST) -> RegistryClient:
    return RegistryClient(proxy.host, options=options)


def seeded(registry: RegistryServer, seed: int, *, layers: int = 2, size: int = 1024) -> str:
    """A repository holding one OCI image under ``:1``; its name."""
    repository = unique("retry")
    registry.push_image(
        repository,
        make_image(AMD64, seed=seed, oci=True, layers=layers, layer_size=size),
        tag="1",
    )
    return repository


def descriptor_of(data: bytes) -> Descriptor:
    return Descriptor("application/octet-stream", Digest.parse(sha256_digest(data)), len(data))


def retry_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("polyarch")
        and r.levelno == logging.WARNING
        and r.getMessage().startswith("retrying in ")
    ]


# -- Retry-After --------------------------------------------------------------------------


def test_retry_after_grammar() -> None:
    assert _retry_after("120") == 120.0
    assert _retry_after(" 0 ") == 0.0
    soon = _retry_after(email.utils.formatdate(time.time() + 30, usegmt=True))
    assert soon is not None
    assert 28 <= soon <= 31
    assert _retry_after(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0.0
    for junk in (None, "", "soon", "-5", "1.5e9", "Mon, 99 Foo 2024"):
        assert _retry_after(junk) is None, junk


# -- requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_not_now_answers_are_retried(
    registry: RegistryServer,
    proxy: FaultProxy,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    repository = seeded(registry, 1)
    proxy.add(Status(status), method="GET", path="/manifests/1$", count=2)
    caplog.set_level(logging.INFO, logger="polyarch")
    with client(proxy) as c:
        manifest = RegistryStore(c, repository).get_manifest("1")
    assert manifest.raw == registry_manifest(registry, repository, "1")
    assert [s.status for s in proxy.requests("GET", "/manifests/")] == [status, status, 200]
    messages = retry_records(caplog)
    assert len(messages) == 2
    assert messages[0].startswith("retrying in ")
    assert " s (1 of 4): " in messages[0]
    assert f"HTTP {status}" in messages[0]
    assert f"get {proxy.host}/{repository}:1" in messages[0]


@pytest.mark.parametrize(
    ("fault", "method", "path"),
    [
        (Reset(), "GET", "/manifests/1$"),
        (Close(), "GET", "/manifests/1$"),
        (Reset(), "HEAD", "/blobs/"),
        (Close(), "PUT", "/manifests/2$"),
        (Reset(), "DELETE", "/manifests/sha256:"),
    ],
    ids=["reset GET", "close GET", "reset HEAD", "close PUT manifest", "reset DELETE"],
)
def test_no_answer_is_retried(
    registry: RegistryServer, proxy: FaultProxy, fault: Reset | Close, method: str, path: str
) -> None:
    repository = seeded(registry, 2)
    proxy.add(fault, method=method, path=path, count=1)
    with client(proxy) as c:
        store = RegistryStore(c, repository)
        manifest = store.get_manifest("1")
        assert isinstance(manifest, ImageManifest)
        assert store.has_blob(manifest.config)
        store.put_manifest(manifest, tag="2")
        assert registry_manifest(registry, repository, "2") == manifest.raw
        store.delete(manifest.digest)
    assert registry_manifest(registry, repository, "1") is None
    hit = proxy.requests(method, path)
    assert [s.status for s in hit][:2] == [None, {"PUT": 201, "DELETE": 202}.get(method, 200)]


def test_a_timeout_is_retried(registry: RegistryServer, proxy: FaultProxy) -> None:
    repository = seeded(registry, 3)
    proxy.add(Delay(5.0), method="GET", path="/manifests/1$", count=1)
    options = RegistryOptions(backoff=0.01, timeout=0.5)
    started = time.monotonic()
    with client(proxy, options) as c:
        manifest = RegistryStore(c, repository).get_manifest("1")
    assert manifest.raw == registry_manifest(registry, repository, "1")
    assert time.monotonic() - started < 4.0, "the client waited out the delay"
    assert len(proxy.requests("GET", "/manifests/1$")) == 2


def test_retries_run_out(registry: RegistryServer, proxy: FaultProxy) -> None:
    repository = seeded(registry, 4)
    proxy.add(Status(503), method="GET", path="/manifests/1$")
    options = RegistryOptions(backoff=0.01, retries=2)
    with client(proxy, options) as c, pytest.raises(RegistryError) as caught:
        RegistryStore(c, repository).get_manifest("1")
    assert caught.value.status == 503
    assert "HTTP 503" in str(caught.value)
    assert len(proxy.requests("GET", "/manifests/1$")) == 3

    proxy.clear()
    proxy.add(Reset(), method="GET", path="/manifests/1$")
    with client(proxy, RegistryOptions(retries=0)) as c, pytest.raises(NetworkError):
        RegistryStore(c, repository).get_manifest("1")
    assert len(proxy.requests("GET", "/manifests/1$")) == 1


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_honoured(registry: RegistryServer, proxy: FaultProxy, form: str) -> None:
    repository = seeded(registry, 5)
    value = "2" if form == "seconds" else email.utils.formatdate(time.time() + 3, usegmt=True)
    proxy.add(Status(429, retry_after=value), method="GET", path="/manifests/1$", count=1)
    with client(proxy) as c:
        RegistryStore(c, repository).get_manifest("1")
    first, second = proxy.requests("GET", "/manifests/1$")
    # An HTTP-date has whole seconds: "3 s from now" may be a little over 2 s. The
    # backoff alone would have waited 10 ms.
    assert second.started - first.started >= 1.5


def test_retry_after_is_capped(registry: RegistryServer, proxy: FaultProxy) -> None:
    repository = seeded(registry, 6)
    proxy.add(Status(503, retry_after="3600"), method="GET", path="/manifests/1$", count=1)
    started = time.monotonic()
    with client(proxy, RegistryOptions(backoff=0.01, max_wait=0.3)) as c:
        RegistryStore(c, repository).get_manifest("1")
    assert time.monotonic() - started < 5.0


def test_backoff_doubles(registry: RegistryServer, proxy: FaultProxy) -> None:
    repository = seeded(registry, 7)
    proxy.add(Status(502), method="GET", path="/manifests/1$", count=3)
    with client(proxy, RegistryOptions(backoff=0.2)) as c:
        RegistryStore(c, repository).get_manifest("1")
    times = [s.started for s in proxy.requests("GET", "/manifests/1$")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Retry n waits a random time in [backoff * 2**n / 2, backoff * 2**n].
    for n, gap in enumerate(gaps):
        assert 0.2 * 2**n / 2 - 0.02 <= gap <= 0.2 * 2**n + 0.5, gaps


def test_post_is_not_blindly_retried(registry: RegistryServer, proxy: FaultProxy) -> None:
    """A POST is sent again only when the answer says it was not acted on (429, 503) or
    no connection was made; a 500 or a reset after sending may have opened a session."""
    repository = seeded(registry, 8)
    start = f"/v2/{repository}/blobs/uploads/"
    with client(proxy) as c:
        c.ping()
        proxy.add(Status(500), method="POST", path="/blobs/uploads/", count=1)
        with pytest.raises(RegistryError) as caught:
            c.request("POST", start, expect=lambda r: r.status_code == 202)
        assert caught.value.status == 500
        assert len(proxy.requests("POST")) == 1

        proxy.clear()
        proxy.add(Reset(), method="POST", path="/blobs/uploads/", count=1)
        with pytest.raises(NetworkError):
            c.request("POST", start, expect=lambda r: r.status_code == 202)
        assert len(proxy.requests("POST")) == 1

        proxy.clear()
        proxy.add(Status(503), method="POST", path="/blobs/uploads/", count=1)
        response = c.request("POST", start, expect=lambda r: r.status_code == 202)
        assert [s.status for s in proxy.requests("POST")] == [503, 202]
        c.request("DELETE", response.headers["Location"], expect=lambda r: True)


# -- uploads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk_size", "method"),
    [(None, "PUT"), (700, "PATCH"), (700, "PUT")],
    ids=["monolithic PUT", "chunked PATCH", "chunked final PUT"],
)
def test_a_failed_upload_restarts_from_a_new_session(
    registry: RegistryServer, proxy: FaultProxy, chunk_size: int | None, method: str
) -> None:
    repository = unique("upload")
    data = os.urandom(2000)
    proxy.add(Reset(), method=method, path="/blobs/uploads/", count=1)
    with client(proxy) as c:
        store = RegistryStore(c, repository, upload_chunk_size=chunk_size)
        store.put_blob(descriptor_of(data), [data])  # a list: it can be read again
    assert registry_has_blob(registry, repository, sha256_digest(data))
    posts = proxy.requests("POST", "/blobs/uploads/")
    if method == "PUT" and chunk_size is not None:
        # A final PUT without a body is sent again as it is: the session survives.
        assert len(posts) == 1
    else:
        assert len(posts) == 2
        # The broken session was given up before the new one.
        assert proxy.requests("DELETE", "/blobs/uploads/")


def test_an_upload_from_a_one_shot_stream_is_not_restarted(
    registry: RegistryServer, proxy: FaultProxy
) -> None:
    repository = unique("upload")
    data = os.urandom(2000)
    proxy.add(Reset(), method="PUT", path="/blobs/uploads/", count=1)
    with client(proxy) as c, pytest.raises(NetworkError):
        RegistryStore(c, repository).put_blob(descriptor_of(data), iter([data]))
    assert len(proxy.requests("POST", "/blobs/uploads/")) == 1
    assert not registry_has_blob(registry, repository, sha256_digest(data))


def test_a_session_that_did_not_start_is_retried_even_for_a_one_shot_stream(
    registry: RegistryServer, proxy: FaultProxy
) -> None:
    repository = unique("upload")
    data = os.urandom(2000)
    proxy.add(Status(500), method="POST", path="/blobs/uploads/", count=1)
    with client(proxy) as c:
        RegistryStore(c, repository).put_blob(descriptor_of(data), iter([data]))
    assert [s.status for s in proxy.requests("POST")] == [500, 202]
    assert registry_has_blob(registry, repository, sha256_digest(data))


def test_copy_restarts_a_failed_blob_transfer_from_the_source(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    """Registry to registry: the target's upload breaks; the blob is read again from the
    source (a second GET) into a new session, and the copy completes, digests kept."""
    target = registry_factory()
    content = multi([make_image(p, seed=9, oci=True) for p in (AMD64, ARM64)])
    repository = unique("retry")
    content.push(registry, repository, "1")
    layer = make_image(AMD64, seed=9, oci=True).layers[0].digest
    with FaultProxy(registry.url) as source_proxy, FaultProxy(target.url) as target_proxy:
        target_proxy.add(Reset(), method="PUT", path="/blobs/uploads/", count=1)
        source_proxy.add(Rewrite(cut_short), method="GET", path=f"/blobs/{layer}", count=1)
        with Registries(FAST) as registries:
            source = registries.store(Reference.parse(f"{source_proxy.host}/{repository}"))
            dest = registries.store(Reference.parse(f"{target_proxy.host}/retry/copy-dst"))
            result = copy_image(source, "1", dest, tag="1")
        assert result.descriptor.digest == content.digest
        assert registry_manifest(target, "retry/copy-dst", "1") == content.root
        for digest in content.blobs:
            assert registry_has_blob(target, "retry/copy-dst", digest)
        # One upload failed: its blob was read from the source again.
        gets = [s.path for s in source_proxy.requests("GET", "/blobs/")]
        assert len(gets) > len(set(gets))


@pytest.mark.parametrize("ranges", [True, False], ids=["range request", "no range support"])
def test_a_download_picks_up_where_it_broke(
    registry: RegistryServer, proxy: FaultProxy, tmp_path: Path, ranges: bool
) -> None:
    image = make_image(AMD64, seed=10, oci=True, layers=1, layer_size=200_000)
    repository = unique("resume")
    registry.push_image(repository, image, tag="1")
    layer = image.layers[0]
    proxy.add(Rewrite(cut_short), method="GET", path=f"/blobs/{layer.digest}", count=1)
    if not ranges:
        proxy.add(Forward(drop=("Range",)), method="GET", path="/blobs/")
    with Registries(FAST) as registries:
        source = registries.store(Reference.parse(f"{proxy.host}/{repository}"))
        copy_image(source, "1", LayoutStore(tmp_path / "layout"), tag="1")
    assert_complete_in_layout(tmp_path / "layout", single(image))
    first, second = proxy.requests("GET", f"/blobs/{layer.digest}")
    assert first.bytes_sent == layer.size // 2
    if ranges:
        assert second.headers.get("range") == f"bytes={layer.size // 2}-"
        assert second.status == 206
        assert second.bytes_sent == layer.size - layer.size // 2
    else:
        assert second.status == 200


def test_a_manifest_that_breaks_off_is_fetched_again(
    registry: RegistryServer, proxy: FaultProxy
) -> None:
    repository = seeded(registry, 11)
    proxy.add(Rewrite(cut_short), method="GET", path="/manifests/1$", count=1)
    with client(proxy) as c:
        manifest = RegistryStore(c, repository).get_manifest("1")
    assert manifest.raw == registry_manifest(registry, repository, "1")
    assert len(proxy.requests("GET", "/manifests/1$")) == 2


def test_a_failed_mount_falls_back_to_a_copy(registry: RegistryServer, proxy: FaultProxy) -> None:
    repository = seeded(registry, 12)
    proxy.add(Status(500), method="POST", path="mount=")
    with Registries(FAST) as registries:
        source = registries.store(Reference.parse(f"{proxy.host}/{repository}"))
        dest = registries.store(Reference.parse(f"{proxy.host}/{repository}-copy"))
        copy_image(source, "1", dest, tag="1")
    assert registry_manifest(registry, f"{repository}-copy", "1") == registry_manifest(
        registry, repository, "1"
    )
    assert proxy.requests("PUT", "/blobs/uploads/"), "the blobs were uploaded instead"


# -- redirects ----------------------------------------------------------------------------


def test_a_redirected_blob_download_carries_no_credentials(
    auth_registry: RegistryServer,
    auth_proxy: FaultProxy,
    blob_server: BlobServer,
    tmp_path: Path,
) -> None:
    """As S3-backed registries do: the registry checks the credentials, then sends the
    client to another host for the bytes. The Authorization header stays behind."""
    image = make_image(AMD64, seed=13, oci=True)
    repository = unique("redirect")
    auth_registry.push_image(repository, image, tag="1")
    auth_proxy.add(Redirect(blob_server), method="GET", path="/blobs/")
    creds = Credentials(
        username=auth_registry.username or "", password=auth_registry.password or "", source="t"
    )
    with Registries(RegistryOptions(credentials=creds, backoff=0.01)) as registries:
        source = registries.store(Reference.parse(f"{auth_proxy.host}/{repository}"))
        copy_image(source, "1", LayoutStore(tmp_path / "layout"), tag="1")
    assert_complete_in_layout(tmp_path / "layout", single(image))
    redirected = auth_proxy.requests("GET", "/blobs/")
    assert {s.status for s in redirected} == {307}
    assert all(s.headers.get("authorization") == "Basic" for s in redirected)
    assert len(blob_server.seen) == len(image.blobs)
    for seen in blob_server.seen:
        assert seen.status == 200
        assert "authorization" not in seen.headers, "credentials went to the storage host"


def test_cli_pull_through_a_redirect_carries_no_credentials(
    auth_registry: RegistryServer,
    auth_proxy: FaultProxy,
    blob_server: BlobServer,
    tmp_path: Path,
) -> None:
    image = make_image(AMD64, seed=14, oci=True)
    repository = unique("redirect")
    auth_registry.push_image(repository, image, tag="1")
    auth_proxy.add(Redirect(blob_server), method="GET", path="/blobs/")
    result = run(
        "pull",
        "--platform",
        "linux/amd64",
        f"{auth_proxy.host}/{repository}:1",
        f"oci:{tmp_path / 'layout'}",
        config=docker_config(tmp_path, auth_proxy.host, auth_registry),
    )
    assert result.returncode == 0, result.stderr
    assert_complete_in_layout(tmp_path / "layout", single(image))
    # The config is read twice: to check the platform, then to copy it.
    assert len(blob_server.seen) >= len(image.blobs)
    assert all("authorization" not in seen.headers for seen in blob_server.seen)


# -- the command line ---------------------------------------------------------------------


def docker_config(tmp_path: Path, host: str, server: RegistryServer) -> Path:
    directory = tmp_path / "docker-config"
    directory.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return directory


def run(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = dict(FAST_ENV) if config is None else {**FAST_ENV, "DOCKER_CONFIG": str(config)}
    return polyarch(*args, env=env)


REGISTRY_COMMANDS = ["copy", "create", "digest", "inspect", "login", "pull", "push", "tags"]


@pytest.mark.parametrize("command", REGISTRY_COMMANDS)
def test_every_registry_command_has_retries(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert b"--retries" in result.stdout


def test_cli_retries_option(registry: RegistryServer, proxy: FaultProxy) -> None:
    repository = seeded(registry, 15)
    reference = f"{proxy.host}/{repository}:1"
    proxy.add(Status(503), method="GET", path="/manifests/1$", count=2)
    result = run("inspect", "--retries", "2", reference)
    assert result.returncode == 0, result.stderr
    assert result.stdout == registry_manifest(registry, repository, "1")

    proxy.clear()
    proxy.add(Status(503), method="GET", path="/manifests/1$", count=1)
    stderr = assert_clean_error(run("inspect", "--retries", "0", "--no-cache", reference), 5)
    assert "HTTP 503" in stderr
    assert len(proxy.requests("GET", "/manifests/1$")) == 1

    assert_clean_error(run("inspect", "--retries", "-1", reference), 2)


def test_cli_copy_over_a_flaky_network(
    auth_registry: RegistryServer,
    auth_proxy: FaultProxy,
    registry: RegistryServer,
    tmp_path: Path,
) -> None:
    """Every kind of transient failure at once, on the first try of each request: the copy
    completes with the digests it would have had, and ``--debug`` says why it retried
    (and shows no credential)."""
    content = multi([make_image(p, seed=16, oci=True) for p in (AMD64, ARM64)])
    source = content.push(auth_registry, unique("flaky"), "1").replace(
        auth_registry.host, auth_proxy.host
    )
    layer = make_image(ARM64, seed=16, oci=True).layers[1].digest
    auth_proxy.add(Reset(), method="GET", path="/manifests/1$", count=1)
    auth_proxy.add(Close(), method="GET", path="/manifests/1$", count=1)
    auth_proxy.add(Status(429, retry_after="0"), method="GET", path="/manifests/sha256:", count=1)
    auth_proxy.add(Status(502), method="GET", path="/blobs/", count=2)
    auth_proxy.add(Rewrite(cut_short), method="GET", path=f"/blobs/{layer}", count=1)
    destination = f"{registry.host}/{unique('flaky')}:1"
    result = run(
        "--debug",
        "copy",
        source,
        destination,
        config=docker_config(tmp_path, auth_proxy.host, auth_registry),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == content.digest
    repository = destination.split("/", 1)[1].rsplit(":", 1)[0]
    assert registry_manifest(registry, repository, "1") == content.root
    stderr = result.stderr.decode()
    reasons = (
        "Connection reset",
        "closed connection without response",
        "HTTP 429",
        "HTTP 502",
        "broke while",
    )
    for reason in reasons:
        assert reason in stderr, reason
    assert auth_registry.password is not None
    assert auth_registry.password not in stderr


def test_cli_copy_restarts_a_failed_upload(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    target = registry_factory()
    image = make_image(AMD64, seed=17, oci=True)
    source = f"{registry.host}/{seeded_with(registry, image)}:1"
    with FaultProxy(target.url) as target_proxy:
        target_proxy.add(Reset(), method="PUT", path="/blobs/uploads/")
        # Every upload fails: the copy gives up after --retries attempts, and says so.
        stderr = assert_clean_error(
            run("copy", "--retries", "1", source, f"{target_proxy.host}/dst:1"), 5
        )
        assert "upload blob" in stderr
        assert len(target_proxy.requests("POST", "/blobs/uploads/")) <= 2 * len(image.blobs)
        assert registry_manifest(target, "dst", "1") is None

        target_proxy.clear()
        target_proxy.add(Reset(), method="PUT", path="/blobs/uploads/", count=2)
        result = run("copy", source, f"{target_proxy.host}/dst:1")
        assert result.returncode == 0, result.stderr
    assert registry_manifest(target, "dst", "1") == image.manifest
    # Two uploads failed: two blobs were uploaded from a second session.
    assert len(target_proxy.requests("POST", "/blobs/uploads/")) == len(image.blobs) + 2


def seeded_with(registry: RegistryServer, image: SyntheticImage) -> str:
    repository = unique("retry")
    registry.push_image(repository, image, tag="1")
    return repository


# -- answers that drip ---------------------------------------------------------------------

#: A short timeout, so that a body dripping slower than MIN_RATE is given up within seconds.
DRIP_OPTIONS = RegistryOptions(backoff=0.01, timeout=1.0)


def test_a_manifest_that_drips_is_given_up(registry: RegistryServer, proxy: FaultProxy) -> None:
    """Each read gets a few bytes within the timeout, so only a rate tells it from a slow
    network: below MIN_RATE over a whole timeout the answer is given up (exit 5)."""
    repository = seeded(registry, 12)
    proxy.add(Drip(size=16, every=0.2), method="GET", path="/manifests/1$")
    options = dataclasses.replace(DRIP_OPTIONS, retries=0)
    started = time.monotonic()
    with (
        RegistryClient(proxy.host, options=options) as c,
        pytest.raises(NetworkError, match="came too slowly") as info,
    ):
        RegistryStore(c, repository).get_manifest("1")
    assert time.monotonic() - started < 5
    assert info.value.exit_code == 5
    assert f"less than {MIN_RATE} bytes/s" in str(info.value)


def test_a_dripping_blob_is_resumed_elsewhere_in_time(
    registry: RegistryServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    """A download given up for its pace is picked up where it stopped, like one that
    broke off."""
    image = make_image(AMD64, seed=13, oci=True, layers=1, layer_size=200_000)
    repository = unique("drip")
    registry.push_image(repository, image, tag="1")
    layer = image.layers[0]
    proxy.add(Drip(size=64, every=0.1), method="GET", path=f"/blobs/{layer.digest}", count=1)
    with Registries(DRIP_OPTIONS) as registries:
        source = registries.store(Reference.parse(f"{proxy.host}/{repository}"))
        copy_image(source, "1", LayoutStore(tmp_path / "layout"), tag="1")
    assert_complete_in_layout(tmp_path / "layout", single(image))
    first, second = proxy.requests("GET", f"/blobs/{layer.digest}")
    assert 0 < first.bytes_sent < layer.size
    assert second.status == 206


# -- a port where nothing listens --------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on (bound a moment ago, and let go)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def test_cli_a_closed_loopback_port_fails_fast_and_says_it_retried() -> None:
    # The real backoff (0.5 s), not the tests' short one: what a user waits.
    host = f"{LOOPBACK}:{closed_port()}"
    began = time.monotonic()
    result = polyarch("inspect", f"{host}/x:y", drop=("POLYARCH_RETRY_BACKOFF",))
    elapsed = time.monotonic() - began
    stderr = assert_clean_error(result, 5)
    assert elapsed < 2.0, f"{elapsed:.1f}s\n{stderr}"
    warnings = [line for line in stderr.splitlines() if line.startswith("polyarch: warning: ")]
    assert len(warnings) == 1, stderr
    assert host in warnings[0]
    assert " s (1 of 1): " in warnings[0]
    assert warnings[0].endswith("Connection refused")
    assert f"polyarch: error: cannot reach {host}: [Errno 111] Connection refused" in stderr
    assert "hint: is the registry running?" in stderr


def test_a_refused_connection_is_retried_once_on_loopback_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="polyarch")
    options = RegistryOptions(backoff=0.01, retries=4)
    port = closed_port()
    with (
        RegistryClient(f"{LOOPBACK}:{port}", options=options) as c,
        pytest.raises(NetworkError, match="Connection refused"),
    ):
        RegistryStore(c, "r").get_manifest("1")  # the request, then the GET again
    assert len(retry_records(caplog)) == 1
    # Another machine, by its name, may be rebooting: the whole budget.
    caplog.clear()
    with (
        names_on_loopback("registry.test"),
        RegistryClient(f"registry.test:{port}", options=options) as c,
        pytest.raises(NetworkError, match="Connection refused"),
    ):
        RegistryStore(c, "r").get_manifest("1")
    messages = retry_records(caplog)
    assert [m.partition(" s (")[2].partition("):")[0] for m in messages] == [
        f"{n} of 4" for n in range(1, 5)
    ]


def test_every_retried_failure_is_a_warning_without_query_or_credentials(
    auth_registry: RegistryServer, auth_proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="polyarch")
    assert auth_registry.username is not None
    assert auth_registry.password is not None
    credentials = Credentials(auth_registry.username, auth_registry.password, source="test")
    options = RegistryOptions(backoff=0.01, credentials=credentials)
    data = unique("retry-warning").encode() * 10
    # A reset before the answer, a 503, a 500 for the upload's PUT (with its ?_state=
    # and ?digest= query): each a warning of its own.
    auth_proxy.add(Reset(), method="HEAD", path="/blobs/", count=1)
    auth_proxy.add(Status(503), method="POST", path="/blobs/uploads/", count=1)
    auth_proxy.add(Status(500), method="PUT", path=r"/blobs/uploads/.*\?", count=1)
    with client(auth_proxy, options) as c:
        store = RegistryStore(c, unique("retry"))
        assert not store.has_blob(descriptor_of(data))
        store.put_blob(descriptor_of(data), [data])
    assert registry_has_blob(auth_registry, store.repository, sha256_digest(data))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3, warnings
    # has_blob is one operation; put_blob another, whose restart draws on its budget too.
    expected = [("check blob", "Connection", 1), ("start an upload", "HTTP 503", 1)]
    expected.append(("upload blob", "HTTP 500", 2))
    for (what, reason, n), message in zip(expected, warnings, strict=True):
        assert message.startswith("retrying in ")
        assert f" s ({n} of 4): {what}" in message
        assert message.count(what) == 1  # said once, not once more by the error it carries
        assert reason in message
        assert "?" not in message
        assert "_state" not in message
        assert auth_registry.password not in message
