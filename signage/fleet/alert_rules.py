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


def conditions(screens: Iterable[Mapping], now: datetime, config: AlertsConfig) -> list[Condition]:
    """What holds now, screen by screen, in the order of RULES."""
    rows = list(screens)
    allowed = _allowed_builds(rows, config.builds)
    found = []
    for row in rows:
        found += _of_screen(row, now, config, allowed)
    return found


def _of_screen(row: Mapping, now: datetime, config: AlertsConfig, allowed: set[str] | None) -> list[Condition]:
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
        depth = row["spool_depth"] or 0
        if config.spool_messages is not None and depth >= config.spool_messages:
            add("spool", f"spool growing: {depth} messages waiting for the broker", status_at)
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
