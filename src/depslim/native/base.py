"""What the final stage's base image provides: read from the image when it is here, else packaged data.

A base image available locally (an archive, an OCI layout, or an image in the Docker engine) is
read with depslim's own image reader: the shared-library names in loader directories of its
final filesystem, plus whatever its dpkg lists name. Without it (no registry is reachable),
official `python:X.Y-slim-<release>` bases are known from native.toml's measured sets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from depslim.errors import TargetError
from depslim.native.data import native_data
from depslim.native.needs import BaseProvides
from depslim.native.sonames import library_sonames

_PYTHON_SLIM = re.compile(
    r"^(?:docker\.io/)?(?:library/)?python:(?P<minor>3\.\d+)(?:\.\d+)?(?:rc\d+)?-slim(?:-(?P<release>[a-z]+))?"
    r"(?:@sha256:[0-9a-f]{64})?$"
)


def parse_python_slim(ref: str) -> tuple[str, str] | None:
    """`python:3.11-slim-bookworm` -> ("3.11", "bookworm"); a tag without a release gets the data's
    default; None for anything that is not an official python slim tag."""
    match = _PYTHON_SLIM.match(ref.strip())
    if match is None:
        return None
    release = match.group("release") or str(native_data()["python_slim"]["default_release"])
    return match.group("minor"), release


def base_from_data(ref: str) -> BaseProvides | None:
    """The packaged soname set of an official python slim base, or None when the data has none."""
    parsed = parse_python_slim(ref)
    if parsed is None:
        return None
    minor, release = parsed
    data = native_data()
    record = data["releases"].get(release)
    if record is None:
        return None
    local = {name.format(version=minor) for name in data["python_slim"]["local_sonames"]}
    return BaseProvides(ref, frozenset(record["base_sonames"]) | local, "data", release)


def base_from_analysis(ref: str, analysis: Any) -> BaseProvides:
    """BaseProvides of an already analysed image (an `ImageAnalysis`)."""
    names = library_sonames(analysis.fs.nodes) | set(analysis.dpkg_sonames)
    return BaseProvides(ref, frozenset(names), "image", analysis.debian_release)


def base_provides(ref: str, open_image: Callable[[str], Any] | None = None) -> BaseProvides | None:
    """What base `ref` provides: the image itself when it can be opened here, else packaged data.

    `open_image` defaults to `depslim.targets.image.open_image` (paths, OCI layouts, engine
    images); it raising TargetError (no such file, no engine image) falls back to the data.
    Corrupt images still raise. None when neither source knows the base.
    """
    if open_image is None:
        from depslim.targets.image import open_image as opener

        open_image = opener
    try:
        target = open_image(ref)
    except TargetError:
        return base_from_data(ref)
    return base_from_analysis(ref, target.analysis)
