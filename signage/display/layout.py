"""Geometry without pygame: fitting media into the screen and rotating layouts."""

from __future__ import annotations

from typing import Literal

Fit = Literal["contain", "cover", "stretch"]


def fitted(source: tuple[int, int], target: tuple[int, int], fit: Fit) -> tuple[int, int, int, int, int, int]:
    """How to place a source of (w, h) on a target of (w, h).

    Returns (scaled_w, scaled_h, crop_x, crop_y, dest_x, dest_y): scale the source to
    scaled_w x scaled_h, cut the target-sized window at (crop_x, crop_y) when it is
    larger (cover), and draw it at (dest_x, dest_y) (contain: centred with bars).
    """
    sw, sh = source
    tw, th = target
    if fit == "stretch":
        return tw, th, 0, 0, 0, 0
    scale = min(tw / sw, th / sh) if fit == "contain" else max(tw / sw, th / sh)
    w, h = max(1, round(sw * scale)), max(1, round(sh * scale))
    if fit == "contain":
        return w, h, 0, 0, (tw - w) // 2, (th - h) // 2
    return w, h, (w - tw) // 2, (h - th) // 2, 0, 0


def logical_size(screen: tuple[int, int], rotation: int) -> tuple[int, int]:
    """The size creatives are laid out in: a portrait panel mounted sideways is
    a landscape screen rotated by 90 or 270 degrees."""
    return (screen[1], screen[0]) if rotation in (90, 270) else screen


def rotate_rect(rect: tuple[int, int, int, int], logical: tuple[int, int], rotation: int) -> tuple[int, int, int, int]:
    """A rectangle (x, y, w, h) of the logical layout, in screen pixels, when the
    layout is turned `rotation` degrees clockwise onto the screen."""
    x, y, w, h = rect
    lw, lh = logical
    if rotation == 0:
        return rect
    if rotation == 180:
        return lw - x - w, lh - y - h, w, h
    if rotation == 90:  # clockwise: logical top edge becomes the screen's right edge
        return lh - y - h, x, h, w
    return y, lw - x - w, h, w  # 270


Rect = tuple[int, int, int, int]


def placement(source: tuple[int, int], target: tuple[int, int], fit: Fit) -> tuple[Rect, Rect]:
    """(source rect, target rect) to draw a source of (w, h) into a target of (w, h)
    with scaling done by the drawer (the GPU): cover takes the middle of the source,
    contain leaves bars, stretch fills."""
    sw, sh = source
    w, h, crop_x, crop_y, dest_x, dest_y = fitted(source, target, fit)
    if fit != "cover":
        return (0, 0, sw, sh), (dest_x, dest_y, w, h)
    scale = w / sw
    cw, ch = min(sw, round(target[0] / scale)), min(sh, round(target[1] / scale))
    return ((sw - cw) // 2, (sh - ch) // 2, cw, ch), (0, 0, target[0], target[1])


def turned(rect: Rect, logical: tuple[int, int], rotation: int) -> Rect:
    """Where to draw a logical rect so that, turned `rotation` degrees clockwise about
    its own centre (as SDL's RenderCopyEx turns it), it lands on `rotate_rect(rect)`."""
    if rotation == 0:
        return rect
    sx, sy, sw, sh = rotate_rect(rect, logical, rotation)
    w, h = rect[2], rect[3]
    return sx + (sw - w) // 2, sy + (sh - h) // 2, w, h
