"""How to reach registries: the options every registry client of a run shares.

Kept apart from the client so that building them (the CLI does for every command) does
not load the HTTP stack: a command that only reads an OCI layout never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from polyarch.errors import InvalidInputError

if TYPE_CHECKING:
    from polyarch.auth import Credentials

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_CERTS_DIR",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "RegistryOptions",
]

DEFAULT_CERTS_DIR = Path("/etc/docker/certs.d")
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 4
DEFAULT_BACKOFF = 0.5


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    """How to reach registries. Defaults are the safe ones.

    :param insecure: allow plain HTTP and skip TLS verification, as docker's
        ``--insecure`` / ``insecure-registries`` does.
    :param ca_file: an extra CA bundle to trust for every registry.
    :param certs_dir: docker's per-host certificate directory.
    :param config_dir: docker's config directory (credentials); ``None`` = ``$DOCKER_CONFIG``
        or ``~/.docker``.
    :param credentials: use these instead of looking them up (tests, ``--username``).
    :param timeout: seconds to wait for a connection or for data.
    :param retries: how many times a failed request (or blob upload, or a body that broke
        off) is tried again; 0 never retries.
    :param backoff: seconds before the first retry; each further one waits twice as long,
        a random part of it (jitter) so that parallel transfers do not retry in step.
    :param max_wait: the longest wait before one retry, ``Retry-After`` included.
    :param max_in_flight: the most requests in flight to one host at once (``--jobs``);
        ``None``: a bound that fits each host's distance, 8 near to 32 far.
    """

    insecure: bool = False
    ca_file: Path | None = None
    certs_dir: Path = DEFAULT_CERTS_DIR
    config_dir: Path | None = None
    credentials: Credentials | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_connections: int = 32
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    max_wait: float = 30.0
    max_in_flight: int | None = None

    def __post_init__(self) -> None:
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise InvalidInputError(f"max_in_flight ({self.max_in_flight}) must be at least 1")
        if self.retries < 0 or self.backoff < 0 or self.max_wait < 0:
            raise InvalidInputError(
                f"retries ({self.retries}), backoff ({self.backoff}) and max_wait "
                f"({self.max_wait}) cannot be negative"
            )
