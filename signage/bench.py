"""`signage bench`: performance as ratios measured within one run."""

from __future__ import annotations

import argparse


def run_bench(args: argparse.Namespace) -> int:
    if args.what == "vision":
        from signage.vision import bench

        print(bench.report(bench.run(rounds=args.frames)))
    elif args.what == "telemetry":
        from signage.telemetry import bench

        print(bench.run(broker=args.broker))
    elif args.what == "e2e":
        from signage.controller_bench import e2e

        print(e2e())
    elif args.what == "soak":
        from signage.controller_bench import soak

        print(soak(args.seconds if args.seconds != 5.0 else 1800.0))
    elif args.what == "fleet":
        from signage.fleet import bench

        print(bench.run(screens=[int(n) for n in args.screens.split(",")],
                        backends=args.stores.split(","), messages=args.messages))
    elif args.what == "display":
        from signage.display import bench

        print(bench.run(seconds=args.seconds, soak=args.soak))
    return 0
