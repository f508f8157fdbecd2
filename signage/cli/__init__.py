"""The `signage` command: the only place that parses a command line. One module per
verb, each with `add(commands)` (its arguments) and `run(args)` (unpacks them and calls
the library with plain values).

No command ends in a traceback. Each verb checks what the operator typed (options.py)
and says what is wrong and what is allowed; `main` is the barrier behind them: an
error the verbs did not foresee becomes one line naming the verb and the error, and a
hint, exit 2 (the traceback is logged at DEBUG, for `--log-level DEBUG`)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from signage import build
from signage.errors import SignageError

logger = logging.getLogger("signage")

VERBS = ("run", "check", "doctor", "schema", "simulate", "preview", "vision", "models", "monitor", "fleet",
         "bench", "keygen", "publish")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signage", description=__doc__)
    parser.add_argument("--version", action="version", version=f"signage {build.describe()}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        importlib.import_module(f"signage.cli.{verb}").add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame's banner would land in our stdout
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
    except BrokenPipeError:  # the reader went away (`| head`): nothing to say, and nowhere to say it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        return 1
    except Exception as exc:  # noqa: BLE001 - the barrier: never a traceback to an operator
        logger.debug("signage %s failed", args.command, exc_info=True)
        logger.error("signage %s: %s", args.command, unforeseen(exc))
        logger.error("hint: check the paths, dates and numbers given (signage %s --help says what each accepts);"
                     " run again with --log-level DEBUG for the traceback, and please report it: this input"
                     " deserved a clearer message", args.command)
        return 2


def unforeseen(exc: Exception) -> str:
    """An unforeseen error in one line: a file's own error names the file."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or type(exc).__name__}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
