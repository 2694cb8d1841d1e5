"""Where credentials may travel, and how long a token lives: the pure decisions of
``polyarch.registry`` (``is_loopback``, the scheme choice, ``may_send_credentials``, the
token realm check, ``token_lifetime``).

Tests may only reach loopback addresses, so the non-loopback cases are decided here
without a network: the last tests drive a whole :class:`RegistryClient` whose connection
pools are replaced by one that stands for ``registry.example`` and friends (nothing is
resolved or connected; urllib3 still parses every answer) and check every request it was
handed.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import urllib3
from hypothesis import given
from hypothesis import strategies as st

from polyarch.auth import Credentials
from polyarch.digest import Digest
from polyarch.errors import AuthenticationError, NetworkError, RegistryError
from polyarch.models import Descriptor
from polyarch.registry import RegistryClient, RegistryOptions, RegistryStore, is_loopback
from polyarch.registry._auth import AuthSession, may_send_credentials
from polyarch.registry._http import Request, Response, TransportError
from polyarch.registry._pools import Transport, _parse_proxy
from polyarch.registry._redirect import redirected
from polyarch.registry._tls import Reach, reach
from polyarch.registry._tokens import Challenge, token_lifetime
from polyarch.registry._url import BadURLError, Origin, parse_url
from polyarch.registry.client import USER_AGENT

# -- is_loopback -----------------------------------------------------------------------------

LOOPBACK = [
    "localhost",
    "localhost:5000",
    "127.0.0.1",
    "127.0.0.1:5000",
    "127.1.2.3:443",
    "127.255.255.254",
    "[::1]",
    "[::1]:5000",
    "::1",
    "0:0:0:0:0:0:0:1",
]
NOT_LOOPBACK = [
    "example.com",
    "registry.example:5000",
    "ghcr.io",
    "10.0.0.1:5000",
    "192.168.1.10",
    "0.0.0.0",
    "128.0.0.1",
    "[2001:db8::1]:5000",
    "::",
    "[::]:5000",
    "localhost.example.com",
    "mylocalhost",
    "localhost.evil.example:80",
    "127.0.0.1.nip.io",
    "127.1",  # not a dotted quad: resolvers differ, so it is not trusted
    "0x7f000001",
    "",
    # Spelled for a resolver, not as this machine: trailing dots, encodings, mappings.
    "localhost.",
    "localhost.:5000",
    "127.0.0.1.",
    "LOCALHOST.",
    "%6cocalhost",
    "%31%32%37.0.0.1",
    "[::ffff:127.0.0.1]",
    "2130706433",
    "127.0.0.1\t",
    "[::1",
]


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_hosts_that_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


# -- may_send_credentials -------------------------------------------------------------------

#: (URL, insecure, allowed)
CREDENTIAL_ROUTES = [
    ("https://registry.example/v2/", False, True),
    ("https://10.0.0.1:5000/v2/", False, True),
    ("https://127.0.0.1:5000/v2/", False, True),
    ("http://127.0.0.1:5000/v2/", False, True),
    ("http://127.9.8.7/token", False, True),
    ("http://localhost:5000/v2/", False, True),
    ("http://[::1]:5000/v2/", False, True),
    ("http://registry.example/v2/", False, False),
    ("http://registry.example:443/v2/", False, False),
    ("http://10.0.0.1:5000/v2/", False, False),
    ("http://auth.example/token", False, False),
    ("http://localhost.example.com/token", False, False),
    ("http://[2001:db8::1]:5000/v2/", False, False),
    ("http://registry.example/v2/", True, True),
    ("http://10.0.0.1:5000/v2/", True, True),
    ("ftp://registry.example/v2/", False, False),
    ("ftp://registry.example/v2/", True, False),
    ("ws://127.0.0.1/v2/", False, False),
    # Where urllib3 connects decides, not what the standard library's parser reads: a
    # backslash ends the authority for urllib3, so this is evil.example, not 127.0.0.1.
    ("http://evil.example:5452\\@127.0.0.1:5999/token", False, False),
    ("http://evil.example\\@127.0.0.1/token", False, False),
    ("http://127.0.0.1\\@evil.example/token", False, True),
    ("http://user:pass@127.0.0.1:5000/v2/", False, True),
    ("http://127.0.0.1:5000@evil.example/v2/", False, False),
    ("http://user@evil.example@127.0.0.1/v2/", False, True),
    ("http://%31%32%37.0.0.1/v2/", False, False),
    ("http://%6cocalhost/v2/", False, False),
    ("http://localhost./v2/", False, False),
    ("http://127.0.0.1./v2/", False, False),
    ("http://[::1]:5000/v2/", False, True),
    ("http://[::1%25lo]/v2/", False, True),
    ("http://[::ffff:127.0.0.1]/v2/", False, False),
    ("http://[2001:db8::1]/v2/", False, False),
    ("HTTP://LOCALHOST:5000/v2/", False, True),
    ("http://127.0.0.1:99999/v2/", False, False),
    ("http://[::1/v2/", False, False),
    ("http:/127.0.0.1/v2/", False, False),
    ("//127.0.0.1/v2/", False, False),
]


@pytest.mark.parametrize(("url", "insecure", "allowed"), CREDENTIAL_ROUTES)
def test_where_credentials_may_go(url: str, insecure: bool, allowed: bool) -> None:
    assert may_send_credentials(url, insecure=insecure) is allowed


# -- the scheme of a registry ----------------------------------------------------------------


def scheme_choice(options: RegistryOptions, host: str) -> Reach:
    return reach(options, host, url=parse_url(f"https://{host}/v2/"))


@pytest.mark.parametrize(
    ("host", "insecure", "tls_configured", "schemes", "verify"),
    [
        ("registry.example", False, False, ("https",), True),
        ("registry.example:5000", False, True, ("https",), True),
        ("10.0.0.1:5000", False, False, ("https",), True),
        # This machine: HTTPS unverified, plain HTTP if that is what answers (docker's).
        ("127.0.0.1:5000", False, False, ("https", "http"), False),
        ("127.3.2.1", False, False, ("https", "http"), False),
        ("localhost:5000", False, False, ("https", "http"), False),
        ("[::1]:5000", False, False, ("https", "http"), False),
        # A loopback registry with TLS configured for it (certs.d/HOST/) speaks TLS only.
        ("127.0.0.1:5000", False, True, ("https",), True),
        ("localhost:5000", False, True, ("https",), True),
        # Spelled otherwise, a resolver decides where it goes: not this machine's rule.
        ("localhost.:5000", False, False, ("https",), True),
        ("127.1:5000", False, False, ("https",), True),
        ("localhost.example", False, False, ("https",), True),
        ("127.0.0.1.nip.io", False, False, ("https",), True),
        # --insecure: probe HTTPS first, fall back on plain HTTP (docker's behaviour).
        ("registry.example", True, False, ("https", "http"), False),
        ("127.0.0.1:5000", True, False, ("https", "http"), False),
    ],
)
def test_scheme_choice(
    tmp_path: Path,
    host: str,
    insecure: bool,
    tls_configured: bool,
    schemes: tuple[str, ...],
    verify: bool,
) -> None:
    certs = tmp_path / "certs.d"
    if tls_configured:
        (certs / host.replace("[", "").replace("]", "")).mkdir(parents=True)
    options = RegistryOptions(insecure=insecure, certs_dir=certs)
    chosen = scheme_choice(options, host)
    assert (chosen.schemes, chosen.verify) == (schemes, verify)
    # Plain HTTP, or HTTPS unchecked, only ever for this machine, or when the user said so.
    if "http" in chosen.schemes or not chosen.verify:
        assert insecure or is_loopback(host)


OTHER_MACHINES = [
    "registry.example",
    "registry.example:5000",
    "10.0.0.1:5000",
    "0.0.0.0:5000",
    "128.0.0.1",
    "[2001:db8::1]:5000",
    "[::]:5000",
    "localhost.example.com",
    "mylocalhost:5000",
    "localhost.:5000",
    "127.1:5000",
    "127.0.0.1.nip.io",
]


@given(st.sampled_from(OTHER_MACHINES), st.booleans())
def test_another_machine_is_never_downgraded(host: str, ca: bool) -> None:
    # Without --insecure, a host that is not this machine is HTTPS, verified, and no
    # failure of it ever falls back on plain HTTP.
    options = RegistryOptions(
        ca_file=Path("/nonexistent/ca.pem") if ca else None, certs_dir=Path("/nonexistent")
    )
    chosen = scheme_choice(options, host)
    assert chosen == Reach(("https",), verify=True, any_failure=False)


def test_a_ca_file_only_adds_trust(tmp_path: Path) -> None:
    # It makes no registry HTTPS (the loopback one still falls back on plain HTTP); it
    # has the loopback registry's certificate checked.
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    options = RegistryOptions(ca_file=ca, certs_dir=tmp_path / "none")
    assert scheme_choice(options, "127.0.0.1:5000") == Reach(("https", "http"), verify=True)
    assert scheme_choice(options, "registry.example") == Reach(("https",), verify=True)


def handshake_answered_with(answer: bytes) -> ssl.SSLError:
    """The error of a TLS client whose hello was answered with ``answer``: a real
    handshake, in memory."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    incoming.write(answer)
    with pytest.raises(ssl.SSLError) as caught:
        tls.do_handshake()
    return caught.value


def test_only_a_plain_http_answer_falls_back_on_loopback() -> None:
    # A refused connection, a certificate that is not trusted: nothing that says "this
    # server speaks plain HTTP".
    loopback = Reach(("https", "http"), verify=False)
    insecure = Reach(("https", "http"), verify=False, any_failure=True)
    request = Request("GET", "https://127.0.0.1:5000/v2/")
    answer = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n400 Bad Request"
    plain = TransportError(urllib3.exceptions.SSLError(handshake_answered_with(answer)), request)
    untrusted = TransportError(
        urllib3.exceptions.SSLError(ssl.SSLCertVerificationError(1, "CERTIFICATE_VERIFY_FAILED")),
        request,
    )
    refused_cause = urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]
    refused_cause.__cause__ = ConnectionRefusedError(111, "Connection refused")
    refused = TransportError(refused_cause, request)
    assert plain.plain_http
    assert plain.kind == "tls"
    assert not untrusted.plain_http
    assert refused.refused
    assert refused.kind == "unsent"
    assert loopback.falls_back(plain)
    assert not loopback.falls_back(untrusted)
    assert not loopback.falls_back(refused)
    # --insecure: whatever fails (plain HTTP may go through a proxy that HTTPS does not).
    assert insecure.falls_back(plain)
    assert insecure.falls_back(untrusted)
    assert insecure.falls_back(refused)


# -- the token realm -------------------------------------------------------------------------

ALICE = Credentials(username="alice", password="s3cret-pw", source="the test credentials")
IDENTITY = Credentials(identity_token="refresh-t0ken", source="~/.docker/config.json (auths)")


def session_with_realm(
    realm: str, credentials: Credentials | None, *, insecure: bool = False
) -> AuthSession:
    session = AuthSession("registry.example", lambda: credentials, insecure=insecure)
    session.challenge = Challenge.parse(f'Bearer realm="{realm}",service="registry.example"')
    return session


SCOPES = frozenset({"repository:me/app:pull"})


@pytest.mark.parametrize("credentials", [ALICE, IDENTITY], ids=["basic", "identity-token"])
@pytest.mark.parametrize(
    "realm", ["http://auth.example/token", "http://10.0.0.7:8080/token", "HTTP://Auth.Example/t"]
)
def test_plain_http_realm_elsewhere_is_refused_with_credentials(
    realm: str, credentials: Credentials
) -> None:
    session = session_with_realm(realm, credentials)
    with pytest.raises(AuthenticationError) as info:
        session.token_request(SCOPES)
    message = str(info.value)
    assert "plain HTTP" in message
    assert "registry.example" in message
    assert credentials.source in message
    assert (urlsplit(realm).hostname or "") in message
    assert "--insecure" in (info.value.hint or "")
    assert "s3cret-pw" not in message + repr(info.value)
    assert "refresh-t0ken" not in message
    assert info.value.exit_code == 4


@pytest.mark.parametrize("credentials", [ALICE, IDENTITY], ids=["basic", "identity-token"])
@pytest.mark.parametrize(
    ("realm", "insecure"),
    [
        ("https://auth.example/token", False),
        ("http://127.0.0.1:8080/token", False),
        ("http://localhost/token", False),
        ("http://auth.example/token", True),
    ],
)
def test_realms_credentials_may_go_to(realm: str, insecure: bool, credentials: Credentials) -> None:
    request = session_with_realm(realm, credentials, insecure=insecure).token_request(SCOPES)
    assert request.host == urlsplit(realm).hostname
    assert request.token_request
    if credentials.identity_token:
        assert request.method == "POST"
        assert request.secret_body
        assert isinstance(request.body, bytes)
        assert b"refresh_token=refresh-t0ken" in request.body
        assert "Authorization" not in request.headers
    else:
        assert request.method == "GET"
        assert request.headers["Authorization"].startswith("Basic ")


def test_anonymous_token_over_plain_http_sends_no_secret() -> None:
    request = session_with_realm("http://auth.example/token", None).token_request(SCOPES)
    assert "Authorization" not in request.headers
    assert request.method == "GET"
    assert dict(parse_qsl(urlsplit(request.url).query)) == {
        "service": "registry.example",
        "scope": next(iter(SCOPES)),
    }


@pytest.mark.parametrize(
    "realm", ["", "auth.example/token", "file:///etc/passwd", "ftp://auth.example/", "https://"]
)
def test_invalid_realms(realm: str) -> None:
    with pytest.raises(AuthenticationError, match="invalid realm"):
        session_with_realm(realm, ALICE).token_request(SCOPES)


# -- the transport check on every request ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "headers", "insecure", "refused"),
    [
        ("http://registry.example/v2/", {"Authorization": "Bearer t"}, False, True),
        ("http://registry.example/v2/", {"Authorization": "Basic YTpi"}, False, True),
        ("http://registry.example/v2/", {"authorization": "Bearer t"}, False, True),
        ("http://registry.example/v2/", {}, False, False),
        ("http://registry.example/v2/", {"Authorization": "Bearer t"}, True, False),
        ("https://registry.example/v2/", {"Authorization": "Bearer t"}, False, False),
        ("http://127.0.0.1:5000/v2/", {"Authorization": "Bearer t"}, False, False),
        ("http://x.example\\@127.0.0.1/v2/", {"Authorization": "Bearer t"}, False, True),
    ],
)
def test_check_transport(url: str, headers: dict[str, str], insecure: bool, refused: bool) -> None:
    session = AuthSession("registry.example", lambda: ALICE, insecure=insecure)
    request = Request("GET", url, headers=headers)
    if refused:
        with pytest.raises(AuthenticationError, match="plain HTTP") as info:
            session.check_transport(request)
        assert "YTpi" not in str(info.value)
    else:
        session.check_transport(request)


def test_credentials_go_to_the_origin_they_were_given_for_only() -> None:
    session = AuthSession("registry.example", lambda: ALICE)
    given = Request("GET", "https://auth.example/token").origin
    for url, refused in [
        ("https://auth.example/token", False),
        ("https://AUTH.example:443/token", False),
        ("https://auth.example:8443/token", True),
        ("https://evil.example/token", True),
        ("http://auth.example/token", True),
    ]:
        request = Request("POST", url, body=b"refresh_token=x", secret_body=True)
        request.credential_origin = given
        if refused:
            with pytest.raises(AuthenticationError):
                session.check_transport(request)
        else:
            session.check_transport(request)


@pytest.mark.parametrize(
    ("proxy", "refused"),
    [
        ("http://proxy.example:3128", True),
        ("https://proxy.example", True),
        ("http://127.0.0.1:3128", False),
        (None, False),
    ],
)
def test_plain_http_credentials_through_a_proxy(proxy: str | None, refused: bool) -> None:
    session = AuthSession("registry.example", lambda: ALICE, insecure=True)
    through = None if proxy is None else _parse_proxy(proxy)
    request = Request("GET", "http://registry.example/v2/", headers={"Authorization": "Basic YTpi"})
    if refused:
        with pytest.raises(AuthenticationError, match=r"through the proxy proxy\.example") as info:
            session.check_transport(request, proxy=through)
        assert "NO_PROXY" in (info.value.hint or "")
    else:
        session.check_transport(request, proxy=through)
    # Over HTTPS the proxy only tunnels: it never sees the header.
    tunnelled = Request("GET", "https://registry.example/v2/", headers={"Authorization": "x"})
    session.check_transport(tunnelled, proxy=through)


@pytest.mark.parametrize(
    ("url", "proxied"),
    [
        ("http://registry.example/v2/", True),
        ("https://registry.example/v2/", True),
        ("http://127.0.0.1:5000/v2/", False),
        ("http://127.9.9.9/v2/", False),
        ("http://localhost:5000/v2/", False),
        ("http://[::1]:5000/v2/", False),
        ("http://exempt.example/v2/", False),
        ("http://sub.exempt.example:80/v2/", False),
        ("http://localhost./v2/", True),
    ],
)
def test_which_requests_go_through_the_proxy(
    monkeypatch: pytest.MonkeyPatch, url: str, proxied: bool
) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("ALL_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "exempt.example")
    transport = Transport(
        ssl_context=None, timeout=1, connect_timeout=1, max_connections=1, user_agent="t"
    )
    proxy = transport.proxy_for(parse_url(url))
    assert (proxy is not None) is proxied
    if proxy is not None:
        assert proxy.url.url == "http://proxy.example:3128"


@pytest.mark.parametrize(
    "value",
    ["http://u:s3cr3t@[::1", "http://u:s3cr3t@:99999999", "socks5://u:s3cr3t@h:1", "http://"],
)
def test_a_malformed_proxy_is_bad_input_without_its_password(value: str) -> None:
    from polyarch.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as info:
        _parse_proxy(value)
    assert "s3cr3t" not in f"{info.value} {info.value.hint}"


@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "Https"]),
    authority=st.text(
        alphabet=st.sampled_from(list("aZ09.-_~%:@[]\\/?#!$&'()*+,;= \t")), max_size=30
    ),
    rest=st.text(alphabet=st.sampled_from(list("a/?#%\\@: ")), max_size=15),
)
def test_the_url_a_request_sends_is_the_url_it_was_decided_on(
    scheme: str, authority: str, rest: str
) -> None:
    """A Request keeps the text of the parsed URL; parsed again, as urllib3's pool does
    when it connects, it names the same origin the decisions were taken on."""
    try:
        request = Request("GET", f"{scheme}://{authority}{rest}")
    except BadURLError:
        return
    again = parse_url(request.url)
    assert Origin.of(again) == request.origin
    assert may_send_credentials(request.url, insecure=False) == may_send_credentials(
        request.target, insecure=False
    )


# -- token lifetimes -------------------------------------------------------------------------

NOW = 1_700_000_000.0


def rfc3339(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat()


@pytest.mark.parametrize(
    ("expires_in", "issued_at", "expected"),
    [
        # Docker Hub's 300 s, issued now: kept 10 s short of its end.
        (300, rfc3339(NOW), 290.0),
        (300, None, 290.0),
        # Spec default: 60 s when missing, zero, negative or nonsense.
        (None, None, 54.0),
        (0, None, 54.0),
        (-5, None, 54.0),
        ("abc", None, 54.0),
        ("nan", None, 54.0),
        ("inf", None, 54.0),
        (True, None, 54.0),
        ([300], None, 54.0),
        ("120", None, 110.0),
        # Short lifetimes keep a tenth, not 10 s (which would leave nothing).
        (3, None, 2.7),
        (3, rfc3339(NOW), 2.7),
        # issued_at honoured: a token issued 200 s ago has 100 s left.
        (300, rfc3339(NOW - 200), 90.0),
        (300, "2023-11-14T22:10:00Z", 300 - (NOW - 1_699_999_800) - 10.0),
        # Truncated to whole seconds, as the token service writes it.
        (3, rfc3339(NOW - 0.9), 2.1 - 0.21),
        # A service clock ahead of ours, or a token "older than its life": the clocks
        # disagree; the lifetime counts from now.
        (300, rfc3339(NOW + 3600), 290.0),
        (300, rfc3339(NOW - 3600), 290.0),
        (300, "not a date", 290.0),
        (300, 12345, 290.0),
    ],
)
def test_token_lifetime(expires_in: object, issued_at: object, expected: float) -> None:
    assert token_lifetime(expires_in, issued_at, now=NOW) == pytest.approx(expected)


def test_token_lifetime_is_always_positive_and_within_the_lifetime() -> None:
    for lifetime in (1, 2, 5, 60, 300, 3600):
        for age in (0, 0.5, 1, lifetime / 2, lifetime - 0.01, lifetime, lifetime * 2, -10):
            kept = token_lifetime(lifetime, rfc3339(NOW - age), now=NOW)
            assert 0 < kept <= lifetime


# -- a whole client against hosts that are not this machine (no network) --------------------

Handler = Callable[[Request], urllib3.HTTPResponse]


class _Pools:
    """Stands for every connection pool: hands each request to a handler, never to a
    network."""

    def __init__(self, handler: Handler, seen: list[Request]) -> None:
        self.handler = handler
        self.seen = seen

    def urlopen(self, method: str, url: str, *, body: Any, headers: Any, **_: Any) -> Any:
        content = body if isinstance(body, bytes) or body is None else b"".join(body)
        request = Request(method, url, headers=dict(headers.items()), body=content)
        self.seen.append(request)
        return self.handler(request)


def answer(
    status: int, headers: dict[str, str] | None = None, *, data: Any = None, content: bytes = b""
) -> urllib3.HTTPResponse:
    """An answer as urllib3 parses it off a connection, its body unread."""
    if data is not None:
        content = json.dumps(data).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    headers = {"Content-Length": str(len(content)), **(headers or {})}
    return urllib3.HTTPResponse(
        body=io.BytesIO(content), headers=headers, status=status, preload_content=False
    )


def sent_body(request: Request) -> bytes:
    assert request.body is None or isinstance(request.body, bytes)
    return request.body or b""


@contextmanager
def mocked_registry(
    monkeypatch: pytest.MonkeyPatch,
    handler: Handler,
    credentials: Credentials | None = ALICE,
    *,
    insecure: bool = False,
) -> Iterator[tuple[RegistryClient, list[Request]]]:
    """A client for ``registry.example`` whose every connection goes to ``handler``.

    Yields the client and the requests ``handler`` was handed (bodies read); unless
    ``insecure``, none of them may carry a secret over plain HTTP to another machine, and
    all of them say who sends them.
    """
    seen: list[Request] = []
    pools = _Pools(handler, seen)
    monkeypatch.setattr(Transport, "_pool_for", lambda self, request: pools)
    options = RegistryOptions(credentials=credentials, insecure=insecure, retries=0)
    with RegistryClient("registry.example", options=options) as registry:
        yield registry, seen
    for request in seen:
        assert request.headers["User-Agent"] == USER_AGENT
    if insecure:
        return
    for request in seen:
        if request.scheme == "http" and not is_loopback(request.host):
            assert "Authorization" not in request.headers, request.url
            assert b"refresh_token" not in sent_body(request), request.url
            assert b"s3cret-pw" not in sent_body(request), request.url


def challenge(realm: str) -> urllib3.HTTPResponse:
    return answer(
        401,
        {"WWW-Authenticate": f'Bearer realm="{realm}",service="registry.example"'},
        data={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
    )


def token_answer() -> urllib3.HTTPResponse:
    return answer(200, data={"token": "tok-123", "expires_in": 300})


def authorized(request: Request) -> bool:
    return bool(request.headers.get("Authorization") == "Bearer tok-123")


def test_mocked_client_refuses_a_plain_http_realm(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: Request) -> urllib3.HTTPResponse:
        if request.host == "registry.example":
            return challenge("http://auth.example/token")
        return token_answer()

    with (
        mocked_registry(monkeypatch, handler) as (client, seen),
        pytest.raises(AuthenticationError, match="plain HTTP"),
    ):
        RegistryStore(client, "me/app").list_tags()
    assert [r.host for r in seen] == ["registry.example"]


def test_mocked_client_with_insecure_may_use_the_plain_http_realm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def handler(request: Request) -> urllib3.HTTPResponse:
        if request.host == "auth.example":
            return token_answer()
        if not authorized(request):
            return challenge("http://auth.example/token")
        return answer(200, data={"name": "me/app", "tags": ["v1"]})

    with mocked_registry(monkeypatch, handler, insecure=True) as (client, seen):
        assert RegistryStore(client, "me/app").list_tags() == ["v1"]
    [token] = [r for r in seen if r.host == "auth.example"]
    assert token.scheme == "http"
    assert token.headers["Authorization"].startswith("Basic ")


def test_mocked_upload_location_elsewhere_gets_no_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An upload Location on another origin (plain HTTP or not) gets no Authorization:
    credentials go only where they were challenged for (the refusal there is the error)."""
    data = b"layer bytes"
    digest = Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())

    def handler(request: Request) -> urllib3.HTTPResponse:
        if request.host == "auth.example":
            return token_answer()
        if not authorized(request):
            return challenge("https://auth.example/token")
        if request.method == "POST":
            # A registry (or someone between) sending the upload to plain HTTP elsewhere.
            return answer(202, {"Location": "http://uploads.example/u/1"})
        return answer(204)

    with (
        mocked_registry(monkeypatch, handler) as (client, seen),
        pytest.raises(AuthenticationError, match="only") as info,
    ):
        RegistryStore(client, "me/app").put_blob(
            Descriptor("application/octet-stream", digest, len(data)), [data]
        )
    assert "http://uploads.example" in str(info.value)
    assert "tok-123" not in str(info.value)
    elsewhere = [r for r in seen if r.host == "uploads.example"]
    assert elsewhere
    assert all("Authorization" not in r.headers for r in elsewhere)


def test_mocked_redirect_of_the_token_grant_to_plain_http_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 307 keeps a POST's body: the refresh token would follow it to plain HTTP."""

    def handler(request: Request) -> urllib3.HTTPResponse:
        if request.host == "auth.example":
            return answer(307, {"Location": "http://evil.example/token"})
        if request.host == "evil.example":
            return token_answer()
        return challenge("https://auth.example/token")

    with (
        mocked_registry(monkeypatch, handler, IDENTITY) as (client, seen),
        pytest.raises(AuthenticationError, match="plain HTTP") as info,
    ):
        RegistryStore(client, "me/app").list_tags()
    assert "evil.example" in str(info.value)
    assert "refresh-t0ken" not in str(info.value)
    assert [r.host for r in seen] == ["registry.example", "auth.example"]


def test_mocked_redirect_of_the_token_grant_to_another_origin_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over HTTPS too: the refresh token was given for the realm's origin only."""

    def handler(request: Request) -> urllib3.HTTPResponse:
        if request.host == "auth.example":
            return answer(307, {"Location": "https://elsewhere.example/token"})
        if request.host == "elsewhere.example":
            return token_answer()
        return challenge("https://auth.example/token")

    with (
        mocked_registry(monkeypatch, handler, IDENTITY) as (client, seen),
        pytest.raises(AuthenticationError, match=r"given for https://auth\.example only"),
    ):
        RegistryStore(client, "me/app").list_tags()
    assert [r.host for r in seen] == ["registry.example", "auth.example"]


def test_mocked_tag_pages_elsewhere_get_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: Request) -> urllib3.HTTPResponse:
        if request.host == "auth.example":
            return token_answer()
        if request.host == "pages.example":
            return answer(200, data={"name": "me/app", "tags": ["v2"]})
        if not authorized(request):
            return challenge("https://auth.example/token")
        link = '<https://pages.example/v2/me/app/tags/list?last=v1>; rel="next"'
        return answer(200, {"Link": link}, data={"name": "me/app", "tags": ["v1"]})

    with mocked_registry(monkeypatch, handler) as (client, seen):
        assert RegistryStore(client, "me/app").list_tags() == ["v1", "v2"]
    [page] = [r for r in seen if r.host == "pages.example"]
    assert "Authorization" not in page.headers


def test_mocked_redirects_to_plain_http_carry_no_authorization(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A blob download redirected elsewhere (a CDN) loses the Authorization header, and so
    does a basic-auth token request redirected elsewhere: both then succeed."""
    data = b"config bytes"
    digest = Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())

    def handler(request: Request) -> urllib3.HTTPResponse:
        if request.host == "auth.example":
            return answer(302, {"Location": "http://mirror.example/token"})
        if request.host == "mirror.example":
            return token_answer()
        if request.host == "cdn.example":
            return answer(200, content=data)
        if not authorized(request):
            return challenge("https://auth.example/token")
        return answer(307, {"Location": "http://cdn.example/blob?sig=x"})

    with mocked_registry(monkeypatch, handler) as (client, seen):
        blob = RegistryStore(client, "me/app").get_blob(
            Descriptor("application/octet-stream", digest, len(data))
        )
    assert blob == data
    assert {r.host for r in seen} >= {"cdn.example", "mirror.example"}


def test_mocked_token_service_down_is_a_network_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def handler(request: Request) -> urllib3.HTTPResponse:
        if request.host == "auth.example":
            raise urllib3.exceptions.NewConnectionError(
                None,  # type: ignore[arg-type]
                "Failed to establish a new connection: [Errno 111] Connection refused",
            )
        return challenge("https://auth.example:8443/token")

    with (
        mocked_registry(monkeypatch, handler) as (client, _),
        pytest.raises(NetworkError) as info,
    ):
        RegistryStore(client, "me/app").list_tags()
    assert "token service" in str(info.value)
    assert "auth.example:8443" in str(info.value)
    assert "Connection refused" in str(info.value)
    assert info.value.exit_code == 5


def test_mocked_credentials_never_in_the_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    basic = base64.b64encode(b"alice:s3cret-pw").decode()

    def handler(request: Request) -> urllib3.HTTPResponse:
        return challenge("http://auth.example/token")

    with (
        mocked_registry(monkeypatch, handler) as (client, _),
        pytest.raises(AuthenticationError) as info,
    ):
        client.ping()
    text = f"{info.value} {info.value.hint} {info.value!r}"
    assert "s3cret-pw" not in text
    assert basic not in text


# -- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "status", "location", "next_method", "keeps_auth"),
    [
        ("GET", 307, "/v2/elsewhere", "GET", True),
        # An upgrade to HTTPS is another origin (port 443): docker's challenge manager
        # keys credentials by scheme, host and port too.
        ("GET", 302, "https://registry.example/v2/x", "GET", False),
        ("GET", 302, "HTTP://REGISTRY.example:80/v2/x", "GET", True),  # the same origin
        ("GET", 307, "http://cdn.example/blob?sig=1", "GET", False),
        ("GET", 307, "http://registry.example:5000/v2/x", "GET", False),  # another port
        ("PUT", 308, "/v2/again", "PUT", True),
        ("POST", 302, "/v2/form", "GET", True),
        ("POST", 303, "/v2/see", "GET", True),
        ("HEAD", 303, "/v2/see", "HEAD", True),
    ],
)
def test_redirect_hops(
    method: str, status: int, location: str, next_method: str, keeps_auth: bool
) -> None:
    request = Request(
        method,
        "http://registry.example/v2/start",
        headers={"Authorization": "Bearer t", "Content-Type": "text/plain"},
        body=b"body" if method in ("PUT", "POST") else None,
    )
    hop = redirected(request, Response(request, status, {"Location": location}))
    assert hop.method == next_method
    assert hop.target == parse_url(urljoin(request.url, location))
    assert ("Authorization" in hop.headers) is keeps_auth
    if next_method != method:
        assert hop.body is None
        assert "Content-Type" not in hop.headers
    else:
        assert hop.body == request.body


def test_a_streamed_body_is_notredirected() -> None:
    request = Request("PUT", "http://registry.example/v2/u", body=iter([b"layer"]))
    with pytest.raises(RegistryError, match="cannot be sent again"):
        redirected(request, Response(request, 307, {"Location": "/v2/other"}))


def test_mocked_token_exchange_that_failed_lets_go_of_its_scope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request whose token exchange got no answer holds no lock after: not while its
    error is kept (a pipeline keeps the first failure until it is raised)."""
    import threading

    exchanges: list[Request] = []

    def handler(request: Request) -> urllib3.HTTPResponse:
        if request.host == "auth.example":
            exchanges.append(request)
            if len(exchanges) == 1:
                raise urllib3.exceptions.NewConnectionError(
                    None,  # type: ignore[arg-type]
                    "Failed to establish a new connection: [Errno 111] Connection refused",
                )
            return token_answer()
        if authorized(request):
            return answer(200, data={"name": "me/app", "tags": ["v1"]})
        return challenge("https://auth.example:8443/token")

    with mocked_registry(monkeypatch, handler) as (client, _):
        store = RegistryStore(client, "me/app")
        with pytest.raises(NetworkError) as kept:
            store.list_tags()
        listed: list[list[str]] = []
        other = threading.Thread(target=lambda: listed.append(store.list_tags()), daemon=True)
        other.start()
        other.join(10)
        assert listed == [["v1"]], "the failed exchange still held its scope's lock"
        assert kept.value.exit_code == 5
