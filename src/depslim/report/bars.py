"""A compact horizontal bar chart for the terminal: the heaviest packages, an image's layers.

Rendered at print time (`__rich_console__`), so it uses the console's real width; eighth-block
characters give smooth bars on a terminal, and `#` stands in when the output is not a terminal,
has no colour, or is ASCII-only (a log file or a CI page must not fill with mojibake).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions
from rich.text import Text

from depslim.units import human_bytes

_EIGHTHS = " ▏▎▍▌▋▊▉"
_FULL = "█"
MIN_BAR = 10


@dataclass(frozen=True)
class Bar:
    label: str
    size: int
    note: str = ""  # after the value: the verdict, "waste 3.0 MB"
    style: str = "cyan"


def bar_text(size: int, top: int, width: int, *, ascii_only: bool) -> str:
    """`size` against `top` as `width` cells of bar (eighths of a cell on a terminal)."""
    if top <= 0 or size <= 0 or width <= 0:
        return ""
    cells = size / top * width
    if ascii_only:
        return "#" * max(1, round(cells))
    whole, part = int(cells), int((cells - int(cells)) * 8)
    text = _FULL * whole + (_EIGHTHS[part] if part else "")
    return text or _EIGHTHS[1]


def plain(console: Console) -> bool:
    """ASCII bars when the console is not a terminal, has no colour, or cannot encode blocks."""
    return (not console.is_terminal or console.no_color or console.color_system is None
            or console.options.ascii_only)


def chart_lines(bars: Sequence[Bar], width: int, *, ascii_only: bool) -> list[tuple[str, str, str, str]]:
    """(label, bar, value, note) per row, the label column as wide as needed up to a third of `width`."""
    if not bars:
        return []
    label_w = min(max(len(b.label) for b in bars), max(8, width // 3))
    values = [human_bytes(b.size) for b in bars]
    value_w = max(len(v) for v in values)
    note_w = max(len(b.note) for b in bars)
    bar_w = max(MIN_BAR, width - label_w - value_w - (note_w + 1 if note_w else 0) - 3)
    top = max(b.size for b in bars)
    rows = []
    for bar, value in zip(bars, values, strict=True):
        label = bar.label if len(bar.label) <= label_w else bar.label[: label_w - 1] + ("~" if ascii_only else "…")
        rows.append((label.ljust(label_w), bar_text(bar.size, top, bar_w, ascii_only=ascii_only).ljust(bar_w),
                     value.rjust(value_w), bar.note))
    return rows


@dataclass(frozen=True)
class BarChart:
    """A titled bar chart that lays itself out for the console it is printed on."""

    title: str
    bars: Sequence[Bar]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        ascii_only = plain(console) or options.ascii_only
        yield Text(self.title, style="bold")
        for (label, bar, value, note), item in zip(chart_lines(self.bars, options.max_width, ascii_only=ascii_only),
                                                   self.bars, strict=True):
            line = Text(label + " ")
            line.append(bar, style=item.style)
            line.append(" " + value)
            if note:
                line.append(" " + note, style="dim")
            yield line
