"""What the vision stage hands to the rest of the program: numbers only.

`AudienceSnapshot` is the only type that leaves `signage/vision/`. It holds
normalised boxes, expression probabilities, attention, distance and an ephemeral
track number that lives in RAM and is never printed or published. No pixels, crops,
embeddings or landmarks: the privacy test walks these fields and fails on any array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

Expression = Literal["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # the classifier's order
EXPRESSIONS: tuple[Expression, ...] = get_args(Expression)
ZONES = ("near", "mid", "far")


@dataclass(frozen=True)
class Face:
    """One face in one frame."""

    box: tuple[float, float, float, float]  # x, y, w, h as fractions of the frame
    score: float
    expressions: tuple[float, ...] | None  # probabilities in EXPRESSIONS order; None when off
    looking: bool
    yaw: float  # degrees, positive toward the image's right
    pitch: float  # degrees, positive up
    distance_m: float
    zone: str  # one of ZONES
    track: int | None = None  # ephemeral, in RAM only; None until the track is confirmed
    dwell_s: float = 0.0  # how long its track has been seen
    track_expression: str | None = None  # dominant over the track, smoothed, while looking
    looking_s: float = 0.0  # how long its track has looked at the screen

    @property
    def expression(self) -> str | None:
        """The most probable expression, or None when expressions are off."""
        if self.expressions is None:
            return None
        return EXPRESSIONS[max(range(len(EXPRESSIONS)), key=self.expressions.__getitem__)]


@dataclass(frozen=True)
class TrackSummary:
    """A confirmed track that ended: one passer. No track number, no position."""

    dwell_s: float
    looking_s: float
    expression: str | None  # dominant smoothed expression while looking, if any
    zone: str  # the nearest zone the person came to

    @property
    def viewer(self) -> bool:
        """A passer who looked at the screen for at least a second (a 'watcher')."""
        return self.looking_s >= 1.0


@dataclass(frozen=True)
class StageTimes:
    """Milliseconds spent on one frame, per stage."""

    detect: float = 0.0
    expression: float = 0.0
    track: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class AudienceSnapshot:
    """The audience in one analysed frame."""

    t: float  # seconds on the source's clock (monotonic, or media time for files)
    faces: tuple[Face, ...] = ()
    ended: tuple[TrackSummary, ...] = ()  # tracks that ended at this frame
    times: StageTimes = field(default_factory=StageTimes)

    @property
    def face_count(self) -> int:
        return len(self.faces)

    @property
    def confirmed(self) -> int:
        return sum(1 for face in self.faces if face.track is not None)

    @property
    def looking(self) -> int:
        return sum(1 for face in self.faces if face.looking and face.track is not None)


@dataclass(frozen=True)
class Person:
    """A confirmed person in one sample, as the play's accounting needs them: which track
    (ephemeral, RAM only), looking or not, and their smoothed expression while looking."""

    track: int
    looking: bool
    expression: str | None


@dataclass(frozen=True)
class Sample:
    """The audience at one moment, as the rules engine sees it: confirmed people only,
    so a detector's single-frame false positive never triggers anything."""

    t: float
    faces: int = 0
    looking: int = 0
    shares: tuple[float, ...] = (0.0,) * len(EXPRESSIONS)  # of each expression among those looking
    dwell: float = 0.0  # seconds the longest-present person has been in view
    attention: float = 0.0  # seconds the most attentive person has looked
    people: tuple[Person, ...] = ()  # who is counted above: what a play's figures are made of

    @property
    def dominant(self) -> tuple[str | None, float]:
        """The most common expression among those looking, and its share."""
        if not any(self.shares):
            return None, 0.0
        best = max(range(len(EXPRESSIONS)), key=self.shares.__getitem__)
        return EXPRESSIONS[best], self.shares[best]


def sample_of(snapshot: AudienceSnapshot) -> Sample:
    confirmed = [face for face in snapshot.faces if face.track is not None]
    looking = [face for face in confirmed if face.looking]
    counted = [face.track_expression for face in looking if face.track_expression]
    shares = tuple(counted.count(name) / len(counted) if counted else 0.0 for name in EXPRESSIONS)
    return Sample(
        t=snapshot.t, faces=len(confirmed), looking=len(looking), shares=shares,
        dwell=max((face.dwell_s for face in confirmed), default=0.0),
        attention=max((face.looking_s for face in confirmed), default=0.0),
        people=tuple(Person(face.track, face.looking, face.track_expression if face.looking else None)
                     for face in confirmed if face.track is not None),
    )


@dataclass(frozen=True)
class AudienceState:
    """The recent audience: the newest sample and the samples of the last `window`
    seconds, so a condition can be asked how long it has held. Immutable; `update`
    returns a new state (a pure function of the old state, a sample and its time)."""

    samples: tuple[Sample, ...] = ()
    window: float = 60.0

    @property
    def now(self) -> Sample:
        return self.samples[-1] if self.samples else Sample(t=0.0)

    def update(self, sample: Sample) -> AudienceState:
        horizon = sample.t - self.window
        kept = tuple(s for s in self.samples if s.t >= horizon and s.t <= sample.t)
        return AudienceState(samples=kept + (sample,), window=self.window)

    def held_for(self, condition, t: float, enough: float = float("inf")) -> float:
        """Seconds, up to time t, that `condition(sample)` has held without a break
        (0 when it does not hold now); stops looking back once `enough` is reached.
        A sample holds until the next one arrives."""
        since = None
        for sample in reversed(self.samples):
            if sample.t > t:
                continue
            if not condition(sample):
                break
            since = sample.t
            if t - since >= enough:
                break
        return 0.0 if since is None else t - since
