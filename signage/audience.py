"""What the vision stage hands to the rest of the program: numbers only.

`AudienceSnapshot` is the only type that leaves `signage/vision/`. It holds
normalised boxes, expression probabilities, attention, distance and an ephemeral
track number that lives in RAM and is never printed or published. No pixels, crops,
embeddings or landmarks: the privacy test walks these fields and fails on any array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
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
