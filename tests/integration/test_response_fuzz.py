"""Whatever a registry answers, polyarch raises only its documented errors.

Hypothesis writes whole answers byte by byte (status lines of every shape, headers with
non-ASCII digits and odd values, any body) and a raw loopback server sends them to the
registry store's operations, as a hostile registry could. Every operation must return, or
raise a :class:`~polyarch.errors.PolyarchError` that is not "bad input" (the user typed
nothing wrong): never another exception, which the CLI would report as exit 70.

Where an answer names a URL (``Location``, ``Link``, a token realm), the names are those
of this machine or garbage; the resolver refuses any other name
(``names_on_loopback(refuse_others=True)``), so no test ever reaches past loopback.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarch.auth import Credentials
from polyarch.digest import Digest
from polyarch.errors import InvalidInputError, PolyarchError
from polyarch.models import Descriptor, parse_manifest
from polyarch.registry import RegistryClient, RegistryOptions, RegistryStore
from tests.loopback_server import RawServer, names_on_loopback

BLOB = b"fuzz blob bytes"
BLOB_DESCRIPTOR = Descriptor("application/octet-stream", Digest.of(BLOB), len(BLOB))
MANIFEST = parse_manifest(
    b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"'
    + str(BLOB_DESCRIPTOR.digest).encode()
    + b'","size":15},"layers":[]}'
)


class Answering:
    """Answers every connection with ``reply`` (bytes, as they are), then closes it; a TLS
    hello (the client's probe of a loopback registry) as a plain HTTP server answers one,
    at once (it holds no end of a head to wait for)."""

    def __init__(self) -> None:
        self.reply = b""

    def __call__(self, connection: socket.socket) -> None:
        connection.settimeout(1)
        if connection.recv(1, socket.MSG_PEEK) == b"\x16":
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            return
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 65536:
            piece = connection.recv(65536)
            if not piece:
                break
            request += piece
        connection.sendall(self.reply)
        connection.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[RawServer, Answering]]:
    answering = Answering()
    with RawServer(answering) as running, names_on_loopback(refuse_others=True):
        yield running, answering


# -- answers ------------------------------------------------------------------------------

ODD_DIGITS = [
    "²",
    "³",
    "¹",
    "٣",
    "\uff11",
    "1_0",
    " 12",
    "12 ",
    "-1",
    "+5",
    "0x10",
    "1e3",
    "5, 5",
    "",
]


def _numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(min_value=0, max_value=2**70).map(str),
        st.sampled_from(ODD_DIGITS),
        st.text(max_size=8),
    )


def _urls(server_host: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "/v2/r/blobs/uploads/u?_state=x",
                f"http://{server_host}/v2/r/x",
                f"https://{server_host}/v2/r/x",
                "http://127.0.0.1:1/nothing",
                "http://[::1",
                "http://x\\@127.0.0.1/",
                "//127.0.0.1:1/x",
                "ftp://127.0.0.1/",
                "",
            ]
        ),
        st.text(alphabet=st.characters(codec="latin-1"), max_size=20).map(
            lambda text: "/" + text.replace("//", "/")
        ),
    )


def _headers(server_host: str) -> st.SearchStrategy[list[tuple[str, str]]]:
    digest = st.one_of(
        st.just(str(BLOB_DESCRIPTOR.digest)),
        st.just(str(MANIFEST.digest)),
        st.sampled_from(["sha256:zz", "sha256:" + "A" * 64, "md5:abc", "blake3:" + "0" * 64]),
        st.text(max_size=20),
    )
    media = st.sampled_from(
        [
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            "application/json; charset=utf-8",
            "text/plain",
            "",
        ]
    )
    challenge = st.one_of(
        st.sampled_from(['Basic realm="r"', "Bearer", 'Bearer realm=""', "Negotiate"]),
        _urls(server_host).map(lambda url: f'Bearer realm="{url}",service="s",scope="x"'),
    )
    pairs = st.one_of(
        st.tuples(st.just("Content-Length"), _numbers()),
        st.tuples(
            st.just("Retry-After"), _numbers() | st.sampled_from(["Mon, 01 Jan 99999 00:00:00 GMT"])
        ),
        st.tuples(st.just("Docker-Content-Digest"), digest),
        st.tuples(st.just("Content-Type"), media),
        st.tuples(st.just("Location"), _urls(server_host)),
        st.tuples(st.just("Link"), _urls(server_host).map(lambda url: f'<{url}>; rel="next"')),
        st.tuples(st.just("WWW-Authenticate"), challenge),
        st.tuples(st.just("Content-Range"), st.text(max_size=20) | st.just("bytes 0-14/15")),
        st.tuples(st.just("Content-Encoding"), st.sampled_from(["gzip", "identity", "br", "x"])),
        st.tuples(st.just("Transfer-Encoding"), st.sampled_from(["chunked", "gzip", "x"])),
        st.tuples(st.text(min_size=1, max_size=10), st.text(max_size=20)),
    )
    return st.lists(pairs, max_size=8)


def _bodies() -> st.SearchStrategy[bytes]:
    documents = st.sampled_from(
        [
            BLOB,
            MANIFEST.raw,
            b'{"name":"r","tags":["a","b"]}',
            b'{"tags":5}',
            b'{"tags":null}',
            b'{"token":"t","expires_in":"x"}',
            b'{"errors":[{"code":"DENIED","message":{"x":1},"detail":[{"Name":[1]}]}]}',
            b"[" * 5000 + b"]" * 5000,
            b"0\r\n\r\n",
            b"zz\r\nabc\r\n",
        ]
    )
    return st.one_of(documents, st.binary(max_size=300))


@st.composite
def answers(draw: st.DrawFn, server_host: str) -> bytes:
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1.1x", "", "ICY"]))
    status = draw(
        st.one_of(
            st.sampled_from([200, 201, 202, 204, 206, 301, 302, 303, 307, 308, 400, 401, 403]),
            st.sampled_from([404, 405, 416, 429, 500, 503]),
            st.integers(min_value=0, max_value=1200),
        )
    )
    reason = draw(st.text(alphabet=st.characters(codec="latin-1"), max_size=10))
    lines = [f"{version} {status} {reason}".encode("latin-1", "replace")]
    for name, value in draw(_headers(server_host)):
        line = f"{name}: {value}".replace("\r", " ").replace("\n", " ")
        lines.append(line.encode("latin-1", "replace"))
    body = draw(_bodies())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


Operation = Callable[[RegistryStore], object]

OPERATIONS: dict[str, Operation] = {
    "resolve a tag": lambda store: store.resolve("t"),
    "get a manifest by tag": lambda store: store.get_manifest("t"),
    "get a manifest by digest": lambda store: store.get_manifest(MANIFEST.digest),
    "get a blob": lambda store: store.get_blob(BLOB_DESCRIPTOR),
    "check a blob": lambda store: store.has_blob(BLOB_DESCRIPTOR),
    "list tags": lambda store: store.list_tags(),
    "put a manifest": lambda store: store.put_manifest(MANIFEST, tag="t"),
    "put a blob": lambda store: store.put_blob(BLOB_DESCRIPTOR, [BLOB]),
    "put a blob in chunks": lambda store: RegistryStore(
        store.client, "r", upload_chunk_size=4
    ).put_blob(BLOB_DESCRIPTOR, [BLOB]),
    "delete": lambda store: store.delete(MANIFEST.digest),
    "ping": lambda store: store.client.ping(),
}


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_answer_gives_a_documented_error(
    server: tuple[RawServer, Answering], data: st.DataObject
) -> None:
    raw, answering = server
    answering.reply = data.draw(answers(raw.host), label="answer")
    operation = data.draw(st.sampled_from(sorted(OPERATIONS)), label="operation")
    credentials = data.draw(
        st.sampled_from([None, Credentials("user", "pw", source="the test")]), label="who"
    )
    options = RegistryOptions(timeout=2, retries=0, credentials=credentials)
    message = None
    with RegistryClient(raw.host, options=options) as client:
        try:
            OPERATIONS[operation](RegistryStore(client, "r"))
        except InvalidInputError as err:  # the user typed nothing: never their fault
            raise AssertionError(f"{operation}: bad input from an answer: {err!r}") from err
        except PolyarchError as err:
            message = str(err)
    if message is not None:
        assert message, operation
        assert "\n" not in message, message
