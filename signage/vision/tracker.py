"""Anonymous short-lived tracks: who is still here, for how long, looking or not.

A track starts only from a confident detection (`start_score`) and is kept alive by
weaker ones (`keep_score`): the two-threshold scheme of ByteTrack, needed because a
cartoon can score 0.5-0.6 for several frames while real faces score above 0.7. A
track is confirmed after `confirm_hits` consecutive hits; a tentative track that
misses a frame is dropped; a confirmed one survives gaps up to `max_gap_s`.

Track numbers come from a random bijection of a counter: never reused in a process,
meaningless outside it, never published.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np

from signage.audience import EXPRESSIONS, ZONES, TrackSummary
from signage.vision.detection import iou

_MASK = (1 << 63) - 1


class _TrackNumbers:
    """Unique random-looking numbers: an odd multiplier is invertible mod 2**63."""

    def __init__(self) -> None:
        self._multiplier = secrets.randbits(63) | 1
        self._offset = secrets.randbits(63)
        self._count = 0

    def next(self) -> int:
        self._count += 1
        return ((self._count * self._multiplier) & _MASK) ^ self._offset


@dataclass(frozen=True)
class TrackerConfig:
    confirm_hits: int = 3
    max_gap_s: float = 0.7
    start_score: float = 0.7
    keep_score: float = 0.5
    min_iou: float = 0.2
    max_centre_distance: float = 1.0  # in box widths, when boxes no longer overlap enough
    expression_smoothing: float = 0.3  # weight of the newest frame in the running mean


@dataclass
class Observation:
    """What the tracker needs of one face in one frame (normalised box)."""

    box: tuple[float, float, float, float]
    score: float
    looking: bool
    expressions: tuple[float, ...] | None
    zone: str


@dataclass
class _Track:
    number: int
    box: tuple[float, float, float, float]
    first_seen: float
    last_seen: float
    hits: int = 1
    confirmed: bool = False
    looking_s: float = 0.0
    expressions: np.ndarray | None = None  # smoothed, while looking
    nearest_zone: str = "far"

    @property
    def dwell_s(self) -> float:
        return self.last_seen - self.first_seen

    @property
    def expression(self) -> str | None:
        if self.expressions is None:
            return None
        return EXPRESSIONS[int(np.argmax(self.expressions))]

    def summary(self) -> TrackSummary:
        return TrackSummary(dwell_s=self.dwell_s, looking_s=self.looking_s,
                            expression=self.expression, zone=self.nearest_zone)


@dataclass(frozen=True)
class TrackedFace:
    """The tracker's verdict on one observation of the frame."""

    track: int | None  # None while tentative or when not tracked
    dwell_s: float
    expression: str | None = None  # the track's smoothed dominant expression
    looking_s: float = 0.0


@dataclass
class Tracker:
    config: TrackerConfig = field(default_factory=TrackerConfig)

    def __post_init__(self) -> None:
        self._tracks: list[_Track] = []
        self._numbers = _TrackNumbers()

    @property
    def active(self) -> int:
        return sum(1 for track in self._tracks if track.confirmed)

    def update(self, observations: list[Observation], t: float) -> tuple[list[TrackedFace], list[TrackSummary]]:
        """Match this frame's faces to tracks; returns one TrackedFace per observation
        and the summaries of confirmed tracks that ended."""
        cfg = self.config
        matches = self._match(observations)
        tracked = [TrackedFace(None, 0.0)] * len(observations)
        matched_tracks = set()
        for track_index, obs_index in matches:
            track, obs = self._tracks[track_index], observations[obs_index]
            matched_tracks.add(track_index)
            gap = t - track.last_seen
            if obs.looking:
                track.looking_s += gap
                if obs.expressions is not None:
                    probabilities = np.asarray(obs.expressions)
                    track.expressions = (probabilities if track.expressions is None else
                                         (1 - cfg.expression_smoothing) * track.expressions
                                         + cfg.expression_smoothing * probabilities)
            track.box, track.last_seen = obs.box, t
            track.hits += 1
            track.confirmed = track.confirmed or track.hits >= cfg.confirm_hits
            track.nearest_zone = min(track.nearest_zone, obs.zone, key=ZONES.index)
            if track.confirmed:
                tracked[obs_index] = TrackedFace(track.number, track.dwell_s, track.expression, track.looking_s)

        ended, survivors = [], []
        for index, track in enumerate(self._tracks):
            if index in matched_tracks:
                survivors.append(track)
            elif track.confirmed and t - track.last_seen <= cfg.max_gap_s:
                survivors.append(track)
            elif track.confirmed:
                ended.append(track.summary())
            # a tentative track that missed a frame is dropped without a trace

        matched_observations = {obs_index for _, obs_index in matches}
        for index, obs in enumerate(observations):
            if index not in matched_observations and obs.score >= cfg.start_score:
                track = _Track(self._numbers.next(), obs.box, t, t, nearest_zone=obs.zone,
                               confirmed=cfg.confirm_hits <= 1)
                survivors.append(track)
                if track.confirmed:
                    tracked[index] = TrackedFace(track.number, 0.0)
        self._tracks = survivors
        return tracked, ended

    def flush(self) -> list[TrackSummary]:
        """End every track (the source ended or the camera was released)."""
        ended = [track.summary() for track in self._tracks if track.confirmed]
        self._tracks = []
        return ended

    def _match(self, observations: list[Observation]) -> list[tuple[int, int]]:
        """Greedy matching: best overlap first, then nearest centre for fast movers."""
        cfg = self.config
        candidates = []
        for ti, track in enumerate(self._tracks):
            tx, ty, tw, th = track.box
            for oi, obs in enumerate(observations):
                if obs.score < cfg.keep_score:
                    continue
                overlap = iou(track.box, obs.box)
                ox, oy, ow, oh = obs.box
                centre = np.hypot((ox + ow / 2) - (tx + tw / 2), (oy + oh / 2) - (ty + th / 2))
                distance = centre / max(tw, th, 1e-6)
                if overlap >= cfg.min_iou or distance <= cfg.max_centre_distance:
                    candidates.append((-overlap, distance, ti, oi))
        matches, used_tracks, used_obs = [], set(), set()
        for _, _, ti, oi in sorted(candidates):
            if ti not in used_tracks and oi not in used_obs:
                matches.append((ti, oi))
                used_tracks.add(ti)
                used_obs.add(oi)
        return matches
