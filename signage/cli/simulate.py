"""`signage simulate`: replay a scripted audience through the rules engine."""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path


def add(commands) -> None:
    parser = commands.add_parser("simulate", help="replay a scripted audience through the rules engine")
    parser.add_argument("playlist", help="playlist file or folder")
    parser.add_argument("--audience", required=True, help="scenario YAML (see signage/playlist/simulate.py)")
    parser.add_argument("--seed", type=int, default=0, help="seed for weighted random choices")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from signage.display.videoinfo import video_length
    from signage.playlist import overnight
    from signage.playlist.loader import load_playlist
    from signage.playlist.simulate import format_schedule, load_scenario, simulate

    # A playlist or scenario that does not load is a ProblemsError: every problem, exit 2.
    playlist = load_playlist([Path(args.playlist)], video_length=video_length)
    scenario = load_scenario(Path(args.audience))
    for note in overnight.notes(playlist.files):
        print(f"info: {note}")
    with _quiet(logging.getLogger("signage.playlist")):  # the schedule says it all
        switches, records = simulate(playlist, scenario, seed=args.seed)
    print(format_schedule(switches, records))
    return 0


@contextlib.contextmanager
def _quiet(logger: logging.Logger):
    """WARNING and above only, for the block: the process (or a test) keeps its own level after."""
    before = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(before)
