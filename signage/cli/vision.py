"""`signage vision`: run a source through the pipeline and print what it sees.

Human mode prints one line per second; `--json` prints one object per analysed
frame (a stable interface documented in docs/vision.md), then one summary object. Track
numbers are never printed: they do not leave the process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

from signage.audience import EXPRESSIONS, AudienceSnapshot
from signage.cli.options import validated
from signage.config import VisionConfig
from signage.fields import IMAGE_SUFFIXES


def snapshot_json(snapshot: AudienceSnapshot, frame: int | None, name: str | None) -> dict:
    """The documented per-frame JSON object."""
    record: dict = {"frame": frame}
    if name is not None:
        record["file"] = name
    record["faces"] = [
        {
            "box": dict(zip("xywh", (round(v, 4) for v in face.box))),
            "score": round(face.score, 3),
            "expressions": (None if face.expressions is None else
                            {k: round(p, 4) for k, p in zip(EXPRESSIONS, face.expressions)}),
            "expression": face.expression,
            "looking": face.looking,
            "yaw": round(face.yaw, 1),
            "pitch": round(face.pitch, 1),
            "distance_m": round(face.distance_m, 2),
            "zone": face.zone,
            "confirmed": face.track is not None,
            "dwell_s": round(face.dwell_s, 2),
        }
        for face in snapshot.faces
    ]
    record["counts"] = {"faces": snapshot.face_count, "confirmed": snapshot.confirmed,
                        "looking": snapshot.looking}
    record["ended"] = [
        {"dwell_s": round(e.dwell_s, 2), "looking_s": round(e.looking_s, 2),
         "expression": e.expression, "zone": e.zone} for e in snapshot.ended
    ]
    record["ms"] = {"detect": round(snapshot.times.detect, 2),
                    "expression": round(snapshot.times.expression, 2),
                    "track": round(snapshot.times.track, 2)}
    return record


class _Summary:
    """Counts for the closing line: passers and viewers."""

    def __init__(self) -> None:
        self.frames = self.passers = self.viewers = 0

    def add(self, snapshot: AudienceSnapshot) -> None:
        self.passers += len(snapshot.ended)
        self.viewers += sum(1 for e in snapshot.ended if e.viewer)


def add(commands) -> None:
    parser = commands.add_parser("vision", help="run the vision pipeline on a source and print what it sees")
    parser.add_argument("--source", required=True,
                        help="camera index or /dev/videoN, picamera[:N] (Pi Camera Module), video file, image file or "
                        "folder of images, or auto")
    parser.add_argument("--backend", choices=["litert", "mediapipe"], default="litert")
    parser.add_argument("--model", choices=["short", "full", "full_sparse", "full_int8", "short_int8"],
                        default="full")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--delegate", choices=["none", "edgetpu"], default="none")
    parser.add_argument("--edgetpu-device", default="auto", help="auto, usb, pci, usb:N or pci:N")
    parser.add_argument("--no-expressions", dest="expressions", action="store_false",
                        help="do not classify expressions (the model is not loaded)")
    parser.add_argument("--loop", action="store_true", help="loop a video file or image folder")
    parser.add_argument("--fast", action="store_true",
                        help="process files as fast as possible instead of at their frame rate (default with --json)")
    parser.add_argument("--json", action="store_true", help="one JSON object per analysed frame (see docs/vision.md)")
    parser.set_defaults(handler=run)


OPTIONS = {"backend": "--backend", "model": "--model", "threads": "--threads", "delegate": "--delegate",
           "edgetpu_device": "--edgetpu-device", "expressions": "--no-expressions"}


def run(args: argparse.Namespace) -> int:
    config = validated(VisionConfig, {"backend": args.backend, "model": args.model, "threads": args.threads,
                                      "delegate": args.delegate, "edgetpu_device": args.edgetpu_device,
                                      "expressions": args.expressions}, OPTIONS)
    return watch(args.source, config, loop=args.loop, fast=args.fast, as_json=args.json)


def watch(spec: str, config: VisionConfig, *, loop: bool = False, fast: bool = False, as_json: bool = False,
          out: TextIO | None = None) -> int:
    from signage import modelfiles
    from signage.vision.pipeline import Pipeline
    from signage.vision.sources import SourceState, open_source

    out = out or sys.stdout
    pipeline = Pipeline.from_config(config, *modelfiles.vision_files(config.model, config.expressions))
    is_still = Path(spec).is_dir() or Path(spec).suffix.lower() in IMAGE_SUFFIXES
    paced = not (fast or as_json)
    source = open_source(spec, loop=loop, paced=paced)
    summary = _Summary()
    window: list[AudienceSnapshot] = []
    next_line = time.monotonic() + 1.0
    try:
        while True:
            frame = source.read()
            if frame is None:
                if source.state == SourceState.ENDED:
                    break
                continue
            snapshot = pipeline.process(frame.image, frame.t)
            index, name = frame.index, frame.name if is_still else None
            del frame  # the pixels stop here
            summary.frames += 1
            summary.add(snapshot)
            if as_json:
                print(json.dumps(snapshot_json(snapshot, index, name)), file=out, flush=True)
                continue
            window.append(snapshot)
            if time.monotonic() >= next_line:
                print(_line(window, time.monotonic() - next_line + 1.0), file=out, flush=True)
                window, next_line = [], time.monotonic() + 1.0
    except KeyboardInterrupt:
        pass
    finally:
        final = pipeline.end(0.0)
        summary.add(final)
        source.close()
        pipeline.close()
    closing = {"frames": summary.frames, "passers": summary.passers, "viewers": summary.viewers}
    if as_json:
        if final.ended:  # tracks still open when the source ended: counted, so also listed
            print(json.dumps({"end_of_source": True, "ended": snapshot_json(final, None, None)["ended"]}),
                  file=out, flush=True)
        print(json.dumps({"summary": closing}), file=out, flush=True)
    else:
        if window:
            print(_line(window, max(time.monotonic() - next_line + 1.0, 1e-3)), file=out)
        print(f"done: {summary.frames} frames, {summary.passers} passers, {summary.viewers} viewers", file=out)
    return 0


def _line(window: list[AudienceSnapshot], seconds: float) -> str:
    last = window[-1]
    expressions = Counter(f.expression for f in last.faces if f.expression and f.looking)
    mix = " ".join(f"{k}:{v}" for k, v in expressions.most_common()) or "-"
    n = len(window)
    ms = {stage: sum(getattr(s.times, stage) for s in window) / n for stage in ("detect", "expression", "track")}
    return (f"faces {last.face_count} confirmed {last.confirmed} looking {last.looking} | {mix} | "
            f"{n / seconds:5.1f} fps | detect {ms['detect']:.1f} ms, expression {ms['expression']:.1f} ms, "
            f"track {ms['track']:.1f} ms")
