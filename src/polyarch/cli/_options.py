"""Options and parsing shared by the commands; their defaults are the library's own."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from polyarch.errors import InvalidInputError
from polyarch.location import LayoutLocation
from polyarch.ops import DEFAULT_JOBS
from polyarch.platform import Platform
from polyarch.registry import Registries
from polyarch.registry.options import (
    DEFAULT_BACKOFF,
    DEFAULT_CERTS_DIR,
    DEFAULT_RETRIES,
    RegistryOptions,
)

if TYPE_CHECKING:
    from polyarch.ops.pending import ListName

F = TypeVar("F", bound=Callable[..., Any])


jobs_option = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=DEFAULT_JOBS,
    show_default=True,
    help="The most transfers at once, and requests in flight to each registry; below it "
    "the bound fits the registry's distance (8 near, growing to 32 far, halved on 429/503).",
)


def format_option(help: str, *, default: str = "text") -> Callable[[F], F]:
    """``--format text|json`` (passed as ``output_format``): for people, or for scripts."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default=default,
        show_default=True,
        help=help,
    )


def registry_options(func: F) -> F:
    """Add ``--insecure``, ``--ca-file``, ``--certs-dir`` and ``--retries``; pass a ready
    ``registries``.

    ``POLYARCH_RETRY_BACKOFF`` (seconds, default 0.5) sets the wait before the first retry;
    each further one waits twice as long.
    """

    @click.option(
        "--insecure",
        is_flag=True,
        help="Allow plain HTTP and unverified TLS for registries.",
    )
    @click.option(
        "--ca-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Extra CA certificates (PEM) to trust.",
    )
    @click.option(
        "--certs-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("POLYARCH_CERTS_DIR", str(DEFAULT_CERTS_DIR)),
        show_default=str(DEFAULT_CERTS_DIR),
        help="Per-registry certificates, as docker reads them (HOST/ca.crt).",
    )
    @click.option(
        "--retries",
        type=click.IntRange(0, 100),
        default=DEFAULT_RETRIES,
        show_default=True,
        help="Retry failed requests and transfers this many times (0: never).",
    )
    @click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="POLYARCH_CACHE_DIR",
        help="Where manifests, configs and blob places seen are kept between runs "
        "[default: $POLYARCH_HOME/cache].",
    )
    @click.option(
        "--no-cache",
        is_flag=True,
        envvar="POLYARCH_NO_CACHE",
        help="Neither read nor write the cache: every answer comes from the registry.",
    )
    @click.option(
        "--max-requests",
        type=click.IntRange(1),
        help="Send at most this many requests; stop before one more (exit 5), with no "
        "tag moved by what stopped.",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        insecure: bool,
        ca_file: Path | None,
        certs_dir: Path,
        retries: int,
        cache_dir: Path | None,
        no_cache: bool,
        max_requests: int | None,
        **kwargs: Any,
    ) -> Any:
        _warnings_on_stderr()
        options = RegistryOptions(
            insecure=insecure,
            ca_file=ca_file,
            certs_dir=Path(certs_dir),
            retries=retries,
            backoff=_backoff(),
            # A command's --jobs bounds its requests in flight to each registry too.
            max_in_flight=kwargs.get("jobs"),
        )
        cache = None
        if not no_cache:
            from polyarch.cache import Cache, default_cache_directory
            from polyarch.home import default_home

            cache = Cache(cache_dir or default_cache_directory(default_home()))
        with Registries(options, cache=cache, max_requests=max_requests) as registries:
            try:
                return func(*args, registries=registries, **kwargs)
            finally:
                import logging

                logging.getLogger("polyarch.cli").debug("%s", registries.meter.summary())

    return wrapper  # type: ignore[return-value]


def requests_made(registries: Registries) -> str:
    """``N requests`` and the rate limits registries stated, for a summary line."""
    return registries.meter.summary()


def _warnings_on_stderr() -> None:
    """The library's warnings (a retry, and why) on stderr as ``polyarch: warning: ...``
    lines, the form of the error line. ``--debug`` configured logging already, to show
    everything; here logging is loaded anyway (the registry client logs)."""
    import logging

    logger = logging.getLogger("polyarch")
    if logging.getLogger().handlers or logger.handlers:
        return

    class Stderr(logging.Handler):
        # The stream of the moment, as logging's last resort writes to: a progress
        # display that redirects stderr, or a test that captures it, still gets the line.
        def emit(self, record: logging.LogRecord) -> None:
            try:
                sys.stderr.write(self.format(record) + "\n")
                sys.stderr.flush()
            except Exception:
                self.handleError(record)

    handler = Stderr()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("polyarch: warning: %(message)s"))
    logger.addHandler(handler)


def _backoff() -> float:
    text = os.environ.get("POLYARCH_RETRY_BACKOFF", "").strip()
    if not text:
        return DEFAULT_BACKOFF
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60:  # NaN fails too
        raise InvalidInputError(
            f"POLYARCH_RETRY_BACKOFF={text!r} is not a number of seconds from 0 to 60"
        )
    return value


def parse_platform(text: str) -> Platform:
    """A platform the user typed; a one-part one (``linux``, ``arm64``) takes its other
    half from this machine (detected only then: it loads more than parsing does)."""

    def this_machine() -> Platform:
        from polyarch.host import host_platform

        return host_platform()

    return Platform.parse(text, host=this_machine)


def parse_platforms(values: Sequence[str]) -> list[Platform]:
    """``--platform a,b --platform c`` -> three platforms."""
    return [
        parse_platform(part.strip())
        for value in values
        for part in value.split(",")
        if part.strip()
    ]


def parse_list_name(text: str) -> ListName:
    """A local list's name or member as typed: a registry reference, or ``oci:PATH...``
    with the path made absolute (the saved list must mean the same from any directory)."""
    from polyarch.ops.pending import parse_list_name as parse

    name = parse(text)
    if isinstance(name, LayoutLocation):
        return LayoutLocation(os.path.abspath(name.path), name.tag, name.digest)
    return name


def annotation_options(func: F) -> F:
    """``--annotation KEY=VALUE`` (repeatable) and ``--annotation-file FILE`` (one
    ``KEY=VALUE`` a line; blank lines and ``#`` comments skipped), passed as one
    ``annotations`` mapping, the flags' values over the file's."""

    @click.option(
        "--annotation",
        "annotation_values",
        multiple=True,
        metavar="KEY=VALUE",
        help="Set an annotation (repeatable).",
    )
    @click.option(
        "--annotation-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Read annotations from a file, KEY=VALUE a line.",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any, annotation_values: tuple[str, ...], annotation_file: Path | None, **kwargs: Any
    ) -> Any:
        annotations: dict[str, str] = {}
        if annotation_file is not None:
            try:
                text = annotation_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise InvalidInputError(f"cannot read {annotation_file}: {err}") from err
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip() and not line.lstrip().startswith("#"):
                    where = f"{annotation_file}, line {number}"
                    annotations.update([_annotation(line.strip(), where)])
        for value in annotation_values:
            annotations.update([_annotation(value, "--annotation")])
        return func(*args, annotations=annotations, **kwargs)

    return wrapper  # type: ignore[return-value]


def _annotation(text: str, where: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(c.isspace() for c in key):
        raise InvalidInputError(
            f"{where}: {text[:100]!r} is not KEY=VALUE",
            hint="e.g. org.opencontainers.image.source=https://github.com/me/app",
        )
    return key, value


def attestations_option(*, amending: bool = False) -> Callable[[F], F]:
    """``--attestations keep|drop|referrers``; ``amending`` (create): left out, an amended
    list keeps what it was created with."""
    return click.option(
        "--attestations",
        type=click.Choice(["keep", "drop", "referrers"]),
        default=None if amending else "keep",
        show_default=not amending,
        help="What to do with buildx's attestation manifests (unknown/unknown entries): keep "
        "each beside its image, drop them from every index written, or move them out of the "
        "index into OCI 1.1 referrers of their images."
        + (" Default: keep; with --amend, what the list was created with." if amending else ""),
    )


verify_option = click.option(
    "--verify",
    "then_verify",
    is_flag=True,
    help="Then check what was written as polyarch verify does (every child and blob there).",
)


dry_run_option = click.option(
    "--dry-run",
    is_flag=True,
    help="Write nothing: print what would be done (each blob, manifest and tag), how the "
    "tag's content would change, and the requests it would take.",
)
edit_dry_run_option = click.option(
    "--dry-run",
    is_flag=True,
    help="Write nothing: print what the tag names now, the entries that would be copied "
    "into its repository, and how the index would change.",
)
