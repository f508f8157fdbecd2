"""Content announcements: when the releases folder gets a new version (`signage publish`
wrote it), a retained `{"version": N}` on `<root>/content/<target>` for each of its
targets, so that screens look at once instead of at their next check.

An announcement is a hint: the fleet reads the manifest's target names without checking
its signature (the kiosks check it, and trust no one else); a malformed or missing
manifest is logged and announced nothing. Announced again at every start (a broker may
have lost its retained messages) and retried while the broker does not take them.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Callable

from signage.threads import SupervisedThread
from signage.wire.announcements import announcement_topic
from signage.wire.messages import MAX_CONTENT_VERSION

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0
MAX_MANIFEST_BYTES = 8 << 20
_TARGET = re.compile(r"^(fleet|site/[A-Za-z0-9_-]{1,64}|screen/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64})$")


def targets_of(releases: Path, version: int) -> list[str]:
    """The target names of a release, as its manifest lists them (unchecked)."""
    path = releases / str(version) / "manifest.json"
    with path.open("rb") as handle:
        data = handle.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise ValueError(f"{path}: larger than {MAX_MANIFEST_BYTES} bytes")
    targets = json.loads(data).get("targets")
    if not isinstance(targets, dict):
        raise ValueError(f"{path}: no targets")
    return sorted(name for name in targets if isinstance(name, str) and _TARGET.match(name))


class Announcer:
    def __init__(self, releases: Path, topic_root: str, publish_retained: Callable[[str, bytes], bool],
                 interval: float = CHECK_EVERY_S):
        self.releases, self.topic_root, self._publish = releases, topic_root, publish_retained
        self.announced: int | None = None  # the version every target was told of
        self._thread = SupervisedThread("announcer", self.step, interval)

    def start(self) -> Announcer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._thread.stop(5.0)

    def step(self) -> None:
        try:
            text = (self.releases / "latest").read_text()[:32].strip()
        except OSError:
            return  # nothing published yet
        if not text.isdigit() or not 1 <= int(text) <= MAX_CONTENT_VERSION:
            logger.warning("%s holds %r, not a version; nothing announced", self.releases / "latest", text[:20])
            return
        version = int(text)
        if version == self.announced:
            return
        try:
            targets = targets_of(self.releases, version)
        except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
            logger.warning("release %d cannot be announced: %s", version, exc)
            return
        payload = json.dumps({"version": version}).encode()
        taken = [self._publish(announcement_topic(self.topic_root, target), payload) for target in targets]
        if all(taken):
            self.announced = version
            logger.info("announced content version %d to %d target(s)", version, len(targets))
