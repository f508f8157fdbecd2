"""`signage publish`: check a content repository for every target and write a signed
release; `--again N` publishes release N's content as a new version (a rollback)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from signage.cli.options import output_folder, whole
from signage.errors import ConfigError


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not math.isfinite(value) or not 0 < value <= 3650:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of days above 0, at most 3650")
    return value


def add(commands) -> None:
    parser = commands.add_parser("publish", help="check a content repository (fleet/, sites/<site>/, "
                                 "screens/<site>/<device>/) for every target and write a signed release; exit 1 "
                                 "if any target would reject it")
    parser.add_argument("repo", nargs="?", help="the content repository (not with --again)")
    parser.add_argument("--key", required=True, help="the release key (`signage keygen` made it)")
    parser.add_argument("--releases", required=True, help="the releases folder the fleet serves (made if missing)")
    parser.add_argument("--again", type=whole(1, 2**53), metavar="VERSION",
                        help="publish that earlier release again as the newest version (a rollback)")
    parser.add_argument("--after", type=whole(0, 2**53 - 1), default=0, metavar="VERSION",
                        help="the new version is above this one too: give the newest version any screen has (the "
                             "fleet page shows it) when the releases folder was lost or restored from an old backup; "
                             "screens refuse a version not above their own")
    parser.add_argument("--expires", type=_days, default=30.0, metavar="DAYS",
                        help="days until screens report the release as expired (default 30)")
    parser.add_argument("--simulate", type=_days, default=7.0, metavar="DAYS",
                        help="days of each target's rules to rehearse on a simulated clock (default 7, at most 7)")
    parser.add_argument("--no-simulate", action="store_true", help="skip the rehearsal")
    parser.add_argument("--objects-url", metavar="URL",
                        help="where screens fetch the files from, if not from the releases folder's objects/ (a CDN "
                             "or static host you copy objects/ to): http(s)://host/path")
    parser.add_argument("--max-image-pixels", type=whole(1_000_000, 400_000_000), default=None,
                        help="the screens' display.max_image_pixels, if not the default")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from signage.content import signing
    from signage.content.release import PublishRefused, describe, publish, republish
    from signage.display.videoinfo import video_length
    from signage.imageinfo import DEFAULT_MAX_PIXELS

    if (args.repo is None) == (args.again is None):
        raise ConfigError("give the content repository, or --again VERSION to publish an earlier release again")
    if args.simulate > 7:
        raise ConfigError(f"--simulate {args.simulate:g}: at most 7 days are rehearsed")
    try:
        key = signing.load_private(Path(args.key))
    except ValueError as exc:
        raise ConfigError(f"--key {exc}") from None
    releases = output_folder("--releases", Path(args.releases))
    if args.objects_url is not None:
        from signage.contentconfig import content_url

        try:
            content_url(args.objects_url)
        except ValueError as exc:
            raise ConfigError(f"--objects-url {exc}") from None
    try:
        if args.again is not None:
            published = republish(releases, args.again, key, expires_days=args.expires, objects_url=args.objects_url,
                                  after=args.after)
        else:
            repo = Path(args.repo)
            published = publish(repo, releases, key, video_length=video_length, expires_days=args.expires,
                                max_image_pixels=args.max_image_pixels or DEFAULT_MAX_PIXELS,
                                simulate_days=0 if args.no_simulate else args.simulate, objects_url=args.objects_url,
                                after=args.after)
    except PublishRefused as exc:
        for line in exc.lines:
            print(line)
        print(f"refused: {len(exc.lines)} problem(s); nothing was published")
        return 1
    for line in describe(published):
        print(line)
    return 0
