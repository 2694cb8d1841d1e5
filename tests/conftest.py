"""Fixtures shared by every test: real registries on loopback.

``registry``          session-scoped, anonymous
``auth_registry``     session-scoped, htpasswd (``.username`` / ``.password``, random)
``registry_factory``  function-scoped: ``registry_factory(htpasswd=..., ...)`` starts a
                      fresh registry; all of them are stopped at teardown
``token_registry``    session-scoped, bearer tokens as Docker Hub does it: a
                      :class:`~tests.token_server.TokenRegistry` with ``.registry`` (the
                      RegistryServer), ``.tokens`` (the TokenServer) and
                      ``.password(user)``; users and grants in ``TOKEN_ACL``

Session-scoped registries are shared: use unique repository names per test, and count
requests between two ``mark()`` positions rather than from the start of the log.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator

import pytest

from tests.registry_server import REGISTRY_BINARY, RegistryFactory, RegistryServer
from tests.token_server import AclTable, TokenRegistry, TokenServer

#: Who may do what on ``token_registry``; ``None`` is everyone, anonymous included.
#: ``admin`` exists to seed repositories nobody else may push to.
TOKEN_ACL: AclTable = {
    None: {"public/*": ["pull"]},
    "alice": {"alice/*": ["pull", "push"], "shared/*": ["pull"]},
    "bob": {"alice/*": ["pull"]},
    "admin": {"*": ["*"], "registry:catalog": ["*"]},
}


def pytest_sessionstart(session: pytest.Session) -> None:
    # Integration tests always run: a missing registry is an error, never a skip.
    missing = []
    if not REGISTRY_BINARY.exists():
        missing.append(f"docker-registry ({REGISTRY_BINARY})")
    if shutil.which("skopeo") is None:
        missing.append("skopeo")
    if missing:
        raise pytest.UsageError(
            f"{' and '.join(missing)} not installed; the tests run against a real registry "
            "and compare with skopeo. Run the test script, `bash scripts/test`, which "
            "installs the Debian packages docker-registry and skopeo when missing."
        )


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An anonymous registry shared by the whole session."""
    with RegistryServer(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry with htpasswd basic auth for one user with a random password."""
    server = RegistryServer(
        tmp_path_factory.mktemp("auth-registry"),
        htpasswd=True,
        username="polyarch",
        password=secrets.token_urlsafe(18),
    )
    with server:
        yield server


@pytest.fixture
def registry_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryFactory]:
    """Start extra, fresh registries: ``registry_factory(htpasswd=True)``."""
    factory = RegistryFactory(lambda: tmp_path_factory.mktemp("registry-extra"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    """A registry that takes bearer tokens from a token service, with users (random
    passwords) and grants as in ``TOKEN_ACL``; both are stopped at teardown."""
    users = {name: secrets.token_urlsafe(18) for name in TOKEN_ACL if name is not None}
    tokens = TokenServer(tmp_path_factory.mktemp("token-service"), users=users, acl=TOKEN_ACL)
    with tokens:
        server = RegistryServer(
            tmp_path_factory.mktemp("token-registry"), token_auth=tokens.registry_auth
        )
        with server:
            yield TokenRegistry(registry=server, tokens=tokens)
