"""The background writer of a full run: order, failure, and waiting (no database needed)."""

from __future__ import annotations

import threading
import time

import pytest

from algorithms.run import _BackgroundWriter


def test_jobs_run_in_order_on_one_thread_while_the_caller_goes_on():
    writer, done, threads = _BackgroundWriter(), [], set()
    release = threading.Event()

    def job(n: int):
        def run() -> None:
            release.wait(5)
            threads.add(threading.get_ident())
            done.append(n)
        return run

    for n in range(5):
        writer.submit(job(n))
    assert done == []  # submit does not wait for the job
    release.set()
    writer.finish()
    assert done == [0, 1, 2, 3, 4]
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_the_first_failure_is_raised_and_later_jobs_do_not_run():
    writer, done = _BackgroundWriter(), []

    def fail() -> None:
        time.sleep(0.05)
        raise ValueError("refused")

    writer.submit(lambda: done.append("before"))
    writer.submit(fail)
    writer.submit(lambda: done.append("after"))
    with pytest.raises(ValueError, match="refused"):
        writer.finish()
    assert done == ["before"]


def test_submit_after_a_failure_raises_it_at_once():
    writer = _BackgroundWriter()
    writer.submit(lambda: (_ for _ in ()).throw(KeyError("gone")))
    time.sleep(0.1)
    with pytest.raises(KeyError):
        writer.submit(lambda: None)
    writer.abandon()


def test_abandon_can_cancel_the_jobs_not_started_yet():
    writer, done = _BackgroundWriter(), []
    started = threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.1)
        done.append("running")

    writer.submit(slow)
    writer.submit(lambda: done.append("queued"))
    started.wait(5)
    writer.abandon(cancel_queued=True)
    assert done == ["running"]
