"""docker's credential helpers: ``docker-credential-<name>`` on ``PATH``, spoken to as
docker-credential-helpers defines (the action as the only argument, the server URL or a
``{"ServerURL", "Username", "Secret"}`` object on stdin, JSON or an error on stdout). A
``Username`` of ``<token>`` marks ``Secret`` as an identity token. No message ever holds a
secret or output that could hold one."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from polyarch.auth._config import display, json_type
from polyarch.auth._credentials import Credentials
from polyarch.errors import CredentialHelperError

__all__ = ["HELPER_PREFIX", "HELPER_TIMEOUT", "helper_erase", "helper_get", "helper_store"]

HELPER_PREFIX = "docker-credential-"
# Generous because helpers such as pass or desktop may wait for the user to unlock a keyring.
HELPER_TIMEOUT = 60.0
_TOKEN_USERNAME = "<token>"
_NOT_FOUND_MESSAGE = "credentials not found in native keychain"
_MAX_DETAIL = 200


def helper_get(name: str, server: str, *, path: Path, origin: str) -> Credentials | None:
    program = HELPER_PREFIX + name
    done = _run_helper(name, "get", server, path=path, origin=origin)
    if done.returncode != 0:
        if _is_not_found(done):
            return None
        raise _helper_failed(program, "get", done)
    try:
        answer = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise CredentialHelperError(
            f"credential helper {program} get returned output that is not JSON"
        ) from None
    if not isinstance(answer, dict):
        raise CredentialHelperError(
            f"credential helper {program} get returned {json_type(answer)}, not an object"
        )
    username = answer.get("Username") or ""
    secret = answer.get("Secret") or ""
    if not isinstance(username, str) or not isinstance(secret, str):
        raise CredentialHelperError(
            f'credential helper {program} get returned a non-string "Username" or "Secret"'
        )
    source = f"credential helper {program} ({origin} of {display(path)})"
    if username == _TOKEN_USERNAME:
        found = Credentials(identity_token=secret, source=source)
    else:
        found = Credentials(username=username, password=secret, source=source)
    return None if found.is_empty else found


def helper_store(
    name: str, server: str, username: str, secret: str, *, path: Path, origin: str
) -> None:
    request = json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
    done = _run_helper(name, "store", request, path=path, origin=origin)
    if done.returncode != 0:
        raise _helper_failed(HELPER_PREFIX + name, "store", done, secret=secret)


def helper_erase(name: str, server: str, *, path: Path, origin: str) -> bool:
    done = _run_helper(name, "erase", server, path=path, origin=origin)
    if done.returncode == 0:
        return True
    if _is_not_found(done):
        return False
    raise _helper_failed(HELPER_PREFIX + name, "erase", done)


def _run_helper(
    name: str, action: str, stdin: str, *, path: Path, origin: str
) -> subprocess.CompletedProcess[str]:
    program = HELPER_PREFIX + name
    # Resolve first so that a missing helper gets its own message, not an OSError.
    executable = shutil.which(program)
    if executable is None:
        raise CredentialHelperError(
            f"credential helper {program} (set by {origin} in {display(path)}) "
            "was not found on PATH",
            hint=f"install {program}, or remove {origin} from {display(path)}",
        )
    try:
        return subprocess.run(
            [executable, action],
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CredentialHelperError(
            f"credential helper {program} {action} did not answer within {HELPER_TIMEOUT:g}s",
            hint="check that the helper's keyring or password store is unlocked",
        ) from None
    except OSError as error:
        raise CredentialHelperError(
            f"credential helper {program} could not be run: {error.strerror}"
        ) from None


def _is_not_found(done: subprocess.CompletedProcess[str]) -> bool:
    # Helpers print the message on stdout; some wrappers use stderr.
    return _NOT_FOUND_MESSAGE in done.stdout or _NOT_FOUND_MESSAGE in done.stderr


def _helper_failed(
    program: str, action: str, done: subprocess.CompletedProcess[str], *, secret: str = ""
) -> CredentialHelperError:
    detail = _first_line(done.stdout) or _first_line(done.stderr)
    # A helper could echo its input; never let a secret reach a message or a log.
    if detail.startswith("{") or (secret and secret in detail):
        detail = ""
    message = f"credential helper {program} {action} failed (exit status {done.returncode})"
    return CredentialHelperError(f"{message}: {detail}" if detail else message)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 3] + "..."
    return ""
