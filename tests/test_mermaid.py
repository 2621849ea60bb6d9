"""The Mermaid charts in PR Markdown follow Mermaid's grammar for the subset depslim emits, carry the
report's numbers, survive hostile names, and keep a 5,000-distribution comment under budget.

No Mermaid CLI here (it needs Node and a browser download), so the checker below encodes the
grammar of the two chart types as Mermaid's parsers define them (pie: `pie [showData] [title
text]` then `"label" : number` lines; xychart-beta: `title "…"`, `x-axis [ "…", … ]`,
`y-axis "…"`, `bar [number, …]`), strictly: any other line fails.
"""

from __future__ import annotations

import re

from test_diff_factory import MB, dist, report, torch_base, torch_head
from test_markdown import big_report

from depslim.diffing import diff_reports
from depslim.model import Verdict
from depslim.report import markdown
from depslim.report.markdown import MAX_COMMENT_CHARS

STRING = r'"[^"\n`\[\]]*"'
NUMBER = r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"
PIE_HEAD = re.compile(r"pie(?: showData)?(?: title [^\n]+)?")
PIE_SLICE = re.compile(rf"\s+({STRING})\s*:\s*({NUMBER})")
XY = {
    "title": re.compile(rf"\s+title {STRING}"),
    "x-axis": re.compile(rf"\s+x-axis \[\s*{STRING}(?:\s*,\s*{STRING})*\s*\]"),
    "y-axis": re.compile(rf"\s+y-axis {STRING}"),
    "bar": re.compile(rf"\s+bar \[\s*{NUMBER}(?:\s*,\s*{NUMBER})*\s*\]"),
}


def blocks(text: str) -> list[list[str]]:
    """The lines of every ```mermaid block (a block must be closed)."""
    found = []
    for match in re.finditer(r"^```mermaid\n(.*?)^```$", text, re.S | re.M):
        found.append(match.group(1).rstrip("\n").split("\n"))
    assert text.count("```mermaid") == len(found)
    return found


def check_pie(lines: list[str]) -> dict[str, float]:
    assert PIE_HEAD.fullmatch(lines[0]), lines[0]
    slices = {}
    for line in lines[1:]:
        match = PIE_SLICE.fullmatch(line)
        assert match, line
        slices[match.group(1).strip('"')] = float(match.group(2))
    assert slices and all(v >= 0 for v in slices.values())
    return slices


def check_xychart(lines: list[str]) -> tuple[list[str], list[list[float]]]:
    assert lines[0] == "xychart-beta"
    labels: list[str] = []
    bars: list[list[float]] = []
    for line in lines[1:]:
        kind = line.split()[0]
        assert kind in XY and XY[kind].fullmatch(line), line
        if kind == "x-axis":
            labels = re.findall(STRING, line)
        if kind == "bar":
            bars.append([float(n) for n in re.findall(NUMBER, line)])
    assert labels and bars and all(len(b) == len(labels) for b in bars)
    return labels, bars


def test_analyze_pie_carries_bytes_by_verdict() -> None:
    text = markdown.render(torch_head())
    (pie,) = blocks(text)
    slices = check_pie(pie)
    assert slices == {"runtime": 760.0, "dev-only": 5.0, "pulled-in": 510.0}
    assert text.index("```mermaid") < text.index("### Cut list")


def test_diff_xychart_has_base_and_head_per_package() -> None:
    diff = diff_reports(torch_base(), torch_head())
    (chart,) = blocks(markdown.render(diff))
    labels, (base, head) = check_xychart(chart)
    assert labels == ['"torch"', '"nvidia-cublas-cu12"', '"jupyter"']
    assert base == [0.0, 0.0, 0.0] and head == [700.0, 510.0, 2.0]


def test_hostile_names_cannot_break_the_chart() -> None:
    evil = 'x"] \n```\n<script>alert(1)</script>`'
    old = report([dist(evil, "1", 3 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:1"])])
    new = report([dist(evil, "1", 9 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:1"])])
    (chart,) = blocks(markdown.render(diff_reports(old, new)))
    labels, _bars = check_xychart(chart)
    assert len(labels) == 1


def test_5000_distributions_stay_within_the_comment_budget() -> None:
    text = markdown.render(big_report(5000))
    assert len(text) < MAX_COMMENT_CHARS
    (pie,) = blocks(text)
    slices = check_pie(pie)
    total = sum((5000 - i) * 1000 for i in range(5000)) / 1e6
    assert abs(sum(slices.values()) - total) < 0.01 * len(slices)
