"""The packaged bytecode ratio against what was measured, and the pure rules around it."""

from __future__ import annotations

import pytest

from depslim.bytecode import compiled_sources, load_ratios, ratio_for

# Measured with scripts/measure_bytecode.py on 2026-12-06 (16 local images: churn-orig and the
# depslim-bench-orig set), compiled .pyc bytes / .py bytes. Per minor: the spread of whole images'
# ratios, then of single distributions' (>= 50 kB of .py). A packaged ratio outside the images'
# spread is a data edit that no measured install supports.
MEASURED = {
    (3, 9): {"images": (0.7860, 0.8641), "dists": (0.4867, 1.2951)},
    (3, 11): {"images": (1.2588, 1.3921), "dists": (0.5493, 2.2278)},
    (3, 13): {"images": (1.1791, 1.2120), "dists": (0.5284, 1.9711)},
}


@pytest.mark.parametrize("minor", sorted(MEASURED))
def test_packaged_ratio_is_within_what_was_measured(minor: tuple[int, int]) -> None:
    ratio = load_ratios()[minor]
    low, high = MEASURED[minor]["images"]
    assert low <= ratio <= high
    assert MEASURED[minor]["dists"][0] <= ratio <= MEASURED[minor]["dists"][1]


def test_every_packaged_minor_was_measured() -> None:
    assert set(load_ratios()) <= set(MEASURED)


def test_unmeasured_minor_uses_the_nearest_and_says_which() -> None:
    table = {(3, 9): 0.8, (3, 11): 1.3, (3, 13): 1.2}
    assert ratio_for("3.11.7", table).measured_on == "3.11"
    assert ratio_for("3.12", table).measured_on == "3.11"  # a tie goes to the older
    assert ratio_for("3.10", table).measured_on == "3.9"
    assert ratio_for("3.14", table).ratio == 1.2


def test_compiled_sources_are_every_py_member_but_those_shipped_compiled_for_the_target() -> None:
    members = [("a/__init__.py", 10), ("a/m.py", 100), ("a/__pycache__/m.cpython-311.pyc", 90),
               ("top.py", 5), ("__pycache__/top.cpython-313.pyc", 4), ("a/x.so", 1000), ("a/m.pyi", 50)]
    assert compiled_sources(members, "3.11") == 10 + 5
    assert compiled_sources(members, "3.13") == 10 + 100
