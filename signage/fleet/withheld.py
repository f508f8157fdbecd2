"""Why an exported figure is empty, from what the rows store: the exports leave a withheld
figure empty and say why in a `withheld` column, never 0 (docs/glossary.md).

The kiosk does not say whether a group was withheld for too few people or for one
dominant person (telling them apart would itself be a fact about the few), so neither
does this."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FEW = "fewer than min_group people or one dominant"
OLD = "sent before revision 0011"  # plays from kiosks that did not count distinct people
AUDIENCE = "audience"  # the creative and rule an older kiosk published for an audience rule's play
PERIODS = ("hour", "day")  # the periods a kiosk releases held plays for, smallest first
LOOKING = ("viewed_plays", "peak_viewers", "looking_seconds")  # a daily row's sums over published plays

Row = Mapping[Any, Any]  # a row as the database gives it (sqlalchemy.RowMapping) or a dict


def play_reason(row: Row) -> str:
    """Why figures of a proof-of-play row (tables.plays) are empty; "" when none is."""
    groups = [name for name, empty in (
        ("creative", row["creative"] == AUDIENCE and row["rule"] == AUDIENCE),
        ("people", row["peak_faces"] is None),
        ("looking", row["peak_viewers"] is None or row["looking_seconds"] is None),
        ("expressions", row["expressions"] is None)) if empty]
    parts = [f"{', '.join(groups)}: {FEW}"] if groups else []
    # ots and viewers come with the people and looking groups: missing from a group that
    # was published, the kiosk did not count them
    older = [name for name, group in (("ots", "peak_faces"), ("viewers", "peak_viewers"))
             if row[name] is None and row[group] is not None]
    if older:
        parts.append(f"{', '.join(older)}: {OLD}")
    return "; ".join(parts)


def daily_empty(row: Row) -> set[str]:
    """The columns of a daily rollup row (tables.creative_days) that no play published:
    unknown, to be left empty."""
    empty = set()
    if not row["ots_plays"]:
        empty.add("impressions")
    if not row["viewer_plays"]:
        empty.add("viewed_impressions")
    # measured_plays: the plays that published their looking (rows from before 0013 start
    # at plays - suppressed_plays, so the looking seconds are asked too)
    if not row["measured_plays"] and not row["looking_seconds"]:
        empty.update(LOOKING)
    return empty


def daily_reason(row: Row, released: Mapping[str, int]) -> str:
    """Why a daily rollup row's audience figures are empty or partial: its plays released
    in aggregate (`released`: plays by period, from play_totals), those whose audience or
    expression mix the kiosk withheld, and plays from before distinct people were counted;
    "" when every play published everything."""
    parts = [f"{released[period]} plays released in aggregate ({period})" for period in PERIODS
             if released.get(period)]
    held = row["suppressed_plays"] - sum(released.values())
    if held > 0:
        parts.append(f"audience or expression mix of {held} plays withheld: {FEW}")
    published = row["plays"] > row["suppressed_plays"] or row["looking_seconds"]
    if published and not row["ots_plays"]:
        parts.append(f"impressions, viewed_impressions: {OLD}")
    return "; ".join(parts)
