"""The one interface every report format implements, and the options every renderer gets.

A format is a value, not a module convention: `Format(name, suffixes, renderers)`, where
`renderers` maps a report kind ("analyze", "check", "diff", ...) to a pure function
`(report, RenderOptions) -> str`. A command names its report kind; the formats it offers are
exactly those with a renderer for that kind (`depslim.report.formats_for`), so a new format is
one module defining `FORMAT` plus one line in the registry, and no command changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Every report kind a command produces. The matrix test walks these × the registry.
KINDS: tuple[str, ...] = ("analyze", "image", "audit", "check", "diff", "estimate", "verify")


@dataclass(frozen=True)
class RenderOptions:
    """What a renderer may need beyond the report: where links point, how wide, whether in colour.

    `width` is the real terminal width (or a fixed one for files) so tables never assume 120
    columns; `color` is decided once by the CLI (`--color`, NO_COLOR, a tty) and honoured by
    every format that can colour."""

    width: int = 100
    color: bool = False
    repository_url: str | None = None
    ref: str | None = None
    prefix: str = ""
    markdown_limit: int = 65_536
    verbose: bool = False


Renderer = Callable[[Any, RenderOptions], str]


@dataclass(frozen=True)
class Format:
    """A report format: its name, the `-o` suffixes that select it, and one renderer per kind.

    `comment` is the syntax a stamp line takes in this format (`#`, `<!--`), or None for formats
    that cannot carry one (JSON): see `depslim.cli.options.write_report`."""

    name: str
    suffixes: tuple[str, ...]
    renderers: Mapping[str, Renderer] = field(default_factory=dict)
    comment: str | None = None

    def supports(self, kind: str) -> bool:
        """True when this format can render a `kind` report."""
        return kind in self.renderers

    def render(self, kind: str, report: Any, options: RenderOptions | None = None) -> str:
        """The whole document for one report (never prints, never writes)."""
        if kind not in self.renderers:
            raise ValueError(f"format {self.name!r} cannot render a {kind} report")
        return self.renderers[kind](report, options or RenderOptions())


def cut_frees(finding: Any) -> tuple[int | None, bool]:
    """(bytes, estimate) cutting one package frees, as its cut finding says: measured retained
    bytes when installed, the index's size (an estimate) when not. Every format shows this one
    pair, so the terminal's "~170.0 MB (est.)" is never the markdown's "not installed"."""
    return finding.savings_bytes, bool(finding.estimate)


def cut_estimated_bytes(findings: Any) -> int:
    """Bytes the cut list frees for packages not installed in the target (index estimates)."""
    return sum(f.savings_bytes or 0 for f in findings if f.code.startswith("cut-") and f.estimate)

