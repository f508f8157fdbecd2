"""Contributors, not peaks: a figure about people is published only when at least
min_group distinct people made it and none of them more than half of it."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from signage.audience import EXPRESSIONS, AudienceState, Person, Sample
from signage.contributors import Contributions, counts_publishable, publishable
from signage.display.videoinfo import video_length
from signage.playlist.loader import load_playlist
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.telemetry.metrics import play_message

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("amounts,shown", [
    ([], False),
    ([5.0, 5.0], False),  # two people
    ([1.0, 1.0, 1.0], True),
    ([2.0, 1.0, 1.0], True),  # exactly half: not above it
    ([2.1, 1.0, 1.0], False),  # one person above half
    ([19.0, 1.0, 1.0, 1.0], False),
    ([4.0, 0.0, 0.0, 4.0], False),  # people who contributed nothing do not count
])
def test_the_dominance_rule(amounts, shown):
    assert publishable(amounts, 3) is shown


def test_a_min_group_of_one_publishes_one_persons_figures():
    assert publishable([5.0], 1) and publishable([19.0, 1.0], 1) and not publishable([], 1)


@pytest.mark.parametrize("counts,shown", [
    ([3, 0, 3], True),  # every cell someone is in has min_group people
    ([3, 1, 3], False),  # a cell of one is that person's figure
    ([0, 2, 5], False),
    ([0, 0, 0], False),  # nobody: nothing to publish
])
def test_a_breakdown_of_people_needs_min_group_in_every_cell_it_has(counts, shown):
    assert counts_publishable(counts, 3) is shown
    assert counts_publishable(counts, 1) is any(counts), "min_group 1 publishes any breakdown with someone in it"


def test_contributions_count_distinct_people_not_peaks():
    who = Contributions()
    who.add([Person(7, True, "happy"), Person(8, False, None)], 2.0)
    who.add([Person(7, True, "happy")], 3.0)
    assert (who.ots, who.viewers) == (2, 1)
    assert who.present == {7: 5.0, 8: 2.0} and who.looking == {7: 5.0}
    assert who.expressions == {"happy": {7: 5.0}}


def shares(expression):
    return tuple(1.0 if name == expression else 0.0 for name in EXPRESSIONS)


def test_the_issues_play_is_withheld_through_the_player(tmp_path):
    """Three people look for 1 s, then one of them alone for 19 s, smiling: the play's
    peak is 3 viewers, and today it published looking_seconds 22 and happy 19 (86 % one
    person's smile). The player counts who contributed, and the play withholds it all."""
    (tmp_path / "p.yaml").write_text(textwrap.dedent("""
        creatives:
          - {id: promo, type: card, text: Promo, duration: 20}
          - {id: other, type: card, text: Other, duration: 20}
        default: [promo, other]
    """))
    player = Player(load_playlist([tmp_path], base=tmp_path, video_length=video_length))
    state, t = AudienceState(), 0.0
    while t < 20.0 + 1e-9:
        if t < 1.0:  # a sample holds until the next one
            people = (Person(1, True, "neutral"), Person(2, True, "neutral"), Person(3, True, "neutral"))
            sample = Sample(t=t, faces=3, looking=3, shares=shares("neutral"), people=people)
        else:
            sample = Sample(t=t, faces=1, looking=1, shares=shares("happy"), people=(Person(1, True, "happy"),))
        state = state.update(sample)
        player.tick(state, Now(t, T0 + dt.timedelta(seconds=t)))
        t += 0.25
    [record] = player.take_records()
    assert (record.creative, record.peak_looking, record.looking_seconds) == ("promo", 3, 22.0)
    assert record.expressions == {"happy": 19.0, "neutral": 3.0}
    message = play_message(record, "lab", "kiosk-1", min_group=3).payload()
    assert (message["peak_viewers"], message["viewers"], message["looking_seconds"]) == (None, None, None)
    assert message["expressions"] == {"suppressed": True}
    assert message["withheld"] == ["people", "looking", "expressions"]
    assert (message["creative"], message["seconds"]) == ("promo", 20.0), "the proof of play stays"
