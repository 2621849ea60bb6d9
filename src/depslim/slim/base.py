"""Which base image the slim image starts from, and the evidence for it.

CPU work gets the official `python:X.Y-slim-<debian>` image of the Python the target runs, so
the lock (resolved for that X.Y) installs unchanged. A CUDA `-runtime` image is chosen only
when both halves are proven: the served code uses the GPU (a runtime signal such as
`torch.cuda` in code the entrypoint reaches) *and* the framework wheels installed in the target
are CUDA builds — their CUDA release picks the image. Code that asks for CUDA while the wheels
are CPU builds gets the CPU base and a note, never a guess. `--base` overrides everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from depslim.errors import InputError
from depslim.knowledge import check_keys, load_data
from depslim.model import Evidence

SHELL_FORM_PYTHON = "python3"


@dataclass(frozen=True)
class BaseChoice:
    """The base of both stages and why: `python_packages` install the interpreter where the base
    has none (CUDA images); `python_command` is how the Dockerfile calls it."""

    image: str
    python: str  # X.Y the lock was resolved for
    kind: str  # python-slim | cuda-runtime | given
    why: tuple[str, ...]
    evidence: tuple[Evidence, ...] = ()
    cuda: str = ""
    python_packages: tuple[str, ...] = ()
    python_command: str = SHELL_FORM_PYTHON
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CudaBase:
    cuda: str
    image: str
    os: str


@cache
def slim_data() -> Mapping[str, Any]:
    """`data/slim.toml`, validated once."""
    data = load_data("slim")
    where = "depslim/data/slim.toml"
    check_keys(data, required=("base", "cuda_os", "user", "env", "builder", "copy", "base_env"), where=where)
    check_keys(data["base"], required=("python", "debian", "python_command", "cuda"), where=f"{where} [base]")
    for i, row in enumerate(data["base"]["cuda"]):
        check_keys(row, required=("cuda", "image", "os"), where=f"{where} [[base.cuda]] #{i + 1}")
        if "-devel" in row["image"]:
            raise InputError(where, f"[[base.cuda]] #{i + 1}: a -devel image is never a runtime base")
        if row["os"] not in data["cuda_os"]:
            raise InputError(where, f"[[base.cuda]] #{i + 1}: os {row['os']!r} has no [cuda_os] entry")
    check_keys(data["user"], required=("name", "uid"), where=f"{where} [user]")
    check_keys(data["builder"], required=("venv", "build_args", "compile_packages", "venv_seeds"),
               where=f"{where} [builder]")
    check_keys(data["copy"], required=("model_suffixes", "dockerignore"), where=f"{where} [copy]")
    check_keys(data["base_env"], required=("names", "slim_sets"), where=f"{where} [base_env]")
    return data


def cuda_bases() -> tuple[CudaBase, ...]:
    return tuple(CudaBase(r["cuda"], r["image"], r["os"]) for r in slim_data()["base"]["cuda"])


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def pick_cuda_base(cuda: str, python: str) -> tuple[CudaBase | None, tuple[str, ...]]:
    """The runtime image for a CUDA release: the same X.Y, else the newest of the same major at or
    below it (the driver API is forward compatible within a major); and the apt packages that
    install `python` on its OS (empty when that OS does not package it)."""
    bases = cuda_bases()
    exact = [b for b in bases if b.cuda == cuda]
    major = cuda.split(".")[0]
    below = [b for b in bases if b.cuda.split(".")[0] == major and _version_key(b.cuda) <= _version_key(cuda)]
    ranked = exact or sorted(below, key=lambda b: _version_key(b.cuda), reverse=True)
    for base in ranked:
        packages = slim_data()["cuda_os"].get(base.os, {}).get(python)
        if packages:
            return base, tuple(packages)
    return (ranked[0] if ranked else None), ()


def choose_base(
    python: str,
    gpu_use: Sequence[Evidence],
    cuda_builds: Iterable[tuple[str, str, str]],
    given: str | None = None,
) -> BaseChoice:
    """Pick the base. `cuda_builds` are (distribution, version, CUDA X.Y or "") of installed CUDA
    builds; `gpu_use` the runtime GPU evidence in served code."""
    data = slim_data()["base"]
    command = data["python_command"]
    builds = sorted(cuda_builds)
    if given:
        return BaseChoice(given, python, "given", (f"--base {given} (given on the command line)",),
                          python_command=command)
    slim = data["python"].format(python=python, debian=data["debian"])
    cpu_why = f"no GPU use proven in the served code: the official slim image of Python {python}"
    if not gpu_use:
        notes = tuple(f"{name} {version} is a CUDA build, but the served code never uses the GPU: "
                      f"a CPU build of {name} would do (see the swaps in the analysis)" for name, version, _ in builds)
        return BaseChoice(slim, python, "python-slim", (cpu_why,), python_command=command, notes=notes)
    if not builds:
        return BaseChoice(slim, python, "python-slim", (cpu_why.replace("no GPU use proven", "GPU use seen")
                                                        + "; no CUDA build of a framework is installed",),
                          tuple(gpu_use), python_command=command,
                          notes=("the code asks for CUDA but the installed frameworks are CPU builds: the GPU path "
                                 "cannot run in this image either way",))
    releases = sorted({cuda for _, _, cuda in builds if cuda}, key=_version_key)
    cuda = releases[-1] if releases else ""
    base, packages = pick_cuda_base(cuda, python) if cuda else (None, ())
    if base is None or not packages:
        reason = (f"no CUDA runtime image is known for CUDA {cuda or '(unknown release)'} with Python {python} "
                  "(depslim/data/slim.toml [[base.cuda]]); the CUDA libraries come from the wheels")
        return BaseChoice(slim, python, "python-slim", (reason,), tuple(gpu_use), cuda=cuda, python_command=command,
                          notes=(reason,))
    built = ", ".join(f"{n} {v}" for n, v, _ in builds)
    why = (f"GPU use proven in the served code and {built} built for CUDA {cuda}: "
           f"NVIDIA's CUDA {base.cuda} runtime image (not -devel) on {base.os}",)
    return BaseChoice(base.image, python, "cuda-runtime", why, tuple(gpu_use), cuda=cuda,
                      python_packages=packages, python_command=f"python{python}")
