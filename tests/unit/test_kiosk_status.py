"""What the retained, real-time status says about the screen: never what an audience rule
reveals about the people in front of it."""

from __future__ import annotations

from signage.kiosk.health import playing
from signage.playlist.rules import Current, Play


def current(creative: str, audience: bool) -> Current:
    return Current(Play(creative, "r", 0, 0.0), priority=1.0, audience=audience, ends=5.0, min_show=0.0)


def test_status_names_the_creative_unless_an_audience_rule_chose_it():
    assert playing(current("welcome", audience=False)) == "welcome"
    assert playing(current("smile-back", audience=True)) == "audience"
    assert playing(current(None, audience=False)) is None and playing(None) is None
