"""The alert rules, pure: from the screens' rows (tables.screens) and the time, which
conditions hold now, each with its words. A condition is identified by (site, device,
rule); refusals are events, identified by their time as well."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from signage.fleet.alert_config import AlertsConfig
from signage.fleet.queries import FINE

RULES = ("offline", "camera", "display", "spool", "build", "refused")
EVENTS = ("refused",)  # alerts about a moment: sent once, nothing to recover from


@dataclass(frozen=True)
class Condition:
    site: str
    device: str
    rule: str
    detail: str
    since: datetime  # when it began, as far as the fleet knows

    @property
    def key(self) -> tuple[str, str, str]:
        return self.site, self.device, self.rule


class SpoolTrend:
    """Which screens' spools are growing: at or above the threshold in two statuses in a
    row, and not smaller in the later one. A screen back from an outage drains a deep
    spool: that is its uplink doing its job, not an alert. Kept by the process that
    evaluates (a new leader starts afresh: the first status it sees only sets the level)."""

    def __init__(self):
        self._seen: dict[tuple[str, str], tuple[datetime | None, int]] = {}
        self._growing: dict[tuple[str, str], int] = {}  # screen -> the level it grew from

    def observe(self, rows: Iterable[Mapping], threshold: int | None) -> dict[tuple[str, str], int]:
        """The growing screens, each with its previous level (from the screens' rows)."""
        present = set()
        for row in rows:
            key, at, depth = (row["site"], row["device"]), row["status_at"], row["spool_depth"] or 0
            present.add(key)
            before = self._seen.get(key)
            if before is not None and before[0] == at:
                continue  # no new status: the verdict stands
            self._seen[key] = (at, depth)
            if before is not None and threshold is not None and min(before[1], depth) >= threshold \
                    and depth >= before[1]:
                self._growing[key] = before[1]
            else:
                self._growing.pop(key, None)
        for gone in set(self._seen) - present:  # retired or forgotten screens
            self._seen.pop(gone)
            self._growing.pop(gone, None)
        return dict(self._growing)


def conditions(screens: Iterable[Mapping], now: datetime, config: AlertsConfig,
               growing: Mapping[tuple[str, str], int] | None = None) -> list[Condition]:
    """What holds now, screen by screen, in the order of RULES. `growing`: the screens
    whose spool grows (SpoolTrend), with the level it grew from."""
    rows = list(screens)
    allowed = _allowed_builds(rows, config.builds)
    found = []
    for row in rows:
        found += _of_screen(row, now, config, allowed, growing or {})
    return found


def _of_screen(row: Mapping, now: datetime, config: AlertsConfig, allowed: set[str] | None,
               growing: Mapping[tuple[str, str], int]) -> list[Condition]:
    site, device = row["site"], row["device"]
    since = row["availability_since"] or now
    status_at = row["status_at"] or since
    out = []

    def add(rule: str, detail: str, at: datetime) -> None:
        out.append(Condition(site, device, rule, detail[:500], at))

    if row["availability"] == "offline" and config.offline_minutes is not None:
        minutes = (now - since) / timedelta(minutes=1)
        if minutes >= config.offline_minutes:
            add("offline", f"offline for {minutes:.0f} min (since {since:%Y-%m-%d %H:%M} UTC)", since)
    if row["availability"] == "online":
        if config.camera and row["camera"] is not None and row["camera"] not in FINE["camera"]:
            add("camera", f"camera {row['camera']}", status_at)
        if config.display and row["display"] is not None and row["display"] not in FINE["display"]:
            add("display", f"display {row['display']}", status_at)
        if config.spool_messages is not None and (site, device) in growing:
            add("spool", f"spool growing: {row['spool_depth'] or 0} messages waiting for the broker (was "
                f"{growing[(site, device)]})", status_at)
        if allowed is not None and row["lock"] and row["lock"] not in allowed:
            add("build", f"old build: {row['version'] or '?'} · lock {row['lock']}, not "
                f"{' or '.join(sorted(allowed)) or 'a known one'}", status_at)
    if config.refused_commands and row["refusal_at"] is not None:
        add("refused", f"refused {row['refusal_topic'] or 'a command'}: {row['refusal'] or ''}", row["refusal_at"])
    return out


def _allowed_builds(rows: list[Mapping], builds: list[str] | None) -> set[str] | None:
    """The locks a screen may run: the configured ones, else the most common (ties: all
    of the most common); None when the rule is off."""
    if builds is None:
        return None
    if builds:
        return set(builds)
    counts = Counter(row["lock"] for row in rows if row["lock"] and row["availability"] == "online")
    top = max(counts.values(), default=0)
    return {lock for lock, n in counts.items() if n == top}
