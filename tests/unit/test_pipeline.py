"""Steps that start steps: each as soon as what it needs is done, never a thread waiting."""

from __future__ import annotations

import threading
import time

import pytest

from polyarch.ops._pipeline import Pipeline


def test_a_step_runs_after_what_it_needs_and_results_keep_their_order() -> None:
    done: list[str] = []
    lock = threading.Lock()

    def work(name: str, wait: float = 0.0) -> str:
        time.sleep(wait)
        with lock:
            done.append(name)
        return name

    with Pipeline(4) as pipeline:
        slow = pipeline.run(lambda: work("slow", 0.05))
        quick = pipeline.run(lambda: work("quick"))
        last = pipeline.run(lambda: work("last"), after=[slow, quick])
        pipeline.wait()
    assert done[-1] == "last"
    assert (slow.result(), quick.result(), last.result()) == ("slow", "quick", "last")


def test_steps_started_by_steps_never_deadlock_a_pool_of_one() -> None:
    results: list[int] = []

    with Pipeline(1) as pipeline:

        def parent(depth: int) -> None:
            results.append(depth)
            if depth < 20:
                children = [pipeline.run(lambda d=depth: parent(d + 1)) for _ in range(1)]
                pipeline.run(lambda: None, after=children)

        pipeline.run(lambda: parent(0))
        pipeline.wait()
    assert results == list(range(21))


def test_the_first_failure_skips_what_has_not_begun_and_is_raised() -> None:
    ran: list[int] = []

    def fail() -> None:
        raise ValueError("broken")

    with Pipeline(1) as pipeline:
        failing = pipeline.run(fail)
        after = pipeline.run(lambda: ran.append(1), after=[failing])
        later = [pipeline.run(lambda: ran.append(2)) for _ in range(5)]
        with pytest.raises(ValueError, match="broken"):
            pipeline.wait()
    assert ran == []
    with pytest.raises(RuntimeError):
        after.result()
    with pytest.raises(RuntimeError):
        later[0].result()


def test_leaving_on_an_error_ends_what_runs_and_starts_nothing() -> None:
    started = threading.Event()
    ran: list[str] = []

    def leaving() -> None:
        with Pipeline(2) as pipeline:
            first = pipeline.run(lambda: (started.set(), time.sleep(0.05), ran.append("first")))
            pipeline.run(lambda: ran.append("second"), after=[first])
            started.wait(5)
            raise KeyError("caller")

    with pytest.raises(KeyError):
        leaving()
    assert ran == ["first"]


def test_a_failure_is_raised_on_the_way_out_when_nobody_waited() -> None:
    def fail() -> None:
        raise ValueError("unsaid")

    def forgetful() -> None:
        with Pipeline(2) as pipeline:
            pipeline.run(fail)

    with pytest.raises(ValueError, match="unsaid"):
        forgetful()
