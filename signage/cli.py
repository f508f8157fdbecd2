"""The `signage` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from signage import __version__
from signage.errors import SignageError

logger = logging.getLogger("signage")


def _models(args: argparse.Namespace) -> int:
    from signage import models

    manifest = models.load_manifest()
    groups = [("models", models.models_dir())]
    if args.samples:
        groups.append(("samples", models.samples_dir()))
    failed = False
    for section, directory in groups:
        assets = manifest[section].values()
        if args.action == "fetch":
            for line in models.fetch(assets, directory):
                print(line)
        else:
            for asset in assets:
                state = models.status(asset, directory)
                failed |= state != "ok"
                if args.action == "list":
                    print(f"{state:9}{asset.file:42}{asset.wheel:30}{asset.licence}")
                elif state != "ok":
                    print(f"{state:9}{directory / asset.file}")
            if args.action == "verify" and not failed:
                print(f"ok: {len(assets)} {section} verified in {directory}")
    if failed:
        print(f"some files are missing or corrupt: {models.FETCH_HINT}", file=sys.stderr)
    return 1 if failed else 0


def _vision(args: argparse.Namespace) -> int:
    from signage.vision.watch import watch

    return watch(args)


def _check(args: argparse.Namespace) -> int:
    """Config files (*.yaml with a top-level `site`, `source`, ... or named config.yaml)
    and playlists; every problem of every file, exit 1 if any."""
    from signage.config import load_config
    from signage.playlist.loader import load_playlist
    from signage.yamlfile import ProblemsError

    paths = [Path(p) for p in args.paths]
    if not paths:
        paths = ([Path("config.yaml")] if Path("config.yaml").is_file() else []) + [Path("playlists")]
    configs = [p for p in paths if p.is_file() and p.name in ("config.yaml", "config.yml")]
    playlists = [p for p in paths if p not in configs]
    problems = []
    for path in configs:
        try:
            load_config(path)
            print(f"ok: {path}")
        except ProblemsError as exc:
            problems += exc.problems
    if playlists:
        try:
            playlist = load_playlist(playlists)
            print(f"ok: {len(playlist.creatives)} creatives, {len(playlist.rules)} rules, "
                  f"default loop of {len(playlist.default)} in {len(playlist.files)} file(s)")
        except ProblemsError as exc:
            problems += exc.problems
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


def _run(args: argparse.Namespace) -> int:
    from signage.controller import Controller
    from signage.runconfig import effective_config

    config, path = effective_config(args)
    return Controller(config, config_path=path, duration=args.duration).run()


def _schema(args: argparse.Namespace) -> int:
    from signage.schemas import write_schemas

    for path in write_schemas(Path(args.out)):
        print(f"wrote {path}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from signage.playlist.loader import load_playlist
    from signage.playlist.simulate import format_schedule, load_scenario, simulate
    from signage.yamlfile import ProblemsError

    try:
        playlist = load_playlist([Path(args.playlist)])
        scenario = load_scenario(Path(args.audience))
    except ProblemsError as exc:
        print(exc)
        return 1
    logging.getLogger("signage.playlist").setLevel(logging.WARNING)  # the schedule says it all
    switches, records = simulate(playlist, scenario, seed=args.seed)
    print(format_schedule(switches, records))
    return 0


def _preview(args: argparse.Namespace) -> int:
    from signage.preview import preview

    return preview(args)


def _monitor(args: argparse.Namespace) -> int:
    from signage.telemetry.monitor import monitor

    return monitor(args.broker, args.site, args.root, args.json, args.duration)


def _bench(args: argparse.Namespace) -> int:
    from signage.bench import run_bench

    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signage", description=__doc__)
    parser.add_argument("--version", action="version", version=f"signage {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True)

    m = commands.add_parser("models", help="fetch, verify or list the pinned model files")
    m.add_argument("action", choices=["fetch", "verify", "list"])
    m.add_argument("--samples", action="store_true", help="also the sample media (demo, tests, bench)")
    m.set_defaults(handler=_models)

    v = commands.add_parser("vision", help="run the vision pipeline on a source and print what it sees")
    v.add_argument("--source", required=True,
                   help="camera index or /dev/videoN, video file, image file or folder of images, or auto")
    v.add_argument("--backend", choices=["litert", "mediapipe"], default="litert")
    v.add_argument("--model", choices=["short", "full", "full_sparse"], default="full")
    v.add_argument("--threads", type=int, default=2)
    v.add_argument("--delegate", choices=["none", "edgetpu"], default="none")
    v.add_argument("--no-expressions", dest="expressions", action="store_false",
                   help="do not classify expressions (the model is not loaded)")
    v.add_argument("--loop", action="store_true", help="loop a video file or image folder")
    v.add_argument("--fast", action="store_true",
                   help="process files as fast as possible instead of at their frame rate (default with --json)")
    v.add_argument("--json", action="store_true", help="one JSON object per analysed frame (see README)")
    v.set_defaults(handler=_vision)

    r = commands.add_parser("run", help="run the kiosk controller")
    r.add_argument("--config", default="config.yaml", help="configuration file (default: config.yaml)")
    r.add_argument("--source", help="camera index, /dev/videoN, video file, image folder, or auto")
    r.add_argument("--mqtt", metavar="URL", help="broker, mqtt://host:port or mqtts://host:port")
    r.add_argument("--site")
    r.add_argument("--device")
    r.add_argument("--playlists", metavar="DIR")
    screen = r.add_mutually_exclusive_group()
    screen.add_argument("--windowed", dest="fullscreen", action="store_false", default=None)
    screen.add_argument("--fullscreen", dest="fullscreen", action="store_true")
    r.add_argument("--duration", type=float, metavar="SECONDS",
                   help="run this long (or until a non-looping video source ends), then stop as on SIGTERM")
    r.set_defaults(handler=_run)

    c = commands.add_parser("check", help="validate playlists; print every problem, exit 1 if any")
    c.add_argument("paths", nargs="*", help="playlist files or folders (default: playlists/)")
    c.set_defaults(handler=_check)

    s = commands.add_parser("schema", help="write JSON Schemas for editors (yaml-language-server)")
    s.add_argument("--out", default="schemas", help="folder to write into (default: schemas/)")
    s.set_defaults(handler=_schema)

    sim = commands.add_parser("simulate", help="replay a scripted audience through the rules engine")
    sim.add_argument("playlist", help="playlist file or folder")
    sim.add_argument("--audience", required=True, help="scenario YAML (see signage/playlist/simulate.py)")
    sim.add_argument("--seed", type=int, default=0, help="seed for weighted random choices")
    sim.set_defaults(handler=_simulate)

    p = commands.add_parser("preview", help="show a playlist's creatives in a window, or one as a PNG")
    p.add_argument("playlist", help="playlist file or folder")
    p.add_argument("--creative", help="only this creative")
    p.add_argument("--size", help="window size WIDTHxHEIGHT (default 1280x720)")
    p.add_argument("--rotate", type=int, choices=[0, 90, 180, 270], default=0)
    p.add_argument("--screenshot", metavar="FILE.png",
                   help="render one steady frame to a PNG and exit (works with SDL_VIDEODRIVER=dummy)")
    p.set_defaults(handler=_preview)

    mon = commands.add_parser("monitor", help="live table of the fleet from MQTT")
    mon.add_argument("--broker", default="mqtt://localhost:1883", help="mqtt://host:port or mqtts://host:port")
    mon.add_argument("--site", help="only this site")
    mon.add_argument("--root", default="signage", help="topic root (mqtt.topic_root)")
    mon.add_argument("--json", action="store_true", help="stream the raw messages as JSON lines")
    mon.add_argument("--duration", type=float, help="stop after this many seconds")
    mon.set_defaults(handler=_monitor)

    from signage.fleet.cli import add_parser as add_fleet_parser

    add_fleet_parser(commands)

    b = commands.add_parser("bench", help="measure performance as ratios within one run")
    b.add_argument("what", nargs="?", default="vision", choices=["vision", "display", "telemetry", "e2e", "soak", "fleet"])
    b.add_argument("--broker", help="telemetry: an MQTT broker URL (default: a temporary local mosquitto)")
    b.add_argument("--frames", type=int, default=60, help="vision: frames per configuration")
    b.add_argument("--seconds", type=float, default=5.0,
                   help="display: seconds per case; soak: length of the run (default 1800)")
    b.add_argument("--soak", type=float, default=0.0, metavar="SECONDS",
                   help="display: also cycle 50 4K images and 3 videos this long and report memory growth")
    b.add_argument("--screens", default="50,500", help="fleet: simulated screens, comma-separated")
    b.add_argument("--stores", default="sqlite,postgresql", help="fleet: sqlite, postgresql or both")
    b.add_argument("--messages", type=int, default=20000, help="fleet: messages per ingest round")
    b.set_defaults(handler=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except SignageError as exc:
        logger.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
