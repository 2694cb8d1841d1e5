"""Requests in flight that fit the distance, and pipelines, not phases (issue 15).

Against the real registry through the fault proxy: its delays make a registry far (every
request slow: the round trip measured is long) or near with slow answers (only some
requests slow: the quickest answer is loopback's), and its record of when each request
came and when it was answered shows what waited for what.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import polyarch
from polyarch.registry import Registries, RegistryOptions
from polyarch.registry._flight import FAR, NEAR, InFlight
from polyarch.registry._url import parse_url
from tests.content import Content, multi, unique
from tests.fault_proxy import Delay, FaultProxy, Seen, Status
from tests.imagegen import SyntheticImage, make_image
from tests.registry_server import RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
#: Distinct platforms, for lists (two images of one platform are refused).
DISTINCT = [
    {"os": "linux", "architecture": arch}
    for arch in ("amd64", "arm64", "386", "ppc64le", "s390x", "riscv64")
]


@pytest.fixture
def proxy(registry: RegistryServer) -> Iterator[FaultProxy]:
    with FaultProxy(registry.url) as proxy:
        yield proxy


def _images(count: int, *, layers: int = 1, distinct: bool = False) -> list[SyntheticImage]:
    """``count`` images no other test has; of distinct platforms for a list."""
    seed = int(unique("s").split("/")[1], 16) % 100_000
    return [
        make_image(DISTINCT[i] if distinct else AMD64, seed=seed + i, oci=True, layers=layers)
        for i in range(count)
    ]


def _pushed(registry: RegistryServer, content: Content) -> str:
    repository = unique("flight")
    content.push(registry, repository, "v1")
    return repository


def _copied_through(
    proxy: FaultProxy,
    registry: RegistryServer,
    count: int,
    options: RegistryOptions | None = None,
) -> InFlight:
    """An index of ``count`` images copied from the registry through ``proxy`` to the
    registry direct: the requests in flight to the proxy, as the client counted them."""
    repository = _pushed(registry, multi(_images(count)))
    with Registries(options) as registries:
        polyarch.copy(
            f"{proxy.host}/{repository}:v1",
            f"{registry.host}/{repository}-copy:v1",
            registries=registries,
        )
        return registries.client(proxy.host).transport.flight(parse_url(f"http://{proxy.host}/"))


def _one(proxy: FaultProxy, method: str, path: str) -> Seen:
    found = proxy.requests(method, path)
    assert len(found) == 1, [s.target for s in proxy.requests()]
    return found[0]


def _finished(seen: Seen) -> float:
    assert seen.finished is not None
    return seen.finished


# -- the bound ---------------------------------------------------------------------------


def test_slow_answers_from_a_near_registry_do_not_raise_the_bound(
    registry: RegistryServer, proxy: FaultProxy
) -> None:
    """Slow children, quick everything else: the round trip is loopback's, the bound near
    (a busy machine answers loopback in a few milliseconds: a little above 8, far below
    the 40 wanted at once)."""
    proxy.add(Delay(0.2), method="GET", path=r"/manifests/sha256:")
    flight = _copied_through(proxy, registry, 40)
    assert flight.rtt is not None
    assert flight.rtt < 0.2
    assert flight.peak < FAR
    assert flight.bound < FAR


def test_a_far_registry_gets_more_in_flight(registry: RegistryServer, proxy: FaultProxy) -> None:
    proxy.add(Delay(0.03))  # every request: 30 ms away
    flight = _copied_through(proxy, registry, 40)
    assert flight.rtt is not None
    assert flight.rtt >= 0.03
    assert flight.bound == FAR
    # 40 children wanted at once (and their blobs as each comes in), on 32 threads: far
    # more than a near registry's 8 went at once.
    assert 2 * NEAR <= flight.peak <= FAR


def test_jobs_caps_the_requests_in_flight_to_each_registry(
    registry: RegistryServer, proxy: FaultProxy
) -> None:
    proxy.add(Delay(0.03))
    # The cap holds however many threads the operation runs on (32 by default).
    flight = _copied_through(proxy, registry, 12, RegistryOptions(max_in_flight=2))
    assert flight.peak == 2
    assert flight.bound == 2


def test_429_and_503_halve_the_bound(registry: RegistryServer, proxy: FaultProxy) -> None:
    proxy.add(Status(429, retry_after="0"), method="GET", path=r"/manifests/sha256:", count=1)
    proxy.add(Status(503, retry_after="0"), method="GET", path=r"/blobs/sha256:", count=1)
    proxy.add(Delay(0.03))
    flight = _copied_through(proxy, registry, 16, RegistryOptions(backoff=0.01))
    # Halved (once per round trip), then growing back by one a bound's worth of answers:
    # some 50 answers after it, far from the 32 it was.
    assert flight.bound <= FAR * 3 // 4
    assert flight.active == 0


def test_jobs_on_the_command_line_caps_requests_in_flight(
    registry: RegistryServer, proxy: FaultProxy
) -> None:
    from tests.clirun import polyarch as run

    repository = _pushed(registry, multi(_images(8)))
    proxy.add(Delay(0.05))
    result = run(
        "copy",
        "--jobs",
        "1",
        f"{proxy.host}/{repository}:v1",
        f"{registry.host}/{repository}-copy:v1",
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # One at a time (the next may come while the proxy is still closing the last).
    assert proxy.peak_in_flight <= 2  # the next may come while the last is still closing


# -- pipelines -----------------------------------------------------------------------------


def test_copy_puts_each_image_once_its_blobs_are_there(registry: RegistryServer) -> None:
    slow, quick = _images(2)
    repository = _pushed(registry, multi([slow, quick]))
    with (
        FaultProxy(registry.url) as source,
        FaultProxy(registry.url) as target,
        Registries() as registries,
    ):
        source.add(Delay(1.0), method="GET", path=f"/manifests/{slow.manifest_digest}")
        source.add(Delay(0.3), method="GET", path=f"/blobs/{quick.layers[0].digest}")
        polyarch.copy(
            f"{source.host}/{repository}:v1",
            f"{target.host}/{repository}-copy:v1",
            registries=registries,
        )
        quick_put = _one(target, "PUT", f"/manifests/{quick.manifest_digest}")
        slow_fetched = _one(source, "GET", f"/manifests/{slow.manifest_digest}")
        # Phases would have waited for the slow child before any blob, let alone a put.
        assert _finished(quick_put) < _finished(slow_fetched)
        root = _one(target, "PUT", "/manifests/v1")
        assert root.started > max(
            _finished(s) for s in target.requests("PUT", "/manifests/sha256:")
        )


def test_create_fetches_each_config_as_its_manifest_arrives(
    registry: RegistryServer, proxy: FaultProxy
) -> None:
    slow, quick = _images(2, distinct=True)
    repository = unique("flight")
    registry.push_image(repository, slow, tag="slow")
    registry.push_image(repository, quick, tag="quick")
    proxy.add(Delay(0.6), method="GET", path=r"/manifests/slow$")
    proxy.add(Delay(0.6), method="GET", path=f"/blobs/{quick.config_digest}")
    with Registries() as registries:
        # A client's first request goes alone (it learns how the registry authenticates):
        # not one of those measured.
        registries.client(proxy.host).ping()
        pending = polyarch.build_list(
            f"{registry.host}/{repository}:list",
            [f"{proxy.host}/{repository}:slow", f"{proxy.host}/{repository}:quick"],
            registries=registries,
        )
    assert len(pending.entries) == 2
    quick_config = _one(proxy, "GET", f"/blobs/{quick.config_digest}")
    slow_manifest = _one(proxy, "GET", "/manifests/slow")
    assert quick_config.started < _finished(slow_manifest)


def test_create_fetches_the_children_of_an_index_member_at_once(
    registry: RegistryServer, proxy: FaultProxy
) -> None:
    images = _images(4, distinct=True)
    content = multi(images)
    repository = _pushed(registry, content)
    # Platform-less entries: each child's config is fetched after it, on its own.
    proxy.add(Delay(0.3), method="GET", path=r"/manifests/sha256:")
    with Registries() as registries:
        registries.client(proxy.host).ping()  # the first request goes alone
        pending = polyarch.build_list(
            f"{registry.host}/{repository}:list",
            [f"{proxy.host}/{repository}:v1"],
            registries=registries,
        )
    assert len(pending.entries) == 4
    children = proxy.requests("GET", r"/manifests/sha256:")
    assert len(children) == 4
    assert max(c.started for c in children) < min(_finished(c) for c in children)


def test_push_mounts_an_images_blobs_at_once(registry: RegistryServer) -> None:
    (image,) = _images(1, layers=3)
    repository = unique("flight")
    registry.push_image(repository, image, tag="v1")
    with FaultProxy(registry.url) as proxy, Registries() as registries:
        first = image.layers[0].digest.partition(":")[2]  # the query may quote the colon
        proxy.add(Delay(0.5), method="POST", path=f"mount=sha256(:|%3A){first}")
        pending = polyarch.build_list(
            f"{proxy.host}/{repository}-list:v1",
            [f"{proxy.host}/{repository}:v1"],
            registries=registries,
        )
        polyarch.push_list(pending, registries=registries)
        mounts = proxy.requests("POST", "mount=")
        assert len(mounts) == len(image.blobs)
        slow = next(m for m in mounts if first in m.target)
        assert all(m.started < _finished(slow) for m in mounts)
        child = _one(proxy, "PUT", f"/manifests/{image.manifest_digest}")
        assert child.started >= max(_finished(m) for m in mounts)


def test_an_upload_streamed_from_the_same_registry_never_waits_for_its_own_place(
    registry: RegistryServer,
) -> None:
    """A blob uploaded to one repository as it is read from another of the same registry
    (a mount declined): the upload's body opens the download while the upload is sent.
    With one place for the registry, the upload must not hold it while its body is read."""
    import threading

    from polyarch.digest import Digest
    from polyarch.models import Descriptor
    from polyarch.registry import RegistryStore

    data = bytes(range(256)) * 4096
    repository = unique("flight")
    digest = registry.push_blob(repository, data)
    descriptor = Descriptor("application/octet-stream", Digest.parse(digest), len(data))
    done = threading.Event()
    errors: list[BaseException] = []

    class FromSource:
        def __iter__(self) -> Iterator[bytes]:
            with source.open_blob(descriptor) as chunks:
                yield from chunks

    with Registries(RegistryOptions(max_in_flight=1, timeout=10)) as registries:
        client = registries.client(registry.host)
        source = RegistryStore(client, repository)
        target = RegistryStore(client, f"{repository}-copy")

        def upload() -> None:
            try:
                target.put_verified_blob(descriptor, FromSource())
            except BaseException as err:
                errors.append(err)
            finally:
                done.set()

        thread = threading.Thread(target=upload, daemon=True)
        thread.start()
        assert done.wait(20), "the upload waited for the place it held"
        thread.join()
    assert errors == []
    assert target.has_blob(descriptor)
