"""Who contributed how much to a figure about people, and whether it may be published.

A figure about people (a play's looking seconds, its expression mix, a creative's viewed
plays in an interval, an interval's histograms) is published only when at least `min_group` distinct people
contributed to it and no one of them contributed more than half of it: the dominance
rule statistical offices apply to their tables (an (n, k) rule with n = 1, k = 50 %), so
that a total cannot be one person's figure in disguise.

People are told apart by their ephemeral track numbers: they live here, in RAM, for as
long as the play or the interval they describe, and are never published. What leaves is
the verdict and the totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from signage.audience import EXPRESSIONS, Person

DOMINANCE = 0.5  # one person above this share of a total suppresses it
VIEWER_SECONDS = 1.0  # a viewer looked at least this long (DPAA/OVAB: an opportunity turned into a view)


def publishable(amounts: Iterable[float], min_group: int) -> bool:
    """At least `min_group` people contributed (a positive amount each), and none of them
    more than half of the total. A min_group of 1 publishes figures about one person (the
    operator's choice): the dominance rule, which would withhold every one of them, is
    then off too."""
    values = [value for value in amounts if value > 0]
    if len(values) < max(1, min_group):
        return False
    return min_group <= 1 or max(values) <= DOMINANCE * sum(values)


def mix_publishable(cells: Iterable[Iterable[float]], min_group: int) -> bool:
    """A breakdown (an expression mix): each cell holds what each person put in it, and
    every cell someone is in passes `publishable` on its own, else none is published (a
    cell that one person fills says what that person did; withholding only that cell
    would give it back as the difference to the total)."""
    filled = [values for cell in cells if (values := [value for value in cell if value > 0])]
    return bool(filled) and all(publishable(values, min_group) for values in filled)


def counts_publishable(counts: Iterable[int], min_group: int) -> bool:
    """A breakdown of people, each one in a single cell (an interval's histogram, zones,
    expression mix): `mix_publishable` with one unit per person, so every non-empty cell
    needs min_group people (a cell of one says what that one person did)."""
    return mix_publishable(([1.0] * count for count in counts), min_group)


@dataclass
class Contributions:
    """Per person (by track number, RAM only): seconds in view, seconds looking, and
    seconds looking with each expression."""

    present: dict[int, float] = field(default_factory=dict)
    looking: dict[int, float] = field(default_factory=dict)
    expressions: dict[str, dict[int, float]] = field(default_factory=dict)

    def add(self, people: Iterable[Person], span: float) -> None:
        """`people` were in view for `span` seconds."""
        if span <= 0:
            return
        for person in people:
            self.present[person.track] = self.present.get(person.track, 0.0) + span
            if person.looking:
                self.looking[person.track] = self.looking.get(person.track, 0.0) + span
                if person.expression is not None:
                    cell = self.expressions.setdefault(person.expression, {})
                    cell[person.track] = cell.get(person.track, 0.0) + span

    def merge(self, other: Contributions) -> None:
        for mine, theirs in ((self.present, other.present), (self.looking, other.looking)):
            for track, seconds in theirs.items():
                mine[track] = mine.get(track, 0.0) + seconds
        for name, cell in other.expressions.items():
            into = self.expressions.setdefault(name, {})
            for track, seconds in cell.items():
                into[track] = into.get(track, 0.0) + seconds

    @property
    def ots(self) -> int:
        """Opportunities to see: distinct people in view."""
        return len(self.present)

    @property
    def viewers(self) -> int:
        """Distinct people who looked at least VIEWER_SECONDS."""
        return sum(1 for seconds in self.looking.values() if seconds >= VIEWER_SECONDS)

    def presence_publishable(self, min_group: int) -> bool:
        return publishable(self.present.values(), min_group)

    def looking_publishable(self, min_group: int) -> bool:
        """The looking figures: at least min_group viewers, none above half the looking time."""
        return self.viewers >= min_group and publishable(self.looking.values(), min_group)

    def expressions_publishable(self, min_group: int) -> bool:
        """The expression mix: every expression in it passes the rule on its own."""
        return mix_publishable((self.expressions.get(name, {}).values() for name in EXPRESSIONS), min_group)
