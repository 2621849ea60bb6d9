"""Every parser, any input: a result or `InputError`, never another exception (tests/fuzz/targets.py)."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz.targets import TARGETS, check, fuzz_settings


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_parser_returns_a_result_or_an_input_error(name: str) -> None:
    target = TARGETS[name]

    @fuzz_settings(target.scale)
    @given(target.strategy)
    def returns_or_rejects(value: object) -> None:
        check(target, value)

    returns_or_rejects()
