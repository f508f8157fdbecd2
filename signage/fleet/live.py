"""The live part of a page, over server-sent events, for one open page: diffed and paced.

A live fragment is a list of named parts (`data-part` in the HTML: the summary, one row
per screen, …). The first event sends the whole fragment (`live`); after that, while the
parts stay the same ones in the same order, an event carries only the parts whose HTML
changed (`patch`, a JSON object of part → HTML), and nothing when none did. At most one
event goes out per `interval` seconds, however fast the data change: a flood of messages
costs each open page one small event per interval, not a page per message.
"""

from __future__ import annotations

import json
import time
from typing import Callable


def event(name: str, data: str) -> str:
    """One server-sent event (each line of data on its own `data:` line)."""
    return f"event: {name}\n" + "".join(f"data: {line}\n" for line in data.splitlines() or [""]) + "\n"


class LiveFeed:
    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic):
        self.interval, self.clock = interval, clock
        self._sent: dict[str, str] | None = None  # what the page shows now, part by part
        self._last = -float("inf")

    def wait(self) -> float:
        """Seconds until the next event may go out."""
        return max(0.0, self._last + self.interval - self.clock())

    def update(self, parts: dict[str, str], whole: str) -> str | None:
        """The event that brings the page from what it shows to `parts` (`whole` is the
        same, rendered as one fragment), or None when nothing changed or it is too soon."""
        if self.wait() > 0:
            return None
        if self._sent is None or list(self._sent) != list(parts):
            out = event("live", whole)
        else:
            changed = {key: html for key, html in parts.items() if self._sent[key] != html}
            if not changed:
                return None
            out = event("patch", json.dumps(changed, separators=(",", ":")))
        self._sent, self._last = dict(parts), self.clock()
        return out
