"""`python -m signage.cli ...`, as the tests and the systemd unit's ExecStart may run it."""

import sys

from signage.cli import main

sys.exit(main())
