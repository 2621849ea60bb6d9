"""Measure the bytecode ratio behind `[bytecode]` in `src/depslim/data/bytecode.toml`.

`depslim estimate` reads a wheel's central directory, which holds the `.py` sources but not the
`__pycache__/*.cpython-XY.pyc` files pip compiles at install time; those are added as
`ratio x .py bytes`. This script measures that ratio on real installs: it reads images
statically with depslim's own image target (nothing in them runs) and, for every distribution
pip installed, divides the bytes of the `.pyc` files compiled from its sources by the bytes of
its `.py` files in site-packages. Run:

    PYTHONPATH=src python scripts/measure_bytecode.py docker:churn-orig:latest [more images]

It prints per-image and overall figures (min / median / max over distributions, and the
byte-weighted ratio) as JSON lines on stdout.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from depslim.model import InstalledDistribution

_PYC = re.compile(r"(?P<dir>.*)/__pycache__/(?P<stem>[^/]+)\.cpython-(?P<xy>\d+)\.pyc")
MIN_SOURCE_BYTES = 50_000  # below this a distribution's ratio is noise (a handful of tiny modules)


@dataclass(frozen=True)
class DistBytecode:
    name: str
    py_bytes: int  # every .py file of the distribution inside its site-packages
    pyc_bytes: int  # cpython-XY.pyc files whose .py source is one of them
    python_tag: str  # "311" for cpython-311.pyc ("" when none)

    @property
    def ratio(self) -> float:
        return self.pyc_bytes / self.py_bytes if self.py_bytes else 0.0


def dist_bytecode(dist: InstalledDistribution) -> DistBytecode:
    """The .py and compiled .pyc bytes of one distribution; a .pyc without its source in the
    same distribution (a wheel that ships bytecode only) is not pip's and is left out."""
    inside = [f for f in dist.files if f.path.startswith(dist.site.rstrip("/") + "/")]
    sources = {f.path: f.size for f in inside if f.path.endswith(".py")}
    pyc, tags = 0, set()
    for f in inside:
        match = _PYC.fullmatch(f.path)
        if match and f"{match['dir']}/{match['stem']}.py" in sources:
            pyc += f.size
            tags.add(match["xy"])
    return DistBytecode(dist.name, sum(sources.values()), pyc, ",".join(sorted(tags)))


def summarize(label: str, dists: Sequence[DistBytecode]) -> dict[str, object]:
    """Spread over distributions with enough source to matter, and the byte-weighted ratio."""
    counted = sorted((d.ratio, d.name) for d in dists if d.py_bytes >= MIN_SOURCE_BYTES and d.pyc_bytes)
    ratios = [r for r, _name in counted]
    compiled = [d for d in dists if d.pyc_bytes]  # pip itself in a python: image is installed uncompiled
    py, pyc = sum(d.py_bytes for d in compiled), sum(d.pyc_bytes for d in compiled)
    return {
        "image": label, "python": sorted({d.python_tag for d in dists if d.python_tag}),
        "distributions": len(ratios), "py_bytes": py, "pyc_bytes": pyc,
        "weighted": round(pyc / py, 4) if py else None,
        "min": round(ratios[0], 4) if ratios else None,
        "median": round(statistics.median(ratios), 4) if ratios else None,
        "max": round(ratios[-1], 4) if ratios else None,
        "lowest": [(round(r, 3), name) for r, name in counted[:3]],
        "highest": [(round(r, 3), name) for r, name in counted[-3:]],
    }


def measure(ref: str) -> list[DistBytecode]:
    from depslim.targets.image.target import open_image

    target = open_image(ref)
    return [dist_bytecode(d) for d in target.distributions() if d.installer.strip() in ("pip", "")]


def main(refs: Iterable[str]) -> None:
    """One line per image, then one per Python minor pooling its images (the figure to store), with
    the spread of the per-image weighted ratios next to the per-distribution one."""
    by_tag: dict[str, list[DistBytecode]] = {}
    image_ratios: dict[str, list[float]] = {}
    for ref in refs:
        dists = measure(ref)
        summary = summarize(ref, dists)
        print(json.dumps(summary), flush=True)
        tags = {d.python_tag for d in dists if d.python_tag}
        if len(tags) == 1 and isinstance(summary["weighted"], float):
            tag = tags.pop()
            by_tag.setdefault(tag, []).extend(dists)
            image_ratios.setdefault(tag, []).append(summary["weighted"])
    for tag, dists in sorted(by_tag.items()):
        pooled = summarize(f"python {tag[0]}.{tag[1:]}", dists)
        ratios = sorted(image_ratios[tag])
        pooled["images"] = len(ratios)
        pooled["image_min"], pooled["image_max"] = ratios[0], ratios[-1]
        print(json.dumps(pooled))


if __name__ == "__main__":
    main(sys.argv[1:])
