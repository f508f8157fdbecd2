"""A creative that cannot be shown: the schedule's is reported at once; one an audience
rule chose is reported when its period is released (hour, else day, else unnamed), so
that no status line or journal line dates the moment someone was there (docs/privacy.md)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from signage.kiosk.creative_faults import WITHHELD, CreativeFaults
from signage.kiosk.problems import Problems

T0 = dt.datetime(2026, 11, 23, 10, 5, tzinfo=dt.timezone.utc)


class Wall:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def faults():
    problems, wall = Problems(), Wall(T0)
    return CreativeFaults(problems, 3, wall), problems, wall


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO and "smile-back" in r.getMessage()]


def test_the_schedules_creative_is_reported_at_once_and_logged_once(faults, caplog):
    faults, problems, _ = faults
    with caplog.at_level(logging.DEBUG):
        faults.failed("loop-a", "not a PNG", scheduled=True)
        faults.failed("loop-a", "not a PNG", scheduled=True)
    assert problems.all() == ["creative loop-a cannot be shown: not a PNG"]
    assert [r.levelno for r in caplog.records if "loop-a" in r.getMessage()] == [logging.ERROR]


def test_an_audience_creative_is_reported_at_the_end_of_an_hour_min_group_passed(faults, caplog):
    faults, problems, wall = faults
    with caplog.at_level(logging.DEBUG):
        faults.saw([1, 2, 3], T0)
        faults.failed("smile-back", "not a PNG", scheduled=False)
        for minutes in (0, 20, 54):
            wall.now = T0 + dt.timedelta(minutes=minutes)
            faults.release()
            assert problems.all() == [] and errors(caplog) == [], "nothing while its hour lasts"
        wall.now = T0.replace(hour=11)
        faults.release()
    assert problems.all() == ["creative smile-back cannot be shown: not a PNG"]
    assert len(errors(caplog)) == 1


def test_an_hour_with_fewer_passers_hands_it_to_the_day(faults, caplog):
    faults, problems, wall = faults
    faults.saw([1], T0)
    faults.failed("smile-back", "not a PNG", scheduled=False)
    faults.saw([2, 3], T0.replace(hour=15))  # the day has three passers, the fault's hour one
    wall.now = T0.replace(hour=16)
    faults.release()
    assert problems.all() == [], "not at the end of its hour"
    wall.now = T0 + dt.timedelta(days=1)
    faults.release()
    assert problems.all() == ["creative smile-back cannot be shown: not a PNG"]


def test_a_day_with_fewer_passers_never_names_the_creative(faults, caplog):
    faults, problems, wall = faults
    with caplog.at_level(logging.DEBUG):
        faults.saw([1], T0)
        faults.failed("smile-back", "not a PNG", scheduled=False)
        wall.now = T0 + dt.timedelta(days=1)
        faults.release()
    assert problems.all() == [WITHHELD]
    assert not [r for r in caplog.records if "smile-back" in r.getMessage()]


def test_a_new_playlist_forgets_what_was_held(faults):
    faults, problems, wall = faults
    faults.saw([1, 2, 3], T0)
    faults.failed("smile-back", "not a PNG", scheduled=False)
    faults.forget()
    wall.now = T0.replace(hour=11)
    faults.release()
    assert problems.all() == []


def test_with_min_group_1_every_fault_is_reported_at_once():
    problems = Problems()
    faults = CreativeFaults(problems, 1, Wall(T0))
    faults.failed("smile-back", "not a PNG", scheduled=False)
    assert problems.all() == ["creative smile-back cannot be shown: not a PNG"]


def test_a_reload_to_another_min_group_reports_what_was_held(faults):
    faults, problems, wall = faults
    faults.saw([1, 2, 3], T0)
    faults.failed("smile-back", "not a PNG", scheduled=False)
    faults.follow(3)
    assert problems.all() == [], "the same minimum group: held on"
    faults.follow(5)
    assert problems.all() == ["creative smile-back cannot be shown: not a PNG"]


def test_a_stop_reports_what_was_held_as_its_periods_stand(faults):
    faults, problems, wall = faults
    faults.saw([1, 2, 3], T0)
    faults.failed("smile-back", "not a PNG", scheduled=False)
    faults.release()
    assert problems.all() == []
    faults.release(final=True)
    assert problems.all() == ["creative smile-back cannot be shown: not a PNG"]
