"""No silent substitutions: what polyarch says it pushed is what the registry holds.

When a registry refuses what polyarch pushes (an OCI index, annotations, a media type),
polyarch says so and exits non-zero; it never pushes another format in its place, which
would be other bytes under another digest (skopeo does, under concurrent pushes to
distribution 2.8). A loopback proxy in front of the real registry plays the registry
that refuses: it answers chosen manifest PUTs itself (400 ``MANIFEST_INVALID``, 415
``UNSUPPORTED``, or a 201 claiming another digest) and passes everything else on, and
records every manifest PUT it saw.

Concurrent pushes of lists that share children, by several ``polyarch push`` processes
at once and by threads calling :func:`polyarch.ops.lists.push_list`: every push succeeds,
every tag resolves to exactly the digest polyarch printed, and every child is there with
its own bytes (read back with ``skopeo inspect --raw`` too). Distribution 2.8 rewrites
link files in place, so a manifest naming a blob or child that another push is linking at
that moment is refused (400 ``MANIFEST_BLOB_UNKNOWN``) for an instant: polyarch sends the
same bytes again, a bounded number of times (``LINK_RACE_WAITS``); skopeo, in that case,
converts the manifest and pushes another digest.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from polyarch.auth import Credentials
from polyarch.digest import Digest
from polyarch.errors import DigestMismatchError, RegistryError
from polyarch.index import ListFormat
from polyarch.models import Descriptor, parse_manifest
from polyarch.ops.lists import create_list, push_list
from polyarch.ops.pending import PendingListStore
from polyarch.reference import Reference
from polyarch.registry import Registries, RegistryOptions, RegistryStore
from polyarch.registry.store import LINK_RACE_WAITS
from tests.clirun import POLYARCH, polyarch
from tests.content import push_buildx_image
from tests.imagegen import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    SyntheticImage,
    make_image,
    make_index,
    sha256_digest,
)
from tests.loopback_server import LoopbackServer
from tests.registry_server import LOOPBACK, RegistryServer
from tests.token_server import TokenRegistry

SKOPEO = shutil.which("skopeo") or "skopeo"

PLATFORMS: tuple[dict[str, str], ...] = (
    {"os": "linux", "architecture": "amd64"},
    {"os": "linux", "architecture": "arm64", "variant": "v8"},
    {"os": "linux", "architecture": "arm", "variant": "v7"},
    {"os": "linux", "architecture": "s390x"},
    {"os": "linux", "architecture": "ppc64le"},
    {"os": "windows", "architecture": "amd64", "os.version": "10.0.20348.2322"},
)


# -- a registry that refuses: a proxy in front of the real one -------------------------------


@dataclass(frozen=True)
class ManifestPut:
    """A manifest PUT the proxy saw, and what was answered."""

    path: str
    media_type: str
    digest: str
    annotated: bool
    status: int


#: (method, path, headers, body) -> (status, headers, body) to answer instead of the
#: registry, or None to pass the request on.
Rule = Callable[[str, str, Mapping[str, str], bytes], tuple[int, dict[str, str], bytes] | None]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te"}


class RefusingProxy:
    """An HTTP proxy on 127.0.0.1 in front of ``upstream``, answering what ``rule`` picks."""

    def __init__(self, upstream: RegistryServer, rule: Rule) -> None:
        self.upstream = upstream
        self.rule = rule
        self.puts: list[ManifestPut] = []
        self._lock = threading.Lock()
        self._server = LoopbackServer(_ProxyHandler, self, name="refusing-proxy")

    @property
    def host(self) -> str:
        return self._server.host

    def __enter__(self) -> RefusingProxy:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def record(self, put: ManifestPut) -> None:
        with self._lock:
            self.puts.append(put)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:  # bounded by the client's body
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        proxy: RefusingProxy = self.server.owner  # type: ignore[attr-defined]
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        answer = proxy.rule(self.command, self.path, headers, body)
        if answer is None:
            status, out_headers, out_body = self._forward(proxy.upstream, body, headers)
        else:
            status, out_headers, out_body = answer
        if self.command == "PUT" and "/manifests/" in self.path:
            media_type = self.headers.get("Content-Type", "")
            put = ManifestPut(
                self.path, media_type, sha256_digest(body), b'"annotations"' in body, status
            )
            proxy.record(put)
        self.send_response(status)
        for name, value in out_headers.items():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        length = out_headers.get("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(out_body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out_body)

    def _forward(
        self, upstream: RegistryServer, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        # The Host header stays ours, so the registry's Location headers lead back here.
        connection = http.client.HTTPConnection(LOOPBACK, upstream.port, timeout=30)
        try:
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), data
        finally:
            connection.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


def refuse(status: int, code: str, when: Callable[[Mapping[str, str], bytes], bool]) -> Rule:
    """A rule answering manifest PUTs for which ``when(headers, body)`` holds."""
    message = {400: "manifest invalid", 415: "manifest type unsupported"}.get(status, "refused")

    def rule(
        method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        if method == "PUT" and "/manifests/" in path and when(headers, body):
            doc = {"errors": [{"code": code, "message": message, "detail": {}}]}
            return status, {"Content-Type": "application/json"}, json.dumps(doc).encode()
        return None

    return rule


def content_type(*media_types: str) -> Callable[[Mapping[str, str], bytes], bool]:
    def when(headers: Mapping[str, str], body: bytes) -> bool:
        given = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        return given.split(";")[0].strip() in media_types

    return when


def has_annotations(headers: Mapping[str, str], body: bytes) -> bool:
    return b'"annotations"' in body


# -- harness ------------------------------------------------------------------------------


@dataclass
class Bench:
    registry: RegistryServer
    tmp: Path
    prefix: str

    def repo(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "POLYARCH_"))}
        env["POLYARCH_HOME"] = str(self.tmp / "home")
        env["DOCKER_CONFIG"] = str(self.tmp / "docker")
        return env

    def polyarch(self, *args: str) -> subprocess.CompletedProcess[str]:
        home = {"POLYARCH_HOME": str(self.tmp / "home"), "DOCKER_CONFIG": str(self.tmp / "docker")}
        return polyarch(*args, env=home, text=True, isolated=True)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [POLYARCH, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )

    def seed(self, name: str, images: Mapping[str, SyntheticImage]) -> list[str]:
        for tag, image in images.items():
            self.registry.push_image(self.repo(name), image, tag=tag)
        return [f"{self.registry.host}/{self.repo(name)}:{tag}" for tag in images]

    def manifest(self, repository: str, reference: str) -> tuple[int, bytes]:
        accept = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST))
        answer = self.registry.request(
            "GET", f"/v2/{repository}/manifests/{reference}", headers={"Accept": accept}
        )
        return answer.status, answer.body


@pytest.fixture
def bench(registry: RegistryServer, tmp_path: Path) -> Bench:
    return Bench(registry, tmp_path, f"ns{uuid.uuid4().hex[:10]}")


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}"
    return result.stdout


def skopeo_raw(reference: str) -> bytes:
    return subprocess.run(
        [SKOPEO, "inspect", "--raw", "--tls-verify=false", f"docker://{reference}"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


def images(seed: int, *, oci: bool | Callable[[int], bool] = False) -> dict[str, SyntheticImage]:
    return {
        f"p{i}": make_image(platform, seed=seed, oci=oci(i) if callable(oci) else oci)
        for i, platform in enumerate(PLATFORMS)
    }


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """A push that failed as it should: exit 5, a clear error, no digest on stdout."""
    assert result.returncode == 5, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("polyarch: error: ")]
    assert len(errors) == 1, result.stderr
    return result.stderr


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(415, "UNSUPPORTED"), (400, "MANIFEST_INVALID")])
def test_a_refused_oci_index_is_reported_never_replaced(
    bench: Bench, status: int, code: str
) -> None:
    members = bench.seed("src", dict(list(images(60, oci=True).items())[:3]))
    with RefusingProxy(bench.registry, refuse(status, code, content_type(OCI_INDEX))) as proxy:
        target = f"{proxy.host}/{bench.repo('dst')}:list"
        via_proxy = [m.replace(bench.registry.host, proxy.host) for m in members]
        ok(bench.polyarch("create", target, *via_proxy))

        stderr = refused(bench.polyarch("push", target))
        assert f"HTTP {status}" in stderr
        assert code in stderr
        assert OCI_INDEX in stderr
        assert "pushed nothing in its place" in stderr
        assert "--format docker" in stderr

        # One try, of the OCI index; no Docker list in its place.
        lists = [p for p in proxy.puts if p.path.endswith("/manifests/list")]
        assert [(p.media_type, p.status) for p in lists] == [(OCI_INDEX, status)]
        assert all(p.media_type != DOCKER_MANIFEST_LIST for p in proxy.puts)
        assert bench.manifest(bench.repo("dst"), "list")[0] == 404

        # Choosing another format is the user's decision, and then its digest is printed.
        digest = ok(bench.polyarch("push", "--format", "docker", target)).strip()
    status_code, raw = bench.manifest(bench.repo("dst"), "list")
    assert status_code == 200
    assert sha256_digest(raw) == digest
    assert json.loads(raw)["mediaType"] == DOCKER_MANIFEST_LIST


def test_a_refused_docker_list_is_not_replaced_by_an_oci_index(bench: Bench) -> None:
    members = bench.seed("src", dict(list(images(61).items())[:2]))
    rule = refuse(415, "UNSUPPORTED", content_type(DOCKER_MANIFEST_LIST))
    with RefusingProxy(bench.registry, rule) as proxy:
        target = f"{proxy.host}/{bench.repo('src')}:list"
        ok(
            bench.polyarch(
                "create", target, *[m.replace(bench.registry.host, proxy.host) for m in members]
            )
        )
        stderr = refused(bench.polyarch("push", target))
    assert DOCKER_MANIFEST_LIST in stderr
    assert [p.media_type for p in proxy.puts] == [DOCKER_MANIFEST_LIST]
    assert bench.manifest(bench.repo("src"), "list")[0] == 404


def test_refused_annotations_are_reported_never_dropped(bench: Bench) -> None:
    built = [make_image(p, seed=62, oci=True) for p in PLATFORMS[:2]]
    index, _ = push_buildx_image(bench.registry, bench.repo("buildx"), built, "1.0")
    rule = refuse(400, "MANIFEST_INVALID", has_annotations)
    with RefusingProxy(bench.registry, rule) as proxy:
        member = f"{proxy.host}/{bench.repo('buildx')}:1.0"
        target = f"{proxy.host}/{bench.repo('dst')}:list"
        ok(bench.polyarch("create", target, member))
        stderr = refused(bench.polyarch("push", target))
    assert "MANIFEST_INVALID" in stderr
    # The attestation manifests have annotations on their layers, the list on its
    # entries: a refusal stops the push before the list; nothing was tried again without
    # its annotations (one digest per path).
    assert any(p.annotated for p in proxy.puts)
    assert all(p.status == 400 for p in proxy.puts if p.annotated)
    digests_by_path: dict[str, set[str]] = {}
    for put in proxy.puts:
        digests_by_path.setdefault(put.path, set()).add(put.digest)
    assert all(len(digests) == 1 for digests in digests_by_path.values()), digests_by_path
    assert not any(p.path.endswith("/manifests/list") for p in proxy.puts)
    assert bench.manifest(bench.repo("dst"), "list")[0] == 404
    assert json.loads(index)["manifests"]  # the source is untouched


def test_a_refused_image_media_type_stops_a_copy(bench: Bench) -> None:
    (source,) = bench.seed("src", {"oci": make_image(PLATFORMS[0], seed=63, oci=True)})
    with RefusingProxy(
        bench.registry, refuse(415, "UNSUPPORTED", content_type(OCI_MANIFEST))
    ) as proxy:
        target = f"{proxy.host}/{bench.repo('dst')}:copied"
        result = bench.polyarch("copy", source, target)
    stderr = refused(result)
    assert OCI_MANIFEST in stderr
    assert [p.media_type for p in proxy.puts] == [OCI_MANIFEST]
    assert bench.manifest(bench.repo("dst"), "copied")[0] == 404


def test_a_registry_that_stores_other_bytes_is_caught(bench: Bench) -> None:
    """A 201 naming another digest than the bytes sent: the registry changed them."""
    members = bench.seed("src", dict(list(images(64).items())[:2]))
    other = "sha256:" + "0" * 64

    def rule(
        method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        if method == "PUT" and path.endswith("/manifests/list"):
            return 201, {"Docker-Content-Digest": other}, b""
        return None

    with RefusingProxy(bench.registry, rule) as proxy:
        target = f"{proxy.host}/{bench.repo('src')}:list"
        ok(
            bench.polyarch(
                "create", target, *[m.replace(bench.registry.host, proxy.host) for m in members]
            )
        )
        result = bench.polyarch("push", target)
    assert result.returncode == 6, result.stderr
    assert result.stdout == ""
    assert other in result.stderr


def blob_unknown(times: int | None) -> Rule:
    """Refuse manifest PUTs with 400 MANIFEST_BLOB_UNKNOWN, the first ``times`` (None:
    all), as distribution 2.8 does while another push rewrites a link file."""
    count = [0]
    lock = threading.Lock()
    refusal = refuse(400, "MANIFEST_BLOB_UNKNOWN", lambda headers, body: True)

    def rule(
        method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        answer = refusal(method, path, headers, body)
        if answer is None:
            return None
        with lock:
            count[0] += 1
            return answer if times is None or count[0] <= times else None

    return rule


def test_a_manifest_refused_for_a_blob_being_linked_is_sent_again_unchanged(bench: Bench) -> None:
    image = make_image(PLATFORMS[3], seed=67, oci=True)
    for data in image.blobs.values():
        bench.registry.push_blob(bench.repo("race"), data)
    with RefusingProxy(bench.registry, blob_unknown(2)) as proxy, Registries() as registries:
        store = registries.store(Reference.parse(f"{proxy.host}/{bench.repo('race')}:v1"))
        descriptor = store.put_manifest(parse_manifest(image.manifest), tag="v1")
    assert str(descriptor.digest) == image.manifest_digest
    assert [(p.digest, p.status) for p in proxy.puts] == [
        (image.manifest_digest, 400),
        (image.manifest_digest, 400),
        (image.manifest_digest, 201),
    ]
    assert bench.manifest(bench.repo("race"), "v1") == (200, image.manifest)


def test_a_blob_that_stays_unknown_is_reported_after_a_bounded_number_of_tries(
    bench: Bench,
) -> None:
    image = make_image(PLATFORMS[4], seed=68)
    with RefusingProxy(bench.registry, blob_unknown(None)) as proxy, Registries() as registries:
        store = registries.store(Reference.parse(f"{proxy.host}/{bench.repo('race')}:v1"))
        with pytest.raises(RegistryError) as info:
            store.put_manifest(parse_manifest(image.manifest), tag="v1")
    assert info.value.codes == ("MANIFEST_BLOB_UNKNOWN",)
    assert "pushed nothing in its place" in (info.value.hint or "")
    assert len(proxy.puts) == len(LINK_RACE_WAITS) + 1
    assert {(p.media_type, p.digest) for p in proxy.puts} == {
        (DOCKER_MANIFEST, image.manifest_digest)
    }


def test_the_library_raises_and_tries_nothing_else(bench: Bench) -> None:
    image = make_image(PLATFORMS[1], seed=65, oci=True)
    bench.registry.push_image(bench.repo("lib"), image)
    index = parse_manifest(make_index([image], oci=True, annotations={"org.example": "x"}))
    with (
        RefusingProxy(bench.registry, refuse(400, "MANIFEST_INVALID", has_annotations)) as proxy,
        Registries() as registries,
    ):
        store = registries.store(Reference.parse(f"{proxy.host}/{bench.repo('lib')}:v1"))
        with pytest.raises(RegistryError) as info:
            store.put_manifest(index, tag="v1")
    assert info.value.status == 400
    assert info.value.codes == ("MANIFEST_INVALID",)
    assert info.value.exit_code == 5
    assert index.digest in str(info.value)
    assert [(p.media_type, p.digest) for p in proxy.puts] == [(OCI_INDEX, str(index.digest))]


def test_the_registry_changed_digest_is_a_content_error_in_the_library(bench: Bench) -> None:
    image = make_image(PLATFORMS[2], seed=66)
    other = "sha256:" + "1" * 64

    def rule(
        method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        if method == "PUT" and "/manifests/" in path:
            return 201, {"Docker-Content-Digest": other}, b""
        return None

    with RefusingProxy(bench.registry, rule) as proxy, Registries() as registries:
        store = registries.store(Reference.parse(f"{proxy.host}/{bench.repo('lib')}:v1"))
        with pytest.raises(DigestMismatchError) as info:
            store.put_manifest(parse_manifest(image.manifest), tag="v1")
    assert info.value.actual == other
    assert info.value.expected == image.manifest_digest
    assert info.value.exit_code == 6


# -- concurrent pushes of lists that share children --------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One list to push: its tag, its members (tags in the source repo), its format."""

    tag: str
    members: tuple[str, ...]
    format: ListFormat | None = None


#: Lists over the same six children: subsets, orders and formats differ; two are the
#: same list pushed twice at once.
PLANS = (
    Plan("all", ("p0", "p1", "p2", "p3", "p4", "p5")),
    Plan("reversed", ("p5", "p4", "p3", "p2", "p1", "p0")),
    Plan("linux", ("p0", "p1", "p2", "p3", "p4")),
    Plan("arm", ("p1", "p2")),
    Plan("oci", ("p0", "p1", "p2", "p3"), "oci"),
    Plan("docker", ("p2", "p3", "p4", "p5"), "docker"),
    Plan("twice", ("p0", "p3", "p5")),
    Plan("twice", ("p0", "p3", "p5")),
)


def check_pushed(
    bench: Bench,
    repository: str,
    printed: Mapping[str, set[str]],
    children: Mapping[str, SyntheticImage],
) -> None:
    """Every tag holds exactly the digest printed for it; its children, their bytes."""
    host = bench.registry.host
    for tag, digests in printed.items():
        assert len(digests) == 1, f"{tag}: pushes of one list printed {digests}"
        (digest,) = digests
        raw = skopeo_raw(f"{host}/{repository}:{tag}")
        assert sha256_digest(raw) == digest, tag
        status, served = bench.manifest(repository, digest)
        assert (status, served) == (200, raw)
        by_digest = {image.manifest_digest: image for image in children.values()}
        for entry in json.loads(raw)["manifests"]:
            child = by_digest[entry["digest"]]
            assert skopeo_raw(f"{host}/{repository}@{entry['digest']}") == child.manifest
            assert entry["mediaType"] == child.media_type
            assert entry["size"] == len(child.manifest)
            for blob_digest in child.blobs:
                head = bench.registry.request("HEAD", f"/v2/{repository}/blobs/{blob_digest}")
                assert head.status == 200


def test_concurrent_push_processes_of_lists_sharing_children(bench: Bench) -> None:
    children = images(70, oci=lambda i: i % 2 == 1)
    bench.seed("src", children)
    host = bench.registry.host
    dst = bench.repo("dst")
    for plan in dict.fromkeys(PLANS):  # each list once
        members = [f"{host}/{bench.repo('src')}:{m}" for m in plan.members]
        ok(bench.polyarch("create", f"{host}/{dst}:{plan.tag}", *members))

    # All at once: the children are mounted and put by digest by every process together.
    processes = [
        bench.start("push", *(("--format", p.format) if p.format else ()), f"{host}/{dst}:{p.tag}")
        for p in PLANS
    ]
    printed: dict[str, set[str]] = {}
    for plan, process in zip(PLANS, processes, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"{plan.tag}: exit {process.returncode}\n{stderr}"
        digest = stdout.strip()
        assert stdout == digest + "\n"
        assert digest.startswith("sha256:")
        printed.setdefault(plan.tag, set()).add(digest)

    check_pushed(bench, dst, printed, children)
    raws = {tag: json.loads(skopeo_raw(f"{host}/{dst}:{tag}")) for tag in printed}
    assert raws["oci"]["mediaType"] == OCI_INDEX
    assert raws["docker"]["mediaType"] == DOCKER_MANIFEST_LIST
    assert raws["all"]["mediaType"] == DOCKER_MANIFEST_LIST  # p0, the first, is Docker
    assert [e["digest"] for e in raws["arm"]["manifests"]] == [
        children["p1"].manifest_digest,
        children["p2"].manifest_digest,
    ]


@pytest.mark.parametrize("shared_client", [True, False], ids=["one-client", "client-each"])
def test_concurrent_push_list_threads_of_lists_sharing_children(
    bench: Bench, shared_client: bool
) -> None:
    children = images(71, oci=lambda i: i in (0, 3))
    bench.seed("src", children)
    host = bench.registry.host
    dst = bench.repo("dst")
    store = PendingListStore(bench.tmp / "home")
    with Registries() as registries:
        for plan in dict.fromkeys(PLANS):
            create_list(
                Reference.parse(f"{host}/{dst}:{plan.tag}"),
                [Reference.parse(f"{host}/{bench.repo('src')}:{m}") for m in plan.members],
                open_store=registries.store,
                store=store,
            )

    with Registries() as shared:

        def push(plan: Plan) -> tuple[str, str]:
            target = Reference.parse(f"{host}/{dst}:{plan.tag}")
            with Registries() as own:
                result = push_list(
                    target,
                    open_store=(shared if shared_client else own).store,
                    store=store,
                    format=plan.format,
                )
            return plan.tag, str(result.digest)

        with ThreadPoolExecutor(len(PLANS)) as pool:
            results = list(pool.map(push, PLANS))
    printed: dict[str, set[str]] = {}
    for tag, digest in results:
        printed.setdefault(tag, set()).add(digest)
    check_pushed(bench, dst, printed, children)


def test_concurrent_pushes_with_bearer_tokens(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    """Threads sharing one client, so one token session, push lists sharing children
    mounted from another repository: one token per scope set, every tag exact."""
    tr = token_registry
    src, dst = f"alice/{uuid.uuid4().hex[:10]}", f"alice/{uuid.uuid4().hex[:10]}"
    children = images(72)
    admin = Credentials(username="admin", password=tr.password("admin"), source="test admin")
    alice = Credentials(username="alice", password=tr.password("alice"), source="test alice")
    with Registries(RegistryOptions(credentials=admin)) as registries:
        source = registries.store(Reference.parse(f"{tr.host}/{src}"))
        for tag, image in children.items():
            for data in image.blobs.values():
                source.put_blob(blob(data), [data])
            source.put_manifest(parse_manifest(image.manifest), tag=tag)

    store = PendingListStore(tmp_path / "home")
    plans = list(dict.fromkeys(PLANS))
    with Registries(RegistryOptions(credentials=alice)) as registries:
        for plan in plans:
            create_list(
                Reference.parse(f"{tr.host}/{dst}:{plan.tag}"),
                [Reference.parse(f"{tr.host}/{src}:{m}") for m in plan.members],
                open_store=registries.store,
                store=store,
            )
        mark = tr.tokens.mark()

        def push(plan: Plan) -> str:
            target = Reference.parse(f"{tr.host}/{dst}:{plan.tag}")
            return str(
                push_list(
                    target, open_store=registries.store, store=store, format=plan.format
                ).digest
            )

        with ThreadPoolExecutor(len(plans)) as pool:
            printed = list(pool.map(push, plans))
        asked = sorted(tuple(sorted(r.scopes)) for r in tr.tokens.requests(mark))
        assert asked == sorted(
            [
                (f"repository:{dst}:pull",),
                tuple(sorted((f"repository:{dst}:pull,push", f"repository:{src}:pull"))),
            ]
        )
        target = RegistryStore(registries.client(tr.host), dst)
        by_digest = {image.manifest_digest: image for image in children.values()}
        for plan, digest in zip(plans, printed, strict=True):
            manifest = target.get_manifest(plan.tag)
            assert str(manifest.digest) == digest
            for entry in json.loads(manifest.raw)["manifests"]:
                assert (
                    target.get_manifest(entry["digest"]).raw == by_digest[entry["digest"]].manifest
                )


def blob(data: bytes) -> Descriptor:
    return Descriptor("application/octet-stream", Digest.parse(sha256_digest(data)), len(data))
