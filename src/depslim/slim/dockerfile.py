"""`Dockerfile.depslim`: the slim image as text, a pure function of the plan's choices.

Two stages. The builder makes a venv and installs the hash-pinned lock into it
(`--require-hashes`, no pip cache; `--only-binary=:all:` when every pin has a wheel for the
target, else compilers are installed here and only here), then takes out what `venv` seeded that
the lock does not pin (pip): the installer never runs in the shipped image. The final
stage starts again from the same base (so the venv's interpreter link resolves), installs only the
OS libraries the wheels' ELF files need (no recommends, apt lists removed in the same RUN), creates
an unprivileged user,
copies the venv and exactly the project files the plan lists, and repeats the original's
WORKDIR, non-secret ENV, EXPOSE, ENTRYPOINT and CMD.

No `# syntax=` line: BuildKit would fetch that frontend image, and the legacy builder ignores it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from depslim.slim.base import BaseChoice, slim_data
from depslim.slim.carry import Carried
from depslim.slim.copies import CopyItem


@dataclass(frozen=True)
class DockerfileSpec:
    """Everything the text depends on (the plan builds it; tests can too)."""

    base: BaseChoice
    lock_name: str
    carried: Carried
    copies: Sequence[CopyItem]
    python_path: Sequence[str]
    os_packages: Sequence[str] = ()
    compile_pins: Sequence[str] = ()  # pins with no wheel for the target: the builder compiles them
    project: str = ""
    pinned: frozenset[str] = frozenset()  # canonical names in the lock


def _seeded(spec: DockerfileSpec) -> list[str]:
    """What `python -m venv` seeds the venv with that the lock does not ask for: installers, not runtime."""
    return [name for name in slim_data()["builder"]["venv_seeds"] if name not in spec.pinned]


def _quote_env(value: str) -> str:
    return json.dumps(value)


def _copy_line(item: CopyItem) -> str:
    if any(ch in item.source + item.dest for ch in ' "\'$\\'):
        return "COPY " + json.dumps([item.source, item.dest])
    return f"COPY {item.source} {item.dest}"


def _python_install(base: BaseChoice) -> list[str]:
    """The interpreter, where the base has none (CUDA runtime images)."""
    if not base.python_packages:
        return []
    packages = " ".join(base.python_packages)
    return [
        "RUN apt-get update \\",
        f" && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages} \\",
        " && rm -rf /var/lib/apt/lists/*",
    ]


def render_dockerfile(spec: DockerfileSpec) -> str:
    data = slim_data()
    venv = data["builder"]["venv"]
    user = data["user"]
    base = spec.base
    python = base.python_command
    lines = [
        f"# Dockerfile.depslim: the slim image{' of ' + spec.project if spec.project else ''}, "
        "written by `depslim slim`.",
        "# Every choice and its evidence: depslim-slim.md. Prove it before shipping: `depslim verify . --build`.",
        "# Edit the sources (or pass options) and rerun `depslim slim`: hand edits here are detected.",
        "# A private index: docker build --build-arg PIP_INDEX_URL=... (never write credentials into this file).",
        "",
        f"FROM {base.image} AS builder",
    ]
    lines += [f"ARG {name}" for name in data["builder"]["build_args"]]
    lines.append("ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1")
    lines += _python_install(base)
    if spec.compile_pins:
        compilers = " ".join(data["builder"]["compile_packages"])
        lines += [
            f"# no wheel for the target: {', '.join(spec.compile_pins)} "
            "(compiled here; no compiler reaches the final stage)",
            "RUN apt-get update \\",
            f" && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {compilers} \\",
            " && rm -rf /var/lib/apt/lists/*",
        ]
    binary = "" if spec.compile_pins else " --only-binary=:all:"
    lines += [
        f"RUN {python} -m venv {venv}",
        f"COPY {spec.lock_name} /tmp/{spec.lock_name}",
        f"RUN {venv}/bin/pip install --no-cache-dir --require-hashes{binary} -r /tmp/{spec.lock_name} \\",
        f" && {venv}/bin/python -m pip uninstall --yes --quiet {' '.join(_seeded(spec))} && rm /tmp/{spec.lock_name}",
        "",
        f"FROM {base.image}",
    ]
    lines += _python_install(base)
    if spec.os_packages:
        lines += [
            "# shared libraries the wheels' ELF files need that neither the wheels nor the base provide",
            "RUN apt-get update \\",
            " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
            + " ".join(sorted(spec.os_packages)) + " \\",
            " && rm -rf /var/lib/apt/lists/*",
        ]
    lines.append(  # --no-log-init: a high uid would otherwise grow the sparse lastlog/faillog files by MBs
        f"RUN useradd --system --no-log-init --uid {user['uid']} --user-group --no-create-home "
        f"--home-dir /nonexistent --shell /usr/sbin/nologin {user['name']}"
    )
    lines.append(f"COPY --from=builder {venv} {venv}")
    env = {"PATH": f"{venv}/bin:$PATH", "VIRTUAL_ENV": venv, **data["env"]}
    if spec.python_path:
        env["PYTHONPATH"] = ":".join(spec.python_path)
    lines.append("ENV " + " \\\n    ".join(f"{k}={_quote_env(v) if k != 'PATH' else v}" for k, v in env.items()))
    lines.append(f"WORKDIR {spec.carried.workdir}")
    lines += [_copy_line(item) for item in spec.copies]
    code = [item.dest for item in spec.copies if item.kind in ("package", "module")]
    if code:
        # the venv's modules were compiled by pip; the project's are compiled here, at build time,
        # because the image never writes bytecode at run time (read-only roots, PYTHONDONTWRITEBYTECODE)
        lines.append(f"RUN {venv}/bin/python -m compileall -q {' '.join(code)}")
    if spec.carried.env:
        lines.append("ENV " + " \\\n    ".join(f"{k}={_quote_env(v)}" for k, v, _ in spec.carried.env))
    lines.append(f"USER {user['name']}")
    lines += [f"EXPOSE {ins.value}" for ins in spec.carried.expose]
    if spec.carried.entrypoint is not None:
        lines.append(f"ENTRYPOINT {spec.carried.entrypoint.value}")
    if spec.carried.cmd is not None:
        lines.append(f"CMD {spec.carried.cmd.value}")
    return "\n".join(lines) + "\n"
