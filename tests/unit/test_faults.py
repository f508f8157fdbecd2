"""The one fault barrier: a step that raises costs that step; each kind of fault is logged
once with its traceback, then counted; the owner hears of the fault and of the recovery."""

from __future__ import annotations

import logging

import pytest

from signage.faults import Barrier, LogOnce, describe, kind_of

logger = logging.getLogger("test.faults")


def fail(exc: Exception):
    raise exc


def test_a_step_that_raises_returns_none_is_counted_and_reported_until_it_works_again():
    told = []
    barrier = Barrier(logger, report=lambda step, exc: told.append((step, exc and str(exc))))
    assert barrier.run("rules", lambda x: x + 1, 1) == 2
    for number in range(3):
        assert barrier.run("rules", fail, ValueError(f"bug {number}")) is None
    assert barrier.failing("rules") == 3 and barrier.counts["rules"] == 3 and barrier.total == 3
    assert barrier.last_error == "ValueError: bug 2"
    assert barrier.run("rules", lambda: "ok") == "ok"
    assert barrier.failing("rules") == 0 and barrier.last_error is None and barrier.total == 3, "since the start"
    assert told == [("rules", "bug 0"), ("rules", "bug 1"), ("rules", "bug 2"), ("rules", None)]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyError("gone"), ZeroDivisionError("x"), MemoryError(),
                                 ValueError("A null character was found in the text\x00")])
def test_the_same_bug_at_the_same_place_is_logged_once_whatever_its_message(exc, caplog):
    caplog.set_level(logging.INFO)
    barrier = Barrier(logger)
    for number in range(5):
        exc.args = (f"{exc.args[0] if exc.args else ''} {number}",)
        barrier.run("display", fail, exc)
    barrier.run("display", lambda: None)
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "display failed unexpectedly" in tracebacks[0].message
    assert "\n" not in describe(ValueError("two\nlines")), "one line"
    assert any("display: working again after 5 failed step(s)" in r.message for r in caplog.records)


def test_each_step_and_each_place_is_a_kind_of_its_own(caplog):
    barrier = Barrier(logger)
    barrier.run("a", fail, RuntimeError("x"))
    barrier.run("b", fail, RuntimeError("x"))  # another step
    barrier.run("a", lambda: {}["missing"])  # another type, another line
    barrier.run("a", lambda: fail(RuntimeError("x")))  # raised at the same line as the first
    assert len([r for r in caplog.records if r.exc_info]) == 3


def test_a_report_that_fails_is_logged_and_costs_nothing(caplog):
    def report(step, exc):
        raise OSError("the reporter's own bug")

    barrier = Barrier(logger, report=report)
    assert barrier.run("status", fail, RuntimeError("x")) is None
    assert barrier.run("status", lambda: 1) == 1
    assert "status: reporting its fault failed" in caplog.text and barrier.total == 1


def test_a_shared_log_once_logs_a_kind_once_across_barriers(caplog):
    once = LogOnce()
    for _ in range(3):
        Barrier(logger, log_once=once).run("video decoding", fail, RuntimeError("corrupt"))
    assert len([r for r in caplog.records if r.exc_info]) == 1


def test_log_once_is_bounded():
    once = LogOnce()
    assert all(once.first(n) for n in range(LogOnce.LIMIT))
    assert not once.first(0)
    assert once.first("one more")  # past the limit it starts afresh
    assert once.first(0)


def test_the_kind_is_the_type_and_the_line_not_the_message():
    kinds = set()
    for number in range(3):
        try:
            fail(RuntimeError(f"row {number}"))
        except RuntimeError as exc:
            kinds.add(kind_of(exc))
    assert len(kinds) == 1
    assert kind_of(RuntimeError("never raised")) == ("RuntimeError",)
