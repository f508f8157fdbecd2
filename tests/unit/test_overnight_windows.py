"""Windows that cross midnight: a rule's `days` (and `dates`) apply to the day its window
starts, so `days: [fri]` with `hours: 22:00-02:00` is Friday 22:00 to Saturday 02:00,
not Thursday night's small hours. Checked as a property of the real engine against a
plain statement of that meaning, over random windows, days and moments; `signage
check` and `signage simulate` say which nights a window covers."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from signage.audience import AudienceState
from signage.cli import main
from signage.playlist.loader import Playlist
from signage.playlist.rules import Engine, History, Now, _time_ok, time_conditions
from signage.playlist.fileformat import DAYS, Creative, PlayItem, Rule, When

FRIDAY = dt.date(2026, 11, 27)
UTC = dt.timezone.utc

MINUTES = st.integers(0, 24 * 60)  # 24:00 included, as a start too
DAY_SETS = st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True)
MOMENTS = st.datetimes(dt.datetime(2026, 11, 16), dt.datetime(2026, 12, 14)).map(lambda m: m.replace(tzinfo=UTC))


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def playlist_with(when: When) -> Playlist:
    cards = {name: Creative(id=name, type="card", text=name) for name in ("loop", "night")}
    rule = Rule(id="night", when=when, play=[PlayItem(creative="night")])
    return Playlist(creatives=cards, media={}, video_seconds={}, default=[PlayItem(creative="loop")],
                    default_min_show=0.0, rules=[rule])


def plays_the_rule(when: When, moment: dt.datetime) -> bool:
    decision = Engine(playlist_with(when)).choose(AudienceState(), Now(0.0, moment), History())
    return decision.rule == "night"


def meant(start: int, end: int, days: list[str], moment: dt.datetime) -> bool:
    """The meaning, said plainly: an occurrence starts at `start` on each of `days` and
    lasts to the next `end` (the same day if end > start, else the day after)."""
    for day in (moment.date() - dt.timedelta(days=1), moment.date()):
        if DAYS[day.weekday()] not in days:
            continue
        opens = dt.datetime.combine(day, dt.time(), UTC) + dt.timedelta(minutes=start)
        closes = dt.datetime.combine(day, dt.time(), UTC) + dt.timedelta(minutes=end, days=0 if end >= start else 1)
        if opens <= moment < closes:
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(start=MINUTES, end=MINUTES, days=DAY_SETS, moment=MOMENTS)
def test_the_engine_plays_a_window_on_the_days_it_starts(start, end, days, moment):
    when = When(days=days, hours=[{"start": clock(start), "end": clock(end)}])
    assert plays_the_rule(when, moment) == meant(start, end, days, moment)


@settings(max_examples=300, deadline=None)
@given(start=MINUTES, end=MINUTES, days=st.none() | DAY_SETS, moment=MOMENTS,
       first=st.dates(dt.date(2026, 11, 14), dt.date(2026, 12, 14)), length=st.integers(0, 10))
def test_the_wording_and_the_hot_path_agree(start, end, days, moment, first, length):
    when = When(days=days, hours=[{"start": clock(start), "end": clock(end)}],
                dates=[{"start": first, "end": first + dt.timedelta(days=length)}])
    why = time_conditions(when, moment)
    assert (why is None) == _time_ok(when, moment), why


FRIDAY_NIGHT = When(days=["fri"], hours=[{"start": "22:00", "end": "02:00"}])


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, 30), UTC)


def test_friday_night_is_friday_to_saturday_not_thursday_night():
    assert plays_the_rule(FRIDAY_NIGHT, at(FRIDAY, 23))
    assert plays_the_rule(FRIDAY_NIGHT, at(FRIDAY + dt.timedelta(days=1), 1)), "saturday 01:30 is friday's night"
    assert not plays_the_rule(FRIDAY_NIGHT, at(FRIDAY, 1)), "friday 01:30 is thursday's night"
    assert time_conditions(FRIDAY_NIGHT, at(FRIDAY, 1)) == \
        "the 22:00-02:00 window open now began on a day that is thu, not fri"


def test_dates_apply_to_the_day_a_window_starts_too():
    new_year = When(hours=[{"start": "22:00", "end": "03:00"}], dates=[{"start": "2026-12-31", "end": "2026-12-31"}])
    assert plays_the_rule(new_year, at(dt.date(2027, 1, 1), 2)), "new year's eve, after midnight"
    assert not plays_the_rule(new_year, at(dt.date(2026, 12, 31), 2)), "the night before"


LATE = """creatives:
  - {id: loop, type: card, text: Loop, duration: 600}
  - {id: late, type: card, text: Late, duration: 600}
default: [loop]
rules:
  - id: weekdays
    when: {days: [mon, tue], hours: [{start: "08:00", end: "09:00"}]}
    play: loop
  - id: nights
    when: {hours: [{start: "23:00", end: "01:00"}]}
    play: loop
  - id: late
    priority: 5
    when:
      days: [fri]
      hours: [{start: "22:00", end: "02:00"}]
    play: late
"""


def run(capsys, *argv) -> tuple[int, list[str]]:
    code = main(list(argv))
    return code, capsys.readouterr().out.splitlines()


def test_check_explains_windows_that_cross_midnight(tmp_path, capsys):
    (tmp_path / "late.yaml").write_text(LATE)
    code, lines = run(capsys, "check", str(tmp_path / "late.yaml"))
    assert code == 0, "an explanation, not a problem"
    notes = [line for line in lines if line.startswith("info: ")]
    assert notes == [
        f"info: {tmp_path / 'late.yaml'}:10:20: rules[1]: hours 23:00-01:00 crosses midnight: every day 23:00 to 01:00"
        " the next day",
        f"info: {tmp_path / 'late.yaml'}:16:15: rules[2]: hours 22:00-02:00 crosses midnight: fri 22:00 to sat 02:00",
    ]


def test_simulate_shows_which_night_a_window_plays(tmp_path, capsys):
    (tmp_path / "late.yaml").write_text(LATE)
    scenario = tmp_path / "thursday-to-saturday.yaml"
    scenario.write_text("start: 2026-11-26T21:00:00\nduration: 104400\ntimeline:\n  - {at: 0, faces: 0}\n")
    code, lines = run(capsys, "simulate", str(tmp_path / "late.yaml"), "--audience", str(scenario))
    assert code == 0
    assert lines[1] == f"info: {tmp_path / 'late.yaml'}:16:15: rules[2]: hours 22:00-02:00 crosses midnight:" \
                       " fri 22:00 to sat 02:00"
    late = [line.split(None, 5) for line in lines if "  late  " in line]
    assert [(row[1], row[2]) for row in late] == [("fri", "22:00:00"), ("fri", "22:10:00"), ("fri", "22:20:00"),
                                                 ("fri", "22:30:00"), ("fri", "22:40:00"), ("fri", "22:50:00"),
                                                 ("fri", "23:00:00"), ("fri", "23:10:00"), ("fri", "23:20:00"),
                                                 ("fri", "23:30:00"), ("fri", "23:40:00"), ("fri", "23:50:00"),
                                                 ("sat", "00:00:00"), ("sat", "00:10:00"), ("sat", "00:20:00"),
                                                 ("sat", "00:30:00"), ("sat", "00:40:00"), ("sat", "00:50:00"),
                                                 ("sat", "01:00:00"), ("sat", "01:10:00"), ("sat", "01:20:00"),
                                                 ("sat", "01:30:00"), ("sat", "01:40:00"), ("sat", "01:50:00")], \
        "friday night from 22:00 to saturday 02:00, not thursday night"
    assert late[0][5] == "rule late: time window fri 22:00 to sat 02:00"
