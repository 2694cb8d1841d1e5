"""The test harness itself: synthetic images and a real distribution registry.

skopeo is the independent peer: if it reads what the harness pushed, the harness speaks
the distribution API the way real clients do.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import socket
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import registry_server
from tests.imagegen import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    make_image,
    make_index,
    sha256_digest,
)
from tests.registry_server import (
    CLIENT_USER_AGENT,
    HARNESS_USER_AGENT,
    RegistryFactory,
    RegistryServer,
    RegistryStartError,
    parse_access_log,
)
from tests.token_server import TokenRegistry

ARM64 = {"architecture": "arm64", "os": "linux", "variant": "v8"}
AMD64 = {"architecture": "amd64", "os": "linux"}
WINDOWS = {
    "architecture": "amd64",
    "os": "windows",
    "os.version": "10.0.17763.5458",
    "os.features": ["win32k"],
}
ACCEPT_ALL = ", ".join([DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX])


def unique_repo(prefix: str = "harness") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


def skopeo_inspect_raw(server: RegistryServer, ref: str, *, creds: bool = True) -> bytes:
    auth = (
        [f"--creds={server.username}:{server.password}"]
        if creds and server.username
        else ["--no-creds"]
    )
    proc = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", *auth, "--raw", f"docker://{ref}"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


# -- imagegen: pure ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oci", "manifest_type", "config_type", "layer_type"),
    [
        (False, DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER),
        (True, OCI_MANIFEST, OCI_CONFIG, OCI_LAYER),
    ],
)
def test_image_manifest_describes_its_blobs_exactly(
    oci: bool, manifest_type: str, config_type: str, layer_type: str
) -> None:
    image = make_image(WINDOWS, layers=3, layer_size=3000, seed=7, oci=oci)
    manifest = json.loads(image.manifest)

    assert image.media_type == manifest["mediaType"] == manifest_type
    assert image.manifest_digest == sha256_digest(image.manifest)
    assert manifest["config"] == {
        "mediaType": config_type,
        "size": len(image.config),
        "digest": sha256_digest(image.config),
    }
    assert list(image.blobs) == [image.config_digest] + [d["digest"] for d in manifest["layers"]]
    diff_ids = []
    for desc in manifest["layers"]:
        blob = image.blobs[desc["digest"]]
        assert desc["mediaType"] == layer_type
        assert (desc["size"], desc["digest"]) == (len(blob), sha256_digest(blob))
        tar_bytes = gzip.decompress(blob)
        diff_ids.append(sha256_digest(tar_bytes))
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
            [member] = tar.getmembers()
            assert member.isfile()
            assert member.size == 3000

    config = json.loads(image.config)
    assert config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
    assert [layer.diff_id for layer in image.layers] == diff_ids
    assert {k: config[k] for k in WINDOWS} == WINDOWS
    assert image.platform_string == "windows/amd64"


def test_images_are_deterministic_and_distinct_per_seed_and_platform() -> None:
    assert make_image(ARM64, seed=1) == make_image(ARM64, seed=1)
    assert make_image(ARM64, seed=1).blobs == make_image(ARM64, seed=1).blobs
    assert make_image(ARM64, seed=1).manifest_digest != make_image(ARM64, seed=2).manifest_digest
    arm, amd = make_image(ARM64), make_image(AMD64)
    assert not set(arm.blobs) & set(amd.blobs)
    assert make_image(ARM64, layers=0).layers == ()
    assert len({make_image(ARM64, oci=True), make_image(ARM64, oci=False)}) == 2


@pytest.mark.parametrize(("oci", "media_type"), [(False, DOCKER_MANIFEST_LIST), (True, OCI_INDEX)])
def test_index_lists_each_child_with_its_platform(oci: bool, media_type: str) -> None:
    images = [make_image(p, oci=oci) for p in (AMD64, ARM64, WINDOWS)]
    index = json.loads(make_index(images, oci=oci))

    assert index["schemaVersion"] == 2
    assert index["mediaType"] == media_type
    assert index["manifests"] == [
        {
            "mediaType": image.media_type,
            "size": len(image.manifest),
            "digest": image.manifest_digest,
            "platform": platform,
        }
        for image, platform in zip(images, (AMD64, ARM64, WINDOWS), strict=True)
    ]


def test_index_annotations_only_for_oci() -> None:
    image = make_image(AMD64, oci=True)
    index = json.loads(make_index([image], oci=True, annotations={"a": "b"}))
    assert index["annotations"] == {"a": "b"}
    with pytest.raises(ValueError, match="oci=True"):
        make_index([image], oci=False, annotations={"a": "b"})


@pytest.mark.parametrize(
    ("platform", "match"),
    [
        ({"architecture": "amd64"}, "lacks 'os'"),
        ({"architecture": "amd64", "os": "linux", "cpu": "x"}, "unknown platform keys"),
        ({"architecture": "amd64", "os": "windows", "os.features": "win32k"}, "os.features"),
        ({"architecture": "", "os": "linux"}, "non-empty"),
    ],
)
def test_make_image_rejects_bad_platforms(platform: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_image(platform)


# -- access log parsing: pure ------------------------------------------------------------


def test_parse_access_log_reads_combined_lines_only() -> None:
    log = (
        b'time="2026-01-01T00:00:00Z" level=info msg="listening on 127.0.0.1:5000"\n'
        b'127.0.0.1 - - [26/Nov/2026:17:49:36 +0000] "GET /v2/foo/manifests/latest HTTP/1.1"'
        b' 404 96 "" "curl/7.88.1"\n'
        b'127.0.0.1 - - [26/Nov/2026:17:49:37 +0000] "HEAD /v2/foo/blobs/sha256:ab?x=1 HTTP/1.1"'
        b' 200 - "http://r/" "odd \\"agent\\""\n'
    )
    first, second = parse_access_log(log, base=100)

    assert (first.method, first.path, first.status, first.size) == (
        "GET",
        "/v2/foo/manifests/latest",
        404,
        96,
    )
    assert first.user_agent == "curl/7.88.1"
    assert first.offset == 100 + log.index(b"127.0.0.1 - -")
    assert (second.method, second.path, second.query, second.size) == (
        "HEAD",
        "/v2/foo/blobs/sha256:ab",
        {"x": ["1"]},
        None,
    )
    assert (second.referer, second.user_agent) == ("http://r/", 'odd "agent"')


# -- the registry ------------------------------------------------------------------------


def test_registry_answers_v2_on_loopback_with_the_written_config(
    registry: RegistryServer,
) -> None:
    resp = registry.request("GET", "/v2/")
    assert resp.status == 200
    assert resp.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert registry.host == f"127.0.0.1:{registry.port}"
    assert registry.url == f"http://{registry.host}"
    assert registry.username is None
    assert registry.password is None

    config = yaml.safe_load(registry.config_path.read_text())
    assert config["http"]["addr"] == registry.host
    assert "debug" not in config["http"]
    assert "notifications" not in config
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["storage"]["filesystem"]["rootdirectory"] == str(registry.data_dir)
    assert config["log"]["accesslog"] == {"disabled": False}
    assert registry.log_path.parent == registry.directory


@pytest.mark.parametrize("oci", [False, True])
def test_push_then_get_by_tag_and_by_digest(registry: RegistryServer, oci: bool) -> None:
    repo = unique_repo()
    image = make_image(ARM64, seed=3, oci=oci)
    start = registry.mark()

    for data in image.blobs.values():
        registry.push_blob(repo, data)
    digest = registry.push_manifest(repo, "v1", image.manifest, image.media_type)
    assert digest == image.manifest_digest

    for reference in ("v1", image.manifest_digest):
        resp = registry.request(
            "GET", f"/v2/{repo}/manifests/{reference}", headers={"Accept": image.media_type}
        )
        assert resp.status == 200
        assert resp.body == image.manifest
        assert resp.headers["Docker-Content-Digest"] == image.manifest_digest
        assert resp.headers["Content-Type"] == image.media_type

    for blob_digest, data in image.blobs.items():
        head = registry.request("HEAD", f"/v2/{repo}/blobs/{blob_digest}")
        assert head.status == 200
        assert head.headers["Docker-Content-Digest"] == blob_digest
        assert int(head.headers["Content-Length"]) == len(data)
        assert registry.request("GET", f"/v2/{repo}/blobs/{blob_digest}").body == data

    # Monolithic upload: one POST and one PUT per blob, then the manifest PUT.
    pushes = [
        (e.method, e.path.rsplit("/", 1)[0] if e.method == "PUT" else e.path, e.status)
        for e in registry.requests(start)
        if e.method in ("POST", "PUT")
    ]
    upload = (f"/v2/{repo}/blobs/uploads", 201)
    assert pushes == [
        *[("POST", f"/v2/{repo}/blobs/uploads/", 202), ("PUT", *upload)] * len(image.blobs),
        ("PUT", f"/v2/{repo}/manifests", 201),
    ]


@pytest.mark.parametrize("oci", [False, True])
def test_push_index_keeps_its_bytes(registry: RegistryServer, oci: bool) -> None:
    repo = unique_repo()
    images = [make_image(p, oci=oci) for p in (AMD64, ARM64)]
    index = make_index(images, oci=oci)
    media_type = OCI_INDEX if oci else DOCKER_MANIFEST_LIST

    digest = registry.push_index(repo, images, index, media_type, tag="multi")

    resp = registry.request("GET", f"/v2/{repo}/manifests/multi", headers={"Accept": ACCEPT_ALL})
    assert resp.body == index
    assert resp.headers["Docker-Content-Digest"] == digest == sha256_digest(index)
    assert resp.headers["Content-Type"] == media_type
    assert skopeo_inspect_raw(registry, f"{registry.host}/{repo}:multi") == index


def test_skopeo_reads_what_the_harness_pushed(registry: RegistryServer) -> None:
    repo = unique_repo()
    image = make_image(AMD64, seed=11)
    registry.push_image(repo, image, tag="latest")
    start = registry.mark()

    raw = skopeo_inspect_raw(registry, f"{registry.host}/{repo}:latest")

    assert raw == image.manifest
    served = registry.requests(start)
    assert served, "skopeo's requests should be in the access log"
    assert all(e.user_agent.startswith("skopeo/") for e in served)
    assert ("GET", f"/v2/{repo}/manifests/latest", 200) in [
        (e.method, e.path, e.status) for e in served
    ]


def test_htpasswd_registry_wants_basic_auth(auth_registry: RegistryServer) -> None:
    assert auth_registry.username == "polyarch"
    assert auth_registry.password
    hashed = (auth_registry.directory / "htpasswd").read_text()
    assert hashed.startswith("polyarch:$2b$04$")

    anonymous = auth_registry.request("GET", "/v2/", auth=False)
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="polyarch-tests"'

    assert auth_registry.request("GET", "/v2/").status == 200

    wrong = base64.b64encode(b"polyarch:not-the-password").decode()
    denied = auth_registry.request(
        "GET", "/v2/", auth=False, headers={"Authorization": f"Basic {wrong}"}
    )
    assert denied.status == 401


def test_skopeo_authenticates_against_htpasswd(auth_registry: RegistryServer) -> None:
    repo = unique_repo()
    image = make_image(ARM64, oci=True)
    auth_registry.push_image(repo, image, tag="v1")
    ref = f"{auth_registry.host}/{repo}:v1"

    assert skopeo_inspect_raw(auth_registry, ref) == image.manifest
    with pytest.raises(AssertionError, match=r"(?i)unauthorized|authentication required"):
        skopeo_inspect_raw(auth_registry, ref, creds=False)


def test_token_auth_registry_checks_tokens_as_distribution_2_8_does(
    token_registry: TokenRegistry,
) -> None:
    registry, tokens = token_registry.registry, token_registry.tokens
    config = yaml.safe_load(registry.config_path.read_text())
    assert config["auth"] == {
        "token": {
            "realm": tokens.realm,
            "service": tokens.service,
            "issuer": tokens.issuer,
            "rootcertbundle": str(tokens.root_certificate_path),
        }
    }
    assert (registry.username, registry.auth_header) == (None, None)
    anonymous = registry.request("GET", "/v2/")
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"] == (
        f'Bearer realm="{tokens.realm}",service="{tokens.service}"'
    )

    repo = unique_repo("alice")
    pull = [{"type": "repository", "name": repo, "actions": ["pull"]}]

    def answer(token: str) -> tuple[int, str | None]:
        resp = registry.request(
            "GET", f"/v2/{repo}/tags/list", headers={"Authorization": f"Bearer {token}"}
        )
        challenge = resp.headers["WWW-Authenticate"] or ""
        match = re.search(r'error="([^"]+)"', challenge)
        return resp.status, match.group(1) if match else None

    # 404 NAME_UNKNOWN: authorized, the repository just does not exist.
    authorized = (404, None)
    assert answer(tokens.mint("alice", pull)) == authorized
    assert answer(tokens.mint("alice", pull, key_header="x5c")) == authorized
    assert answer(tokens.token_for("bob", f"repository:{repo}:pull")) == authorized
    assert answer(tokens.mint("alice", [])) == (401, "insufficient_scope")
    assert answer(tokens.token_for("nobody", f"repository:{repo}:pull")) == (
        401,
        "insufficient_scope",
    )
    assert answer(tokens.mint("alice", pull, audience="elsewhere")) == (401, "invalid_token")
    assert answer(tokens.mint("alice", pull, issuer="someone-else")) == (401, "invalid_token")
    # 2.8 reads "aud" into a Go string: the RFC 7519 list form is a malformed token.
    assert answer(tokens.mint("alice", pull, audience=[tokens.service])) == (
        401,
        "invalid_token",
    )
    # exp is checked with 60 s of leeway.
    assert answer(tokens.mint("alice", pull, lifetime=-30)) == authorized
    assert answer(tokens.mint("alice", pull, lifetime=-90)) == (401, "invalid_token")


def test_token_auth_and_htpasswd_exclude_each_other(
    tmp_path: Path, token_registry: TokenRegistry
) -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        RegistryServer(tmp_path, htpasswd=True, token_auth=token_registry.tokens.registry_auth)


def test_request_log_counts_exactly_the_requests_between_marks(registry: RegistryServer) -> None:
    repo = unique_repo()
    start = registry.mark()
    agent = "counting-test/1.0"

    registry.request("GET", "/v2/", user_agent=agent)
    registry.request("HEAD", f"/v2/{repo}/manifests/missing", user_agent=agent)
    registry.request("GET", f"/v2/{repo}/tags/list?n=5", user_agent=agent)
    middle = registry.mark()

    served = registry.requests(start)
    assert [(e.method, e.uri, e.status, e.user_agent) for e in served] == [
        ("GET", "/v2/", 200, agent),
        ("HEAD", f"/v2/{repo}/manifests/missing", 404, agent),
        ("GET", f"/v2/{repo}/tags/list?n=5", 404, agent),
    ]
    assert all(e.remote == "127.0.0.1" for e in served)
    assert registry.requests(middle) == []
    # The harness's own sentinels and probes are not counted.
    everything = registry.requests()
    assert everything
    assert HARNESS_USER_AGENT not in {e.user_agent for e in everything}
    assert not [e for e in everything if e.path.startswith("/_polyarch/")]
    assert CLIENT_USER_AGENT in {e.user_agent for e in everything}


def test_stop_kills_the_registry_process(registry_factory: RegistryFactory) -> None:
    server = registry_factory()
    pid, port = server.pid, server.port
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [
        str(server.binary).encode(),
        b"serve",
    ]
    server.request("GET", "/v2/", user_agent="before-stop")

    server.stop()

    assert not server.running
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    server.stop()  # idempotent
    # The log of a stopped registry is complete and still readable.
    assert [e.user_agent for e in server.requests()] == ["before-stop"]


def test_context_manager_starts_and_stops(tmp_path: Path) -> None:
    with RegistryServer(tmp_path / "reg") as server:
        running_inside = server.running
        assert server.request("GET", "/v2/").status == 200
        pid = server.pid
    assert (running_inside, server.running) == (True, False)
    assert not Path(f"/proc/{pid}").exists()


def test_factory_registries_are_fresh_and_separate(registry_factory: RegistryFactory) -> None:
    plain = registry_factory()
    locked = registry_factory(htpasswd=True, password="s3cret")

    assert plain.port != locked.port
    assert plain.directory != locked.directory
    assert plain.request("GET", "/v2/_catalog").json() == {"repositories": []}
    assert (locked.username, locked.password) == ("polyarch", "s3cret")
    assert locked.request("GET", "/v2/_catalog").json() == {"repositories": []}


def test_start_retries_when_the_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        real_pick = registry_server._pick_port

        def ports() -> Iterator[int]:
            yield taken
            while True:
                yield real_pick()

        picks = ports()
        monkeypatch.setattr(registry_server, "_pick_port", lambda: next(picks))

        with RegistryServer(tmp_path / "reg") as server:
            assert server.port != taken
            assert server.request("GET", "/v2/").status == 200
        assert "address already in use" in server.log_text()


def test_registry_environment_cannot_move_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # REGISTRY_* variables override config.yml in distribution; the harness drops them.
    monkeypatch.setenv("REGISTRY_HTTP_ADDR", "0.0.0.0:1")
    monkeypatch.setenv("REGISTRY_STORAGE_DELETE_ENABLED", "false")
    with RegistryServer(tmp_path / "reg") as server:
        assert f"listening on {server.host}" in server.log_text()
        repo = unique_repo()
        image = make_image(AMD64, layers=0)
        server.push_image(repo, image, tag="t")
        deleted = server.request("DELETE", f"/v2/{repo}/manifests/{image.manifest_digest}")
        assert deleted.status == 202


def test_failed_start_raises_with_the_log_tail(tmp_path: Path) -> None:
    server = RegistryServer(
        tmp_path / "reg",
        tls_certificate=tmp_path / "missing-cert.pem",
        tls_key=tmp_path / "missing-key.pem",
    )
    with pytest.raises(RegistryStartError, match=r"missing-cert\.pem") as caught:
        server.start()
    assert "exited with status" in str(caught.value)
    assert not server.running


def test_options_are_checked_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="go together"):
        RegistryServer(tmp_path, tls_certificate=tmp_path / "cert.pem")
    with pytest.raises(ValueError, match="htpasswd"):
        RegistryServer(tmp_path, password="x")
    with pytest.raises(FileNotFoundError, match="scripts/test"):
        RegistryServer(tmp_path, binary=tmp_path / "no-registry").start()
