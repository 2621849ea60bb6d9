"""A lock keeps the extras dependents ask for on the pin: `evidently` requires `pandas[parquet]`, and
`pip install --require-hashes` refuses `pandas[parquet]>=1.3.5` when the lock's line says only
`pandas==2.3.1` (a real slim build failed that way). Constraints never carry extras (pip refuses them)."""

from __future__ import annotations

from depslim.generate.lock import parse_compiled

COMPILED = """\
evidently==0.7.10 \\
    --hash=sha256:aaaa
    # via -r requirements.txt
pandas[parquet,performance]==2.3.1 \\
    --hash=sha256:bbbb \\
    --hash=sha256:cccc
    # via evidently
pyarrow==21.0.0 \\
    --hash=sha256:dddd
    # via pandas
"""


def test_extras_stay_on_the_pin_and_leave_the_constraint() -> None:
    pins = {p.name: p for p in parse_compiled(COMPILED, "out.txt")}
    pandas = pins["pandas"]
    assert pandas.requirement == "pandas[parquet,performance]==2.3.1"
    assert pandas.extras == ("parquet", "performance")
    assert pandas.constraint == "pandas==2.3.1"
    assert pins["pyarrow"].requirement == "pyarrow==21.0.0" and pins["pyarrow"].extras == ()


def test_the_same_pin_listed_twice_keeps_both_extras() -> None:
    text = "x[a]==1 \\\n    --hash=sha256:aa\nx[b]==1 \\\n    --hash=sha256:aa\n"
    (pin,) = parse_compiled(text, "out.txt")
    assert pin.requirement == "x[a,b]==1"
