"""Inline SVG charts for the HTML report: treemap, layer waterfall, before/after bars.

Hand-written SVG rather than a plotting library: the charts are rectangles and text, the
report must be one self-contained file with no network, and the default install stays light.
Every chart carries its numbers in `data-*` attributes (tests compare them with the JSON
report) and a `<title>`/`<desc>` text alternative. Colours come from CSS classes, so the
page's stylesheet switches them for dark mode and print. Every value shown passes `esc`:
package names, paths and instructions are hostile input.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from depslim.model import Verdict
from depslim.redact import clip, redact
from depslim.report.treemap import squarify
from depslim.units import human_bytes


def esc(value: object) -> str:
    """Text safe in HTML content and attribute values: redacted first (escaping would hide a
    quoted secret from the redaction rules), then escaped, quotes included."""
    return html.escape(redact(str(value)), quote=True)


def short(value: object, width: int) -> str:
    """Redacted, cut to `width` characters, escaped: for labels inside a chart."""
    return html.escape(clip(" ".join(str(value).split()), width), quote=True)


def _n(value: float) -> str:
    """A coordinate with at most two decimals (smaller files, stable output)."""
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


# ---------------------------------------------------------------------------------------------
# Treemap


@dataclass(frozen=True)
class Tile:
    """One distribution (or the group of the smallest) in the treemap."""

    name: str
    version: str
    size: int
    category: str  # a key of CATEGORIES
    count: int = 1  # distributions the tile stands for (>1: the "other" tile)


CATEGORIES: dict[str, str] = {
    "runtime": "runtime: imported by package code",
    "implicit": "implicit: needed without an import",
    "swappable": "swappable: a lighter package does the same job",
    "typing-only": "typing-only: imported for type checking",
    "dev-only": "dev-only: tests, notebooks, scripts, dev tools",
    "unreachable": "unreachable: no served entrypoint reaches it",
    "unused": "unused: never imported, nothing needs it",
    "pulled-in": "pulled in: not declared, a dependency of another package",
    "undeclared": "not declared, nothing installed needs it",
    "other": "the smallest packages, grouped",
}


def category(dist: Any, swappable: frozenset[str]) -> str:
    """The colour of a distribution: its verdict; swappable when a kept package has a lighter
    replacement; pulled in when undeclared but needed by another."""
    verdict = dist.verdict.value if isinstance(dist.verdict, Verdict) else dist.verdict
    if dist.name in swappable and verdict in (None, "runtime", "implicit"):
        return "swappable"
    if verdict:
        return str(verdict)
    return "pulled-in" if dist.required_by else "undeclared"


def treemap_svg(tiles: Sequence[Tile], *, width: int = 960, height: int = 540, title: str, desc: str) -> str:
    """A squarified treemap of `tiles` by size, each tile filled by its category's class."""
    rects = squarify([t.size for t in tiles], 0, 0, width, height)
    parts = [
        f'<svg class="chart treemap" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="tm-title tm-desc" data-total-bytes="{sum(t.size for t in tiles)}" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="tm-title">{esc(title)}</title><desc id="tm-desc">{esc(desc)}</desc>',
    ]
    for rect in rects:
        tile = tiles[rect.index]
        label = tile.name if tile.count == 1 else f"{tile.count} smaller packages"
        tip = f"{label} {tile.version} — {human_bytes(tile.size)} — {CATEGORIES.get(tile.category, tile.category)}"
        parts.append(
            f'<g class="tile c-{esc(tile.category)}" data-name="{esc(tile.name)}" data-bytes="{tile.size}" '
            f'data-verdict="{esc(tile.category)}" data-count="{tile.count}">'
            f'<title>{esc(tip.replace("  ", " "))}</title>'
            f'<rect x="{_n(rect.x)}" y="{_n(rect.y)}" width="{_n(rect.w)}" height="{_n(rect.h)}"/>'
        )
        parts.extend(_tile_text(label, tile.size, rect))
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _tile_text(label: str, size: int, rect: object) -> list[str]:
    """Name and size inside a tile when it is big enough to read (the <title> always has them)."""
    x, y, w, h = rect.x, rect.y, rect.w, rect.h  # type: ignore[attr-defined]
    if w < 40 or h < 16:
        return []
    chars = max(3, int((w - 8) / 7.5))
    out = [f'<text x="{_n(x + 4)}" y="{_n(y + 14)}" aria-hidden="true">{short(label, chars)}</text>']
    if h >= 32 and w >= 62:  # "143.0 MB" needs ~60 px
        out.append(f'<text class="sub" x="{_n(x + 4)}" y="{_n(y + 28)}" aria-hidden="true">'
                   f'{esc(human_bytes(size))}</text>')
    return out


def legend_html(categories: Sequence[str]) -> str:
    """The colour key, as a list (readable without the chart, and when printed)."""
    items = "".join(
        f'<li><span class="swatch c-{esc(c)}" aria-hidden="true"></span>{esc(CATEGORIES.get(c, c))}</li>'
        for c in categories
    )
    return f'<ul class="legend" aria-label="Colour key">{items}</ul>'


# ---------------------------------------------------------------------------------------------
# Layer waterfall


@dataclass(frozen=True)
class LayerBar:
    index: int
    size: int
    waste: int  # of `size`, what the waste findings attribute to this layer
    instruction: str


def waterfall_svg(layers: Sequence[LayerBar], *, width: int = 960, title: str, desc: str) -> str:
    """One row a layer: its bar starts where the previous layers end (the image grows down the
    page) and its waste part is hatched and labelled."""
    row, label_w, gap = 26, 360, 6
    total = sum(layer.size for layer in layers) or 1
    chart_w = width - label_w - 110
    height = row * len(layers) + 30
    parts = [
        f'<svg class="chart waterfall" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="wf-title wf-desc" data-total-bytes="{sum(x.size for x in layers)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="wf-title">{esc(title)}</title><desc id="wf-desc">{esc(desc)}</desc>',
        '<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
        'patternTransform="rotate(45)"><rect class="hatch-bg" width="6" height="6"/>'
        '<line class="hatch-line" x1="0" y1="0" x2="0" y2="6" stroke-width="3"/></pattern></defs>',
    ]
    offset = 0
    for i, layer in enumerate(layers):
        y = i * row + 4
        x0 = label_w + chart_w * offset / total
        bar_w = max(1.0, chart_w * layer.size / total) if layer.size else 0.0
        waste_w = bar_w * min(layer.waste, layer.size) / layer.size if layer.size else 0.0
        text = f"#{layer.index} {layer.instruction or '(no instruction)'}"
        tip = f"layer {layer.index}: {human_bytes(layer.size)}" + (
            f", {human_bytes(layer.waste)} waste" if layer.waste else "") + f" — {layer.instruction}"
        parts.append(
            f'<g class="layer" data-index="{layer.index}" data-bytes="{layer.size}" data-waste="{layer.waste}">'
            f'<title>{esc(tip)}</title>'
            f'<text class="lbl" x="0" y="{_n(y + 15)}">{short(text, 50)}</text>'
            f'<rect class="bar" x="{_n(x0)}" y="{y}" width="{_n(bar_w)}" height="{row - gap}"/>'
        )
        if waste_w:
            parts.append(f'<rect class="waste" fill="url(#hatch)" x="{_n(x0 + bar_w - waste_w)}" y="{y}" '
                         f'width="{_n(waste_w)}" height="{row - gap}"/>')
        value = human_bytes(layer.size) + (f" ({human_bytes(layer.waste)} waste)" if layer.waste else "")
        parts.append(_value_label(value, x0, bar_w, y + 15, width))
        offset += layer.size
    parts.append("</svg>")
    return "".join(parts)


def _value_label(value: str, x0: float, bar_w: float, y: float, width: int) -> str:
    """A bar's value after its end, or before its start (right-aligned) when it would run past the
    chart's edge: the last layer of an image usually ends there (~7 px a character at 12 px)."""
    after = x0 + bar_w + 4
    if after + 7 * len(value) <= width:
        return f'<text class="val" x="{_n(after)}" y="{_n(y)}">{esc(value)}</text></g>'
    return f'<text class="val" x="{_n(max(0.0, x0 - 4))}" y="{_n(y)}" text-anchor="end">{esc(value)}</text></g>'


# ---------------------------------------------------------------------------------------------
# Before / after bars


@dataclass(frozen=True)
class Pair:
    label: str
    before: int | None
    after: int | None


def bars_svg(pairs: Sequence[Pair], *, width: int = 960, title: str, desc: str,
             before: str = "base", after: str = "head") -> str:
    """Two bars a row (before above, after below), on one scale, each with its value."""
    row, label_w = 40, 260
    chart_w = width - label_w - 150
    top = max([p.before or 0 for p in pairs] + [p.after or 0 for p in pairs] + [1])
    height = row * len(pairs) + 34
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" aria-labelledby="ba-title ba-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="ba-title">{esc(title)}</title><desc id="ba-desc">{esc(desc)}</desc>',
        f'<g class="key"><rect class="before" x="{label_w}" y="{height - 16}" width="12" height="12"/>'
        f'<text x="{label_w + 16}" y="{height - 6}">{esc(before)}</text>'
        f'<rect class="after" x="{label_w + 140}" y="{height - 16}" width="12" height="12"/>'
        f'<text x="{label_w + 156}" y="{height - 6}">{esc(after)}</text></g>',
    ]
    for i, pair in enumerate(pairs):
        y = i * row + 2
        attrs = (f'data-name="{esc(pair.label)}" data-before-bytes="{"" if pair.before is None else pair.before}" '
                 f'data-after-bytes="{"" if pair.after is None else pair.after}"')
        parts.append(f'<g class="pair" {attrs}><title>{esc(pair.label)}: {esc(_side(pair.before))} → '
                     f'{esc(_side(pair.after))}</title>'
                     f'<text class="lbl" x="0" y="{y + 22}">{short(pair.label, 34)}</text>')
        for j, (cls, value) in enumerate((("before", pair.before), ("after", pair.after))):
            bar_w = chart_w * (value or 0) / top
            yy = y + j * 17
            parts.append(f'<rect class="{cls}" x="{label_w}" y="{yy}" width="{_n(max(bar_w, 0.5 if value else 0))}" '
                         f'height="15"/><text class="val" x="{_n(label_w + bar_w + 4)}" y="{yy + 12}">'
                         f'{esc(_side(value))}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _side(value: int | None) -> str:
    return "absent" if value is None else human_bytes(value)
