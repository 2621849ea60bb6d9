"""What the slim image keeps from the original: how it starts and what it is told.

`CMD`, `ENTRYPOINT`, `EXPOSE`, `WORKDIR` and the project's own `ENV` come from the project's
Dockerfile (final stage, with what it inherits from earlier stages of the same file), else from
the original image's config. Values a base image sets (PATH, PYTHON_VERSION, NVIDIA_*…) are not
the project's and stay behind; so does every secret-looking value, which the slim Dockerfile
must never carry (it is committed): the note tells the user to pass it at run time instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from depslim.dockerfile.parse import Dockerfile, Stage, exec_form, parse_dockerfile, parse_env
from depslim.model import Evidence
from depslim.redact import is_secret_key, redact
from depslim.slim.base import slim_data


@dataclass(frozen=True)
class Instruction:
    """One instruction to carry, with where it came from."""

    keyword: str  # CMD | ENTRYPOINT | EXPOSE | WORKDIR | ENV
    value: str  # as written (exec or shell form): the slim image starts the same process the same way
    evidence: Evidence


@dataclass(frozen=True)
class Carried:
    """What the slim Dockerfile repeats from the original, and what it deliberately leaves out."""

    cmd: Instruction | None = None
    entrypoint: Instruction | None = None
    expose: tuple[Instruction, ...] = ()
    workdir: str = "/app"
    workdir_evidence: Evidence | None = None
    env: tuple[tuple[str, str, Evidence], ...] = ()  # (name, value, where)
    dropped_env: tuple[tuple[str, str, Evidence], ...] = ()  # (name, why, where): secrets, base-owned
    source: str = ""  # the Dockerfile path or "image <ref>"

    def command_words(self) -> list[str]:
        """ENTRYPOINT + CMD as the container runs them (exec form), for probes and reachability."""
        words: list[str] = []
        for ins in (self.entrypoint, self.cmd):
            if ins is not None:
                words += exec_words(ins.value)
        return words


def exec_words(value: str) -> list[str]:
    """An instruction value as argv: exec form as given, shell form as `/bin/sh -c`."""
    return exec_form(value) or ["/bin/sh", "-c", value.strip()]


def _owner(name: str) -> str | None:
    """Why an ENV name is not the project's to carry: the slim image sets it, or the base does."""
    data = slim_data()["base_env"]
    if any(fnmatchcase(name, pattern) for pattern in data["slim_sets"]):
        return "set by the slim image itself"
    if any(fnmatchcase(name, pattern) for pattern in data["names"]):
        return "set by the base image"
    return None


def _env_rows(pairs: Sequence[tuple[str, str, Evidence]]) -> tuple[list[tuple[str, str, Evidence]],
                                                                      list[tuple[str, str, Evidence]]]:
    kept: dict[str, tuple[str, str, Evidence]] = {}
    dropped: dict[str, tuple[str, str, Evidence]] = {}
    for name, value, where in pairs:
        kept.pop(name, None)
        dropped.pop(name, None)
        owner = _owner(name)
        if owner:
            dropped[name] = (name, owner, where)
        elif is_secret_key(name) or redact(value) != value:
            dropped[name] = (name, "secret-looking value: pass it at run time (docker run -e / a secret store), "
                                   "never in the Dockerfile", where)
        else:
            kept[name] = (name, value, where)
    return list(kept.values()), list(dropped.values())


def _chain(dockerfile: Dockerfile) -> list[Stage]:
    return dockerfile.shipped()


def from_dockerfile(path: Path, rel: str) -> Carried:
    """Carry from the final stage of a Dockerfile (and the stages of the same file it builds on)."""
    parsed = parse_dockerfile(path)
    cmd = entry = None
    expose: list[Instruction] = []
    workdir, workdir_ev = "/app", None
    env: list[tuple[str, str, Evidence]] = []
    for stage in _chain(parsed):
        for ins in stage.instructions:
            ev = Evidence(rel, ins.line, "dockerfile", redact(f"{ins.keyword} {ins.args}")[:200])
            if ins.keyword == "CMD":
                cmd = Instruction("CMD", ins.args.strip(), ev)
            elif ins.keyword == "ENTRYPOINT":
                entry = Instruction("ENTRYPOINT", ins.args.strip(), ev)
                cmd = None  # docker resets CMD when a later ENTRYPOINT is set
            elif ins.keyword == "EXPOSE":
                expose.append(Instruction("EXPOSE", ins.args.strip(), ev))
            elif ins.keyword == "WORKDIR":
                value = ins.args.strip()
                workdir = value if value.startswith("/") else f"{workdir.rstrip('/')}/{value}"
                workdir_ev = ev
            elif ins.keyword == "ENV":
                env += [(k, v, ev) for k, v in parse_env(ins.args).items()]
    kept, dropped = _env_rows(env)
    return Carried(cmd, entry, tuple(expose), workdir, workdir_ev, tuple(kept), tuple(dropped), rel)


def from_image_config(config: Mapping[str, Any], ref: str) -> Carried:
    """Carry from an image's config when the project has no Dockerfile."""
    inner = config.get("config") if isinstance(config.get("config"), Mapping) else {}
    assert isinstance(inner, Mapping)
    ev = Evidence(f"image {ref}", 0, "image-config", "")

    def words(key: str) -> list[str] | None:
        value = inner.get(key)
        return [w for w in value if isinstance(w, str)] if isinstance(value, list) else None

    cmd_words, entry_words = words("Cmd"), words("Entrypoint")
    cmd = Instruction("CMD", json.dumps(cmd_words), ev) if cmd_words else None
    entry = Instruction("ENTRYPOINT", json.dumps(entry_words), ev) if entry_words else None
    ports = inner.get("ExposedPorts")
    expose = tuple(Instruction("EXPOSE", str(p), ev) for p in sorted(ports)) if isinstance(ports, Mapping) else ()
    given = inner.get("WorkingDir")
    workdir = given if isinstance(given, str) and given else "/app"
    pairs = []
    for item in inner.get("Env") or []:
        if isinstance(item, str) and "=" in item:
            key, _, value = item.partition("=")
            pairs.append((key, value, ev))
    kept, dropped = _env_rows(pairs)
    return Carried(cmd, entry, expose, str(workdir), ev, tuple(kept), tuple(dropped), f"image {ref}")
