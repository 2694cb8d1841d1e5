"""When a failed request is sent again, and how long to wait: one budget per operation.

A request that got no answer (refused, reset, closed, timed out) or a "not now" answer
(429, 500, 502, 503, 504) is sent again after an exponential backoff with jitter
(``Retry-After`` honoured, capped), when sending it again is safe::

    idempotent method (GET HEAD PUT DELETE), body held whole    every transient failure
    any method, body held whole                                  no connection made; 429, 503
    a streamed body (blob uploads)                               never as it is: the store
                                                                 starts the upload again

An operation spends one :class:`RetryBudget` (``RegistryOptions.retries``): the requests
it sends and its restarts (a blob body resumed where it broke, an upload begun again)
draw on the same count, so ``--retries N`` means N in all, never N times N. A connection
this machine refused is retried once at most (:data:`LOOPBACK_REFUSALS`).

Every retry is said as a warning, what failed and why (a message without query or
credentials): a command that waits is never silent about it.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from typing import Final

from polyarch.errors import NetworkError, RegistryError
from polyarch.registry._auth import TokenRenewedError
from polyarch.registry._http import TransportError
from polyarch.registry._url import is_loopback

__all__ = [
    "LOOPBACK_REFUSALS",
    "RETRY_STATUSES",
    "RetryBudget",
    "may_send_again",
    "retry_after",
    "transient",
]

log = logging.getLogger(__name__)

#: Answers that say "not now" rather than "no": the same request may succeed later.
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: Answers that say the request was not acted on (RFC 6585 §4, RFC 9110 §15.6.4): safe to
#: send again whatever the method.
_NOT_PERFORMED: Final = frozenset({429, 503})
#: Methods whose repetition has the effect of one request (RFC 9110 §9.2.2).
IDEMPOTENT: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: Retries of connections refused by this machine, in one operation: nothing listens on
#: the port, and in the usual case nothing will within the seconds a retry waits; one
#: covers a registry that is restarting.
LOOPBACK_REFUSALS: Final = 1


class RetryBudget:
    """The retries one operation may still spend, and the waits between them.

    :param retries: how many; 0 never retries.
    :param backoff: seconds before the first; each further one waits twice as long, a
        random half of it (jitter), so parallel transfers do not retry in step.
    :param max_wait: the longest wait, ``Retry-After`` included.
    """

    def __init__(self, retries: int, *, backoff: float = 0.5, max_wait: float = 30.0) -> None:
        self.retries = retries
        self.spent = 0
        self._refusals = 0
        self._backoff = backoff
        self._max_wait = max_wait

    @property
    def exhausted(self) -> bool:
        """Retried, and none is left: the operation failed after all its tries."""
        return self.spent > 0 and self.spent >= self.retries

    def wait(
        self,
        what: str,
        reason: str,
        retry_after: float | None = None,
        *,
        failure: BaseException | None = None,
    ) -> bool:
        """Spend one retry if one is left: warn why, wait, return True; else False.

        :param failure: what failed, when no answer came: a connection refused by this
            machine is retried :data:`LOOPBACK_REFUSALS` times at most.
        """
        if self.spent >= self.retries:
            return False
        most = self.retries
        if _refused_here(failure):
            if self._refusals >= LOOPBACK_REFUSALS:
                return False
            self._refusals += 1
            most = min(most, self.spent + 1 + LOOPBACK_REFUSALS - self._refusals)
        if retry_after is not None:
            delay = min(retry_after, self._max_wait)
        else:
            ceiling = min(self._max_wait, self._backoff * 2**self.spent)
            delay = random.uniform(ceiling / 2, ceiling)
        self.spent += 1
        log.warning("retrying in %.1f s (%d of %d): %s: %s", delay, self.spent, most, what, reason)
        time.sleep(delay)
        return True

    def again(self, what: str, err: BaseException) -> bool:
        """For an operation that failed with ``err``: if starting it again may help
        (:func:`transient`) and a retry is left, wait for it and return True."""
        if not transient(err):
            return False
        # The error's message often names the operation already: say it once.
        reason = str(err).removeprefix(f"{what}: ")
        return self.wait(what, reason, failure=err.__cause__)


def transient(err: BaseException) -> bool:
    """Whether an operation that failed with ``err`` may succeed if started again: the
    registry did not answer, the connection broke, or it answered "not now". A
    certificate that is not trusted, a refusal, or content that is wrong is final."""
    if not isinstance(err, RegistryError):
        return False
    if isinstance(err, TokenRenewedError):
        return True  # an upload's token was refused and renewed: start it again
    cause = err.__cause__
    if isinstance(err, NetworkError) and isinstance(cause, TransportError):
        return cause.kind in ("sent", "unsent")
    return err.status in RETRY_STATUSES


def _refused_here(failure: BaseException | None) -> bool:
    """A connection refused by this machine, decided on the URL connected to."""
    return (
        isinstance(failure, TransportError)
        and failure.refused
        and is_loopback(failure.request.target.host or "")
    )


def may_send_again(
    method: str, *, replayable: bool, status: int | None = None, kind: str | None = None
) -> bool:
    """Whether a request may be sent again after it failed: with the answer ``status``,
    or no answer (``kind`` of :class:`TransportError`)."""
    idempotent = replayable and method in IDEMPOTENT
    if kind is not None:
        return (kind == "unsent" and replayable) or (kind == "sent" and idempotent)
    return replayable and (status in _NOT_PERFORMED or (idempotent and status in RETRY_STATUSES))


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delay-seconds or an HTTP-date; ``None``
    for anything else (``²`` is no number of seconds, whatever ``str.isdigit`` says)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
