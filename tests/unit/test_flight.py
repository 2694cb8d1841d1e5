"""The bound on requests in flight to one host: it fits the distance, and backs off."""

from __future__ import annotations

import threading

import pytest

from polyarch.registry._flight import FAR, FAR_RTT, NEAR, NEAR_RTT, InFlight, bound_for


@pytest.mark.parametrize(
    ("rtt", "bound"),
    [
        (None, NEAR),
        (0.0001, NEAR),
        (NEAR_RTT, NEAR),
        ((NEAR_RTT + FAR_RTT) / 2, (NEAR + FAR) // 2),
        (FAR_RTT, FAR),
        (0.2, FAR),
    ],
)
def test_the_bound_grows_with_the_round_trip(rtt: float | None, bound: int) -> None:
    assert bound_for(rtt) == bound


def test_the_cap_is_never_passed() -> None:
    assert bound_for(0.1, cap=4) == 4
    assert bound_for(None, cap=2) == 2
    assert bound_for(None, cap=64) == NEAR


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_quickest_answer_is_the_round_trip() -> None:
    flight = InFlight()
    for rtt in (0.05, 0.021, 0.3):  # a handshake, a slow server: the quickest counts
        flight.leave(flight.enter(), status=200, rtt=rtt)
    assert flight.rtt == 0.021
    assert flight.bound == FAR
    flight.leave(flight.enter(), status=None, rtt=None)  # no answer: nothing learnt
    assert flight.rtt == 0.021


def test_429_halves_the_bound_once_for_what_was_sent_before_and_it_grows_back() -> None:
    clock = Clock()
    flight = InFlight(clock=clock)
    flight.leave(flight.enter(), status=200, rtt=FAR_RTT)
    assert flight.bound == FAR
    burst = [flight.enter() for _ in range(20)]
    clock.now += 0.5  # answers of one burst, however long they take to come: one cut
    for entered in burst:
        flight.leave(entered, status=429)
    assert flight.bound == FAR // 2
    clock.now += 0.1
    flight.leave(flight.enter(), status=503)  # sent after the cut, refused: cut again
    assert flight.bound == FAR // 4
    answers = 0
    while flight.bound < FAR:
        flight.leave(flight.enter(), status=200)
        answers += 1
    # One more for each bound's worth of answers: 8 + 9 + ... + 31.
    assert answers == pytest.approx(sum(range(FAR // 4, FAR)), abs=FAR)


def test_the_bound_never_falls_below_one() -> None:
    clock = Clock()
    flight = InFlight(cap=1, clock=clock)
    for _ in range(4):
        clock.now += 1
        flight.leave(flight.enter(), status=429)
    assert flight.bound == 1


def test_a_request_beyond_the_bound_waits_for_a_place() -> None:
    flight = InFlight(cap=2)
    first = flight.enter()
    flight.enter()
    entered = threading.Event()

    def third() -> None:
        flight.enter()
        entered.set()

    thread = threading.Thread(target=third)
    thread.start()
    assert not entered.wait(0.1)
    flight.leave(first, status=200)
    assert entered.wait(5)
    thread.join()
    assert flight.peak == 2
    assert flight.active == 2


def test_an_upload_streaming_its_body_gives_its_place_to_the_requests() -> None:
    """A body that is a download from the same host takes a request's place while its
    upload counts among the bodies: it never waits for the place its upload holds."""
    flight = InFlight(cap=1)
    upload = flight.enter()
    flight.streaming()
    download = flight.enter()  # would wait for ever if the upload kept its place
    assert (flight.active, flight.bodies) == (1, 1)
    flight.leave(download, status=200)
    flight.leave(upload, status=200, streamed=True)
    assert (flight.active, flight.bodies) == (0, 0)


def test_an_upload_refused_cuts_the_bound_like_any_request() -> None:
    flight = InFlight()
    flight.leave(flight.enter(), status=200, rtt=FAR_RTT)
    upload = flight.enter()
    flight.streaming()
    flight.leave(upload, status=429, streamed=True)
    assert flight.bound == FAR // 2
