"""The one bounded poll (observatory.poll): what it returns, what its failure says."""

from __future__ import annotations

import asyncio
import threading

import pytest

from observatory.poll import WaitTimeout, wait_for, wait_for_async


def answers(*values):
    """A check that gives these values in turn (an exception instance is raised)."""
    it = iter(values)

    def check():
        value = next(it)
        if isinstance(value, BaseException):
            raise value
        return value

    return check


def test_returns_the_first_truthy_answer():
    assert wait_for("three", answers(0, None, ConnectionError("refused"), 3), 5, 0.001) == 3


def test_timeout_names_what_was_awaited_and_the_last_answer():
    with pytest.raises(WaitTimeout, match=r"waiting for the queue empty \(last: 0\)") as exc:
        wait_for("the queue empty", lambda: 0, 0.05, 0.01)
    assert exc.value.last == 0


def test_timeout_reports_the_last_exception_and_the_hint():
    def refused():
        raise ConnectionError("refused on 127.0.0.1:1")

    with pytest.raises(TimeoutError, match=r"last: ConnectionError: refused on 127.0.0.1:1\)\. see x.log"):
        wait_for("the port", refused, 0.05, 0.01, log_hint="see x.log")


def test_exceptions_outside_transient_propagate_at_once():
    calls = []

    def broken():
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        wait_for("anything", broken, 60, 0.01, transient=(ConnectionError,))
    assert len(calls) == 1


def test_a_dead_process_ends_the_wait_at_once():
    with pytest.raises(RuntimeError, match="node: the process exited while starting"):
        wait_for("node", lambda: False, 60, 0.01, alive=lambda: False)


def test_condition_wait_as_sleep_releases_the_lock_for_the_producer():
    """The sinks poll under their lock: deliveries can only land if the wait releases it."""
    cond, box = threading.Condition(), []

    def deliver():
        with cond:
            box.append("mail")
            cond.notify_all()

    threading.Timer(0.05, deliver).start()
    with cond:
        assert wait_for("a mail", lambda: box, 30, 10, transient=(), sleep=cond.wait) == ["mail"]


def test_async_twin_takes_plain_and_async_checks():
    async def main():
        async def later():
            await asyncio.sleep(0)
            return "done"

        assert await wait_for_async("plain", answers(None, 2), 5, 0.001) == 2
        assert await wait_for_async("async", later, 5, 0.001) == "done"
        with pytest.raises(WaitTimeout, match=r"waiting for never \(last: False\)"):
            await wait_for_async("never", lambda: False, 0.05, 0.01)

    asyncio.run(main())
