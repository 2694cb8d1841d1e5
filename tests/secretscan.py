"""The secrets check of the whole suite: no password or token a fixture made ever appears
in anything polyarch printed or logged.

::

    SCAN.add_password(user, password, "auth_registry")   # fixtures register their secrets
    SCAN.add_token(token, "a token of the token service")
    SCAN.add_source("refresh tokens", lambda: tokens.refresh_tokens)   # read at the end
    ...                                                  # the session runs
    SCAN.leaks()                                         # [] or where each secret showed

What is searched:

* the stdout and stderr of every ``polyarch`` process the tests run. ``tests/conftest.py``
  puts a wrapper named ``polyarch`` first on ``PATH`` (tests find the console script with
  ``shutil.which("polyarch")``); it ``exec``\\ s the real console script, so the process
  keeps its PID (a test may SIGKILL it) and its exit status, and copies both streams to
  files under :attr:`SecretScan.output_dir` with ``tee``. A stream that is a terminal is
  left alone, so ``isatty()`` still tells the truth (a test of the progress display);
* every log record of the ``polyarch`` and ``urllib3`` loggers emitted in the test process
  (both log at DEBUG for the session).

Each password is searched as itself, inside ``user:password`` in base64 (an HTTP basic
``Authorization`` value or a docker ``auth`` field) and URL-encoded (a token request
form); each JWT also by its signature alone. Secrets shorter than
:data:`MIN_SECRET_LENGTH` are not searched: they would match by chance.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MIN_SECRET_LENGTH", "SCAN", "Leak", "Output", "RecordingHandler", "SecretScan"]

MIN_SECRET_LENGTH = 6
#: Loggers whose records are searched: polyarch's own, and the HTTP client it drives.
LOGGERS = ("polyarch", "urllib3")


@dataclass(frozen=True)
class Output:
    """What one polyarch process printed (or the log records of the test process)."""

    where: str
    test: str
    streams: dict[str, str]


@dataclass(frozen=True)
class Leak:
    what: str
    where: str
    test: str
    stream: str
    context: str


class SecretScan:
    """Secrets registered by fixtures, and what to search for them."""

    def __init__(self) -> None:
        self.output_dir: Path | None = None
        self._secrets: dict[str, str] = {}
        self._sources: list[tuple[str, Callable[[], Iterable[str]]]] = []
        self._records: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    # -- secrets ------------------------------------------------------------------------

    def add(self, secret: str | None, what: str) -> None:
        if secret is None or len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            self._secrets.setdefault(secret, what)

    def add_password(self, user: str | None, password: str | None, what: str) -> None:
        if password is None:
            return
        self.add(password, f"the password of {what}")
        self.add(urllib.parse.quote(password, safe=""), f"the password of {what}, URL-encoded")
        if user is not None:
            basic = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.add(basic, f"the basic credentials of {what}")

    def add_token(self, token: str, what: str) -> None:
        self.add(token, what)
        parts = token.split(".")
        if len(parts) == 3:
            # A JWT's header is the same in every token and its claims are readable by
            # design; the signature is what makes it a credential.
            self.add(parts[2], f"{what} (its signature)")

    def add_source(self, what: str, source: Callable[[], Iterable[str]]) -> None:
        """Secrets to read only at the end (tests may add refresh tokens themselves)."""
        with self._lock:
            self._sources.append((what, source))

    def secrets(self) -> dict[str, str]:
        """secret -> what it is."""
        with self._lock:
            found = dict(self._secrets)
            sources = list(self._sources)
        for what, source in sources:
            for secret in list(source()):
                if len(secret) >= MIN_SECRET_LENGTH:
                    found.setdefault(secret, what)
        return found

    # -- what polyarch printed or logged ------------------------------------------------

    def record(self, text: str) -> None:
        test = os.environ.get("PYTEST_CURRENT_TEST", "")
        with self._lock:
            self._records.append((test, text))

    def outputs(self) -> Iterator[Output]:
        if self.output_dir is not None and self.output_dir.is_dir():
            for test_file in sorted(self.output_dir.glob("*.test")):
                base = test_file.with_suffix("")
                args = base.with_suffix(".args")
                command = args.read_bytes().split(b"\0")[:-1] if args.exists() else []
                streams = {}
                for stream in ("out", "err"):
                    path = base.with_suffix(f".{stream}")
                    if path.exists():
                        streams[f"std{stream}"] = path.read_bytes().decode("utf-8", "replace")
                yield Output(
                    where="polyarch " + " ".join(c.decode("utf-8", "replace") for c in command),
                    test=test_file.read_text().strip(),
                    streams=streams,
                )
        with self._lock:
            records = list(self._records)
        by_test: dict[str, list[str]] = {}
        for test, text in records:
            by_test.setdefault(test, []).append(text)
        for test, texts in by_test.items():
            yield Output(where="log records", test=test, streams={"log": "\n".join(texts)})

    def leaks(self, secrets: dict[str, str] | None = None) -> list[Leak]:
        """Every place a secret appears, each secret masked in the report."""
        secrets = self.secrets() if secrets is None else secrets
        found = []
        for output in self.outputs():
            for stream, text in output.streams.items():
                for secret, what in secrets.items():
                    at = text.find(secret)
                    if at < 0:
                        continue
                    context = text[max(0, at - 60) : at + len(secret) + 60]
                    found.append(
                        Leak(
                            what=what,
                            where=self.mask(output.where, secrets),
                            test=output.test,
                            stream=stream,
                            context=self.mask(context, secrets),
                        )
                    )
        return found

    @staticmethod
    def mask(text: str, secrets: dict[str, str]) -> str:
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "<SECRET>")
        return text

    @staticmethod
    def report(leaks: list[Leak]) -> str:
        lines = [f"{len(leaks)} secret(s) appeared in what polyarch printed or logged:"]
        for leak in leaks:
            lines.append(
                f"- {leak.what}: {leak.stream} of {leak.where!r} in {leak.test or '?'}: "
                f"...{leak.context}..."
            )
        return "\n".join(lines)

    # -- the wrapper --------------------------------------------------------------------

    def wrapper_script(self, real: Path, tee: str) -> str:
        """The ``polyarch`` put first on PATH (see the module docstring)."""
        assert self.output_dir is not None
        log = f"{self.output_dir}/run-$$-${{EPOCHREALTIME/[.,]/}}"
        return (
            "#!/bin/bash\n"
            "# Written by tests/conftest.py for the secrets check (tests/secretscan.py):\n"
            "# the real polyarch, same PID, with a copy of what it prints.\n"
            f'log="{log}"\n'
            'printf \'%s\\0\' "$@" > "$log.args"\n'
            f'[ -t 1 ] || exec 1> >(exec {tee} -a "$log.out")\n'
            f'[ -t 2 ] || exec 2> >(exec {tee} -a "$log.err" >&2)\n'
            # Last: its presence says the run is listed (see outputs()).
            'printf \'%s\\n\' "${PYTEST_CURRENT_TEST:-}" > "$log.test"\n'
            f'exec "{real}" "$@"\n'
        )


class RecordingHandler(logging.Handler):
    """Hands every record of :data:`LOGGERS` to a :class:`SecretScan`."""

    def __init__(self, scan: SecretScan) -> None:
        super().__init__(logging.NOTSET)
        self.scan = scan
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(LOGGERS):
            return
        try:
            self.scan.record(self.format(record))
        except Exception:  # a record that cannot be formatted is the logger's problem
            self.handleError(record)


#: The session's scan; ``tests/conftest.py`` sets it up and checks it at the end.
SCAN = SecretScan()
