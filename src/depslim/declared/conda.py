"""Conda environment files (`environment.yml`): the `dependencies:` list and its `- pip:` list.

The pip list is what conda hands to pip as a requirements file, so it is read as one (options,
`-r` includes relative to the file, `-e .`), each line keeping its line in the environment file.
The conda packages are declarations too where they are Python distributions: under their PyPI
name (`pytorch` is torch, `py-xgboost` is xgboost: `data/conda.toml [names]`), and not at all
when they are not (the interpreter, C libraries, compilers, CUDA runtimes: `[not_python]`), or
every analysis would call them unused. Conda version specs become PEP 440 where PEP 440 can say
the same (`=1.2` is `==1.2.*`, `1.2.*`, `>=1,<2`); one it cannot (`1.2|1.4`) is declared without a
version, with a warning.

The file is dev when its name says so (`environment-dev.yml`), optional when its name says that
(`environment-optional.yml`), as for requirements files; else runtime.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from depslim.declared import envyaml
from depslim.declared.base import Collector, declared_from, read_requirement
from depslim.declared.classify import is_dev_file, is_optional_file
from depslim.declared.requirements import RequirementsReader
from depslim.errors import InputError
from depslim.fsio import decode_text
from depslim.inputfile import read_bytes
from depslim.knowledge import check_keys, load_data
from depslim.model import Location

_DATA = "conda"
# `[channel::]name` then the rest of a match spec; a channel may carry a subdir or label path.
_SPEC = re.compile(r"(?:[\w.\-]+(?:/[\w.\-]+)*::)?([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(.*)")
_CONSTRAINT = re.compile(r"(==|!=|>=|<=|~=|>|<|=)?\s*([0-9A-Za-z_.*+!]+)")
_BRACKET_VERSION = re.compile(r"""version\s*=\s*(["']?)([^"'\],]+)\1""")


@cache
def _knowledge() -> tuple[Mapping[str, str], tuple[str, ...], frozenset[str]]:
    data = load_data(_DATA)
    where = f"depslim/data/{_DATA}.toml"
    check_keys(data, required=("names", "not_python", "python_despite"), where=where)
    check_keys(data["not_python"], required=("patterns",), where=f"{where} [not_python]")
    check_keys(data["python_despite"], required=("names",), where=f"{where} [python_despite]")
    names: dict[str, str] = {canonicalize_name(k): canonicalize_name(v) for k, v in data["names"].items()}
    return names, tuple(data["not_python"]["patterns"]), frozenset(data["python_despite"]["names"])


def pypi_name(conda_name: str) -> str | None:
    """The PyPI distribution a conda package is, or None when it is no Python distribution."""
    names, not_python, despite = _knowledge()
    name = canonicalize_name(conda_name)
    if name in names:
        return names[name]
    if name not in despite and any(fnmatchcase(name, pattern) for pattern in not_python):
        return None
    return name


def pep440(spec: str) -> str | None:
    """A conda version spec as a PEP 440 specifier ("" for any version); None when PEP 440 cannot
    say it (an `|` alternative, a build-string glob)."""
    spec = spec.strip()
    if spec in ("", "*"):
        return ""
    if "|" in spec:
        return None
    out: list[str] = []
    for part in spec.split(","):
        match = _CONSTRAINT.fullmatch(part.strip())
        if match is None:
            return None
        op, version = match.group(1) or "==", match.group(2)
        if version.endswith("*") and not version.endswith(".*"):
            version = version[:-1].rstrip(".") + ".*"  # conda's `1.8*` is `1.8.*`
        if match.group(1) == "=":  # conda's fuzzy `=1.2` matches 1.2, 1.2.x
            version = version if version.endswith(".*") else version + ".*"
            op = "=="
        if version == ".*":
            continue
        out.append(f"{op}{version}")
    text = ",".join(out)
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return None
    return text


def match_spec(item: str) -> tuple[str, str | None] | None:
    """`numpy>=1.24`, `numpy=1.24`, `numpy 1.24.* py311_0`, `conda-forge::numpy=1.24=h2`,
    `numpy[version='>=1.24']` -> (conda name, PEP 440 specifier or None when it has none PEP 440
    can say); None when the text is no match spec at all."""
    match = _SPEC.fullmatch(item.strip())
    if match is None:
        return None
    name, rest = match.group(1), match.group(2).strip()
    if rest.startswith("["):
        found = _BRACKET_VERSION.search(rest)
        return name, (pep440(found.group(2)) if found else "")
    if rest.startswith("=") and not rest.startswith("=="):
        version, _, build = rest[1:].partition("=")
        return name, pep440(f"=={version}" if build and "*" not in version else f"={version}")
    if rest[:1] in ("<", ">", "!", "~", "="):
        return name, pep440(rest.replace(" ", ""))
    words = rest.split()
    return name, (pep440(words[0]) if words else "")


def declare_conda(collector: Collector, rel: str, name: str, spec: str | None, line: int, *,
                  group: str, dev: bool, source: str) -> None:
    """One conda package as a declaration (nothing for a non-Python package)."""
    pypi = pypi_name(name)
    if pypi is None:
        return
    if spec is None:
        collector.warnings.append(f"{rel}:{line}: {name}: conda version spec PEP 440 cannot say; "
                                  "declared without a version")
        spec = ""
    req = read_requirement(f"{pypi}{spec}")
    if req is None:
        collector.warnings.append(f"{rel}:{line}: {name}{spec}: not a valid requirement; declared without a version")
        req = _bare_requirement(pypi, rel, line)
    collector.add(declared_from(req, Location(rel, line), group=group, source=source, dev=dev))


def _bare_requirement(name: str, rel: str, line: int) -> Requirement:
    """The package without a version; a name no requirement can hold (`-x`, `a b`) is bad input."""
    req = read_requirement(name)
    if req is None:
        raise InputError(rel, f"{name!r} is not a valid package name", line)
    return req


def _file_group(rel: str, text: str) -> tuple[str, bool]:
    if is_dev_file(rel):
        return "dev", True
    if is_optional_file(rel, text):
        return f"optional:{rel}", False
    return "main", False


def read_environment_yml(collector: Collector, path: Path) -> None:
    """Read a conda environment file into `collector`; bad input is one `InputError` at file:line."""
    rel = collector.rel(path)
    try:
        text = decode_text(read_bytes(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(rel, f"cannot read: {exc}") from None
    document = envyaml.parse(text, rel)
    collector.files.add(rel)
    if document is None:
        return
    if not isinstance(document, envyaml.Map):
        raise InputError(rel, "expected a mapping (name:, channels:, dependencies:) at the top level", _line(document))
    group, dev = _file_group(rel, text)
    for key, key_line, value in document.entries:
        if key != "dependencies" or value is None:
            continue
        if not isinstance(value, envyaml.Seq):
            raise InputError(rel, "dependencies: expected a list", key_line)
        for item in value.items:
            if isinstance(item, envyaml.Scalar):
                _conda_item(collector, rel, item, group=group, dev=dev)
            elif isinstance(item, envyaml.Map) and [k for k, _, _ in item.entries] == ["pip"]:
                _pip_list(collector, path, item.entries[0], group=group, dev=dev)
            else:
                raise InputError(rel, "dependencies: expected a package or `- pip:` with a list", _line(item))


def _conda_item(collector: Collector, rel: str, item: envyaml.Scalar, *, group: str, dev: bool) -> None:
    spec = match_spec(item.value)
    if spec is None:
        raise InputError(rel, f"dependencies: {item.value!r} is not a conda package spec", item.line)
    declare_conda(collector, rel, spec[0], spec[1], item.line, group=group, dev=dev, source="conda")


def _pip_list(collector: Collector, path: Path, entry: tuple[str, int, envyaml.Node], *, group: str,
              dev: bool) -> None:
    _, line, value = entry
    if value is None:
        return
    if not isinstance(value, envyaml.Seq) or not all(isinstance(i, envyaml.Scalar) for i in value.items):
        raise InputError(collector.rel(path), "pip: expected a list of requirements", line)
    reader = RequirementsReader(collector)
    reader.read_lines(path, [(i.line, i.value) for i in value.items if isinstance(i, envyaml.Scalar)],
                      group=group, dev=dev, source="conda-pip")
    collector.constraint_files |= reader.constraint_files


def _line(node: envyaml.Node) -> int | None:
    return node.line if node is not None else None
