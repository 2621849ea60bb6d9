"""Poetry dependency tables → PEP 508 strings, which `packaging` then parses.

Poetry's constraint language (`^1.2`, `~1.2`, `1.2.*`, `>=1 <2`) is not PEP 440, so it is
rewritten into a specifier set first; versions inside it are read with `packaging.version`.
An `||` (either-or) constraint has no PEP 440 form: the version is dropped and a warning says so,
rather than inventing a range the author did not write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

# An operator followed by spaces ("> = " never occurs; ">= 1.2" does): glue it to its version.
_OP_SPACE = re.compile(r"(===|==|!=|>=|<=|~=|>|<|=|\^|~)\s+")
_SPLIT = re.compile(r"[,\s]+")
_PEP440_OPS = ("===", "==", "!=", ">=", "<=", "~=", ">", "<")


class UnsupportedConstraint(ValueError):
    """A Poetry constraint with no PEP 440 equivalent (or not a constraint at all)."""


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise UnsupportedConstraint(f"invalid version {text!r}") from None


def _bump(release: tuple[int, ...], index: int) -> str:
    """The exclusive upper bound: increment release[index], zero what follows (kept at written length)."""
    parts = [*release[:index], release[index] + 1]
    parts += [0] * (len(release) - len(parts))
    return ".".join(str(p) for p in parts)


def _caret(text: str) -> list[str]:
    # ^1.2.3 → <2.0.0; ^0.2.3 → <0.3.0; ^0.0.3 → <0.0.4; ^0 → <1; ^0.0 → <0.1 (Poetry docs).
    release = _version(text).release
    index = next((i for i, part in enumerate(release) if part != 0), len(release) - 1)
    return [f">={text}", f"<{_bump(release, index)}"]


def _tilde(text: str) -> list[str]:
    # ~1.2.3 → <1.3.0; ~1.2 → <1.3; ~1 → <2 (Poetry docs).
    release = _version(text).release
    return [f">={text}", f"<{_bump(release, 0 if len(release) == 1 else 1)}"]


def _token(token: str) -> list[str]:
    if token.startswith("^"):
        return _caret(token[1:])
    if token.startswith("~") and not token.startswith("~="):
        return _tilde(token[1:])
    if token.startswith(_PEP440_OPS):
        return [token]
    if token.startswith("="):
        return ["=" + token]
    if token[:1].isdigit():
        return [f"=={token}"]
    raise UnsupportedConstraint(f"unknown constraint {token!r}")


def to_specifier(constraint: str) -> str:
    """A Poetry constraint as a PEP 440 specifier set string ("" means any version)."""
    text = constraint.strip()
    if text in ("", "*"):
        return ""
    if "||" in text or "|" in text:
        raise UnsupportedConstraint(f"either-or constraint {constraint!r} has no PEP 440 form")
    tokens = [t for t in _SPLIT.split(_OP_SPACE.sub(r"\1", text)) if t and t != "*"]
    specs = [spec for token in tokens for spec in _token(token)]
    try:
        return str(SpecifierSet(",".join(specs)))
    except InvalidSpecifier as exc:
        raise UnsupportedConstraint(f"invalid constraint {constraint!r}: {exc}") from None


def _python_marker(constraint: str) -> str:
    """`python = "^3.8"` → `python_version >= "3.8" and python_version < "4.0"`-style marker."""
    clauses = []
    for spec in SpecifierSet(to_specifier(constraint)):
        assert isinstance(spec, Specifier)
        release = spec.version.removesuffix(".*")
        variable = "python_full_version" if release.count(".") >= 2 else "python_version"
        clauses.append(f'{variable} {spec.operator} "{spec.version}"')
    return " and ".join(clauses)


@dataclass(frozen=True)
class PoetryRequirement:
    """One converted entry: the PEP 508 text, whether Poetry marks it optional, notes to warn about."""

    text: str
    optional: bool
    url: str | None
    notes: tuple[str, ...] = ()


def _direct_url(spec: Mapping[str, Any]) -> str | None:
    if "git" in spec:
        ref = spec.get("rev") or spec.get("tag") or spec.get("branch")
        url = f"git+{spec['git']}" + (f"@{ref}" if ref else "")
        if spec.get("subdirectory"):
            url += f"#subdirectory={spec['subdirectory']}"
        return url
    for key in ("url", "path"):
        if key in spec:
            return str(spec[key])
    return None


def convert(name: str, spec: Any) -> list[PoetryRequirement]:
    """Convert one Poetry dependency (string, table, or list of tables) into PEP 508 strings."""
    if isinstance(spec, list):
        return [item for entry in spec for item in convert(name, entry)]
    if isinstance(spec, str):
        spec = {"version": spec}
    if not isinstance(spec, Mapping):
        raise UnsupportedConstraint(f"dependency {name!r} must be a string or a table")
    notes: list[str] = []
    extras = spec.get("extras") or []
    if not isinstance(extras, list) or not all(isinstance(e, str) for e in extras):
        raise UnsupportedConstraint(f"dependency {name!r}: extras must be a list of names")
    text = name + (f"[{','.join(extras)}]" if extras else "")
    url = _direct_url(spec)
    if url is not None:
        text += f" @ {url}"
    else:
        try:
            text += to_specifier(str(spec.get("version", "*")))
        except UnsupportedConstraint as exc:
            notes.append(f"{name}: {exc}; version dropped")
    markers: list[str] = []
    if spec.get("markers"):
        markers.append(f"({spec['markers']})")
    if spec.get("python"):
        try:
            python = _python_marker(str(spec["python"]))
        except UnsupportedConstraint as exc:
            python = ""
            notes.append(f"{name}: python {exc}; marker dropped")
        if python:
            markers.append(f"({python})")
    if spec.get("platform"):
        markers.append(f'sys_platform == "{spec["platform"]}"')
    if markers:
        text += ("; " if url else " ; ") + " and ".join(markers)
    return [PoetryRequirement(text, bool(spec.get("optional", False)), url, tuple(notes))]
