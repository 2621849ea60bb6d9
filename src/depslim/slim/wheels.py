"""Does every pin of the lock have a wheel for the target? The builder compiles only when not.

Looked up on the lock's own index (its `--index-url`/`--extra-index-url` lines, else pip's
`PIP_INDEX_URL`/`PIP_EXTRA_INDEX_URL`, else PyPI) through the simple API with `packaging.tags`
for the target's Python and platform — the same lookup `depslim estimate` uses. An index that
cannot be read makes the answer unknown, said as a note; it never turns into a guess.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from depslim.generate.lock import Pin
from depslim.wheelsize import PYPI_SIMPLE, IndexFile, WheelLocator, WheelSizeError, wheel_info


@dataclass
class WheelCheck:
    """Per pin: the wheel the target would install (None: no wheel), or unknown when not checked."""

    checked: bool
    files: dict[str, IndexFile | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    locator: WheelLocator | None = None

    @property
    def without_wheel(self) -> tuple[str, ...]:
        return tuple(sorted(name for name, file in self.files.items() if file is None))

    def installed_bytes(self, name: str) -> int | None:
        """The wheel's installed size from its central directory (an estimate: no .pyc)."""
        file = self.files.get(name)
        if file is None or self.locator is None:
            return None
        try:
            return wheel_info(file.url, counter=self.locator.counter, metadata=False).installed_bytes
        except (WheelSizeError, OSError, ValueError):
            return None


def index_urls(lock_text: str, env: Mapping[str, str]) -> list[str]:
    """Where pip will look when it installs the lock, `${VAR}` expanded for the lookup only."""
    def expand(url: str) -> str:
        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), url)

    primary: list[str] = []
    extra: list[str] = []
    for line in lock_text.splitlines():
        option, _, value = line.strip().partition(" ")
        if option in ("--index-url", "-i") and value:
            primary = [expand(value.strip())]
        elif option == "--extra-index-url" and value:
            extra.append(expand(value.strip()))
    if not primary:
        primary = [env.get("PIP_INDEX_URL") or PYPI_SIMPLE]
    if not extra and env.get("PIP_EXTRA_INDEX_URL"):
        extra = env["PIP_EXTRA_INDEX_URL"].split()
    return primary + extra


def check_wheels(
    pins: Sequence[Pin],
    lock_text: str,
    python: str,
    platform: str,
    env: Mapping[str, str] | None = None,
    *,
    enabled: bool = True,
) -> WheelCheck:
    if not enabled:
        return WheelCheck(False, notes=("wheel availability not checked (--no-index-check): the builder installs "
                                        "no compilers, so a pin without a wheel fails the build",))
    environ = dict(env if env is not None else os.environ)
    try:
        locator = WheelLocator(index_urls=index_urls(lock_text, environ), platform=platform, python=python)
    except WheelSizeError as exc:
        return WheelCheck(False, notes=(f"wheel availability not checked: {exc}",))
    files: dict[str, IndexFile | None] = {}
    for pin in pins:
        if pin.version is None:
            continue  # a direct URL: pip takes that file as it is
        files[pin.name] = locator.best(f"{pin.name}=={pin.version}")
    if locator.errors and all(f is None for f in files.values()):
        from depslim.redact import redact

        return WheelCheck(False, notes=(f"wheel availability not checked: the index could not be read "
                                        f"({redact(locator.errors[0])})",))
    notes = tuple(f"{name}: no wheel for Python {python} on {platform}; compiled in the builder stage"
                  for name, file in sorted(files.items()) if file is None)
    return WheelCheck(True, files, notes, locator)
