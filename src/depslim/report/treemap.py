"""Squarified treemap layout (Bruls, Huizing, van Wijk 2000) in pure Python.

A treemap shows installed bytes as areas: one glance says which packages dominate. The
squarified variant keeps tiles close to square, so small packages stay legible and their
areas comparable. It is ~40 lines, so no plotting library is pulled in for it (the default
install stays light, and the HTML report needs SVG text, not an image).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rect:
    """One tile: `index` into the values given to `squarify`, and its box."""

    index: int
    x: float
    y: float
    w: float
    h: float


def _worst(row: Sequence[float], side: float) -> float:
    """The worst aspect ratio of `row` (areas) laid along a side of length `side`."""
    total = sum(row)
    if total <= 0 or side <= 0:
        return float("inf")
    biggest, smallest = max(row), min(row)
    side2, total2 = side * side, total * total
    return max(side2 * biggest / total2, total2 / (side2 * smallest))


def _lay_row(row: Sequence[tuple[int, float]], x: float, y: float, w: float, h: float,
             out: list[Rect]) -> tuple[float, float, float, float]:
    """Place `row` along the shorter side of the box; return the box that is left."""
    total = sum(area for _i, area in row)
    if w >= h:  # column on the left
        width = total / h if h else 0.0
        offset = y
        for index, area in row:
            height = area / width if width else 0.0
            out.append(Rect(index, x, offset, width, height))
            offset += height
        return x + width, y, w - width, h
    height = total / w if w else 0.0  # row on top
    offset = x
    for index, area in row:
        width = area / height if height else 0.0
        out.append(Rect(index, offset, y, width, height))
        offset += width
    return x, y + height, w, h - height


def squarify(values: Sequence[int | float], x: float, y: float, w: float, h: float) -> list[Rect]:
    """Tiles for `values` (any order; zero and negative values get none) filling the box.

    Each tile's area is proportional to its value; tiles come out largest first."""
    items = sorted(((i, float(v)) for i, v in enumerate(values) if v > 0), key=lambda item: -item[1])
    total = sum(v for _i, v in items)
    out: list[Rect] = []
    if not items or w <= 0 or h <= 0:
        return out
    scale = w * h / total
    areas = [(i, v * scale) for i, v in items]
    row: list[tuple[int, float]] = []
    for item in areas:
        side = min(w, h)
        current = [a for _i, a in row]
        if row and _worst([*current, item[1]], side) > _worst(current, side):
            x, y, w, h = _lay_row(row, x, y, w, h, out)
            row = []
        row.append(item)
    if row:
        _lay_row(row, x, y, w, h, out)
    return out
