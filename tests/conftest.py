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

Every password and token these fixtures make is registered with the session's secrets
check (``tests/secretscan.py``): if one of them appears in anything polyarch printed or
logged during the session, the run fails at its end.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.registry_server import REGISTRY_BINARY, RegistryFactory, RegistryServer
from tests.secretscan import SCAN, RecordingHandler
from tests.token_server import AclTable, TokenRegistry, TokenServer

# Generation speed is no property of polyarch: on a loaded CI machine (registries starting
# beside the tests) the too_slow check fails runs that found nothing.
settings.register_profile("polyarch", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("polyarch")

#: Who may do what on ``token_registry``; ``None`` is everyone, anonymous included.
#: ``admin`` exists to seed repositories nobody else may push to.
TOKEN_ACL: AclTable = {
    None: {"public/*": ["pull"]},
    "alice": {"alice/*": ["pull", "push"], "shared/*": ["pull"]},
    "bob": {"alice/*": ["pull"]},
    "admin": {"*": ["*"], "registry:catalog": ["*"]},
}


#: The wrapper's directory, and what pytest_configure changed, for pytest_unconfigure.
_PRINTED = pytest.StashKey[Path]()
_RESTORE = pytest.StashKey[tuple[str | None, logging.Handler, dict[str, int]]]()


def pytest_configure(config: pytest.Config) -> None:
    """Record what polyarch prints and logs, for the secrets check (tests/secretscan.py)."""
    directory = Path(tempfile.mkdtemp(prefix="polyarch-printed-"))
    config.stash[_PRINTED] = directory
    SCAN.output_dir = directory / "runs"
    SCAN.output_dir.mkdir()
    real = Path(sysconfig.get_path("scripts")) / "polyarch"
    if not real.exists():
        real = Path(shutil.which("polyarch") or "polyarch")
    wrapper = directory / "bin" / "polyarch"
    wrapper.parent.mkdir()
    wrapper.write_text(SCAN.wrapper_script(real, shutil.which("tee") or "/usr/bin/tee"))
    wrapper.chmod(0o755)
    path = os.environ.get("PATH")
    os.environ["PATH"] = f"{wrapper.parent}{os.pathsep}{path or ''}"
    handler = RecordingHandler(SCAN)
    logging.getLogger().addHandler(handler)
    levels = {}
    for name in ("polyarch", "urllib3"):
        levels[name] = logging.getLogger(name).level
        logging.getLogger(name).setLevel(logging.DEBUG)
    config.stash[_RESTORE] = (path, handler, levels)


def pytest_unconfigure(config: pytest.Config) -> None:
    restore = config.stash.get(_RESTORE, None)
    if restore is not None:
        path, handler, levels = restore
        if path is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = path
        logging.getLogger().removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    directory = config.stash.get(_PRINTED, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(autouse=True)
def _own_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's polyarch processes share a home (pending lists, the cache) of their
    own: what one test fetched never answers for another."""
    monkeypatch.setenv("POLYARCH_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session", autouse=True)
def _no_secret_was_printed_or_logged() -> Iterator[None]:
    """The session's last teardown: fails the run if a registered secret showed up."""
    yield
    leaks = SCAN.leaks()
    if leaks:
        pytest.fail(SCAN.report(leaks), pytrace=False)


class _RegisteringFactory(RegistryFactory):
    """``registry_factory`` registering the password of each htpasswd registry it starts."""

    def __call__(self, **kwargs: Any) -> RegistryServer:
        server = super().__call__(**kwargs)
        SCAN.add_password(server.username, server.password, f"the registry at {server.host}")
        return server


class _RegisteringTokenServer(TokenServer):
    """A token service registering every token it signs."""

    def mint(self, *args: Any, **kwargs: Any) -> str:
        token = super().mint(*args, **kwargs)
        SCAN.add_token(token, "a bearer token of the token service")
        return token


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
    SCAN.add_password(server.username, server.password, "auth_registry")
    with server:
        yield server


@pytest.fixture
def registry_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryFactory]:
    """Start extra, fresh registries: ``registry_factory(htpasswd=True)``."""
    factory = _RegisteringFactory(lambda: tmp_path_factory.mktemp("registry-extra"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    """A registry that takes bearer tokens from a token service, with users (random
    passwords) and grants as in ``TOKEN_ACL``; both are stopped at teardown."""
    users = {name: secrets.token_urlsafe(18) for name in TOKEN_ACL if name is not None}
    for user, password in users.items():
        SCAN.add_password(user, password, f"token_registry's user {user}")
    tokens = _RegisteringTokenServer(
        tmp_path_factory.mktemp("token-service"), users=users, acl=TOKEN_ACL
    )
    # Refresh tokens (docker's identity tokens), including those tests add themselves.
    SCAN.add_source("a refresh token of the token service", lambda: list(tokens.refresh_tokens))
    with tokens:
        server = RegistryServer(
            tmp_path_factory.mktemp("token-registry"), token_auth=tokens.registry_auth
        )
        with server:
            yield TokenRegistry(registry=server, tokens=tokens)
