"""Hypothesis profiles of the fuzz suite.

`ci` (the default) keeps the whole folder under a minute on a 2-core machine; `dev` is a quick
smoke run; `long` is for a local soak (benchmarks/fuzz.py runs longer campaigns outside pytest).
Choose one with DEPSLIM_FUZZ_PROFILE=long. Profiles are applied per test (`fuzz_settings`), not
loaded globally, so the rest of the suite keeps its own hypothesis settings.
"""

from __future__ import annotations

from tests.fuzz.targets import register_profiles

register_profiles()
