"""Interval aggregation: snapshots and plays in, one metrics message out.

Pure: values in, a `Metrics` message (messages.py) out; both clocks are passed in: an
interval's `start` is a wall-clock reading, its `end` is `start` plus the monotonic
seconds since (an NTP step mid-interval never makes `end < start`). Only
totals and histograms leave. Nothing says anything about fewer than `min_group`
people: a count below it (passers, viewers, peak_faces; 0 included, or null against 0
would still tell 1 or 2 people from none) is null, and a breakdown (histogram, zones,
expression mix) with a non-empty cell of fewer is {"suppressed": true} as a whole.
No track number, box, coordinate or per-person timestamp is kept.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from typing import Literal

from signage.audience import EXPRESSIONS, ZONES, AudienceSnapshot
from signage.clock import utc_iso
from signage.contributors import Contributions, counts_publishable, publishable
from signage.wire.messages import (MAX_COUNT, MAX_IMPRESSIONS, MAX_IN_VIEW, MAX_INFERENCE_MS, MAX_PEOPLE,
                                   MAX_PLAY_SECONDS, MAX_TOTAL_SECONDS, OTHERS, Histogram, Impressions, InferenceMs,
                                   Metrics, Play, PlayTotals, Suppressed, Total, clamp, utc)
from signage.telemetry.ledger import Totals

Withheld = Literal["people", "looking", "expressions"]
Breakdown = Histogram | dict[str, int]  # people per cell, each person in one cell

DWELL_BUCKETS = (0, 1, 3, 10, 30, 60)  # seconds: 0-1, 1-3, 3-10, 10-30, 30-60, 60+
ATTENTION_BUCKETS = (1, 3, 10, 30, 60)  # viewers looked at least 1 s
AUDIENCE = "audience"  # what a withheld audience rule or creative is published as
SUPPRESSED = Suppressed()
TIMING_SAMPLES = 4096  # inference times kept per interval (an hour at 15 fps is 54,000 frames)


def people(count: int) -> int:
    """A count of people as published: within the message's bound."""
    return clamp(count, MAX_PEOPLE)


def histogram(values: list[float], edges: tuple[int, ...]) -> Histogram:
    labels = [f"{a}-{b}" for a, b in zip(edges, edges[1:])] + [f"{edges[-1]}+"]
    counts = [0] * len(labels)
    for value in values:
        index = sum(1 for edge in edges[1:] if value >= edge)
        counts[index] += 1
    return Histogram(buckets=labels, counts=[people(n) for n in counts])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return round(ordered[index], 2)


class Reservoir:
    """At most `size` values, a uniform sample of all added (Vitter's algorithm R): the
    percentiles of a long interval without a list that grows with it. Seeded, so that
    equal inputs give equal messages."""

    def __init__(self, size: int = TIMING_SAMPLES):
        self.size, self.seen = size, 0
        self.values: list[float] = []
        self._random = random.Random(0)

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
        elif (slot := self._random.randrange(self.seen)) < self.size:
            self.values[slot] = value


@dataclass
class Interval:
    """What one interval has seen so far."""

    start: dt.datetime  # the wall clock when it began (published)
    began: float  # the monotonic clock then (its length)
    dwell: list[float] = field(default_factory=list)  # one per passer
    looking: list[float] = field(default_factory=list)  # one per passer
    zones: list[str] = field(default_factory=list)
    viewer_expressions: list[str | None] = field(default_factory=list)
    peak_faces: int = 0
    frames: int = 0
    dropped_frames: int = 0
    inference_ms: Reservoir = field(default_factory=Reservoir)
    impressions: dict[str, list[int]] = field(default_factory=dict)  # creative -> [plays, viewed]
    lookers: dict[str, Contributions] = field(default_factory=dict)  # creative -> who looked at its plays


class Aggregator:
    def __init__(self, site: str, device: str, min_group: int = 3, *, now: dt.datetime, t: float):
        """`now` and `t`: the wall and monotonic clocks at the start of the first interval."""
        self.site, self.device, self.min_group = site, device, min_group
        self._interval = Interval(start=now, began=t)

    def add_snapshot(self, snapshot: AudienceSnapshot) -> None:
        interval = self._interval
        interval.frames += 1
        interval.peak_faces = max(interval.peak_faces, snapshot.confirmed)
        interval.inference_ms.add(snapshot.times.total)
        for ended in snapshot.ended:
            interval.dwell.append(ended.dwell_s)
            interval.looking.append(ended.looking_s)
            interval.zones.append(ended.zone)
            if ended.viewer:
                interval.viewer_expressions.append(ended.expression)

    def add_dropped_frames(self, count: int) -> None:
        self._interval.dropped_frames += count

    def add_play(self, creative: str, who: Contributions) -> None:
        """A play of `creative` (as published) and who was in front of it."""
        counts = self._interval.impressions.setdefault(creative, [0, 0])
        counts[0] += 1
        counts[1] += int(who.viewers >= 1)
        self._interval.lookers.setdefault(creative, Contributions()).merge(who)

    def flush(self, now: dt.datetime, t: float) -> Metrics:
        """The metrics message for the interval ending at monotonic `t`; a new interval
        begins at wall time `now` (so a stepped wall clock is followed from there on).
        Counts are clamped to the message's bounds."""
        interval, self._interval = self._interval, Interval(start=now, began=t)
        passers = len(interval.dwell)
        viewers = len(interval.viewer_expressions)
        total_dwell = sum(interval.dwell)
        enough_passers = passers >= self.min_group
        enough_viewers = viewers >= self.min_group
        return Metrics(
            id=str(uuid.uuid4()),
            site=self.site,
            device=self.device,
            start=utc_iso(interval.start),
            end=utc_iso(interval.start + dt.timedelta(seconds=max(0.0, t - interval.began))),
            passers=people(passers) if enough_passers else None,
            viewers=people(viewers) if enough_viewers else None,
            # Ratios are published only when both counts are: conversion x passers would give
            # a withheld viewers count back, attraction is the viewers' own looking time. Attraction
            # is a figure about people as the plays' looking seconds are: no one above half of the
            # looking or of the dwell (one viewer of 60 s beside two of 1 s would be that viewer's).
            conversion=round(viewers / passers, 3) if enough_passers and enough_viewers else None,
            attraction=(clamp(round(sum(interval.looking) / total_dwell, 3), 1.0)
                        if enough_passers and enough_viewers and total_dwell > 0
                        and publishable(interval.looking, self.min_group)
                        and publishable(interval.dwell, self.min_group) else None),
            peak_faces=clamp(interval.peak_faces, MAX_IN_VIEW) if interval.peak_faces >= self.min_group else None,
            # Each person is one in a cell of each breakdown: a cell of one says what that person did
            # ("dwelled 30 s or more", "came near", that viewer's face), and withholding that cell alone
            # would give it back as the difference to the total: the whole breakdown goes.
            distance=self._shown({zone: interval.zones.count(zone) for zone in ZONES}, enough_passers),
            dwell=self._shown(histogram(interval.dwell, DWELL_BUCKETS), enough_passers),
            attention=self._shown(histogram([v for v in interval.looking if v >= 1.0], ATTENTION_BUCKETS),
                                  enough_viewers),
            expressions=self._shown({name: interval.viewer_expressions.count(name) for name in EXPRESSIONS},
                                    enough_viewers),
            # Which creative a lone viewer looked at is theirs: `viewed` needs min_group viewers in the
            # interval and, per creative, min_group viewers of its plays with none above half their looking.
            impressions={creative: Impressions(plays=people(plays),
                                               viewed=people(viewed) if enough_viewers and self._viewed_shown(
                                                   interval, creative) else None)
                         for creative, (plays, viewed) in impressions(interval.impressions)},
            # Analysis time grows with the faces in view, and with it the frames analysed and dropped:
            # figures about them, published with the counts.
            frames=clamp(interval.frames, MAX_COUNT) if enough_passers else None,
            dropped_frames=clamp(interval.dropped_frames, MAX_COUNT) if enough_passers else None,
            inference_ms=(InferenceMs(p50=clamp(percentile(timings, 0.5), MAX_INFERENCE_MS),
                                      p95=clamp(percentile(timings, 0.95), MAX_INFERENCE_MS))
                          if (timings := interval.inference_ms.values) and enough_passers else None),
        )

    def _shown(self, breakdown: Breakdown, enough: bool) -> Breakdown | Suppressed:
        """A breakdown of people as published: whole, or suppressed as a whole."""
        counts = breakdown.counts if isinstance(breakdown, Histogram) else list(breakdown.values())
        if not (enough and counts_publishable(counts, self.min_group)):
            return SUPPRESSED
        return breakdown if isinstance(breakdown, Histogram) else {k: people(n) for k, n in breakdown.items()}

    def _viewed_shown(self, interval: Interval, creative: str) -> bool:
        if creative == OTHERS:  # the creatives folded together: each of them must pass
            return all(who.looking_publishable(self.min_group) for name, who in interval.lookers.items()
                       if name not in dict(impressions(interval.impressions)))
        who = interval.lookers.get(creative)
        return who is not None and who.looking_publishable(self.min_group)


def impressions(counts: dict[str, list[int]]) -> list[tuple[str, tuple[int, int]]]:
    """(creative, (plays, viewed)) by name; beyond MAX_IMPRESSIONS creatives, the least
    played are added up under OTHERS, so that the interval's totals stay whole."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))
    if len(ranked) > MAX_IMPRESSIONS:
        rest = ranked[MAX_IMPRESSIONS - 1:]
        ranked = ranked[:MAX_IMPRESSIONS - 1] + [(OTHERS, [sum(c[0] for _, c in rest), sum(c[1] for _, c in rest)])]
    return sorted((creative, (plays, viewed)) for creative, (plays, viewed) in ranked)


def play_message(record, site: str, device: str, min_group: int) -> Play:
    """Proof of play as published. The creative and its times are always there (that is
    the proof); a figure about the people in front of the screen is there only when at
    least `min_group` distinct people contributed to it and none more than half
    (signage/contributors.py):
    - people in view (ots, peak_faces, mean_faces), over each person's seconds in view;
    - looking (viewers, peak_viewers, looking_seconds): min_group viewers, over each
      person's seconds of looking; the expression mix, when each expression in it passes;
    - the rule and the creative, when the rule has audience conditions (`record.audience`,
      fixed when the play started): only when the people and looking figures are both
      published, else both are "audience" (a rule named `smiles` that fired for one viewer
      would say that one person smiled, and so would a `smile-back` creative that only
      that rule plays).
    """
    who = record.people
    enough_faces = who.presence_publishable(min_group)
    enough_viewers = who.looking_publishable(min_group)
    enough_expressions = enough_viewers and who.expressions_publishable(min_group)
    rule, creative = record.rule, record.creative
    if record.audience and not (enough_faces and enough_viewers):
        rule = creative = AUDIENCE
    # Inside the message's bounds: a play longer than the bound is clamped, an end before the
    # start becomes start + seconds (the player's records never have one: it ends a play at
    # its start plus its monotonic seconds; a record from elsewhere might), and the audience
    # figures are kept consistent with the clamped ones.
    seconds = clamp(record.seconds, MAX_PLAY_SECONDS)
    end, start = record.end, utc(record.start)
    if utc(end) < start:
        end = utc_iso(start.replace(tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seconds))
        end = end if utc(end) >= start else record.start  # utc_iso drops a start's fraction of a second
    peak_faces = clamp(record.peak_faces, MAX_IN_VIEW)
    peak_viewers = clamp(record.peak_looking, MAX_IN_VIEW)
    looking = min(clamp(record.looking_seconds, MAX_IN_VIEW * MAX_PLAY_SECONDS), round(peak_viewers * seconds, 2))
    expressions = {name: clamp(value, looking) for name, value in record.expressions.items()}
    if sum(expressions.values()) > looking > 0:
        share = looking / sum(expressions.values())
        expressions = {name: round(value * share, 2) for name, value in expressions.items()}
    groups: tuple[tuple[Withheld, bool], ...] = (("people", enough_faces), ("looking", enough_viewers),
                                                 ("expressions", enough_expressions))
    withheld = [group for group, shown in groups if not shown]
    return Play(
        id=str(uuid.uuid4()),
        site=site,
        device=device,
        creative=creative,
        rule=rule,
        start=record.start,
        end=end,
        seconds=seconds,
        ended=record.ended,
        ots=people(who.ots) if enough_faces else None,
        peak_faces=peak_faces if enough_faces else None,
        mean_faces=min(clamp(record.mean_faces, MAX_IN_VIEW), float(peak_faces)) if enough_faces else None,
        viewers=people(who.viewers) if enough_viewers else None,
        peak_viewers=peak_viewers if enough_viewers else None,
        looking_seconds=looking if enough_viewers else None,
        expressions=expressions if enough_expressions else SUPPRESSED,
        withheld=withheld,
    )


def totals_message(totals: Totals, site: str, device: str) -> PlayTotals:
    """A period's held plays as published: per creative, the least played beyond
    MAX_IMPRESSIONS added up under OTHERS."""
    ranked = sorted(totals.creatives.items(), key=lambda item: (-(item[1][0] or 0), item[0]))
    if len(ranked) > MAX_IMPRESSIONS:
        rest = ranked[MAX_IMPRESSIONS - 1:]
        ranked = ranked[:MAX_IMPRESSIONS - 1] + [(OTHERS, (sum(p or 0 for _, (p, _) in rest),
                                                           sum(s for _, (_, s) in rest)))]
    return PlayTotals(
        id=str(uuid.uuid4()), site=site, device=device, period=totals.period,
        start=utc_iso(totals.start.replace(tzinfo=dt.timezone.utc)),
        end=utc_iso(totals.end.replace(tzinfo=dt.timezone.utc)),
        creatives={creative: Total(plays=None if plays is None else people(plays),
                                   seconds=clamp(round(seconds, 3), MAX_TOTAL_SECONDS))
                   for creative, (plays, seconds) in sorted(ranked)},
    )
