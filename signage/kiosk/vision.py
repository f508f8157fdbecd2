"""The kiosk's side of the vision stage: start and stop it with the configuration,
and say how the camera is doing. Frames stay inside `signage/vision/`; what comes
out is AudienceSnapshots, through the audience counter's handoff."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from signage.audience import AudienceSnapshot
from signage.config import Config
from signage.errors import SignageError
from signage.kiosk.problems import Problems

if TYPE_CHECKING:
    from signage.vision.pipeline import Pipeline
    from signage.vision.sources.base import FrameSource
    from signage.vision.worker import VisionWorker

logger = logging.getLogger(__name__)


def open_configured_source(config: Config) -> FrameSource:
    """The frame source `source:` describes (the production factory; tests inject theirs)."""
    from signage.vision.sources import Backoff, open_source

    source = config.source
    return open_source(source.spec(), loop=source.loop, paced=True, fallback=source.fallback,
                       width=source.width, height=source.height, fps=source.fps, backoff=Backoff(),
                       camera=source.kind == "camera", format=source.format)


@dataclass
class Prepared:
    """What a vision stage runs on, built and not started."""

    pipeline: Pipeline
    source: FrameSource | None  # None: opened at start (the running source holds the same device)

    def close(self) -> None:
        for part in (self.source, self.pipeline):
            if part is not None:
                part.close()


class VisionStage:
    """The vision worker the running configuration asks for, while the camera may be on.
    `on_snapshot` (the analysis thread's) takes each snapshot; `on_stopped(dropped)` hears
    that vision stopped, with the frames dropped since the last count; `notice(visible)`
    tells the screen whether audience measurement is active. Main thread only."""

    def __init__(self, config: Config, problems: Problems, on_snapshot: Callable[[AudienceSnapshot], None],
                 on_stopped: Callable[[int], None], notice: Callable[[bool], None],
                 open_source: Callable[[Config], FrameSource] = open_configured_source):
        self.config, self.problems, self.open_source = config, problems, open_source
        self._on_snapshot, self._on_stopped, self._notice = on_snapshot, on_stopped, notice
        self.worker: VisionWorker | None = None
        self._counted_dropped = 0
        self._retired_faults = 0  # of the workers stopped before: `faults` counts since start
        self._stopping: VisionWorker | None = None  # counted while it stops
        self._count_lock = threading.Lock()  # `faults` may be read from another thread: never a dip

    @property
    def running(self) -> bool:
        return self.worker is not None

    def prepare(self, config: Config, with_source: bool = True) -> Prepared:
        """The pipeline (models loaded) and, with_source, the opened frame source that
        `config` asks for, not started. Raises SignageError; closes what it opened then."""
        from signage import modelfiles
        from signage.vision.pipeline import Pipeline

        models_dir = Path(config.paths.models) if config.paths.models else None
        files = modelfiles.vision_files(config.vision.model, config.vision.expressions, models_dir)
        pipeline = Pipeline.from_config(config.vision, *files)
        try:
            return Prepared(pipeline, self.open_source(config) if with_source else None)
        except BaseException:
            pipeline.close()
            raise

    def follow(self, config: Config) -> None:
        """A reload: the configuration the next start uses."""
        self.config = config

    def start(self, prepared: Prepared | None = None) -> None:
        """Start capture and analysis (from `prepared` parts when given: a reload built
        them first); a model or source fault leaves vision off, reported, and the rules
        that need no audience keep playing. The notice follows."""
        self._start(prepared)
        self._notice(self.running)

    def _start(self, prepared: Prepared | None) -> None:
        from signage.vision.worker import VisionWorker

        config = self.config
        try:
            prepared = prepared or self.prepare(config)
            source = prepared.source or self.open_source(config)
        except Exception as exc:  # noqa: BLE001 - a driver's own error (cv2.error, RuntimeError) too
            if prepared is not None:
                prepared.close()
            reason = str(exc) if isinstance(exc, SignageError) else \
                f"the source cannot be opened ({type(exc).__name__})"
            self.problems.set("vision", reason)
            logger.error("vision is off: %s; playing the rules that need no audience", exc)
            return
        self.problems.clear("vision")
        self.worker = VisionWorker(prepared.pipeline, source, self._on_snapshot, max_fps=config.vision.max_fps)
        self._counted_dropped = 0  # a new worker counts its dropped frames from zero
        self.worker.start()

    def stop(self) -> None:
        """Stop capture and analysis (the frame in analysis finishes); what they saw last
        is counted, and the notice goes off."""
        if self.worker is not None:
            dropped = self.dropped_since_last()
            worker = self._stopping = self.worker
            self.worker = None
            worker.stop()
            with self._count_lock:
                self._retired_faults += worker.faults
                self._stopping = None
            self._on_stopped(dropped)
        self._notice(False)

    def camera_state(self, privacy: bool) -> str:
        if privacy:
            return "off"
        if self.problems.get("vision"):
            return "error"
        return self.worker.state.value if self.worker else "off"

    @property
    def ended(self) -> bool:
        return self.worker is not None and self.worker.ended

    @property
    def faults(self) -> int:
        """Faults the workers survived since the kiosk started (privacy and reloads replace them)."""
        with self._count_lock:
            live = {id(w): w for w in (self.worker, self._stopping) if w is not None}
            return self._retired_faults + sum(w.faults for w in live.values())

    def dropped_since_last(self) -> int:
        if self.worker is None:
            return 0
        dropped = self.worker.slot.dropped
        new, self._counted_dropped = dropped - self._counted_dropped, dropped
        return new

    def hardware(self) -> dict[str, str | None]:
        """What the camera negotiated and whether the Edge TPU is in use (None: unknown or not asked for)."""
        return self.worker.hardware if self.worker else {"camera": None, "edgetpu": None}

    def stuck(self, stale: float) -> str | None:
        return self.worker.stuck(stale) if self.worker else None
