"""`signage bench`: performance as ratios measured within one run."""

from __future__ import annotations

import argparse


def run_bench(args: argparse.Namespace) -> int:
    if args.what == "vision":
        from signage.vision import bench

        print(bench.report(bench.run(rounds=args.frames)))
    return 0
