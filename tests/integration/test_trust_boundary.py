"""The trust boundary against registries that mean harm: stand-in registries on loopback
(:class:`~tests.loopback_server.ScriptedServer`, each on its own port and so its own
origin) answer what a hostile or broken registry would, and polyarch must

* send credentials only to the origin that challenged for them (never to a tag page, an
  upload location or a token realm elsewhere, never where urllib3 would really connect
  although another parser reads another host);
* keep ``--debug`` free of the query strings of signed URLs;
* answer every malformed header, body and page with a documented error, never exit 70;
* stay bounded: tag pages that loop or never end, a response head that drips.

Every test here failed before the fix it holds to (issue 9).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from polyarch.auth import Credentials
from polyarch.digest import Digest
from polyarch.errors import (
    AuthenticationError,
    ContentError,
    NetworkError,
    SizeMismatchError,
)
from polyarch.models import Descriptor
from polyarch.registry import RegistryClient, RegistryOptions, RegistryStore
from polyarch.registry import store as registry_store
from tests.clirun import POLYARCH, polyarch
from tests.loopback_server import Asked, RawServer, Reply, ScriptedServer, names_on_loopback
from tests.registry_server import RegistryServer

USER = "someone"


@pytest.fixture
def password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def basic_auth(password: str) -> str:
    return "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()


def challenged(asked: Asked, password: str) -> Reply | None:
    """The 401 a basic-auth registry sends when ``asked`` lacks the right header."""
    if asked.headers.get("Authorization") == basic_auth(password):
        return None
    return Reply(401, {"WWW-Authenticate": 'Basic realm="stand-in"'})


def client_for(server: ScriptedServer, password: str, **options: object) -> RegistryClient:
    return RegistryClient(
        server.host,
        options=RegistryOptions(
            credentials=Credentials(USER, password, source="the test"),
            retries=0,
            **options,  # type: ignore[arg-type]
        ),
    )


def no_credentials_in(asked: list[Asked], password: str) -> None:
    assert asked, "the other origin was never asked"
    for request in asked:
        assert "Authorization" not in request.headers, request
        assert password.encode() not in request.body


# -- credentials go only to the origin that challenged -----------------------------------


def test_a_tag_page_on_another_origin_gets_no_credentials(password: str) -> None:
    with ScriptedServer(lambda asked: Reply.json({"name": "r", "tags": ["b"]})) as elsewhere:

        def registry(asked: Asked) -> Reply:
            refusal = challenged(asked, password)
            if refusal is not None:
                return refusal
            link = f'<{elsewhere.url}/v2/r/tags/list?last=a>; rel="next"'
            return Reply.json({"name": "r", "tags": ["a"]}, Link=link)

        with ScriptedServer(registry) as server, client_for(server, password) as client:
            assert RegistryStore(client, "r").list_tags() == ["a", "b"]
    no_credentials_in(elsewhere.asked, password)


@pytest.mark.parametrize("chunk_size", [None, 4], ids=["monolithic", "chunked"])
def test_an_upload_location_on_another_origin_gets_no_credentials(
    password: str, chunk_size: int | None
) -> None:
    data = b"0123456789"
    descriptor = Descriptor("application/octet-stream", Digest.of(data), len(data))

    def uploads(asked: Asked) -> Reply:
        if asked.method == "PATCH":
            return Reply(202, {"Range": "0-0"})
        return Reply(201)

    with ScriptedServer(uploads) as elsewhere:

        def registry(asked: Asked) -> Reply:
            refusal = challenged(asked, password)
            if refusal is not None:
                return refusal
            return Reply(202, {"Location": f"{elsewhere.url}/upload/1?_state=opaque"})

        with ScriptedServer(registry) as server, client_for(server, password) as client:
            store = RegistryStore(client, "r", upload_chunk_size=chunk_size)
            store.put_blob(descriptor, [data])
    assert [asked.method for asked in elsewhere.asked] == (
        ["PUT"] if chunk_size is None else ["PATCH", "PATCH", "PATCH", "PUT"]
    )
    no_credentials_in(elsewhere.asked, password)


@pytest.mark.parametrize(
    "realm",
    [
        # The standard library's parser sees 127.0.0.1 (this machine, plain HTTP allowed);
        # urllib3 connects to other.test. The decision is taken on urllib3's reading.
        "http://other.test:{port}\\@127.0.0.1:5999/token",
        # Loopback is decided on the name as written, never on what it resolves to.
        "http://other.test:{port}/token",
    ],
    ids=["backslash", "a-name-that-resolves-to-loopback"],
)
def test_a_plain_http_realm_elsewhere_gets_no_password(password: str, realm: str) -> None:
    """other.test is mapped to loopback here, where the token service listens: before
    issue 9 it received the password of the backslash realm in the clear."""
    with ScriptedServer(lambda asked: Reply.json({"token": "t"})) as token_service:
        challenge = f'Bearer realm="{realm.format(port=token_service.port)}",service="s"'

        def registry(asked: Asked) -> Reply:
            return Reply(401, {"WWW-Authenticate": challenge})

        with (
            names_on_loopback("other.test"),
            ScriptedServer(registry) as server,
            client_for(server, password) as client,
            pytest.raises(AuthenticationError, match="over plain HTTP") as info,
        ):
            RegistryStore(client, "r").list_tags()
    assert "other.test" in str(info.value)
    assert password not in f"{info.value} {info.value.hint}"
    assert token_service.asked == []


# -- urllib3's debug log -------------------------------------------------------------------


def test_urllib3_logs_no_query_strings(caplog: pytest.LogCaptureFixture) -> None:
    """A signed blob URL's signature is a secret of its own (S3, GCS, Azure)."""
    signature = "sig-" + secrets.token_hex(8)

    def registry(asked: Asked) -> Reply:
        if asked.path.startswith("/v2/r/blobs/"):
            return Reply(307, {"Location": f"/storage/blob?X-Amz-Signature={signature}"})
        return Reply(200, body=b"blob")

    descriptor = Descriptor("application/octet-stream", Digest.of(b"blob"), 4)
    caplog.set_level(logging.DEBUG)
    with ScriptedServer(registry) as server, RegistryClient(server.host) as client:
        assert RegistryStore(client, "r").get_blob(descriptor) == b"blob"
    urllib3_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/storage/blob" in line for line in urllib3_lines), urllib3_lines
    assert not any(signature in r.getMessage() for r in caplog.records)


# -- hostile answers get a documented error, never exit 70 ---------------------------------

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": str(Digest.of(b"{}")),
            "size": 2,
        },
        "layers": [],
    }
).encode()
NESTED = b"[" * 50_000 + b"]" * 50_000


def _manifest_answer(**headers: str) -> Callable[[Asked], Reply]:
    def answer(asked: Asked) -> Reply:
        if asked.path.startswith("/v2/r/manifests/"):
            merged = {
                "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                "Connection": "close",
                **headers,
            }
            return Reply(200, merged, MANIFEST)
        return Reply(404)

    return answer


def _tags_answer(body: bytes) -> Callable[[Asked], Reply]:
    return lambda asked: Reply(200, {"Content-Type": "application/json"}, body)


def _token_answer(body: bytes) -> Callable[[Asked], Reply]:
    """A registry whose token service (itself) answers ``body``; a token it accepts."""

    def answer(asked: Asked) -> Reply:
        if asked.path.startswith("/token"):
            return Reply(200, {"Content-Type": "application/json"}, body)
        if asked.headers.get("Authorization", "").startswith("Bearer "):
            return Reply.json({"name": "r", "tags": ["ok"]})
        realm = f"http://{asked.headers['Host']}/token"
        return Reply(401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})

    return answer


def _jwt(payload: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return f"{part(b'{}')}.{part(payload)}.{part(b'signature')}"


HOSTILE = {
    "content-length-superscript-two": (("digest",), _manifest_answer(**{"Content-Length": "²"})),
    "content-length-arabic-digit": (("inspect",), _manifest_answer(**{"Content-Length": "٣"})),
    "content-length-underscore": (("inspect",), _manifest_answer(**{"Content-Length": "1_0"})),
    "retry-after-superscript-two": (
        ("inspect",),
        lambda asked: Reply(503, {"Retry-After": "²", "Connection": "close"}),
    ),
    "retry-after-huge-date": (
        ("inspect",),
        lambda asked: Reply(503, {"Retry-After": "Mon, 01 Jan 99999 00:00:00 GMT"}),
    ),
    "docker-content-digest-malformed": (
        ("inspect",),
        _manifest_answer(**{"Docker-Content-Digest": "sha256:zz"}),
    ),
    "docker-content-digest-malformed-head": (
        ("digest",),
        _manifest_answer(**{"Docker-Content-Digest": "sha256:" + "A" * 64}),
    ),
    "tags-not-a-list": (("tags",), _tags_answer(b'{"name": "r", "tags": 5}')),
    "tags-not-strings": (("tags",), _tags_answer(b'{"name": "r", "tags": [1, [2]]}')),
    "tags-nested-deep": (("tags",), _tags_answer(NESTED)),
    "tags-not-json": (("tags",), _tags_answer(b"\xff\xfe{")),
    "token-nested-deep": (("tags",), _token_answer(NESTED)),
    "token-not-an-object": (("tags",), _token_answer(b'"just a string"')),
    # A line break would end the Authorization header and start one the service chose.
    "token-with-a-line-break": (("tags",), _token_answer(b'{"token": "SECRET\\r\\nX-Evil: 1"}')),
    "token-not-latin-1": (("tags",), _token_answer('{"token": "t\u20ack"}'.encode())),
    "token-not-latin-1-inspect": (("inspect",), _token_answer(b'{"token": "t\\u20ack"}')),
    "token-with-a-line-break-auth-explain": (
        ("auth explain",),
        _token_answer(b'{"token": "SECRET\\r\\nX-Evil: 1"}'),
    ),
    "token-with-a-line-break-probe": (
        ("probe",),
        _token_answer(b'{"token": "SECRET\\r\\nX-Evil: 1"}'),
    ),
    "jwt-actions-a-string": (
        ("auth explain",),
        _token_answer(
            json.dumps(
                {
                    "token": _jwt(
                        b'{"access":[{"type":"repository","name":"r","actions":"pull"}]}'
                    ),
                    "expires_in": 1e308,
                }
            ).encode()
        ),
    ),
    "jwt-payload-nested-deep": (
        ("tags",),
        _token_answer(json.dumps({"token": _jwt(b'{"access":' + NESTED + b"}")}).encode()),
    ),
    "error-body-nested-deep": (
        ("inspect",),
        lambda asked: Reply(400, {"Content-Type": "application/json"}, NESTED),
    ),
    "error-body-odd-fields": (
        ("inspect",),
        lambda asked: Reply.json(
            {"errors": [{"code": [[["x"]]], "message": {"a": 1}, "detail": [1, {"Name": 2}]}]},
            status=400,
        ),
    ),
    "error-message-a-terminal-command": (
        ("inspect",),
        lambda asked: Reply.json(
            {"errors": [{"code": "DENIED", "message": "\x1b]0;pwned\x07\x1b[2J\rfine"}]},
            status=400,
        ),
    ),
    "upload-location-malformed": (
        ("copy",),
        lambda asked: (
            Reply(202, {"Location": "http://[::1"}) if asked.method == "POST" else Reply(404)
        ),
    ),
}


@pytest.mark.parametrize(("argv", "respond"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_answer_is_a_documented_error(
    argv: tuple[str, ...], respond: Callable[[Asked], Reply], tmp_path: Path
) -> None:
    with ScriptedServer(respond) as server:
        reference = f"{server.host}/r"
        command = argv[0]
        if command == "tags":
            args = ["tags", reference]
        elif command in ("auth explain", "probe"):
            args = [*command.split(), "--repository", "r", server.host]
        elif command == "copy":
            source = tmp_path / "source"
            _one_blob_layout(source)
            args = ["copy", "--quiet", f"oci:{source}:1", f"{reference}:1"]
        else:
            args = [command, f"{reference}:1"]
        fast = {"POLYARCH_RETRY_BACKOFF": "0.01", "POLYARCH_HOME": str(tmp_path)}
        result = polyarch(*args, "--retries", "1", env=fast, text=True, timeout=60)
    assert result.returncode in (0, 3, 4, 5, 6), result.stderr
    assert "Traceback" not in result.stderr
    assert "SECRET" not in result.stdout + result.stderr
    assert "\x1b" not in result.stderr  # no terminal command
    assert "\x07" not in result.stderr
    assert "pull,l" not in result.stdout  # a string is no list of actions
    assert len(result.stdout) < 4000, result.stdout
    assert "internal error" not in result.stderr
    if result.returncode and command != "auth explain":  # it reports a refusal on stdout
        # After the warning of its one retry, if it made one.
        lines = result.stderr.splitlines()
        retried = [line for line in lines if line.startswith("polyarch: warning: ")]
        assert lines[: len(retried)] == retried, result.stderr
        assert len(retried) <= 1, result.stderr
        lines = lines[len(retried) :]
        assert lines[0].startswith("polyarch: error: "), result.stderr
        assert len(lines) <= 2, result.stderr
        assert len(result.stderr) < 2000, result.stderr


def _one_blob_layout(path: Path) -> None:
    from polyarch.layout import LayoutStore
    from polyarch.models import parse_manifest

    store = LayoutStore(path)
    store.put_blob(
        Descriptor("application/vnd.oci.image.config.v1+json", Digest.of(b"{}"), 2), [b"{}"]
    )
    store.put_manifest(parse_manifest(MANIFEST), tag="1")


# -- bounded, whatever the registry does -------------------------------------------------


def _pages(link_for: Callable[[int], str | None]) -> Callable[[Asked], Reply]:
    count = [0]

    def answer(asked: Asked) -> Reply:
        count[0] += 1
        page = count[0]
        headers = {}
        link = link_for(page)
        if link is not None:
            headers["Link"] = f'<{link}>; rel="next"'
        return Reply.json({"name": "r", "tags": [f"t{page:05}"]}, **headers)

    return answer


def test_a_tag_page_linking_back_is_refused(tmp_path: Path) -> None:
    respond = _pages(lambda page: "/v2/r/tags/list?n=1000" if page == 2 else f"/p{page}")
    with ScriptedServer(respond) as server:
        result = polyarch("tags", f"{server.host}/r", text=True, timeout=60)
    assert result.returncode == 6, result.stderr
    assert "back to a page already read" in result.stderr
    assert result.stdout.splitlines() == ["t00001", "t00002"]


@pytest.mark.parametrize(
    ("cap", "value", "pages", "said"),
    [("MAX_TAG_PAGES", 7, 7, "more than 7 pages"), ("MAX_TAGS", 5, 6, "more than 5 tags")],
)
def test_endless_tag_pages_stop_at_the_cap(
    monkeypatch: pytest.MonkeyPatch, cap: str, value: int, pages: int, said: str
) -> None:
    monkeypatch.setattr(registry_store, cap, value)
    with ScriptedServer(_pages(lambda page: f"/v2/r/tags/list?page={page}")) as server:
        with RegistryClient(server.host) as client, pytest.raises(ContentError) as info:
            list(RegistryStore(client, "r").iter_tags())
        assert len(server.asked) == pages
    assert said in str(info.value)
    assert info.value.exit_code == 6


def test_tags_are_printed_as_pages_arrive() -> None:
    """The first page is on stdout before the second is even asked for: memory holds one
    page, however many the registry makes up."""
    first_printed = threading.Event()

    def respond(asked: Asked) -> Reply:
        if "last=" not in asked.path:
            link = '</v2/r/tags/list?n=1000&last=a>; rel="next"'
            return Reply.json({"name": "r", "tags": ["b", "a"]}, Link=link)
        assert first_printed.wait(30), "the first page was not printed on its own"
        return Reply.json({"name": "r", "tags": ["c"]})

    with ScriptedServer(respond) as server:
        process = subprocess.Popen(
            [POLYARCH, "tags", f"{server.host}/r"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "a\n"
            assert process.stdout.readline() == "b\n"
            first_printed.set()
            rest, _ = process.communicate(timeout=30)
        finally:
            process.kill()
            process.wait()
    assert rest == "c\n"
    assert process.returncode == 0


def _drip_the_head(connection: socket.socket) -> None:
    """Status line and headers a few bytes at a time, each piece well within the read
    timeout, for 10 s or until the client hangs up: only a deadline for the whole head
    ends the wait."""
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(100):
        connection.sendall(b"X-Drip: a\r\n")
        time.sleep(0.1)


def test_a_response_head_that_drips_is_given_up_after_one_timeout() -> None:
    with RawServer(_drip_the_head) as server:
        options = RegistryOptions(timeout=1.0, retries=0)
        with RegistryClient(server.host, options=options) as client:
            began = time.monotonic()
            with pytest.raises(NetworkError, match="timed out"):
                RegistryStore(client, "r").get_manifest("1")
            elapsed = time.monotonic() - began
    assert elapsed < 3, elapsed


# -- sizes are checked against what names them ----------------------------------------------


def test_a_registry_that_has_a_blob_of_another_size_is_caught() -> None:
    data = b"blob bytes"
    descriptor = Descriptor("application/octet-stream", Digest.of(data), len(data))

    def respond(asked: Asked) -> Reply:
        return Reply(200, {"Content-Length": "999"})

    with (
        ScriptedServer(respond) as server,
        RegistryClient(server.host) as client,
        pytest.raises(SizeMismatchError) as info,
    ):
        RegistryStore(client, "r").has_blob(descriptor)
    assert info.value.exit_code == 6
    assert "999 bytes" in str(info.value)


# -- content two parsers would read differently, on the real registry ---------------------

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return polyarch(*args, env={"POLYARCH_HOME": str(home)}, text=True, timeout=60)


@pytest.fixture
def two_images(registry: RegistryServer) -> tuple[str, object, object]:
    from tests.imagegen import make_image

    repository = f"ambiguous/{secrets.token_hex(4)}"
    amd64, arm64 = make_image(AMD64, seed=901, oci=True), make_image(ARM64, seed=902, oci=True)
    for image in (amd64, arm64):
        registry.push_image(repository, image)
    return repository, amd64, arm64


def _push_index(registry: RegistryServer, repository: str, entries: str) -> str:
    index = (
        '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", '
        f'"manifests": [{entries}]}}'
    ).encode()
    registry.push_manifest(repository, "1", index, "application/vnd.oci.image.index.v1+json")
    return f"{registry.host}/{repository}:1"


def _entry(image: object, **fields: object) -> str:
    descriptor = dict(image.descriptor())  # type: ignore[attr-defined]
    descriptor.update(fields)
    return json.dumps(descriptor)[:-1]  # left open for a key added by hand


def _refused_everywhere(reference: str, tmp_path: Path, *said: str) -> None:
    """``inspect --verbose``, ``pull`` and ``copy`` of ``reference``: exit 6 saying
    ``said``, and nothing written."""
    for args in (
        ("inspect", "--verbose", reference),
        ("pull", "--platform", "linux/amd64", reference, f"oci:{tmp_path / 'pulled'}"),
        ("copy", "--quiet", reference, f"oci:{tmp_path / 'copied'}"),
    ):
        result = _cli(*args, home=tmp_path)
        assert result.returncode == 6, result.stderr
        assert all(text in result.stderr for text in said), result.stderr
    assert not (tmp_path / "pulled").exists()
    assert not (tmp_path / "copied").exists()


def test_an_index_entry_with_two_digests_is_refused(
    registry: RegistryServer, two_images: tuple[str, object, object], tmp_path: Path
) -> None:
    """polyarch would have pulled the amd64 image, skopeo, containerd and docker the
    arm64 one (Go matches "Digest" to the digest field and the last match wins)."""
    repository, amd64, arm64 = two_images
    other = arm64.manifest_digest  # type: ignore[attr-defined]
    reference = _push_index(registry, repository, f'{_entry(amd64)}, "Digest": "{other}"}}')
    _refused_everywhere(reference, tmp_path, "ambiguous document", "'Digest'")


def test_an_index_entry_whose_size_lies_is_refused(
    registry: RegistryServer, two_images: tuple[str, object, object], tmp_path: Path
) -> None:
    repository, amd64, _ = two_images
    size = len(amd64.manifest) + 1  # type: ignore[attr-defined]
    reference = _push_index(registry, repository, _entry(amd64, size=size) + "}")
    _refused_everywhere(reference, tmp_path, f"the entry that names it says {size}")


def test_a_layout_index_that_go_reads_otherwise_is_refused(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "hello-multiarch", layout)
    document = json.loads((layout / "index.json").read_text())
    text = json.dumps(document)
    (layout / "index.json").write_text(text[:-1] + ', "Manifests": []}')
    result = _cli("inspect", f"oci:{layout}:1.0", home=tmp_path)
    assert result.returncode == 6, result.stderr
    assert "'Manifests'" in result.stderr
