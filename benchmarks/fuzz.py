"""Long fuzz campaigns over depslim's parsers, with the generators of tests/fuzz.

    PYTHONPATH=src python benchmarks/fuzz.py --parser layers --seconds 60
    PYTHONPATH=src python benchmarks/fuzz.py --parser all --examples 1000000 --seconds 3600

Each campaign runs the target's hypothesis strategy in batches (a fresh random seed each, no
example database) until `--examples` inputs were tried or `--seconds` passed. An input that
raises anything but the target's allowed errors (`InputError`, see tests/fuzz/targets.py) is an
uncaught exception: hypothesis shrinks it, the minimal repro is written to `--out` (the input's
repr, its files when it has some, the traceback) and the campaign goes on; the same exception
(same type, same raising line in depslim) is reported once. Output: per parser, inputs tried,
accepted / rejected, inputs per second, uncaught exceptions, and the time 1,000,000 inputs
would take at that rate. Exit 1 when any uncaught exception was found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fuzz (the generators) is importable from a checkout

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.reporting import with_reporter  # noqa: E402

from tests.fuzz.targets import TARGETS, Target  # noqa: E402

BATCH = 2000  # examples per hypothesis run; a new seed each


class _TimeUp(BaseException):
    """Raised inside a run when the campaign's time is up: hypothesis lets a BaseException through
    at once (no shrinking, no more generation), so a campaign stops on time."""


@dataclass
class Failure:
    signature: str
    value: Any
    text: str  # traceback of the smallest input seen for this signature


@dataclass
class Stats:
    parser: str
    tried: int = 0
    accepted: int = 0
    rejected: int = 0
    seconds: float = 0.0
    failures: dict[str, Failure] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.tried / self.seconds if self.seconds else 0.0


def signature(exc: BaseException) -> str:
    """Type and the innermost depslim frame that raised it: the same bug reported once."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/depslim/" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


def _size(value: Any) -> int:
    return len(repr(value))


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def campaign(target: Target, examples: int, seconds: float) -> Stats:
    """Run `target` until `examples` inputs or `seconds` elapsed; collect uncaught exceptions."""
    stats = Stats(target.name)
    start = time.monotonic()
    deadline = start + seconds

    def one(value: Any) -> None:
        if time.monotonic() > deadline or stats.tried >= examples:
            raise _TimeUp
        stats.tried += 1
        try:
            target.run(value)
        except target.allowed:
            stats.rejected += 1
            return
        except Exception as exc:
            sig = signature(exc)
            known = stats.failures.get(sig)
            if known is None or _size(value) < _size(known.value):
                stats.failures[sig] = Failure(sig, value, "".join(traceback.format_exception(exc)))
            if known is not None:
                return  # reported already: keep exploring instead of shrinking it again
            raise
        stats.accepted += 1

    while stats.tried < examples and time.monotonic() < deadline:
        batch = min(BATCH, examples - stats.tried)
        run = settings(max_examples=batch, deadline=None, database=None, phases=[Phase.generate, Phase.shrink],
                       suppress_health_check=list(HealthCheck), report_multiple_bugs=False)(given(target.strategy)(one))
        before = stats.tried
        try:
            with with_reporter(lambda _text: None):  # failures are reported below, with their repro
                run()
        except _TimeUp:
            break
        except Exception as exc:  # a new bug, shrunk; its smallest input is in stats.failures
            for leaf in _leaves(exc):
                if signature(leaf) not in stats.failures:
                    stats.failures[signature(leaf)] = Failure(signature(leaf), None, "".join(
                        traceback.format_exception(leaf)))
        if stats.tried == before:
            break
    stats.seconds = time.monotonic() - start
    return stats


def save(stats: Stats, out: Path) -> list[Path]:
    """One folder per uncaught exception: repr.txt, traceback.txt and the input's files."""
    written = []
    for failure in stats.failures.values():
        key = hashlib.sha256(failure.signature.encode()).hexdigest()[:10]
        folder = out / f"{stats.parser}-{key}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "signature.txt").write_text(failure.signature + "\n")
        (folder / "traceback.txt").write_text(failure.text)
        (folder / "repr.txt").write_text(repr(failure.value) + "\n")
        _write_input(folder / "input", failure.value)
        written.append(folder)
    return written


def _write_input(base: Path, value: Any) -> None:
    if isinstance(value, bytes):
        base.with_suffix(".bin").write_bytes(value)
    elif isinstance(value, tuple) and value and isinstance(value[0], bytes):
        base.with_suffix(".bin").write_bytes(value[0])
    elif isinstance(value, dict) and all(isinstance(v, bytes) for v in value.values()):
        for name, data in value.items():
            path = base / name.replace("\x00", "%00")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    elif hasattr(value, "blobs"):
        for name, data in value.blobs.items():
            path = base / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min"


def report(results: list[Stats]) -> str:
    lines = [f"{'parser':<14}{'tried':>9}{'accepted':>10}{'rejected':>10}{'inputs/s':>10}{'uncaught':>10}"
             f"{'1M inputs in':>14}"]
    for s in results:
        eta = _duration(1_000_000 / s.rate) if s.rate else "-"
        lines.append(f"{s.parser:<14}{s.tried:>9}{s.accepted:>10}{s.rejected:>10}{s.rate:>10.0f}"
                     f"{len(s.failures):>10}{eta:>14}")
        lines += [f"    {f.signature}" for f in s.failures.values()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parser", default="all", choices=["all", *sorted(TARGETS)])
    parser.add_argument("--examples", type=int, default=1_000_000, help="inputs per parser (default 1,000,000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="time per parser (default 60)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz",
                        help="folder for minimal repros of uncaught exceptions")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    names = sorted(TARGETS) if args.parser == "all" else [args.parser]
    results = []
    for name in names:
        stats = campaign(TARGETS[name], args.examples, args.seconds)
        results.append(stats)
        for folder in save(stats, args.out):
            print(f"{name}: uncaught exception, repro in {folder}", file=sys.stderr)
        print(report([stats]).splitlines()[1], flush=True)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps([{"parser": s.parser, "tried": s.tried, "accepted": s.accepted,
                                          "rejected": s.rejected, "seconds": round(s.seconds, 1),
                                          "inputs_per_second": round(s.rate, 1),
                                          "uncaught": sorted(s.failures)} for s in results], indent=1))
    return 1 if any(s.failures for s in results) else 0


if __name__ == "__main__":
    sys.exit(main())
