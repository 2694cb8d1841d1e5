"""Passwords and tokens never appear in what polyarch prints or logs.

The suite-wide check (``tests/secretscan.py``, wired in ``tests/conftest.py``) searches
everything every polyarch process of the session printed, and every log record, for
every secret the fixtures made; the tests here prove that check sees what it must, and
run the auth flows with ``--debug`` (HTTP traffic logged) against the htpasswd registry
and the token registry, with right and wrong credentials, grepping each output for the
secrets themselves.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import pty
import secrets
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.clirun import POLYARCH, polyarch
from tests.content import unique
from tests.imagegen import make_image
from tests.registry_server import RegistryServer
from tests.secretscan import SCAN, SecretScan
from tests.token_server import TokenRegistry

AMD64 = {"os": "linux", "architecture": "amd64"}
Result = subprocess.CompletedProcess[bytes]


def printed(results: Iterable[Result]) -> str:
    return "\n".join((r.stdout + r.stderr).decode("utf-8", "replace") for r in results)


def assert_no_secret(results: Iterable[Result], searched: dict[str, str]) -> None:
    text = printed(results)
    shown = [what for secret, what in searched.items() if secret in text]
    assert not shown, f"printed: {shown}"


def ok(result: Result) -> Result:
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    return result


def denied(result: Result) -> Result:
    """A clean authentication error: exit 4, one line, no traceback."""
    stderr = result.stderr.decode()
    assert result.returncode == 4, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("polyarch: error: ")]
    assert len(errors) == 1, stderr
    return result


def docker_config(
    directory: Path, auths: dict[str, dict[str, str]] | None = None
) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    if auths is not None:
        (directory / "config.json").write_text(json.dumps({"auths": auths}))
    return {"DOCKER_CONFIG": str(directory), "POLYARCH_HOME": str(directory / "home")}


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def login(debug: list[str], host: str, user: str, password: str, env: dict[str, str]) -> Result:
    """``polyarch login --password-stdin``, as docs tell people to log in."""
    args = [*debug, "login", "-u", user, "--password-stdin", host]
    return polyarch(*args, stdin=password + "\n", env=env)


# -- the session-wide check sees what it must ---------------------------------------------


def test_every_polyarch_process_is_recorded() -> None:
    assert SCAN.output_dir is not None
    assert Path(POLYARCH).parent == SCAN.output_dir.parent / "bin"
    version = ok(polyarch("--version"))
    wrong = polyarch("frobnicate")
    assert wrong.returncode == 2  # the exit status passes through the wrapper
    mine = [o for o in SCAN.outputs() if "test_every_polyarch_process_is_recorded" in o.test]
    by_command = {o.where: o.streams for o in mine}
    assert by_command["polyarch --version"]["stdout"] == version.stdout.decode()
    assert by_command["polyarch frobnicate"]["stderr"] == wrong.stderr.decode()


def test_the_wrapper_keeps_the_pid_and_a_terminal(tmp_path: Path) -> None:
    """A test may SIGKILL polyarch by PID, and the progress display asks isatty()."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [POLYARCH, "login", "-u", "x", "--password-stdin", "127.0.0.1:1"],
        stdin=subprocess.PIPE,  # never written: polyarch waits, reading its password
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, **docker_config(tmp_path)},
    )
    try:
        os.close(slave)
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        deadline = time.monotonic() + 10
        while b"python" not in cmdline.read_bytes().split(b"\0")[0]:  # bash exec'd it yet?
            assert time.monotonic() < deadline
            time.sleep(0.005)
        argv = cmdline.read_bytes().split(b"\0")
        assert argv[1].endswith(b"/bin/polyarch"), argv  # Python running the console script
        assert os.readlink(f"/proc/{proc.pid}/fd/2").startswith("/dev/pts/")
        assert os.readlink(f"/proc/{proc.pid}/fd/1").startswith("pipe:")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        os.close(master)


def test_the_check_finds_a_secret_polyarch_printed_or_logged() -> None:
    canary = secrets.token_hex(16)
    logged = secrets.token_hex(16)
    polyarch("inspect", f"oci:/nonexistent/{canary}:1.0")
    logging.getLogger("polyarch.tests").debug("a record with %s in it", logged)
    planted = {canary: "the printed canary", logged: "the logged canary"}

    leaks = SCAN.leaks(planted)

    assert {(leak.what, leak.stream) for leak in leaks} == {
        ("the printed canary", "stderr"),
        ("the logged canary", "log"),
    }
    assert all("test_the_check_finds" in leak.test for leak in leaks)
    report = SecretScan.report(leaks)
    assert canary not in report
    assert logged not in report
    assert "<SECRET>" in report


def test_passwords_are_searched_in_every_form() -> None:
    scan = SecretScan()
    scan.add_password("alice", "pass word/+", "alice")
    scan.add_token("header.claims.signature-part", "a token")
    scan.add_source("refresh tokens", lambda: ["refresh-token-1", "short"])
    scan.add("tiny", "too short to search")
    assert set(scan.secrets()) == {
        "pass word/+",
        "pass%20word%2F%2B",
        basic("alice", "pass word/+"),
        "header.claims.signature-part",
        "signature-part",
        "refresh-token-1",
    }


# -- basic auth: --debug traces and errors ------------------------------------------------


def test_debug_traces_of_basic_auth_hold_no_secret(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    user, password = auth_registry.username or "", auth_registry.password or ""
    repository = unique("secrets/basic")
    image = make_image(AMD64, seed=777, layers=1)
    auth_registry.push_image(repository, image, tag="1.0")
    env = docker_config(tmp_path / "docker")
    source = f"{auth_registry.host}/{repository}:1.0"

    list_ref = f"{auth_registry.host}/{repository}-list:1"

    results = [
        ok(login(["--debug"], auth_registry.host, user, password, env)),
        ok(polyarch("--debug", "inspect", source, env=env)),
        ok(polyarch("--debug", "copy", source, f"oci:{tmp_path / 'layout'}:1.0", env=env)),
        ok(polyarch("--debug", "copy", source, f"{auth_registry.host}/{repository}-2", env=env)),
        ok(polyarch("--debug", "create", list_ref, source, env=env)),
        ok(polyarch("--debug", "push", list_ref, env=env)),
    ]

    assert results[1].stdout == image.manifest
    for result in results[1:]:
        assert b"HTTP Request" in result.stderr  # --debug really traced the traffic
    assert_no_secret(results, SCAN.secrets())
    stored = json.loads((tmp_path / "docker" / "config.json").read_text())
    assert stored["auths"][auth_registry.host]["auth"] == basic(user, password)


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_wrong_basic_credentials_are_never_echoed(
    auth_registry: RegistryServer, tmp_path: Path, debug: list[str]
) -> None:
    wrong = secrets.token_urlsafe(18)
    SCAN.add_password("polyarch", wrong, "a wrong password")
    host = auth_registry.host
    env = docker_config(tmp_path / "login")
    from_config = docker_config(tmp_path / "config", {host: {"auth": basic("polyarch", wrong)}})

    results = [
        denied(login(debug, host, "polyarch", wrong, env)),
        denied(polyarch(*debug, "login", "-u", "polyarch", "-p", wrong, host, env=env)),
        denied(polyarch(*debug, "inspect", f"{host}/secrets/x:1", env=from_config)),
        denied(
            polyarch(
                *debug, "copy", f"{host}/secrets/x:1", f"oci:{tmp_path / 'out'}", env=from_config
            )
        ),
    ]

    assert_no_secret(
        results, {wrong: "the wrong password", basic("polyarch", wrong): "the basic credentials"}
    )
    assert_no_secret(results, SCAN.secrets())
    assert not (tmp_path / "login" / "config.json").exists()
    assert "config.json" in results[2].stderr.decode()  # it says where the credentials were


# -- bearer tokens: --debug traces and errors ---------------------------------------------


def test_debug_traces_of_token_auth_hold_no_secret(
    token_registry: TokenRegistry, registry: RegistryServer, tmp_path: Path
) -> None:
    tr = token_registry
    password = tr.password("alice")
    image = make_image(AMD64, seed=778, layers=1)
    seed_repository = unique("secrets/seed")
    registry.push_image(seed_repository, image, tag="1.0")
    repository = unique("alice/secrets")
    target = f"{tr.host}/{repository}:1.0"
    env = docker_config(tmp_path / "docker")
    start = tr.tokens.mark()

    results = [
        ok(login(["--debug"], tr.host, "alice", password, env)),
        # push scope, then pull scope, then a cross-repository mount
        ok(polyarch("--debug", "copy", f"{registry.host}/{seed_repository}:1.0", target, env=env)),
        ok(polyarch("--debug", "inspect", target, env=env)),
        ok(polyarch("--debug", "copy", target, f"oci:{tmp_path / 'layout'}", env=env)),
        ok(polyarch("--debug", "copy", target, f"{tr.host}/{repository}-2:1.0", env=env)),
    ]
    # An identity token (OAuth2 refresh token) in config.json, as docker stores one.
    refresh = tr.tokens.issue_refresh_token("alice")
    identity = docker_config(tmp_path / "identity", {tr.host: {"identitytoken": refresh}})
    results.append(ok(polyarch("--debug", "inspect", target, env=identity)))

    granted = [r for r in tr.tokens.requests(since=start) if r.status == 200]
    assert len(granted) >= len(results)  # tokens were really issued, and used
    assert {r.grant_type for r in granted} >= {None, "refresh_token"}
    assert results[2].stdout == image.manifest
    for result in results[1:]:
        assert b"HTTP Request" in result.stderr
    secrets_now = SCAN.secrets()
    assert refresh in secrets_now
    assert_no_secret(results, secrets_now)


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_wrong_token_credentials_are_never_echoed(
    token_registry: TokenRegistry, tmp_path: Path, debug: list[str]
) -> None:
    tr = token_registry
    wrong = secrets.token_urlsafe(18)
    revoked = secrets.token_urlsafe(24)
    SCAN.add_password("alice", wrong, "a wrong password")
    SCAN.add(revoked, "an unknown identity token")
    target = f"{tr.host}/alice/secrets:1"
    env = docker_config(tmp_path / "login")
    bad_auth = docker_config(tmp_path / "auth", {tr.host: {"auth": basic("alice", wrong)}})
    bad_identity = docker_config(tmp_path / "identity", {tr.host: {"identitytoken": revoked}})

    results = [
        denied(login(debug, tr.host, "alice", wrong, env)),
        denied(polyarch(*debug, "inspect", target, env=bad_auth)),
        denied(polyarch(*debug, "inspect", target, env=bad_identity)),
    ]

    typed = {wrong: "the wrong password", revoked: "the identity token"}
    assert_no_secret(results, typed | {basic("alice", wrong): "the basic credentials"})
    assert_no_secret(results, SCAN.secrets())
    assert not (tmp_path / "login" / "config.json").exists()
