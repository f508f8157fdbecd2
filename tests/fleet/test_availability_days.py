"""The availability sweep (availability.screen_days), pure, as a property over generated
timelines: every second of the period is counted once for the day it falls in, a share
never exceeds what contains it (display ok and camera ok within online, online within
what was observed), and a timeline cut at midnight adds up to the same seconds."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from signage.fleet.availability import screen_days

START = datetime(2026, 3, 1)
DAYS = 3
VALUES = {"availability": ["online", "stopped", "offline", "retired"], "display": ["ok", "lost", "off", "starting"],
          "camera": ["ok", "gone", "off", "error"]}

change = st.tuples(st.integers(0, DAYS * 86400 - 1), st.sampled_from(sorted(VALUES))).flatmap(
    lambda at_feature: st.tuples(st.just(START + timedelta(seconds=at_feature[0])), st.just(at_feature[1]),
                                 st.sampled_from(VALUES[at_feature[1]])))
state = st.fixed_dictionaries({}, optional={name: st.sampled_from(values) for name, values in VALUES.items()})


@settings(max_examples=200, deadline=None)
@given(state, st.lists(change, max_size=40), st.integers(1, DAYS * 86400))
def test_each_second_counted_once_and_shares_nested(initial, changes, length):
    changes.sort(key=lambda c: c[0])
    end = START + timedelta(seconds=length)
    changes = [c for c in changes if c[0] < end]
    days = screen_days("lab", "a", initial, changes, START, end)
    for d in days:
        day_start = datetime.combine(d.day, datetime.min.time())
        assert 0 < d.observed_s <= (min(end, day_start + timedelta(days=1)) - day_start).total_seconds()
        assert d.display_ok_s <= d.online_s + 1e-6 and d.camera_ok_s <= d.online_s + 1e-6
        assert d.online_s <= d.observed_s + 1e-6
        assert 0.0 <= d.display_ok <= d.online <= 100.0 and 0.0 <= d.camera_ok <= d.online
    assert [d.day for d in days] == sorted({d.day for d in days})
    # Two runs split at a midnight, the second from the state the first ended in, say the same.
    cut = START + timedelta(days=1)
    if end > cut:
        before = [c for c in changes if c[0] < cut]
        carried = dict(initial)
        for _, feature, value in before:
            carried[feature] = value
        split = (screen_days("lab", "a", initial, before, START, cut)
                 + screen_days("lab", "a", carried, [c for c in changes if c[0] >= cut], cut, end))
        assert [(d.day, d.observed_s, d.online_s, d.display_ok_s, d.camera_ok_s) for d in split] == [
            (d.day, d.observed_s, d.online_s, d.display_ok_s, d.camera_ok_s) for d in days]


def test_an_hour_offline_in_a_day_online_is_exact():
    changes = [(START + timedelta(hours=5), "availability", "offline"),
               (START + timedelta(hours=6), "availability", "online")]
    [day] = screen_days("lab", "a", {"availability": "online", "display": "ok", "camera": "ok"}, changes, START,
                        START + timedelta(days=1))
    assert (day.observed_s, day.online, day.display_ok, day.camera_ok) == (86400, 95.83, 95.83, 95.83)
