"""Pipelines, not phases: steps that start steps, each as soon as what it needs is done.

A copy of an index fetched all its children, then moved all their blobs, then put all
their manifests: every phase waited for the slowest member of the one before, and each
wait cost round trips. In a :class:`Pipeline` each member flows on its own (its manifest
fetched, then its blobs, then its manifest put) while the others do the same, on one pool
of threads. No step waits for another on its thread: a step that needs others is started
only once they are done, so a small pool cannot deadlock however the steps nest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

__all__ = ["Pipeline", "Step"]

T = TypeVar("T")


class _Skipped(Exception):
    """A step not run: the pipeline failed before its turn."""


class Step(Generic[T]):
    """One piece of work in a :class:`Pipeline`: its result once the pipeline is done."""

    __slots__ = ("_done", "_error", "_then", "_value")

    def __init__(self) -> None:
        self._done = False
        self._value: T | None = None
        self._error: BaseException | None = None
        self._then: list[Callable[[Step[Any]], None]] = []

    def result(self) -> T:
        """What the step returned; only after :meth:`Pipeline.wait` returned.

        :raises RuntimeError: the step did not run to its end.
        """
        if not self._done or self._error is not None:
            raise RuntimeError("the step did not complete")
        return self._value  # type: ignore[return-value]


class Pipeline:
    """Steps on up to ``jobs`` threads. The first step that fails stops the pipeline: steps
    not begun are skipped (the target gets nothing more from a failed copy), and
    :meth:`wait` raises its error once the steps running have ended."""

    def __init__(self, jobs: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        self._lock = threading.Condition(threading.Lock())
        self._open = 0
        self._error: BaseException | None = None
        self._raised = False

    def run(self, work: Callable[[], T], *, after: Sequence[Step[Any]] = ()) -> Step[T]:
        """``work`` as a step, started once every step of ``after`` is done (at once
        when they are); thread-safe, and to be called from steps too."""
        step: Step[T] = Step()
        waiting = [len(after) + 1]  # +1: until every callback below is registered

        def needed_done(_: Step[Any]) -> None:
            with self._lock:
                waiting[0] -= 1
                ready = waiting[0] == 0
            if ready:
                self._start(step, work)

        with self._lock:
            self._open += 1
            for needed in after:
                if needed._done:
                    waiting[0] -= 1
                else:
                    needed._then.append(needed_done)
        needed_done(step)
        return step

    def _start(self, step: Step[T], work: Callable[[], T]) -> None:
        try:
            self._pool.submit(self._execute, step, work)
        except BaseException as err:  # shut down (a step after wait()), or interrupted
            self._finish(step, None, err)

    def _execute(self, step: Step[T], work: Callable[[], T]) -> None:
        if self._error is not None:
            self._finish(step, None, _Skipped())
            return
        try:
            value = work()
        except BaseException as err:
            self._finish(step, None, err)
        else:
            self._finish(step, value, None)

    def _finish(self, step: Step[T], value: T | None, error: BaseException | None) -> None:
        with self._lock:
            step._value, step._error, step._done = value, error, True
            if error is not None and self._error is None and not isinstance(error, _Skipped):
                self._error = error
            then, step._then = step._then, []
        for callback in then:
            callback(step)
        with self._lock:
            self._open -= 1
            self._lock.notify_all()

    def wait(self) -> None:
        """Until no step is left to run; then the first failure, if one failed."""
        error = self._drained()
        if error is not None:
            self._raised = True
            raise error

    def _drained(self) -> BaseException | None:
        with self._lock:
            while self._open:
                self._lock.wait()
            return self._error

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            # Left on an error of the caller's own: what runs ends, nothing more starts.
            with self._lock:
                if self._error is None:
                    self._error = _Skipped()
        error = self._drained()
        self._pool.shutdown(wait=True)
        if exc[0] is None and error is not None and not self._raised:
            raise error  # a failure never goes unsaid, wait() or not
