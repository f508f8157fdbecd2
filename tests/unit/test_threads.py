"""SupervisedThread: a long-lived loop survives its own bugs; health tells stuck from recovered."""

import logging
import threading

from signage.threads import SupervisedThread


def test_a_failing_step_is_logged_once_counted_and_the_loop_carries_on(caplog):
    caplog.set_level(logging.INFO)
    calls, done = [], threading.Event()

    def step():
        calls.append(1)
        if len(calls) <= 4:
            raise ValueError(f"bug number {len(calls)}")
        if len(calls) >= 6:
            done.set()

    errors = []
    thread = SupervisedThread("worker", step, interval=0.001, on_error=errors.append, max_backoff=0.01).start()
    assert done.wait(10)
    thread.stop(timeout=5)
    assert thread.errors == 4 and len(errors) == 4 and all(isinstance(e, ValueError) for e in errors)
    assert thread.last_error is None, "recovered"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, "the same bug at the same place: one traceback, then only counted"
    assert any("working again after 4 failed" in r.message for r in caplog.records)
    assert not thread.alive()


def test_different_bugs_each_get_their_traceback(caplog):
    calls, done = [], threading.Event()

    def step():
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a")
        if len(calls) == 2:
            raise ZeroDivisionError("b")
        done.set()

    thread = SupervisedThread("worker", step, interval=0.001, max_backoff=0.01).start()
    assert done.wait(10)
    thread.stop(timeout=5)
    assert len([r for r in caplog.records if r.exc_info]) == 2


def test_stuck_means_one_step_running_too_long_not_a_recovered_thread():
    now = [100.0]
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()
    calls = []

    def step():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("failed once")
        if len(calls) == 2:
            entered.set()
            release.wait(10)  # hangs (e.g. a disk that does not answer)
            return
        finished.set()

    thread = SupervisedThread("worker", step, interval=0.001, max_backoff=0.01, clock=lambda: now[0]).start()
    assert entered.wait(10)
    assert thread.alive(stale=5) and not thread.stuck(5), "failed and recovered: not stuck"
    now[0] += 6  # six seconds in one step
    assert thread.stuck(5) and not thread.alive(stale=5)
    release.set()
    assert finished.wait(10)
    assert thread.alive(stale=5), "progress again"
    thread.stop(timeout=5)
    assert thread.errors == 1


def test_an_on_error_that_fails_is_logged_not_fatal(caplog):
    calls, done = [], threading.Event()

    def step():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("step bug")
        done.set()

    def on_error(exc):
        raise OSError("handler bug")

    caplog.set_level(logging.ERROR)
    thread = SupervisedThread("worker", step, interval=0.001, on_error=on_error, max_backoff=0.01).start()
    assert done.wait(10)
    thread.stop(timeout=5)
    assert "on_error failed" in caplog.text


def test_a_long_step_that_beats_is_not_stuck_and_one_that_stops_beating_is():
    now = [0.0]
    entered, beat, beaten, release = threading.Event(), threading.Event(), threading.Event(), threading.Event()
    thread = None

    def step():  # a download: long, beating with every chunk
        entered.set()
        while not release.is_set():
            if beat.is_set():
                beat.clear()
                thread.beat()
                beaten.set()
            release.wait(0.01)

    thread = SupervisedThread("worker", step, interval=60, clock=lambda: now[0])
    thread.start()
    try:
        assert entered.wait(10)
        now[0] += 6
        assert thread.stuck(5)
        beat.set()
        assert beaten.wait(10)
        assert not thread.stuck(5), "a beat is progress"
        now[0] += 6
        assert thread.stuck(5), "six seconds since the last beat"
    finally:
        release.set()
        thread.stop(timeout=5)
