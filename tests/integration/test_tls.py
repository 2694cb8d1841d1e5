"""TLS against the real registry served over HTTPS on 127.0.0.1, with a CA made per run.

Trust comes from docker's certificate directory (``certs.d/HOST:PORT/ca.crt``), from
``--ca-file``, or is skipped with ``--insecure``; an untrusted certificate is a clean
NetworkError (exit 5) whose hint names all three ways out. A loopback registry is asked
over HTTPS first, unverified unless ``--ca-file`` is given, and spoken to in plain HTTP
when that is what answers (docker's rule; probed once per registry); tests that want a
loopback registry verified against no CA create an empty ``certs.d/HOST:PORT/``
directory, as a docker user would, which makes it HTTPS only.

Every test passes its own ``certs_dir``: the default, ``/etc/docker/certs.d``, is the
host's and must not leak in.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from polyarch.digest import Digest
from polyarch.errors import InvalidInputError, NetworkError, RegistryError
from polyarch.models import Descriptor, parse_manifest
from polyarch.registry import RegistryClient, RegistryOptions, RegistryStore
from tests.clirun import assert_clean_error
from tests.clirun import polyarch as run_polyarch
from tests.content import registry_manifest
from tests.imagegen import SyntheticImage, make_image
from tests.loopback_server import LOOPBACK, RawServer, names_on_loopback
from tests.registry_server import RegistryFactory, RegistryServer
from tests.tlsgen import PkiFiles, make_pki, make_self_signed, write_pki

AMD64 = {"os": "linux", "architecture": "amd64"}
_repo = itertools.count()


def repo() -> str:
    return f"tls/repo{next(_repo)}"


@dataclass(frozen=True, slots=True)
class Seeded:
    """An image the harness pushed to the TLS registry, to pull back."""

    repository: str
    tag: str
    image: SyntheticImage


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return write_pki(make_pki(client=True), tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_registry(
    tmp_path_factory: pytest.TempPathFactory, pki: PkiFiles
) -> Iterator[RegistryServer]:
    """One HTTPS registry for the module, its certificate signed by ``pki.ca_cert``."""
    server = RegistryServer(
        tmp_path_factory.mktemp("tls-registry"),
        tls_certificate=pki.server_cert,
        tls_key=pki.server_key,
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def seeded(tls_registry: RegistryServer) -> Seeded:
    image = make_image(AMD64, seed=71)
    tls_registry.push_image("tls/seeded", image, tag="v1")
    return Seeded("tls/seeded", "v1", image)


def certs_dir(tmp_path: Path, host: str, *files: Path) -> Path:
    """``tmp_path/certs.d`` with a ``host`` directory holding copies of *files*."""
    root = tmp_path / "certs.d"
    (root / host).mkdir(parents=True)
    for file in files:
        shutil.copy(file, root / host / file.name)
    return root


def push(store: RegistryStore, image: SyntheticImage, tag: str) -> None:
    for digest, data in image.blobs.items():
        store.put_blob(
            Descriptor("application/octet-stream", Digest.parse(digest), len(data)), [data]
        )
    store.put_manifest(parse_manifest(image.manifest), tag=tag)


def assert_pulls(store: RegistryStore, image: SyntheticImage, tag: str) -> None:
    manifest = store.get_manifest(tag)
    assert manifest.raw == image.manifest
    for layer in manifest.layers:  # type: ignore[union-attr]
        assert store.get_blob(layer) == image.blobs[str(layer.digest)]


# -- the library ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_certs_dir_trust_ping_push_pull(
    tls_registry: RegistryServer, pki: PkiFiles, tmp_path: Path, name: str
) -> None:
    # The server certificate names both: an IP SAN and a DNS SAN.
    host = f"{name}:{tls_registry.port}"
    options = RegistryOptions(certs_dir=certs_dir(tmp_path, host, pki.ca_cert))
    image = make_image(AMD64, seed=72)
    with RegistryClient(host, options=options) as client:
        client.ping()
        assert client.base_url == f"https://{host}"
        store = RegistryStore(client, repo())
        push(store, image, "v1")
        assert_pulls(store, image, "v1")
    # What we pushed is really there, as the registry itself serves it.
    assert tls_registry.request("GET", f"/v2/{store.repository}/manifests/v1").status == 200


def test_ca_file_trust(
    tls_registry: RegistryServer, seeded: Seeded, pki: PkiFiles, tmp_path: Path
) -> None:
    options = RegistryOptions(ca_file=pki.ca_cert, certs_dir=tmp_path / "empty")
    with RegistryClient(tls_registry.host, options=options) as client:
        assert client.base_url == f"https://{tls_registry.host}"
        assert_pulls(RegistryStore(client, seeded.repository), seeded.image, seeded.tag)


def test_client_certificate_pair_in_certs_dir_is_loaded(
    tls_registry: RegistryServer, seeded: Seeded, pki: PkiFiles, tmp_path: Path
) -> None:
    # docker's layout: ca.crt, client.cert, client.key. The registry does not ask for a
    # client certificate; this shows the pair is read and does not get in the way.
    assert pki.client_cert is not None
    assert pki.client_key is not None
    certs = certs_dir(tmp_path, tls_registry.host, pki.ca_cert, pki.client_cert, pki.client_key)
    with RegistryClient(tls_registry.host, options=RegistryOptions(certs_dir=certs)) as client:
        assert_pulls(RegistryStore(client, seeded.repository), seeded.image, seeded.tag)


def test_untrusted_certificate_is_a_network_error_with_hint(
    tls_registry: RegistryServer, seeded: Seeded, tmp_path: Path
) -> None:
    # An empty host directory: TLS configured for the loopback host, but no CA in it.
    certs = certs_dir(tmp_path, tls_registry.host)
    with RegistryClient(tls_registry.host, options=RegistryOptions(certs_dir=certs)) as client:
        assert client.scheme == "https"
        store = RegistryStore(client, seeded.repository)
        with pytest.raises(NetworkError) as caught:
            store.get_manifest(seeded.tag)
    err = caught.value
    assert isinstance(err, RegistryError)
    assert err.exit_code == 5
    assert f"the TLS certificate of {tls_registry.host} is not trusted" in err.message
    assert "\n" not in err.message
    assert err.hint is not None
    assert "--ca-file" in err.hint
    assert f"{certs}/{tls_registry.host}/ca.crt" in err.hint
    assert "--insecure" in err.hint


def test_certificate_for_another_name_is_not_trusted(
    registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    # A CA we trust, but a certificate that names only "localhost": 127.0.0.1 must fail.
    files = write_pki(make_pki(hosts=("localhost",)), tmp_path / "pki")
    server = registry_factory(tls_certificate=files.server_cert, tls_key=files.server_key)
    options = RegistryOptions(certs_dir=certs_dir(tmp_path, server.host, files.ca_cert))
    with RegistryClient(server.host, options=options) as client, pytest.raises(NetworkError) as e:
        client.ping()
    assert "is not trusted" in e.value.message
    # Whereas the name it does carry works.
    localhost = f"localhost:{server.port}"
    options = RegistryOptions(certs_dir=certs_dir(tmp_path / "b", localhost, files.ca_cert))
    with RegistryClient(localhost, options=options) as client:
        client.ping()


@pytest.mark.parametrize(
    "content",
    [b"", b"not a certificate\n", b"-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n"],
    ids=["empty", "text", "bad-pem"],
)
def test_unusable_ca_file_is_bad_input(
    tls_registry: RegistryServer, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.crt"
    bad.write_bytes(content)
    options = RegistryOptions(ca_file=bad, certs_dir=tmp_path / "empty")
    client = RegistryClient(tls_registry.host, options=options)
    with client, pytest.raises(InvalidInputError) as caught:
        client.ping()
    assert str(bad) in caught.value.message


def test_unusable_client_key_is_bad_input(
    tls_registry: RegistryServer, pki: PkiFiles, tmp_path: Path
) -> None:
    # A client certificate whose key is not its own.
    assert pki.client_cert is not None
    certs = certs_dir(tmp_path, tls_registry.host, pki.ca_cert, pki.client_cert)
    shutil.copy(pki.server_key, certs / tls_registry.host / "client.key")
    client = RegistryClient(tls_registry.host, options=RegistryOptions(certs_dir=certs))
    with client, pytest.raises(InvalidInputError) as caught:
        client.ping()
    assert "client.cert" in caught.value.message


def test_encrypted_client_key_is_refused_not_prompted_for(
    tls_registry: RegistryServer, tmp_path: Path
) -> None:
    # OpenSSL's default is to ask for the passphrase on the terminal: a hang, in a library.
    client_pair = make_pki(client=True).client
    assert client_pair is not None
    host_dir = certs_dir(tmp_path, tls_registry.host) / tls_registry.host
    (host_dir / "client.cert").write_bytes(client_pair.certificate_pem)
    (host_dir / "client.key").write_bytes(
        client_pair.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    client = RegistryClient(tls_registry.host, options=RegistryOptions(certs_dir=host_dir.parent))
    with client, pytest.raises(InvalidInputError) as caught:
        client.ping()
    assert f"{host_dir / 'client.key'} is encrypted" in caught.value.message


def test_insecure_https_without_ca(
    tls_registry: RegistryServer, seeded: Seeded, tmp_path: Path
) -> None:
    options = RegistryOptions(insecure=True, certs_dir=tmp_path / "empty")
    with RegistryClient(tls_registry.host, options=options) as client:
        mark = tls_registry.mark()
        client.ping()
        assert client.base_url == f"https://{tls_registry.host}"
        store = RegistryStore(client, seeded.repository)
        assert store.get_manifest(seeded.tag).raw == seeded.image.manifest
    # Probe once (https answered, unverified), then stick: no further probes.
    served = [(r.method, r.path) for r in tls_registry.requests(mark)]
    assert served == [
        ("GET", "/v2/"),
        ("GET", "/v2/"),
        ("GET", f"/v2/{seeded.repository}/manifests/{seeded.tag}"),
    ]


def test_insecure_falls_back_to_plain_http(registry: RegistryServer, tmp_path: Path) -> None:
    image = make_image(AMD64, seed=73)
    options = RegistryOptions(insecure=True, certs_dir=tmp_path / "empty")
    with RegistryClient(registry.host, options=options) as client:
        client.ping()
        assert client.base_url == f"http://{registry.host}"
        store = RegistryStore(client, repo())
        push(store, image, "v1")
        assert_pulls(store, image, "v1")


def test_loopback_plain_http_costs_no_request(registry: RegistryServer, tmp_path: Path) -> None:
    # The HTTPS probe ends in the TLS handshake, which the registry answers in plain
    # HTTP: it serves no request for it.
    image = make_image(AMD64, seed=74)
    repository = repo()
    registry.push_image(repository, image, tag="v1")
    options = RegistryOptions(certs_dir=tmp_path / "empty")
    with RegistryClient(registry.host, options=options) as client:
        assert client.base_url == f"http://{registry.host}"
        mark = registry.mark()
        assert RegistryStore(client, repository).get_manifest("v1").raw == image.manifest
    served = [(r.method, r.path) for r in registry.requests(mark)]
    assert served == [("GET", f"/v2/{repository}/manifests/v1")]


# -- the command ---------------------------------------------------------------------------


def polyarch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return run_polyarch(*args, env=env, drop=("POLYARCH_CERTS_DIR",))


def test_cli_inspect_with_ca_file(
    tls_registry: RegistryServer, seeded: Seeded, pki: PkiFiles, tmp_path: Path
) -> None:
    ref = f"{tls_registry.host}/{seeded.repository}:{seeded.tag}"
    result = polyarch(
        "inspect", "--ca-file", str(pki.ca_cert), "--certs-dir", str(tmp_path / "empty"), ref
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == seeded.image.manifest


def test_cli_inspect_with_certs_dir_option_and_env(
    tls_registry: RegistryServer, seeded: Seeded, pki: PkiFiles, tmp_path: Path
) -> None:
    ref = f"{tls_registry.host}/{seeded.repository}:{seeded.tag}"
    certs = certs_dir(tmp_path, tls_registry.host, pki.ca_cert)
    by_option = polyarch("inspect", "--certs-dir", str(certs), ref)
    assert by_option.returncode == 0, by_option.stderr
    assert by_option.stdout == seeded.image.manifest
    by_env = polyarch("inspect", ref, env={"POLYARCH_CERTS_DIR": str(certs)})
    assert by_env.returncode == 0, by_env.stderr
    assert by_env.stdout == seeded.image.manifest


def test_cli_inspect_insecure(tls_registry: RegistryServer, seeded: Seeded, tmp_path: Path) -> None:
    ref = f"{tls_registry.host}/{seeded.repository}:{seeded.tag}"
    result = polyarch("inspect", "--insecure", "--certs-dir", str(tmp_path / "empty"), ref)
    assert result.returncode == 0, result.stderr
    assert result.stdout == seeded.image.manifest


def test_cli_untrusted_certificate(
    tls_registry: RegistryServer, seeded: Seeded, tmp_path: Path
) -> None:
    ref = f"{tls_registry.host}/{seeded.repository}:{seeded.tag}"
    certs = certs_dir(tmp_path, tls_registry.host)
    result = polyarch("inspect", ref, env={"POLYARCH_CERTS_DIR": str(certs)})
    assert result.returncode == 5, result.stderr
    assert result.stdout == b""
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    error, hint = stderr.splitlines()
    assert error.startswith(f"polyarch: error: the TLS certificate of {tls_registry.host} is")
    assert "not trusted" in error
    assert hint.startswith("hint: ")
    for fragment in ("--ca-file", f"{certs}/{tls_registry.host}/ca.crt", "--insecure"):
        assert fragment in hint


def test_cli_unusable_ca_file(tls_registry: RegistryServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate\n")
    result = polyarch(
        "inspect",
        "--ca-file",
        str(bad),
        "--certs-dir",
        str(tmp_path / "empty"),
        f"{tls_registry.host}/tls/seeded:v1",
    )
    assert result.returncode == 2, result.stderr
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert stderr.startswith("polyarch: error: ")
    assert str(bad) in stderr


def test_plain_http_registry_client_still_verifies_https_hosts(
    registry: RegistryServer, tls_registry: RegistryServer
) -> None:
    """A plain-HTTP (loopback) registry can send the client to HTTPS hosts, its token
    service or a blob redirect: those are verified, never trusted blindly."""
    from polyarch.registry._http import Request, TransportError

    with RegistryClient(registry.host) as client:
        assert client.base_url.startswith("http://")
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED") as info:
            client.transport.send(Request("GET", f"https://{tls_registry.host}/v2/"))
        assert info.value.kind == "tls"


# -- a loopback registry, nothing configured: docker's rule ---------------------------------


@pytest.fixture(scope="module")
def self_signed_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An HTTPS registry whose certificate is signed by its own key: nothing verifies it."""
    directory = tmp_path_factory.mktemp("self-signed")
    certified = make_self_signed()
    (directory / "server.crt").write_bytes(certified.certificate_pem)
    (directory / "server.key").write_bytes(certified.key_pem)
    server = RegistryServer(
        directory / "registry",
        tls_certificate=directory / "server.crt",
        tls_key=directory / "server.key",
    )
    with server:
        yield server


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_self_signed_loopback_registry_is_spoken_to_over_https(
    self_signed_registry: RegistryServer, tmp_path: Path, name: str
) -> None:
    host = f"{name}:{self_signed_registry.port}"
    image = make_image(AMD64, seed=76)
    with RegistryClient(host, options=RegistryOptions(certs_dir=tmp_path / "empty")) as client:
        mark = self_signed_registry.mark()
        store = RegistryStore(client, repo())
        push(store, image, "v1")
        assert_pulls(store, image, "v1")
        assert client.base_url == f"https://{host}"
    assert registry_manifest(self_signed_registry, store.repository, "v1") == image.manifest
    served = self_signed_registry.requests(mark)
    # The probe, once, then the requests themselves.
    assert next((r.method, r.path) for r in served) == ("GET", "/v2/")
    assert [r.path for r in served].count("/v2/") == 1


def test_cli_inspect_and_copy_to_a_self_signed_loopback_registry(
    registry: RegistryServer, self_signed_registry: RegistryServer, tmp_path: Path
) -> None:
    image = make_image(AMD64, seed=77)
    source_repo, target_repo = repo(), repo()
    self_signed_registry.push_image(source_repo, image, tag="v1")
    empty = str(tmp_path / "empty")
    inspected = polyarch(
        "inspect", "--certs-dir", empty, f"{self_signed_registry.host}/{source_repo}:v1"
    )
    assert inspected.returncode == 0, inspected.stderr
    assert inspected.stdout == image.manifest
    assert inspected.stderr == b""  # no warning about the certificate
    # From a plain-HTTP loopback registry to the HTTPS one, in one command.
    registry.push_image(source_repo, image, tag="v1")
    copied = polyarch(
        "copy",
        "--certs-dir",
        empty,
        f"{registry.host}/{source_repo}:v1",
        f"{self_signed_registry.host}/{target_repo}:v1",
    )
    assert copied.returncode == 0, copied.stderr
    assert registry_manifest(self_signed_registry, target_repo, "v1") == image.manifest


@pytest.mark.parametrize("direction", ["plain to tls", "tls to plain"])
def test_cli_copy_between_plain_http_and_tls_with_ca_file(
    registry: RegistryServer,
    tls_registry: RegistryServer,
    pki: PkiFiles,
    tmp_path: Path,
    direction: str,
) -> None:
    """--ca-file adds trust for the TLS registry; the plain-HTTP one is still plain HTTP
    (it used to be spoken to in TLS and fail with WRONG_VERSION_NUMBER)."""
    image = make_image(AMD64, seed=78 if direction == "plain to tls" else 79)
    source, target = (
        (registry, tls_registry)
        if direction == "plain to tls"
        else (
            tls_registry,
            registry,
        )
    )
    source_repo, target_repo = repo(), repo()
    source.push_image(source_repo, image, tag="v1")
    result = polyarch(
        "copy",
        "--ca-file",
        str(pki.ca_cert),
        "--certs-dir",
        str(tmp_path / "empty"),
        f"{source.host}/{source_repo}:v1",
        f"{target.host}/{target_repo}:v1",
    )
    assert result.returncode == 0, result.stderr
    assert registry_manifest(target, target_repo, "v1") == image.manifest


def test_ca_file_still_verifies_a_loopback_registry(
    self_signed_registry: RegistryServer, pki: PkiFiles, tmp_path: Path
) -> None:
    # A CA given is a CA the user wants the registry checked against: one it does not
    # vouch for fails as untrusted, and is not spoken to unverified nor in plain HTTP.
    ref = f"{self_signed_registry.host}/tls/none:v1"
    mark = self_signed_registry.mark()
    result = polyarch(
        "inspect", "--ca-file", str(pki.ca_cert), "--certs-dir", str(tmp_path / "empty"), ref
    )
    stderr = assert_clean_error(result, 5)
    assert "is not trusted" in stderr
    assert self_signed_registry.requests(mark) == []


def test_a_loopback_registry_is_probed_once_by_many_threads(
    self_signed_registry: RegistryServer, tmp_path: Path
) -> None:
    image = make_image(AMD64, seed=80)
    repository = repo()
    self_signed_registry.push_image(repository, image, tag="v1")
    options = RegistryOptions(certs_dir=tmp_path / "empty")
    with RegistryClient(self_signed_registry.host, options=options) as client:
        mark = self_signed_registry.mark()
        all_at_once(8, lambda: RegistryStore(client, repository).get_manifest("v1"))
        all_at_once(8, lambda: client.base_url)  # decided: asked again, not probed
        all_at_once(4, lambda: RegistryStore(client, repository).get_manifest("v1"))
    served = [r.path for r in self_signed_registry.requests(mark)]
    assert served.count("/v2/") == 1
    assert served.count(f"/v2/{repository}/manifests/v1") == 12


class PlainHTTPFront:
    """Stands in front of a plain-HTTP registry: each connection that opens with a TLS
    hello is counted and answered as an HTTP server answers one (400, then close); every
    other one is relayed to the registry as it is."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.hellos = 0
        self.relayed = 0
        self._lock = threading.Lock()

    def __call__(self, connection: socket.socket) -> None:
        first = connection.recv(1, socket.MSG_PEEK)
        if first == b"\x16":  # a TLS handshake record
            with self._lock:
                self.hellos += 1
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            return
        with self._lock:
            self.relayed += 1
        with socket.create_connection((LOOPBACK, self.upstream_port), timeout=10) as upstream:
            pump = threading.Thread(target=_pipe, args=(upstream, connection), daemon=True)
            pump.start()
            _pipe(connection, upstream)
            pump.join(timeout=10)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def test_a_plain_http_loopback_registry_is_probed_once_by_many_threads(
    registry: RegistryServer, tmp_path: Path
) -> None:
    image = make_image(AMD64, seed=81)
    repository = repo()
    registry.push_image(repository, image, tag="v1")
    front = PlainHTTPFront(registry.port)
    options = RegistryOptions(certs_dir=tmp_path / "empty")
    with RawServer(front) as server, RegistryClient(server.host, options=options) as client:
        all_at_once(8, lambda: RegistryStore(client, repository).get_manifest("v1"))
        all_at_once(8, lambda: client.base_url)
        assert client.base_url == f"http://{server.host}"
        all_at_once(4, lambda: RegistryStore(client, repository).get_manifest("v1"))
    assert front.hellos == 1
    assert front.relayed >= 1


def test_a_name_that_is_not_loopback_is_never_downgraded(
    registry: RegistryServer, self_signed_registry: RegistryServer, tmp_path: Path
) -> None:
    """registry.test resolves to 127.0.0.1 here, but by its name it is another machine:
    HTTPS verified, whatever answers; never plain HTTP, never unverified."""
    options = RegistryOptions(certs_dir=tmp_path / "empty", retries=0)
    mark = registry.mark()
    with names_on_loopback("registry.test"):
        plain = RegistryClient(f"registry.test:{registry.port}", options=options)
        with plain, pytest.raises(NetworkError) as refused:
            RegistryStore(plain, "tls/none").get_manifest("v1")
        assert plain.base_url == f"https://registry.test:{registry.port}"
        untrusted = RegistryClient(f"registry.test:{self_signed_registry.port}", options=options)
        with untrusted, pytest.raises(NetworkError) as unchecked:
            RegistryStore(untrusted, "tls/none").get_manifest("v1")
    assert "WRONG_VERSION_NUMBER" in refused.value.message
    assert "is not trusted" in unchecked.value.message
    assert registry.requests(mark) == []


def all_at_once(threads: int, work: Callable[[], object]) -> None:
    """Run ``work`` on ``threads`` threads released together; raise what any raised."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            work()
        except BaseException as err:
            errors.append(err)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=60)
    if errors:
        raise errors[0]


# -- the scheme remembered ---------------------------------------------------------------


def _cache(tmp_path: Path) -> Path:
    return tmp_path / "home" / "cache"


def test_a_plain_http_registry_is_asked_over_http_first_the_next_run(
    registry: RegistryServer, tmp_path: Path
) -> None:
    """The HTTPS probe (a connection and a refused handshake: two round trips) once."""
    image = make_image(AMD64, seed=91)
    registry.push_image("tls/hinted", image, tag="v1")
    env = {"POLYARCH_HOME": str(tmp_path / "home")}
    ref = f"{registry.host}/tls/hinted:v1"
    first = run_polyarch("--debug", "inspect", "--no-cache", ref, env=env, text=True)
    assert first.returncode == 0, first.stderr
    assert "plain HTTP then" in first.stderr
    # --no-cache reads and writes no content, but the scheme is remembered with a cache
    # only: this run had none.
    second = run_polyarch("--debug", "inspect", ref, env=env, text=True)
    assert "plain HTTP then" in second.stderr
    third = run_polyarch("--debug", "inspect", ref, env=env, text=True)
    assert third.returncode == 0, third.stderr
    assert "plain HTTP then" not in third.stderr
    assert "Starting new HTTPS connection" not in third.stderr
    assert third.stdout == second.stdout


def test_a_remembered_plain_http_that_is_https_now_is_probed_again(
    tls_registry: RegistryServer, seeded: Seeded, pki: PkiFiles, tmp_path: Path
) -> None:
    from polyarch.cache import Cache

    cache = Cache(_cache(tmp_path))
    cache.hint_plain_http(tls_registry.host, plain=True)  # say the registry spoke plain HTTP
    result = run_polyarch(
        "--debug",
        "inspect",
        "--ca-file",
        str(pki.ca_cert),
        "--certs-dir",
        str(tmp_path / "no-certs.d"),
        f"{tls_registry.host}/{seeded.repository}:{seeded.tag}",
        env={"POLYARCH_HOME": str(tmp_path / "home")},
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == seeded.image.manifest
    assert "probing HTTPS again" in result.stderr
    assert not cache.speaks_plain_http(tls_registry.host)


def test_a_remembered_plain_http_is_never_used_where_plain_http_is_not_allowed(
    tmp_path: Path,
) -> None:
    from polyarch.cache import Cache

    cache = Cache(_cache(tmp_path))
    for host in ("registry.example:5000", "203.0.113.9:5000"):
        cache.hint_plain_http(host, plain=True)
        client = RegistryClient(
            host, options=RegistryOptions(certs_dir=tmp_path / "certs.d"), cache=cache
        )
        assert client.scheme == "https"  # decided without a request: HTTPS only
