"""What the vision stage needs to be told, as plain read-only attributes. Vision does
not know the kiosk's configuration tree: anything with these attributes will do
(config.yaml's `vision:` section has them, so do the benches' and tests' settings).
The model files come the same way, as paths (`Pipeline.from_config`): the caller
resolves and verifies them with the model manifest, which vision never reads."""

from __future__ import annotations

from typing import Protocol


class AttentionLimits(Protocol):
    @property
    def max_yaw(self) -> float: ...

    @property
    def max_pitch(self) -> float: ...


class TrackerLimits(Protocol):
    @property
    def confirm_hits(self) -> int: ...

    @property
    def max_gap(self) -> float: ...


class VisionSettings(Protocol):
    @property
    def backend(self) -> str: ...  # litert | mediapipe

    @property
    def model(self) -> str: ...  # short | full | full_sparse | full_int8 | short_int8

    @property
    def threads(self) -> int: ...

    @property
    def delegate(self) -> str: ...  # none | edgetpu

    @property
    def edgetpu_device(self) -> str: ...

    @property
    def min_score(self) -> float: ...

    @property
    def start_score(self) -> float: ...

    @property
    def expressions(self) -> bool: ...

    @property
    def camera_hfov(self) -> float: ...

    @property
    def attention(self) -> AttentionLimits: ...

    @property
    def tracker(self) -> TrackerLimits: ...
