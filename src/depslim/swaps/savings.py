"""Savings of a swap: retained bytes of what goes (measured in the target) − bytes of what comes.

What comes is measured too, in order: from the target itself when the replacement is already
installed (mlflow-skinny sits inside mlflow's closure), else from the index by reading the
replacement wheel's zip central directory (wheelsize) plus the installed packages its
Requires-Dist keeps. Only when neither is possible does the rule's recorded figure stand in,
and the finding says it is an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from depslim.errors import DepslimError
from depslim.swaps.rules import SwapRule
from depslim.wheelsize import PYPI_SIMPLE, FetchCounter, IndexFile, WheelInfo, WheelLocator, wheel_info

if TYPE_CHECKING:
    from packaging.requirements import Requirement


@dataclass
class IndexSizer:
    """Sizes incoming wheels from indexes / find-links for the target platform, with a cache.

    `offline=True` never touches the network (recorded figures are used instead).
    """

    index_urls: tuple[str, ...] = (PYPI_SIMPLE,)
    find_links: tuple[Path, ...] = ()
    platform: str = "linux/amd64"
    python: str = "3.11"
    offline: bool = False
    counter: FetchCounter = field(default_factory=FetchCounter)
    problems: list[str] = field(default_factory=list)
    _cache: dict[tuple[str, str | None], WheelInfo | None] = field(default_factory=dict)

    def measure(self, rule: SwapRule, from_version: str | None) -> WheelInfo | None:
        key = (rule.id, from_version)
        if key not in self._cache:
            self._cache[key] = None if self.offline else self._measure(rule, from_version)
        return self._cache[key]

    def _locator(self, rule: SwapRule) -> WheelLocator:
        indexes = ((rule.index_url,) if rule.index_url else ()) + tuple(self.index_urls)
        return WheelLocator(index_urls=indexes, find_links=self.find_links, platform=self.platform,
                            python=self.python, counter=self.counter)

    def _measure(self, rule: SwapRule, from_version: str | None) -> WheelInfo | None:
        locator = self._locator(rule)
        try:
            if rule.to_local:
                file = self._local_build(locator, rule, from_version)
            else:
                file = None
                base = _public(from_version)
                if rule.same_version and base:
                    file = locator.best(f"{rule.target_name}=={base}")
                if file is None:
                    file = locator.best(rule.target_name)
            self.problems += locator.errors
            if file is None:
                self.problems.append(f"{rule.target_name}: no wheel for {self.platform} / Python {self.python}")
                return None
            return wheel_info(file.url, counter=self.counter)
        except DepslimError as exc:
            self.problems.append(f"{rule.target_name}: {exc}")
            return None

    def _local_build(self, locator: WheelLocator, rule: SwapRule, from_version: str | None) -> IndexFile | None:
        """The `+<to_local>` build: same public version as what goes when published, else the newest."""
        base = _public(from_version)
        best: tuple[bool, Version, int, IndexFile] | None = None
        for file in locator.candidates(rule.target_name):
            try:
                _n, version, _b, _t = parse_wheel_filename(file.filename)
            except (ValueError, InvalidVersion):
                continue
            if version.local != rule.to_local:
                continue
            ranked = locator._rank(file, _any(rule.target_name))
            if ranked is None:
                continue
            key = (version.public == base, version, -ranked[1], file)
            if best is None or key[:3] > best[:3]:
                best = key
        return best[3] if best else None


def _any(name: str) -> Requirement:
    from packaging.requirements import Requirement

    return Requirement(canonicalize_name(name))


def _public(version: str | None) -> str | None:
    if not version:
        return None
    try:
        return Version(version).public
    except InvalidVersion:
        return None
