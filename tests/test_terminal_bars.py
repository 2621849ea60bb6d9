"""The terminal's bar charts: width-aware, block characters on a terminal, plain ASCII elsewhere."""

from __future__ import annotations

import io

from test_diff_factory import torch_head

from depslim.redact import console as redacting_console
from depslim.report import terminal
from depslim.report.bars import Bar, BarChart, bar_text, chart_lines
from depslim.report.terminal import heaviest_chart, layer_chart


def printed(renderable: object, *, width: int, tty: bool) -> str:
    buffer = io.StringIO()
    console = redacting_console(file=buffer, width=width, force_terminal=tty,
                                color_system="truecolor" if tty else None)
    console.print(renderable)
    return buffer.getvalue()


def test_bar_lengths_are_proportional_in_eighths_and_in_ascii() -> None:
    assert bar_text(100, 100, 8, ascii_only=False) == "█" * 8
    assert bar_text(50, 100, 8, ascii_only=False) == "█" * 4
    assert bar_text(1, 100, 8, ascii_only=False) == "▏"  # never invisible
    assert bar_text(55, 100, 10, ascii_only=True) == "#" * 6
    assert bar_text(0, 100, 10, ascii_only=True) == ""


def test_chart_fits_the_width_and_keeps_the_biggest_bar_longest() -> None:
    bars = [Bar("torch", 700), Bar("a-very-long-package-name-indeed-it-is", 350, "pulled in")]
    for width in (40, 80, 160):
        rows = chart_lines(bars, width, ascii_only=True)
        assert all(len(" ".join(r).rstrip()) <= width for r in rows)
        assert rows[0][1].count("#") > rows[1][1].count("#") > 0


def test_heaviest_packages_on_a_terminal_and_in_a_file() -> None:
    report = torch_head()
    chart = heaviest_chart(report)
    assert chart is not None and [b.label for b in chart.bars][:2] == ["torch", "nvidia-cublas-cu12"]
    assert [b.note for b in chart.bars][:2] == ["runtime", "pulled in"]
    tty = printed(chart, width=100, tty=True)
    assert "█" in tty and "700.0 MB" in tty
    text = printed(chart, width=60, tty=False)
    assert text.isascii() and "#" in text and max(len(line) for line in text.splitlines()) <= 60
    assert "heaviest packages" in terminal.render(report)  # --output: plain text


def test_layer_chart_labels_instructions() -> None:
    chart = layer_chart([(0, 5_000_000, "RUN  pip\ninstall torch"), (1, 0, "ENV A=1"), (2, 1_000, "COPY . /app")])
    assert isinstance(chart, BarChart)
    assert [b.label for b in chart.bars] == ["#0 RUN pip install torch", "#2 COPY . /app"]
    assert "#0 RUN pip install torch" in printed(chart, width=80, tty=False)
