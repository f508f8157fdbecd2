"""`signage doctor`: is this machine ready for the kiosk? (signage/kiosk/doctor.py checks)"""

from __future__ import annotations

import argparse
import pwd

from signage.cli.run import add_overrides, config_of
from signage.errors import ConfigError


def add(commands) -> None:
    parser = commands.add_parser("doctor", help="is this machine ready for the kiosk? display, camera, models, "
                                 "Edge TPU, broker: each ok or a problem with its fix; exit 1 on any problem")
    add_overrides(parser)
    parser.add_argument("--user", help="check device access for this user (e.g. signage) instead of the caller")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from signage.kiosk.doctor import diagnose

    if args.user is not None:
        try:
            pwd.getpwnam(args.user)
        except KeyError:
            raise ConfigError(f"--user {args.user}: no such user on this machine; give the account the kiosk runs as"
                              " (e.g. signage), or leave --user out to check the caller") from None
    config, _ = config_of(args)
    checks = diagnose(config, user=args.user)
    for check in checks:
        print(check)
    return 0 if all(check.ok for check in checks) else 1
