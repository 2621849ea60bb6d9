"""Suite-wide isolation: depslim's caches (scan cache, report memo) live in a per-session folder,
never in the user's ~/.cache, so no run of the suite sees another's derived data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_depslim_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("depslim-cache")
    old = os.environ.get("DEPSLIM_CACHE_DIR")
    os.environ["DEPSLIM_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("DEPSLIM_CACHE_DIR", None)
    else:
        os.environ["DEPSLIM_CACHE_DIR"] = old
