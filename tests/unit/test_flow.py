"""Steps that start steps: each as soon as what it needs is done, never a thread waiting."""

from __future__ import annotations

import threading
import time

import pytest

from polyarch.ops._flow import Flow


def test_a_step_runs_after_what_it_needs_and_results_keep_their_order() -> None:
    done: list[str] = []
    lock = threading.Lock()

    def work(name: str, wait: float = 0.0) -> str:
        time.sleep(wait)
        with lock:
            done.append(name)
        return name

    with Flow(4) as flow:
        slow = flow.run(lambda: work("slow", 0.05))
        quick = flow.run(lambda: work("quick"))
        last = flow.run(lambda: work("last"), after=[slow, quick])
        flow.wait()
    assert done[-1] == "last"
    assert (slow.result(), quick.result(), last.result()) == ("slow", "quick", "last")


def test_steps_started_by_steps_never_deadlock_a_pool_of_one() -> None:
    results: list[int] = []

    with Flow(1) as flow:

        def parent(depth: int) -> None:
            results.append(depth)
            if depth < 20:
                children = [flow.run(lambda d=depth: parent(d + 1)) for _ in range(1)]
                flow.run(lambda: None, after=children)

        flow.run(lambda: parent(0))
        flow.wait()
    assert results == list(range(21))


def test_the_first_failure_skips_what_has_not_begun_and_is_raised() -> None:
    ran: list[int] = []

    def fail() -> None:
        raise ValueError("broken")

    with Flow(1) as flow:
        failing = flow.run(fail)
        after = flow.run(lambda: ran.append(1), after=[failing])
        later = [flow.run(lambda: ran.append(2)) for _ in range(5)]
        with pytest.raises(ValueError, match="broken"):
            flow.wait()
    assert ran == []
    with pytest.raises(RuntimeError):
        after.result()
    with pytest.raises(RuntimeError):
        later[0].result()


def test_leaving_on_an_error_ends_what_runs_and_starts_nothing() -> None:
    started = threading.Event()
    ran: list[str] = []

    def leaving() -> None:
        with Flow(2) as flow:
            first = flow.run(lambda: (started.set(), time.sleep(0.05), ran.append("first")))
            flow.run(lambda: ran.append("second"), after=[first])
            started.wait(5)
            raise KeyError("caller")

    with pytest.raises(KeyError):
        leaving()
    assert ran == ["first"]
