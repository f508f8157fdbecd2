"""What the renderer remembers about creatives that cannot be shown: each is logged once
per file version (or card), and a bad file is not tried again until it changes."""

from __future__ import annotations

import logging

from signage.display.content import Content
from signage.display.media import file_key

logger = logging.getLogger(__name__)

MAX_REMEMBERED = 10_000  # bad file versions kept, so a bad file is not retried every cycle
RECENT = 10  # errors kept for status


class Failures:
    def __init__(self, level: int = logging.ERROR):
        self._level = level  # how each is logged
        self.bad: dict[tuple, str] = {}  # file version -> reason: skipped until the file changes
        self._reported: set[tuple] = set()  # failures already logged (file version or card)
        self.recent: list[str] = []  # "creative: reason", newest last, for status

    def known(self, version: tuple) -> str | None:
        """Why this file version failed before, or None."""
        return self.bad.get(version)

    def record(self, content: Content, reason: str) -> None:
        report: tuple = ("card", content)
        version = None
        if content.path is not None:
            try:
                report = version = file_key(content.path)
            except OSError:
                report = (str(content.path), reason)
        if len(self._reported) >= MAX_REMEMBERED or len(self.bad) >= MAX_REMEMBERED:
            self._reported.clear()  # months of edits: forget old versions, at worst log again
            self.bad.clear()
        if version is not None:
            self.bad[version] = reason
        if report not in self._reported:
            self._reported.add(report)
            where = f" ({content.path})" if content.path is not None else ""
            logger.log(self._level, "creative %s%s cannot be shown: %s", content.id, where, reason)
        self.recent = (self.recent + [f"{content.id}: {reason}"])[-RECENT:]


def reason_of(exc: BaseException) -> str:
    """One line for status and the log: the exception's own words, its type if none."""
    text = " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        return "not enough memory to prepare it"
    return text[:300] if text else type(exc).__name__
