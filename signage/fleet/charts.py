"""Charts drawn as SVG on the server: no JavaScript library, no CDN, readable offline.
Every text is escaped; sizes are in CSS pixels."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from html import escape

from markupsafe import Markup

PALETTE = {"happy": "#2e9d52", "neutral": "#8a8f98", "surprise": "#e0a21b", "sad": "#3f6fb5",
           "angry": "#c8412b", "fear": "#7b4bb3", "disgust": "#6b8e23"}  # one per audience.EXPRESSIONS
OTHER = ["#17a2b8", "#e83e8c", "#6610f2", "#fd7e14"]


def colour(name: str, index: int = 0) -> str:
    return PALETTE.get(name, OTHER[index % len(OTHER)])


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def bars(values: list[float | None], labels: list[str], title: str, unit: str = "", width: int = 720,
         height: int = 180, fill: str = "#3f6fb5", label_every: int = 1,
         unknown: str = "withheld or not reported") -> Markup:
    """A vertical bar chart with a y axis maximum, a label per `label_every` bars. A None
    value is unknown, never drawn as 0: a grey stub at the axis, titled `unknown`."""
    top, bottom, left, right = 24, 22, 44, 8
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for v in values if v is not None), default=0) or 1
    step = plot_w / max(len(values), 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<text x="{left}" y="15" class="chart-title">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="axis"/>',
             f'<text x="{left - 4}" y="{top + 4}" class="tick" text-anchor="end">{_fmt(peak)}{escape(unit)}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" class="tick" text-anchor="end">0</text>']
    for i, (value, label) in enumerate(zip(values, labels)):
        x = left + i * step
        if value is None:
            parts.append(f'<rect x="{x + step * 0.12:.1f}" y="{top + plot_h - 4}" width="{step * 0.76:.1f}" '
                         f'height="4" class="unknown"><title>{escape(label)}: {escape(unknown)}</title></rect>')
        else:
            h = plot_h * value / peak
            parts.append(f'<rect x="{x + step * 0.12:.1f}" y="{top + plot_h - h:.1f}" width="{step * 0.76:.1f}" '
                         f'height="{h:.1f}" fill="{fill}"><title>{escape(label)}: {_fmt(value)}{escape(unit)}</title>'
                         f'</rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{height - 6}" class="tick" text-anchor="middle">'
                         f'{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def mix(shares: Mapping[str, float], title: str, width: int = 360, height: int = 44) -> Markup:
    """A 100 % stacked bar with a legend; empty when there is no published breakdown."""
    parts = [f'<svg class="chart mix" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    total = sum(shares.values())
    if total <= 0:
        parts.append('<text x="0" y="18" class="tick">no breakdown (suppressed or no viewers)</text></svg>')
        return Markup("".join(parts))
    x = 0.0
    legend_x = 0.0
    for i, (name, value) in enumerate(shares.items()):
        w = width * value / total
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="18" fill="{colour(name, i)}">'
                     f'<title>{escape(name)}: {100 * value / total:.0f} %</title></rect>')
        x += w
        if legend_x < width - 60:
            parts.append(f'<rect x="{legend_x:.0f}" y="26" width="10" height="10" fill="{colour(name, i)}"/>'
                         f'<text x="{legend_x + 13:.0f}" y="35" class="tick">{escape(name)} '
                         f'{100 * value / total:.0f}%</text>')
            legend_x += 13 + 7.2 * (len(name) + 5)
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline(plays: list[dict], start: datetime, end: datetime, title: str, width: int = 720) -> Markup:
    """One lane per creative; a bar per play from its start to its end."""
    creatives = sorted({p["creative"] for p in plays})
    lane, top, left, right = 22, 24, 120, 8
    height = top + lane * max(len(creatives), 1) + 22
    plot_w = width - left - right
    span = (end - start).total_seconds() or 1
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<text x="0" y="15" class="chart-title">{escape(title)}</text>']
    if not plays:
        parts.append(f'<text x="{left}" y="{top + 15}" class="tick">no plays</text>')
    for i, creative in enumerate(creatives):
        y = top + i * lane
        parts.append(f'<text x="{left - 6}" y="{y + 15}" class="tick" text-anchor="end">{escape(creative[:18])}</text>'
                     f'<line x1="{left}" y1="{y + lane - 1}" x2="{width - right}" y2="{y + lane - 1}" class="grid"/>')
    # Plays closer than a pixel merge into one bar, so a busy day stays a light SVG.
    segments: dict[str, list[list[float]]] = {c: [] for c in creatives}
    for p in sorted(plays, key=lambda p: p["start"]):
        x0 = left + plot_w * max(0.0, (p["start"] - start).total_seconds()) / span
        x1 = max(x0 + 1.0, left + plot_w * min(span, (p["end"] - start).total_seconds()) / span)
        lane_segments = segments[p["creative"]]
        if lane_segments and x0 <= lane_segments[-1][1] + 1.0:
            lane_segments[-1][1] = max(lane_segments[-1][1], x1)
            lane_segments[-1][2] += 1
        else:
            lane_segments.append([x0, x1, 1])
    for i, creative in enumerate(creatives):
        y = top + i * lane
        for x0, x1, count in segments[creative]:
            parts.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{x1 - x0:.1f}" height="{lane - 8}" '
                         f'fill="{colour("", i)}"><title>{escape(creative)}: {count} play(s)</title></rect>')
    hours = int(span // 3600)
    every = max(1, hours // 12)
    for h in range(0, hours + 1, every):
        x = left + plot_w * h * 3600 / span
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" class="tick" text-anchor="middle">'
                     f'{(start + timedelta(hours=h)):%H}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def interval(mean: float, ci: tuple[float, float] | None, scale: float, width: int = 140) -> Markup:
    """A dot at the mean and a whisker for the 95 % CI on a shared scale."""
    scale = scale or 1
    x = lambda v: 4 + (width - 8) * min(v, scale) / scale  # noqa: E731
    parts = [f'<svg class="ci" viewBox="0 0 {width} 16" width="{width}" height="16" role="img" '
             f'aria-label="mean {mean:.1f}">']
    if ci:
        parts.append(f'<line x1="{x(ci[0]):.1f}" y1="8" x2="{x(ci[1]):.1f}" y2="8" class="whisker"/>')
    parts.append(f'<circle cx="{x(mean):.1f}" cy="8" r="4" class="dot"/></svg>')
    return Markup("".join(parts))
