"""`signage bench`: performance as ratios measured within one run, repeated, with
the spread and a verdict against each target."""

from __future__ import annotations

import argparse

from signage.cli.options import broker_url, listed, one_of, seconds, whole


def add(commands) -> None:
    parser = commands.add_parser("bench", help="measure performance as ratios within one run")
    parser.add_argument("what", nargs="?", default="vision",
                        choices=["vision", "display", "telemetry", "e2e", "soak", "cpu", "fleet", "content"])
    parser.add_argument("--broker", type=broker_url,
                        help="telemetry: an MQTT broker URL (default: a temporary local mosquitto)")
    parser.add_argument("--frames", type=whole(1, 100_000), default=60,
                        help="vision: frames per configuration and repeat")
    parser.add_argument("--repeats", type=whole(3, 1000), default=5,
                        help="vision: repeats of every measurement (at least 3: a spread needs them)")
    parser.add_argument("--seconds", type=seconds(), default=None,
                        help="display: seconds per case (default 5); cpu: seconds per round (default 30); "
                             "soak: length of the run (default 7200)")
    parser.add_argument("--reloads", type=whole(0, 1_000_000), default=None,
                        help="soak: playlist reloads during the run (default 1000 per 2 h, in proportion)")
    parser.add_argument("--losses", type=whole(0, 100_000), default=None,
                        help="soak: display losses during the run (default 100 per 2 h, in proportion)")
    parser.add_argument("--rounds", type=whole(1, 1000), default=3,
                        help="display, cpu, content: how many times each case is repeated")
    parser.add_argument("--soak", type=seconds(), default=0.0, metavar="SECONDS",
                        help="display: also cycle 50 4K images and 3 videos this long and report memory growth")
    parser.add_argument("--screens", type=listed(whole(1, 100_000)), default=None,
                        help="fleet: simulated screens, comma-separated (default 50,500); content: how many "
                             "screens fetch the release (default 50)")
    parser.add_argument("--mb", type=whole(1, 100_000), default=200,
                        help="content: the release's size in MB (default 200)")
    parser.add_argument("--rate", type=seconds(0.0, 1000.0), default=4.0, metavar="MB_S",
                        help="content: each screen's download cap, MB/s (default 4, content.rate_mb_s's default)")
    parser.add_argument("--no-screen", action="store_true",
                        help="content: skip the round that plays a video while downloading")
    parser.add_argument("--stores", type=listed(one_of("sqlite", "postgresql")), default=None,
                        help="fleet: sqlite, postgresql or both, comma-separated (default: sqlite, and postgresql "
                             "with --db)")
    parser.add_argument("--db", metavar="URL",
                        help="fleet: a PostgreSQL database to measure too (postgresql://user:pass@host/db), empty: "
                             "the bench fills and empties it")
    parser.add_argument("--messages", type=whole(1, 10_000_000), default=20000,
                        help="fleet: messages per ingest round")
    parser.add_argument("--only", choices=["export"], default=None,
                        help="fleet: run only this round (export: the proof-of-play CSV of --plays plays)")
    parser.add_argument("--plays", type=whole(1000, 100_000_000), default=1_000_000,
                        help="fleet: plays in the export round's database (default 1,000,000; a tenth is a day)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "vision":
        from signage.cli.bench_vision import main

        print(main(frames=args.frames, repeats=args.repeats))
    elif args.what == "telemetry":
        from signage.cli.bench_telemetry import run as telemetry

        print(telemetry(broker=args.broker))
    elif args.what == "e2e":
        from signage.cli.bench_kiosk import e2e

        print(e2e())
    elif args.what == "soak":
        from signage.cli.bench_soak import soak

        print(soak(args.seconds if args.seconds is not None else 7200.0, reloads=args.reloads, losses=args.losses))
    elif args.what == "fleet":
        from signage.cli import bench_fleet as bench

        stores = args.stores or (["sqlite", "postgresql"] if args.db else ["sqlite"])
        print(bench.run(screens=args.screens or [50, 500], backends=stores, messages=args.messages, db=args.db,
                        only=args.only, plays=args.plays))
    elif args.what == "content":
        from signage.cli.bench_content import run as content

        print(content(screens=(args.screens or [50])[0], mb=args.mb, rate_mb_s=args.rate, screen=not args.no_screen,
                      rounds=args.rounds))
    elif args.what == "display":
        from signage.cli.bench_display import run as display

        print(display(seconds=args.seconds if args.seconds is not None else 5.0, rounds=args.rounds,
                      soak=args.soak))
    elif args.what == "cpu":
        from signage.cli.bench_kiosk import cpu

        print(cpu(seconds=args.seconds if args.seconds is not None else 30.0, rounds=args.rounds))
    return 0
