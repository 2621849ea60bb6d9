"""One way to write sizes everywhere: decimal units (1 MB = 10^6 bytes), as the reference
measurements use, with `~` and "est." for figures that are estimates."""

from __future__ import annotations

_UNITS = (("GB", 10**9), ("MB", 10**6), ("kB", 10**3))


def human_bytes(n: int | None, *, estimate: bool = False, signed: bool = False) -> str:
    if n is None:
        return "n/a"
    sign = ("+" if n > 0 else "−" if n < 0 else "") if signed else ("−" if n < 0 else "")
    size = abs(n)
    text = f"{size} B"
    for unit, factor in _UNITS:
        if size >= factor:
            text = f"{size / factor:.2f} {unit}" if size < factor * 10 else f"{size / factor:.1f} {unit}"
            break
    text = sign + text
    return f"~{text} (est.)" if estimate else text
