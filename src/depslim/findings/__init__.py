"""Finder families run by `core.analyze` after measuring, in this order.

Each entry is a zero-argument factory returning a `Finder` (see `findings/base.py`).
Verdict problems and the cut list come from `core` itself; image waste comes from the
image target; these add what needs the whole context (swaps, CUDA match, Dockerfile).
"""

from __future__ import annotations

from collections.abc import Callable

from depslim.findings.base import Finder
from depslim.findings.cuda import CudaMatchFinder
from depslim.findings.dockerfile import DockerfileFinder
from depslim.findings.swaps import SwapFinder

FINDERS: tuple[Callable[[], Finder], ...] = (SwapFinder, CudaMatchFinder, DockerfileFinder)
