"""The `signage` command: the only place that parses a command line. One module per
verb, each with `add(commands)` (its arguments) and `run(args)` (unpacks them and calls
the library with plain values)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from signage import build
from signage.errors import SignageError

logger = logging.getLogger("signage")

VERBS = ("run", "check", "doctor", "schema", "simulate", "preview", "vision", "models", "monitor", "fleet",
         "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signage", description=__doc__)
    parser.add_argument("--version", action="version", version=f"signage {build.describe()}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        importlib.import_module(f"signage.cli.{verb}").add(commands)
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
