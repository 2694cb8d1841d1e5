"""How many requests go to one host at once: a bound that fits the distance.

A host on this machine answers in well under a millisecond, and more requests in flight
only add contention in the client; a host 20 ms away answers a request a round trip after
it was sent, and only many in flight at once keep a run from waiting out one round trip
after another. So the bound starts at :data:`NEAR` and grows with the round trip measured
(the quickest answer yet to a request without a body: no upload time in it, and a new
connection's handshake is not the quickest), up to :data:`FAR` at :data:`FAR_RTT`.

A request is in flight from when it goes until its status line and headers are in. An
upload streaming its body counts apart, among the bodies in flight, under the same bound:
its body may be a download from the same host (a blob copied within a registry whose mount
was declined), which needs a request's place, and a thread never waits for a place while
it holds one of the same kind, so no upload waits for a place it holds itself.

A host that answers 429 or 503 is asked less: the bound is halved, once for the requests
sent before that answer (a burst of them is refused together: one cut, not one each), then
grows back by one for each bound's worth of answers that were not refused (TCP's congestion
avoidance). The user's ``--jobs`` caps it all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

__all__ = ["FAR", "FAR_RTT", "NEAR", "NEAR_RTT", "InFlight", "bound_for"]

#: Requests in flight at once to a host on this machine, or as near.
NEAR: Final = 8
#: ... and to a host :data:`FAR_RTT` away or further.
FAR: Final = 32
#: Round trips (seconds) up to which a host is near, from which it is far; in between
#: the bound grows in proportion.
NEAR_RTT: Final = 0.002
FAR_RTT: Final = 0.020
#: Statuses that say the host wants fewer requests.
OVERLOADED: Final = frozenset({429, 503})


def bound_for(rtt: float | None, *, cap: int | None = None) -> int:
    """The requests in flight that fit a round trip of ``rtt`` seconds (``None``: not
    measured yet, near), never more than ``cap``."""
    if rtt is None or rtt <= NEAR_RTT:
        bound = NEAR
    elif rtt >= FAR_RTT:
        bound = FAR
    else:
        bound = NEAR + round((FAR - NEAR) * (rtt - NEAR_RTT) / (FAR_RTT - NEAR_RTT))
    return max(1, bound if cap is None else min(bound, cap))


class InFlight:
    """The requests in flight to one host, and their bound. Thread-safe.

    :param cap: the most there may ever be (``--jobs``); ``None``: :data:`FAR`.
    :param clock: seconds, monotonic (tests give their own).
    """

    def __init__(
        self, *, cap: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cap = cap
        self._clock = clock
        self.rtt: float | None = None
        #: After a 429/503: what the bound is held to while it grows back (``None``: no
        #: such answer yet, or grown back).
        self._window: float | None = None
        #: When the bound was last cut: a refusal of a request sent before then cut it.
        self._last_cut = float("-inf")
        #: Requests waiting for their answer's head, and upload bodies being sent.
        self.active = 0
        self.bodies = 0
        #: The most requests that were in flight at once (what the tests look at).
        self.peak = 0
        self._ready = threading.Condition(threading.Lock())

    @property
    def bound(self) -> int:
        with self._ready:
            return self._bound()

    def _bound(self) -> int:
        bound = bound_for(self.rtt, cap=self.cap)
        if self._window is not None:
            bound = min(bound, max(1, int(self._window)))
        return bound

    def enter(self) -> float:
        """Wait for a place among the requests in flight, and take it; when it went, for
        :meth:`leave`."""
        with self._ready:
            while self.active >= self._bound():
                self._ready.wait()
            self.active += 1
            self.peak = max(self.peak, self.active)
            return self._clock()

    def streaming(self) -> None:
        """The request that :meth:`enter` let go starts sending its body: its place goes
        back, and it waits for one among the bodies in flight."""
        with self._ready:
            self.active -= 1
            self._ready.notify_all()
            while self.bodies >= self._bound():
                self._ready.wait()
            self.bodies += 1

    def leave(
        self,
        entered: float,
        *,
        status: int | None = None,
        rtt: float | None = None,
        streamed: bool = False,
    ) -> None:
        """The request that :meth:`enter` let go at ``entered`` has its answer
        (``status``; ``None``: none came) after ``rtt`` seconds, when that is a round
        trip's measure; ``streamed``: it had called :meth:`streaming`."""
        with self._ready:
            if streamed:
                self.bodies -= 1
            else:
                self.active -= 1
            if rtt is not None and (self.rtt is None or rtt < self.rtt):
                self.rtt = rtt
            if status in OVERLOADED:
                if entered > self._last_cut:
                    self._last_cut = self._clock()
                    self._window = float(max(1, self._bound() // 2))
            elif status is not None and self._window is not None:
                self._window += 1 / self._window
                if self._window >= bound_for(self.rtt, cap=self.cap):
                    self._window = None
            self._ready.notify_all()
