"""Swap and removal rules as data: the packaged `data/swaps.toml` plus the project's own.

A project extends or overrides rules in `[tool.depslim]` (`swaps = [{...}]`, `removals = [...]`,
`disable-swaps = ["id"]`) or in a rules file (`swaps-file = "path.toml"` with the same layout as
the packaged file). Every record is validated on load so a typo fails with the file it is in.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from depslim.errors import InputError
from depslim.inputfile import read_text
from depslim.knowledge import check_keys, load_data
from depslim.model import Owner, SignalPatterns

MB = 1_000_000

_SWAP_REQUIRED = ("id", "from", "to", "owner", "reason")
_SWAP_OPTIONAL = (
    "extra", "build", "to_local", "index_url", "same_version", "held_back_by", "unless_installed",
    "platforms", "reverse_deps_block", "recorded_from_mb", "recorded_to_mb", "recorded_source",
    "min_saving_mb",
)
_REMOVAL_OPTIONAL = ("owner", "recorded_mb", "recorded_source", "reason")
_EVIDENCE_KEYS = ("description", "attributes", "strings", "imports", "entrypoints")
_GPU_KEYS = ("cuda_local", "cpu_local", "cuda_requires", "cuda_files")


@dataclass(frozen=True)
class EvidenceGroup:
    """Code evidence that, seen in runtime code, holds a swap back."""

    name: str
    description: str
    attributes: frozenset[str] = frozenset()
    strings: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    entrypoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class SwapRule:
    id: str
    source: str  # canonical distribution that goes
    target: str  # requirement that comes ("mlflow-skinny", "dvc[s3]", "torch")
    owner: Owner
    reason: str
    extra: str | None = None
    build: str | None = None  # "cuda": only a CUDA build of `source` qualifies
    to_local: str | None = None  # local version label of the incoming build ("cpu")
    index_url: str | None = None
    same_version: bool = False
    held_back_by: tuple[str, ...] = ()
    unless_installed: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    reverse_deps_block: bool = False
    recorded_from_mb: float | None = None
    recorded_to_mb: float | None = None
    recorded_source: str = ""
    min_saving_mb: float = 0.0

    @property
    def target_name(self) -> str:
        from depslim.declared.base import requirement_name

        return requirement_name(self.target) or canonicalize_name(self.target.strip())

    @property
    def recorded_saving_bytes(self) -> int | None:
        if self.recorded_from_mb is None or self.recorded_to_mb is None:
            return None
        return round((self.recorded_from_mb - self.recorded_to_mb) * MB)


@dataclass(frozen=True)
class RemovalRule:
    name: str
    owner: Owner
    recorded_mb: float | None = None
    recorded_source: str = ""
    reason: str = "not imported by runtime code"


@dataclass(frozen=True)
class GpuSignals:
    cuda_local: str
    cpu_local: str
    cuda_requires: tuple[str, ...]
    cuda_files: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    swaps: tuple[SwapRule, ...]
    removals: tuple[RemovalRule, ...]
    evidence: Mapping[str, EvidenceGroup]
    gpu: GpuSignals

    def signal_patterns(self) -> SignalPatterns:
        """Everything the scan must report for these rules' conditions."""
        attributes: set[str] = set()
        strings: list[str] = []
        for group in self.evidence.values():
            attributes |= group.attributes
            strings += [s for s in group.strings if s not in strings]
        return SignalPatterns(attributes=frozenset(attributes), strings=tuple(strings))


def _owner(value: Any, where: str) -> Owner:
    try:
        return Owner(value)
    except ValueError:
        choices = ", ".join(o.value for o in Owner)
        raise InputError(where, f"owner {value!r} is not one of {choices}") from None


def _strs(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(where, f"{key} must be a list of strings")
    return tuple(value)


def _compile_all(patterns: Sequence[str], where: str) -> None:
    for pattern in patterns:
        try:
            re.compile(pattern.removeprefix("re:"))
        except re.error as exc:
            raise InputError(where, f"bad regular expression {pattern!r}: {exc}") from None


def parse_swap(record: Mapping[str, Any], where: str) -> SwapRule:
    check_keys(record, required=_SWAP_REQUIRED, optional=_SWAP_OPTIONAL, where=where)
    for key in ("held_back_by", "unless_installed", "platforms"):
        if key in record:
            _strs(record[key], where, key)
    return SwapRule(
        id=str(record["id"]),
        source=canonicalize_name(str(record["from"])),
        target=str(record["to"]),
        owner=_owner(record["owner"], where),
        reason=str(record["reason"]),
        extra=record.get("extra"),
        build=record.get("build"),
        to_local=record.get("to_local"),
        index_url=record.get("index_url"),
        same_version=bool(record.get("same_version", False)),
        held_back_by=tuple(record.get("held_back_by", ())),
        unless_installed=tuple(canonicalize_name(n) for n in record.get("unless_installed", ())),
        platforms=tuple(record.get("platforms", ())),
        reverse_deps_block=bool(record.get("reverse_deps_block", False)),
        recorded_from_mb=record.get("recorded_from_mb"),
        recorded_to_mb=record.get("recorded_to_mb"),
        recorded_source=str(record.get("recorded_source", "")),
        min_saving_mb=float(record.get("min_saving_mb", 0.0)),
    )


def parse_removal(record: Mapping[str, Any] | str, where: str) -> RemovalRule:
    if isinstance(record, str):
        return RemovalRule(canonicalize_name(record), Owner.DATA_SCIENTIST)
    check_keys(record, required=("name",), optional=_REMOVAL_OPTIONAL, where=where)
    return RemovalRule(
        name=canonicalize_name(str(record["name"])),
        owner=_owner(record.get("owner", Owner.DATA_SCIENTIST.value), where),
        recorded_mb=record.get("recorded_mb"),
        recorded_source=str(record.get("recorded_source", "")),
        reason=str(record.get("reason", "not imported by runtime code")),
    )


def parse_evidence(name: str, record: Mapping[str, Any], where: str) -> EvidenceGroup:
    check_keys(record, required=("description",), optional=_EVIDENCE_KEYS, where=where)
    strings = _strs(record.get("strings", []), where, "strings")
    _compile_all(strings, where)
    return EvidenceGroup(
        name=name,
        description=str(record["description"]),
        attributes=frozenset(_strs(record.get("attributes", []), where, "attributes")),
        strings=strings,
        imports=_strs(record.get("imports", []), where, "imports"),
        entrypoints=_strs(record.get("entrypoints", []), where, "entrypoints"),
    )


def _merge(base: RuleSet, doc: Mapping[str, Any], where: str) -> RuleSet:
    """Project rules override packaged ones with the same id (swaps) or name (removals)."""
    swaps = {rule.id: rule for rule in base.swaps}
    for i, record in enumerate(doc.get("swap", doc.get("swaps", [])) or []):
        rule = parse_swap(record, f"{where} swap[{i}]")
        swaps[rule.id] = rule
    removals = {rule.name: rule for rule in base.removals}
    for i, record in enumerate(doc.get("removal", doc.get("removals", [])) or []):
        removal = parse_removal(record, f"{where} removal[{i}]")
        removals[removal.name] = removal
    evidence = dict(base.evidence)
    for name, record in (doc.get("evidence") or {}).items():
        evidence[name] = parse_evidence(name, record, f"{where} evidence.{name}")
    disabled = set(doc.get("disable-swaps", doc.get("disable_swaps", [])) or [])
    result = RuleSet(
        swaps=tuple(r for r in swaps.values() if r.id not in disabled),
        removals=tuple(r for r in removals.values() if r.name not in disabled),
        evidence=evidence,
        gpu=base.gpu,
    )
    _check_references(result, where)
    return result


def _check_references(rules: RuleSet, where: str) -> None:
    for rule in rules.swaps:
        unknown = [g for g in rule.held_back_by if g not in rules.evidence]
        if unknown:
            raise InputError(where, f"swap {rule.id!r} is held back by unknown evidence group(s): {unknown}")


def packaged_rules() -> RuleSet:
    """The rules shipped in `depslim/data/swaps.toml`, validated."""
    doc = load_data("swaps")
    where = "depslim/data/swaps.toml"
    gpu = doc.get("gpu") or {}
    check_keys(gpu, required=_GPU_KEYS, where=f"{where} [gpu]")
    _compile_all([gpu["cuda_local"], gpu["cpu_local"], *gpu["cuda_requires"], *gpu["cuda_files"]], where)
    empty = RuleSet((), (), {}, GpuSignals(gpu["cuda_local"], gpu["cpu_local"],
                                           tuple(gpu["cuda_requires"]), tuple(gpu["cuda_files"])))
    return _merge(empty, doc, where)


def config_values(config: Any) -> Mapping[str, Any]:
    """`[tool.depslim]` as a plain mapping (accepts the core's ProjectConfig or a dict)."""
    values = getattr(config, "values", None)
    if isinstance(values, Mapping):
        return values
    return config if isinstance(config, Mapping) else {}


def load_rules(config: Any = None, project_root: Path | None = None) -> RuleSet:
    """Packaged rules extended by `[tool.depslim]` (`config`) and its `swaps-file` / `rules-file`."""
    rules = packaged_rules()
    config = config_values(config)
    rules_file = config.get("swaps-file") or config.get("rules-file") or config.get("swaps_file")
    if rules_file:
        path = Path(str(rules_file))
        if not path.is_absolute() and project_root is not None:
            path = project_root / path
        try:
            doc = tomllib.loads(read_text(path))
        except OSError as exc:
            raise InputError(path, f"cannot read swap rules file: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(path, f"not valid TOML: {exc}") from None
        rules = _merge(rules, doc, str(path))
    inline = {k: config[k] for k in ("swaps", "removals", "disable-swaps", "disable_swaps") if k in config}
    if inline:
        rules = _merge(rules, inline, "[tool.depslim]")
    return rules
