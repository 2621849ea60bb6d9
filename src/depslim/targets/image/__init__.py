"""Container images as a depslim target: docker-archive, OCI layout / archive, Docker engine.

`open_image(ref)` streams the layers once, builds the merged filesystem (whiteouts, opaque
dirs, hardlinks, symlinks), and returns an `ImageTarget` implementing the Target protocol.
"""

from __future__ import annotations

from depslim.targets.image.layers import DEFAULT_LIMITS, Limits
from depslim.targets.image.target import ImageAnalysis, ImageTarget, open_image

__all__ = ["DEFAULT_LIMITS", "ImageAnalysis", "ImageTarget", "Limits", "open_image"]
