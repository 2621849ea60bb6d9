"""Benchmark: `depslim slim` + `depslim verify` on real project folders, against their own Dockerfiles.

For every project folder given on the command line:

a. ORIG: builds the project's own Dockerfile with the folder as build context and `docker build
   --network host` (the legacy builder reaches PyPI through the host). The Dockerfile is `Dockerfile`,
   `dockerfile` or the only `*Dockerfile`/`*.dockerfile` of the folder, or the one `FOLDER::PATH` or
   `--dockerfile` names. No registry is reachable, so every `FROM <external image>` is replaced by a
   local Debian base whose Python minor version matches the one the image name says
   (`python:3.11-slim`, `...:python3.9`, `...-py310`); `--base-for 3.11=IMAGE` picks one by hand. Local
   bases are made on demand from `mmdebstrap` (bullseye: 3.9, bookworm: 3.11, trixie: 3.13) with the
   host's CA bundle, `python`/`pip` commands, `PIP_BREAK_SYSTEM_PACKAGES=1`, a current pip, and, for
   the full (non-slim) `python:X.Y` images, the compilers and -dev headers the official full images
   have. A version with no base is mapped to the nearest one (a tie goes to 3.11, the version most
   pins have wheels for: 3.10 and 3.12 -> 3.11, 3.8 -> 3.9) and the table says so. Generic repairs,
   each written in the notes: `ARG`s before the first `FROM` are expanded in `FROM` lines,
   `--platform` is dropped, `COPY`/`ADD` sources missing from the folder are dropped from the
   instruction (the whole instruction when none is left). Records success, the log's last lines, the
   image bytes (`docker image inspect -f '{{.Size}}'`) and the build time.
b. SLIM (three separate functions, `run_slim`, `build_slim`, `run_verify`; each only records a status
   while its command is missing): `depslim slim PROJECT --image ORIG --base SLIMBASE --dockerfile DF
   --output-dir WORK/NAME/slim`, a build of the Dockerfile it wrote (context: a copy of the project with
   depslim's outputs laid over it), then `depslim verify PROJECT --image SLIM --baseline ORIG --format
   json -o WORK/NAME/verify.json` for bytes, cold start (median) and breakages.
c. pipreqs: `pipreqs --force --savepath WORK/NAME/pipreqs.txt PROJECT` (with `--pipreqs CMD`), kept
   for a later comparison with an image built from it.

Writes WORK/slim-results.md (the table, also printed) and WORK/slim-results.json (everything).
Images are tagged `depslim-bench-orig:NAME` / `depslim-bench-slim:NAME` and removed at the end unless
`--keep-images`. Build one image at a time; mind the disk (`docker rmi`).

    python benchmarks/slim.py PROJECT_DIR [PROJECT_DIR ...] --work /var/tmp/depslim-slim [--keep-images]
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ORIG_REPO = "depslim-bench-orig"
SLIM_REPO = "depslim-bench-slim"
BASE_REPO = "depslim-bench-base"
RAW_REPO = "depslim-bench-raw"
# Python minor version -> the Debian suite whose python3 it is.
SUITES: dict[str, str] = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
DEFAULT_PY = "3.11"
FULL_PACKAGES = (
    "build-essential python3-dev git curl wget pkg-config libpq-dev libffi-dev libssl-dev zlib1g-dev libjpeg-dev"
)
LOG_TAIL = 15
PYPI_JSON = "https://pypi.org/pypi/"


# --------------------------------------------------------------------------- small helpers


def run(cmd: list[str], *, timeout: float | None = None, log: Path | None = None,
        cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    """Run CMD; return (exit code, combined output, seconds). The output also goes to LOG when given."""
    start = time.monotonic()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env, text=True,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            out.write(f"\n[slim.py] timed out after {timeout:.0f} s\n")
            code = 124
        out.seek(0)
        text = out.read()
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ {shlex.join(cmd)}\n{text}", encoding="utf-8")
    return code, text, time.monotonic() - start


def tail(text: str, n: int = LOG_TAIL) -> str:
    return "\n".join(line for line in text.rstrip().splitlines()[-n:])


def image_exists(ref: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0


def image_bytes(ref: str) -> int | None:
    proc = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", ref], capture_output=True, text=True)
    return int(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip().isdigit() else None


def rmi(ref: str) -> None:
    subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.") or "project"


def human(n: int | None) -> str:
    if n is None:
        return "–"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1000
    return f"{n} B"


def git_info(folder: Path) -> tuple[str | None, Path | None]:
    """(HEAD commit, top level) when FOLDER is inside a git checkout, else (None, None)."""
    proc = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD", "--show-toplevel"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None, None
    lines = proc.stdout.split()
    return (lines[0], Path(lines[1])) if len(lines) == 2 else (None, None)


def project_name(folder: Path, top: Path | None) -> str:
    """The checkout's folder name, plus the path inside it when the project is a subfolder."""
    if top is not None and folder != top and folder.is_relative_to(top):
        return slug(f"{top.name}-{folder.relative_to(top).as_posix()}")
    return slug(folder.name)


# --------------------------------------------------------------------------- local bases


def host_ca_bundle() -> Path:
    """The CA bundle this host's pip and requests use (a local TLS proxy's CA included)."""
    for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".cert") and Path(value.strip("'\" ")).is_file():
            return Path(value.strip("'\" "))
    try:
        import certifi  # type: ignore[import-not-found]

        return Path(certifi.where())
    except ImportError:
        return Path("/etc/ssl/certs/ca-certificates.crt")


def python_of_image(ref: str) -> str | None:
    """The Python minor version an image name promises: python:3.11-slim, ...:python3.9, ...-py310."""
    name, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "")
    repo = name.split("/")[-1]
    if repo == "python":
        m = re.match(r"(\d+)(?:\.(\d+))?", tag or "")
        if not tag or tag.startswith(("latest", "slim", "alpine", "bookworm", "bullseye", "trixie", "buster")):
            return None  # "the newest": the caller picks the newest base it has
        if m and m.group(2):
            return f"{m.group(1)}.{m.group(2)}"
        return None
    m = re.search(r"python[-_]?(\d)\.?(\d{1,2})", f"{repo}:{tag}") or re.search(r"py(\d)(\d{1,2})\b", tag)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def full_variant(ref: str) -> bool:
    """python:X.Y and python:X.Y-bookworm are full images (compilers, -dev headers); -slim/-alpine are not."""
    name, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "")
    if name.split("/")[-1] != "python":
        return False
    return "slim" not in tag and "alpine" not in tag


def nearest_python(wanted: str | None, available: list[str]) -> str:
    if wanted is None:
        return max(available, key=lambda v: tuple(int(p) for p in v.split(".")))

    def key(v: str) -> tuple[int, int, int]:
        w, c = (int(wanted.split(".")[1]), int(v.split(".")[1]))
        # nearest; a tie goes to DEFAULT_PY (the version most pins have wheels for), then to the older
        return (abs(w - c), v != DEFAULT_PY, c)

    return wanted if wanted in available else min(available, key=key)


def ensure_raw(suite: str, scratch: Path) -> str:
    tag = f"{RAW_REPO}:{suite}"
    if image_exists(tag):
        return tag
    tar = scratch / f"{suite}.tar"
    if not tar.is_file() or tar.stat().st_size == 0:
        code, out, _ = run(["mmdebstrap", "--quiet", "--variant=minbase",
                            "--include=python3,python3-pip,python3-venv,python-is-python3,ca-certificates",
                            suite, str(tar)], timeout=1800)
        if code != 0:
            raise RuntimeError(f"mmdebstrap {suite} failed:\n{tail(out)}")
    code, out, _ = run(["docker", "import", str(tar), tag])
    if code != 0:
        raise RuntimeError(f"docker import {suite} failed:\n{tail(out)}")
    return tag


def base_dockerfile(raw: str, full: bool) -> str:
    lines = [
        f"FROM {raw}",
        "COPY host-ca.crt /usr/local/share/depslim-bench/host-ca.crt",
        "RUN cp /usr/local/share/depslim-bench/host-ca.crt /etc/ssl/certs/ca-certificates.crt",
        "ENV LANG=C.UTF-8 PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\",
        "    PIP_CERT=/usr/local/share/depslim-bench/host-ca.crt \\",
        "    REQUESTS_CA_BUNDLE=/usr/local/share/depslim-bench/host-ca.crt \\",
        "    SSL_CERT_FILE=/usr/local/share/depslim-bench/host-ca.crt",
        "RUN [ -e /usr/bin/python ] || ln -s python3 /usr/bin/python; "
        "[ -e /usr/bin/pip ] || ln -s pip3 /usr/bin/pip; "
        "python3 -m pip install --no-cache-dir --upgrade --ignore-installed pip setuptools wheel",
    ]
    if full:
        lines.append("RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
                     f"{FULL_PACKAGES} && rm -rf /var/lib/apt/lists/*")
    lines.append('CMD ["python3"]')
    return "\n".join(lines) + "\n"


def ensure_base(py: str, full: bool, scratch: Path) -> str:
    """depslim-bench-base:pyX.Y[-full], made from the Debian suite with that Python when missing."""
    tag = f"{BASE_REPO}:py{py}{'-full' if full else ''}"
    if image_exists(tag):
        return tag
    raw = ensure_raw(SUITES[py], scratch)
    with tempfile.TemporaryDirectory(prefix="depslim-base-") as tmp:
        shutil.copyfile(host_ca_bundle(), Path(tmp) / "host-ca.crt")
        (Path(tmp) / "Dockerfile").write_text(base_dockerfile(raw, full), encoding="utf-8")
        code, out, _ = run(["docker", "build", "--network", "host", "-t", tag, tmp], timeout=1800)
    if code != 0:
        raise RuntimeError(f"building {tag} failed:\n{tail(out)}")
    return tag


# --------------------------------------------------------------------------- Dockerfile rewriting


@dataclasses.dataclass
class Instruction:
    keyword: str  # upper-case
    text: str  # the whole instruction, continuation lines included
    first_line: int


def parse_dockerfile(text: str) -> tuple[list[str], list[Instruction | None]]:
    """Split into logical instructions; comments/blank lines are kept as raw lines (None entries)."""
    raw_lines = text.splitlines()
    items: list[Instruction | None] = []
    kept: list[str] = []
    i = 0
    while i < len(raw_lines):
        line = raw_lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            items.append(None)
            kept.append(line)
            i += 1
            continue
        start = i
        parts = [line]
        while parts[-1].rstrip().endswith("\\") and i + 1 < len(raw_lines):
            i += 1
            parts.append(raw_lines[i])
        i += 1
        keyword = stripped.split(None, 1)[0].upper()
        items.append(Instruction(keyword, "\n".join(parts), start + 1))
        kept.append("")
    return kept, items


def expand_args(value: str, args: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        default = m.group(2)
        return args.get(name) or (default or "")

    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)", sub, value)


def source_exists(context: Path, src: str) -> bool:
    src = src.lstrip("/")
    if src in ("", ".", "./"):
        return True
    if any(ch in src for ch in "*?["):
        return bool(glob.glob(str(context / src)))
    return (context / src).exists()


def dockerignored(context: Path) -> list[str]:
    ignore = context / ".dockerignore"
    if not ignore.is_file():
        return []
    return [p.strip() for p in ignore.read_text(errors="replace").splitlines() if p.strip() and not p.startswith("#")]


def rewrite_copy(inst: Instruction, context: Path, ignored: list[str], notes: list[str]) -> str | None:
    """Drop the sources of a COPY/ADD that the build context lacks; None drops the instruction."""
    body = inst.text.replace("\\\n", " ")
    words = body.split(None, 1)[1] if len(body.split(None, 1)) > 1 else ""
    if words.lstrip().startswith("["):
        try:  # raw_decode: Docker reads the JSON array and ignores what trails it
            parts, _ = json.JSONDecoder().raw_decode(words.lstrip())
        except json.JSONDecodeError:
            return inst.text
        flags: list[str] = []
    else:
        tokens = shlex.split(words, posix=True)
        flags = [t for t in tokens if t.startswith("--")]
        parts = [t for t in tokens if not t.startswith("--")]
    if any(f.startswith("--from") for f in flags) or len(parts) < 2:
        return inst.text
    *sources, dest = parts
    keep = []
    for src in sources:
        remote = re.match(r"^(https?|git)://", src) is not None
        hidden = any(fnmatch.fnmatch(src.strip("./"), pat.strip("/")) for pat in ignored if not pat.startswith("!"))
        if remote or (source_exists(context, src) and not hidden):
            keep.append(src)
        else:
            notes.append(f"dropped missing {inst.keyword} source `{src}` (line {inst.first_line})")
    if len(keep) == len(sources):
        return inst.text
    if not keep:
        return None
    if len(keep) > 1 and not dest.endswith("/"):
        dest += "/"
    return " ".join([inst.keyword, *flags, *[shlex.quote(s) for s in keep], shlex.quote(dest)])


@dataclasses.dataclass
class Rewritten:
    text: str
    bases: list[str]  # local base per external FROM
    pythons: list[str]
    notes: list[str]


def rewrite_dockerfile(text: str, context: Path, choose_base: dict[str, str], scratch: Path) -> Rewritten:
    """Every external FROM -> a local base with the same Python minor; missing COPY sources dropped."""
    kept, items = parse_dockerfile(text)
    global_args: dict[str, str] = {}
    stages: set[str] = set()
    seen_from = False
    out: list[str] = []
    bases: list[str] = []
    pythons: list[str] = []
    notes: list[str] = []
    ignored = dockerignored(context)
    available = sorted(SUITES)
    for raw, inst in zip(kept, items, strict=True):
        if inst is None:
            out.append(raw)
            continue
        if inst.keyword == "ARG" and not seen_from:
            for token in shlex.split(inst.text.split(None, 1)[1] if " " in inst.text else ""):
                name, _, default = token.partition("=")
                global_args[name] = default
            out.append(inst.text)
            continue
        if inst.keyword == "FROM":
            seen_from = True
            tokens = inst.text.replace("\\\n", " ").split()[1:]
            flags = [t for t in tokens if t.startswith("--")]
            rest = [t for t in tokens if not t.startswith("--")]
            image = expand_args(rest[0], global_args)
            alias = rest[2] if len(rest) >= 3 and rest[1].lower() == "as" else None
            if any(f.startswith("--platform") for f in flags):
                notes.append(f"dropped `--platform` from FROM (line {inst.first_line})")
            if image.lower() in stages or image == "scratch":
                new_image = image
            else:
                wanted = python_of_image(image)
                py = nearest_python(wanted, available)
                full = full_variant(image)
                override = choose_base.get(wanted or "") or choose_base.get(py)
                new_image = override or ensure_base(py, full, scratch)
                if wanted is not None and wanted != py and not override:
                    notes.append(f"no Python {wanted} base: `{image}` -> Python {py}")
                if wanted is None and not override:
                    notes.append(f"`{image}` names no Python version: newest base (Python {py})")
                bases.append(new_image)
                pythons.append(py)
            if alias:
                stages.add(alias.lower())
            out.append(f"FROM {new_image}" + (f" AS {alias}" if alias else ""))
            continue
        if inst.keyword in ("COPY", "ADD"):
            new = rewrite_copy(inst, context, ignored, notes)
            out.append(new if new is not None else f"# [slim.py dropped] {inst.text.splitlines()[0]}")
            continue
        out.append(inst.text)
    return Rewritten("\n".join(out) + "\n", bases, pythons, notes)


def find_dockerfile(folder: Path, name: str | None) -> Path | None:
    if name:
        path = folder / name
        return path if path.is_file() else None
    for candidate in ("Dockerfile", "dockerfile"):
        if (folder / candidate).is_file():
            return folder / candidate
    found = [p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts
             and (p.name.lower().endswith("dockerfile") or p.name.lower().endswith(".dockerfile"))]
    return found[0] if len(found) == 1 else None


# --------------------------------------------------------------------------- results


@dataclasses.dataclass
class Result:
    name: str
    folder: str
    commit: str | None = None
    dockerfile: str | None = None
    base: str | None = None
    python: str | None = None
    orig_tag: str | None = None
    orig_ok: bool = False
    orig_bytes: int | None = None
    orig_build_s: float | None = None
    orig_cached: bool = False  # every step came from the build cache: the time is not a build's
    orig_log_tail: str = ""
    slim_status: str = "not run"
    slim_tag: str | None = None
    slim_bytes: int | None = None
    slim_build_s: float | None = None
    cold_start_orig_s: float | None = None
    cold_start_slim_s: float | None = None
    verify_report: bool = False  # depslim verify wrote a JSON report (breakages are known)
    breakages: list[str] = dataclasses.field(default_factory=list)
    pipreqs: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    def reduction(self) -> float | None:
        if self.orig_bytes and self.slim_bytes is not None:
            return 100.0 * (self.orig_bytes - self.slim_bytes) / self.orig_bytes
        return None


# --------------------------------------------------------------------------- a. ORIG


def build_orig(folder: Path, res: Result, work: Path, args: argparse.Namespace, dockerfile_name: str | None) -> None:
    dockerfile = find_dockerfile(folder, dockerfile_name or args.dockerfile)
    if dockerfile is None:
        res.notes.append("no Dockerfile found (or several: give --dockerfile)")
        return
    res.dockerfile = dockerfile.relative_to(folder).as_posix()
    outdir = work / res.name
    outdir.mkdir(parents=True, exist_ok=True)
    rewritten = rewrite_dockerfile(dockerfile.read_text(encoding="utf-8", errors="replace"), folder,
                                   dict(args.base_for), work / "bases")
    res.notes.extend(rewritten.notes)
    res.base = ", ".join(dict.fromkeys(rewritten.bases)) or None
    res.python = rewritten.pythons[-1] if rewritten.pythons else None
    local = outdir / "Dockerfile.orig"
    local.write_text(rewritten.text, encoding="utf-8")
    res.orig_tag = f"{ORIG_REPO}:{res.name}"
    cache = ["--no-cache"] if args.no_cache else []
    code, out, seconds = run(["docker", "build", "--network", "host", "--force-rm", *cache, "-f", str(local),
                              "-t", res.orig_tag, str(folder)], timeout=args.timeout, log=outdir / "orig-build.log")
    res.orig_cached = " ---> Running in " not in out
    res.orig_build_s = round(seconds, 1)
    res.orig_log_tail = tail(out)
    res.orig_ok = code == 0
    if res.orig_ok:
        res.orig_bytes = image_bytes(res.orig_tag)
    else:
        last = next((ln for ln in reversed(out.strip().splitlines()) if ln.strip()), "")
        res.notes.append(f"ORIG build failed ({code}): {last[:200]}")


# --------------------------------------------------------------------------- b. SLIM (placeholders)
# Three separate steps, each recording what it saw in the Result; they stay inert (a status line) while the
# command they call is missing. The JSON fields read in run_verify follow `depslim verify --format json`.

DEPSLIM = [sys.executable, "-m", "depslim"]
SLIM_OUTPUTS = ("Dockerfile.depslim", "Dockerfile")


def depslim_has(command: str) -> bool:
    proc = subprocess.run([*DEPSLIM, command, "--help"], capture_output=True, text=True)
    return proc.returncode == 0


def run_slim(folder: Path, res: Result, slim_base: str, outdir: Path, timeout: float,
             extra: list[str] | None = None) -> Path | None:
    """`depslim slim PROJECT --image ORIG --base SLIMBASE --output-dir OUT`; the Dockerfile it wrote, or None."""
    if not depslim_has("slim"):
        res.slim_status = "depslim slim: not implemented yet"
        return None
    assert res.orig_tag is not None
    dockerfile = ["--dockerfile", res.dockerfile] if res.dockerfile else []
    code, out, _ = run([*DEPSLIM, "slim", str(folder), "--image", res.orig_tag, "--base", slim_base, *dockerfile,
                        "--output-dir", str(outdir), *(extra or [])], timeout=timeout, log=outdir.parent / "slim.log")
    if code != 0:
        res.slim_status = f"depslim slim exited {code}"
        res.notes.append(f"depslim slim: {tail(out, 1)[:200]}")
        return None
    written = next((outdir / n for n in SLIM_OUTPUTS if (outdir / n).is_file()), None)
    if written is None:
        res.slim_status = "depslim slim wrote no Dockerfile"
    return written


def build_slim(folder: Path, dockerfile: Path, res: Result, timeout: float) -> bool:
    """Build what `depslim slim` wrote as depslim-bench-slim:NAME.

    The build context is a copy of the project folder (without .git) with depslim's outputs laid over it,
    so the written Dockerfile finds both the project's files and its own requirements/lock files; the
    project folder itself is never written to.
    """
    res.slim_tag = f"{SLIM_REPO}:{res.name}"
    context = dockerfile.parent.parent / "slim-context"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(folder, context, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    for item in dockerfile.parent.iterdir():
        if item.is_file():
            shutil.copyfile(item, context / item.name)
    code, out, seconds = run(["docker", "build", "--network", "host", "--force-rm", "-f",
                              str(context / dockerfile.name), "-t", res.slim_tag, str(context)], timeout=timeout,
                             log=dockerfile.parent.parent / "slim-build.log")
    shutil.rmtree(context, ignore_errors=True)
    res.slim_build_s = round(seconds, 1)
    if code != 0:
        res.slim_status = f"slim build failed ({code})"
        res.notes.append(f"slim build: {tail(out, 1)[:200]}")
        return False
    res.slim_bytes = image_bytes(res.slim_tag)
    return True


def _median_start(facts: object) -> float | None:
    if not isinstance(facts, dict) or not isinstance(facts.get("cold_start"), dict):
        return None
    value = facts["cold_start"].get("median_seconds")
    return float(value) if isinstance(value, int | float) else None


def run_verify(folder: Path, res: Result, outdir: Path, timeout: float) -> None:
    """`depslim verify PROJECT --image SLIM --baseline ORIG --format json`: breakages and cold start."""
    if not depslim_has("verify"):
        res.slim_status = "built; depslim verify: not implemented yet"
        return
    assert res.slim_tag is not None and res.orig_tag is not None
    report_file = outdir / "verify.json"
    code, out, _ = run([*DEPSLIM, "verify", str(folder), "--image", res.slim_tag, "--baseline", res.orig_tag,
                        "--format", "json", "-o", str(report_file), "--force"], timeout=timeout,
                       log=outdir / "verify.log")
    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        res.slim_status = f"depslim verify exited {code} without a JSON report"
        res.notes.append(f"depslim verify: {tail(out, 1)[:200]}")
        return
    checks = report.get("checks") or []
    res.breakages = sorted({str(c.get("missing") or c.get("target")) for c in checks
                            if isinstance(c, dict) and c.get("breakage")})
    res.cold_start_slim_s = _median_start(report.get("image"))
    res.cold_start_orig_s = _median_start(report.get("baseline"))
    res.verify_report = True
    res.slim_status = "verified" if code == 0 else f"depslim verify exited {code}"


def slim_stage(folder: Path, res: Result, work: Path, args: argparse.Namespace) -> None:
    if not res.orig_ok or res.python is None:
        return
    slim_base = dict(args.slim_base_for).get(res.python) or ensure_base(res.python, False, work / "bases")
    outdir = work / res.name / "slim"
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    dockerfile = run_slim(folder, res, slim_base, outdir, args.timeout, args.slim_arg)
    if dockerfile is None or not build_slim(folder, dockerfile, res, args.timeout):
        return
    run_verify(folder, res, work / res.name, args.timeout)


# --------------------------------------------------------------------------- c. pipreqs


def pipreqs_stage(folder: Path, res: Result, work: Path, command: str | None) -> None:
    exe = command or shutil.which("pipreqs")
    if not exe or exe == "none":
        return
    target = work / res.name / "pipreqs.txt"
    # pipreqs asks pypi.python.org (a legacy alias) for the newest versions unless told otherwise
    server = [] if "--pypi-server" in exe else ["--pypi-server", PYPI_JSON]
    code, out, _ = run([*shlex.split(exe), *server, "--force", "--savepath", str(target), str(folder)],
                       timeout=600, log=work / res.name / "pipreqs.log")
    if code == 0 and target.is_file():
        res.pipreqs = target.relative_to(work).as_posix()
    else:
        res.notes.append(f"pipreqs failed: {tail(out, 1)[:160]}")


# --------------------------------------------------------------------------- report


def markdown(results: list[Result]) -> str:
    rows = [
        "| project | commit | Python / base | ORIG bytes | ORIG build | slim bytes | reduction | "
        "cold start ORIG → slim | breakages | notes |",
        "|---|---|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        red = r.reduction()
        cold = (f"{r.cold_start_orig_s:.2f} s → {r.cold_start_slim_s:.2f} s"
                if r.cold_start_orig_s is not None and r.cold_start_slim_s is not None else "–")
        notes = [("ORIG ok" if r.orig_ok else "ORIG failed"), r.slim_status, *r.notes]
        rows.append("| " + " | ".join([
            r.name,
            f"`{r.commit[:10]}`" if r.commit else "–",
            f"{r.python or '?'} `{r.base or '–'}`",
            human(r.orig_bytes),
            (f"{r.orig_build_s:.0f} s" + (" (cached)" if r.orig_cached else "")) if r.orig_build_s is not None else "–",
            human(r.slim_bytes),
            f"{red:.1f} %" if red is not None else "–",
            cold,
            (", ".join(f"`{b}`" for b in r.breakages) or "none") if r.verify_report else "–",
            "; ".join(n.replace("|", "\\|").replace("\n", " ") for n in notes),
        ]) + " |")
    return "\n".join(rows) + "\n"


def parse_mapping(value: str) -> tuple[str, str]:
    py, sep, image = value.partition("=")
    if not sep or not re.fullmatch(r"\d+\.\d+", py) or not image:
        raise argparse.ArgumentTypeError(f"expected X.Y=IMAGE, got {value!r}")
    return py, image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="+", metavar="FOLDER[::DOCKERFILE]",
                        help="project folders (the Docker build context), optionally with the Dockerfile's path in it")
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/depslim-slim"),
                        help="outputs (default %(default)s)")
    parser.add_argument("--base-for", type=parse_mapping, action="append", default=[], metavar="X.Y=IMAGE",
                        help="local image replacing external FROMs that ask for Python X.Y (repeatable)")
    parser.add_argument("--slim-base-for", type=parse_mapping, action="append", default=[], metavar="X.Y=IMAGE",
                        help="base given to `depslim slim --base` for Python X.Y (default depslim-bench-base:pyX.Y)")
    parser.add_argument("--dockerfile", help="the Dockerfile's path inside every project folder")
    parser.add_argument("--keep-images", action="store_true", help="keep the ORIG/slim images afterwards")
    parser.add_argument("--no-cache", action="store_true", help="build ORIG without the build cache")
    parser.add_argument("--skip-slim", action="store_true", help="only ORIG builds (and pipreqs)")
    parser.add_argument("--pipreqs", metavar="CMD", help="pipreqs command (default: `pipreqs` on PATH; none: skip)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per build (default %(default)s)")
    parser.add_argument("--slim-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for `depslim slim` (repeatable), e.g. --slim-arg=--apply-swaps")
    args = parser.parse_args(argv)

    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        print("slim.py: no Docker engine", file=sys.stderr)
        return 2
    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    names: set[str] = set()
    for spec in args.projects:
        folder_text, _, dockerfile_name = spec.partition("::")
        folder = Path(folder_text).resolve()
        if not folder.is_dir():
            print(f"slim.py: {folder}: not a folder", file=sys.stderr)
            return 2
        commit, top = git_info(folder)
        name = project_name(folder, top)
        while name in names:
            name += "_"
        names.add(name)
        res = Result(name=name, folder=str(folder), commit=commit)
        results.append(res)
        print(f"== {name}", flush=True)
        try:
            build_orig(folder, res, work, args, dockerfile_name or None)
            print(f"   ORIG {'ok' if res.orig_ok else 'FAILED'} {human(res.orig_bytes)} in {res.orig_build_s} s",
                  flush=True)
            pipreqs_stage(folder, res, work, args.pipreqs)
            if not args.skip_slim:
                slim_stage(folder, res, work, args)
        except RuntimeError as exc:  # a base could not be made
            res.notes.append(str(exc).splitlines()[0])
        finally:
            if not args.keep_images:
                for tag in (res.slim_tag, res.orig_tag):
                    if tag:
                        rmi(tag)
        (work / "slim-results.json").write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=2),
                                                encoding="utf-8")
    table = markdown(results)
    (work / "slim-results.md").write_text(table, encoding="utf-8")
    print(table)
    return 0 if all(r.orig_ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
