"""Implicit runtime needs: what code needs without importing it (`data/implicit.toml`).

pandas reads parquet through pyarrow, `s3://` paths go through s3fs, a SQLAlchemy URL names
its driver, a Dockerfile CMD runs uvicorn. Each hit carries the line that proves it, and a
package with such evidence is never cut. A runtime model file is such evidence too: loading its
pickles imports every module they name (`pickled_needs`).
"""

from __future__ import annotations

import os
import shlex
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from packaging.utils import canonicalize_name

from depslim.knowledge import check_keys, load_data
from depslim.mapping import Mapper
from depslim.model import Context, Evidence, InstalledDistribution, ScanResult, SignalPatterns


@dataclass(frozen=True)
class ImplicitRule:
    id: str
    reason: str
    needs: tuple[str, ...]
    attributes: tuple[str, ...] = ()
    strings: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    extra: str = ""  # the need is `needs[...][extra]`: that distribution's extra's requirements


@cache
def rules() -> tuple[ImplicitRule, ...]:
    """The packaged rules, validated."""
    loaded = []
    for i, raw in enumerate(load_data("implicit").get("rule", [])):
        check_keys(
            raw,
            required=("id", "reason", "needs"),
            optional=("attributes", "strings", "commands", "extra"),
            where=f"depslim/data/implicit.toml rule #{i + 1}",
        )
        loaded.append(
            ImplicitRule(
                id=raw["id"],
                reason=raw["reason"],
                needs=tuple(canonicalize_name(n) for n in raw["needs"]),
                attributes=tuple(raw.get("attributes", ())),
                strings=tuple(raw.get("strings", ())),
                commands=tuple(raw.get("commands", ())),
                extra=canonicalize_name(raw.get("extra", "")),
            )
        )
    return tuple(loaded)


def signal_patterns() -> SignalPatterns:
    """What the scan must report so these rules can be decided."""
    return SignalPatterns(
        attributes=frozenset(a for r in rules() for a in r.attributes),
        strings=tuple(dict.fromkeys(s for r in rules() for s in r.strings)),
    )


def merge_patterns(*parts: SignalPatterns) -> SignalPatterns:
    return SignalPatterns(
        attributes=frozenset().union(*(p.attributes for p in parts)),
        strings=tuple(dict.fromkeys(s for p in parts for s in p.strings)),
    )


def _strip(pattern: str) -> str:
    return pattern[3:] if pattern.startswith("re:") else pattern


def _command_words(detail: str) -> set[str]:
    """Program names in an entrypoint's text: shell form, or a Dockerfile exec-form JSON array
    (`CMD ["uvicorn", "app:app"]`, possibly cut at a line continuation), whose brackets, commas
    and quotes are syntax, not part of the words."""
    try:
        words = shlex.split(detail.replace(",", " "))
    except ValueError:
        words = detail.replace(",", " ").split()
    cleaned = (w.strip("[]\"' ") for w in words)
    return {w.rsplit("/", 1)[-1] for w in cleaned if w}


@dataclass(frozen=True)
class ImplicitHit:
    rule: ImplicitRule
    evidence: Evidence


def find_hits(scan: ScanResult, source_line: Callable[[Evidence], str] | None = None,
              launched: Sequence[tuple[str, int, int, Sequence[str]]] = ()) -> list[ImplicitHit]:
    """Every rule that fires on runtime evidence (dev and script code do not make runtime needs).

    `source_line` returns the text of an entrypoint's declaring line (a Dockerfile CMD, a
    Procfile entry), where the command that runs (uvicorn, gunicorn…) is named.
    """
    by_attr: dict[str, list[ImplicitRule]] = defaultdict(list)
    by_string: dict[str, list[ImplicitRule]] = defaultdict(list)
    for rule in rules():
        for a in rule.attributes:
            by_attr[a].append(rule)
        for s in rule.strings:
            by_string[s].append(rule)
    hits: list[ImplicitHit] = []
    # a string handed to a program (`subprocess.run(["aws", "s3", "cp", "s3://b/k", ...])`) is that
    # program's argument, not a path the code opens: the program is the need, not fsspec's backend
    argument_lines = {(path, n) for path, first, last, _words in launched for n in range(first, last + 1)}
    for sig in scan.signals:
        if sig.context is not Context.RUNTIME:
            continue
        if sig.kind == "string" and (sig.location.path, sig.location.line) in argument_lines:
            continue
        table = by_string if sig.kind == "string" else by_attr
        for rule in table.get(_strip(sig.pattern), ()):
            detail = f"{sig.value} ({rule.reason})"
            hits.append(ImplicitHit(rule, Evidence(sig.location.path, sig.location.line, "implicit", detail)))
    for path, line, _last, words in launched:
        program = os.path.basename(words[0]) if words else ""
        for rule in rules():
            if program in rule.commands:
                detail = f"{' '.join(words)[:120]} (the code runs {program})"
                hits.append(ImplicitHit(rule, Evidence(path, line, "implicit", detail)))
    for entry in scan.entrypoints:
        text = source_line(entry) if source_line else ""
        said = _command_words(f"{entry.detail} {text}")
        for rule in rules():
            if said & set(rule.commands):
                hits.append(
                    ImplicitHit(
                        rule, Evidence(entry.path, entry.line, "implicit", f"{entry.detail} ({rule.reason})")
                    )
                )
    return hits


def resolve_needs(
    hits: Sequence[ImplicitHit], declared: Iterable[str], installed: Iterable[str]
) -> Mapping[str, list[Evidence]]:
    """Pick, per hit, the distribution that satisfies it: a declared one first, then an
    installed one, else the rule's first choice (reported missing by the caller)."""
    declared_set, installed_set = set(declared), set(installed)
    needed: dict[str, list[Evidence]] = defaultdict(list)
    for hit in hits:
        choice = _pick(hit.rule.needs, declared_set, installed_set)
        if hit.evidence not in needed[choice]:
            needed[choice].append(hit.evidence)
    return needed


def extra_needs(
    hits: Sequence[ImplicitHit],
    installed: Mapping[str, InstalledDistribution],
    markers: Mapping[str, str],
    declared: Iterable[str],
) -> Mapping[str, list[Evidence]]:
    """What the extras a feature needs add (`from ray import serve` needs `ray[serve]`): each of
    the extra's requirements, read from the installed metadata, with the hit as evidence. A base
    written without the extra would install `ray` alone and the service would fail at import."""
    from depslim.graph import extra_requirements

    declared_set = set(declared)
    needed: dict[str, list[Evidence]] = defaultdict(list)
    for hit in hits:
        if not hit.rule.extra:
            continue
        owner = _pick(hit.rule.needs, declared_set, set(installed))
        for name in extra_requirements(installed, owner, hit.rule.extra, markers):
            evidence = Evidence(hit.evidence.path, hit.evidence.line, "implicit",
                                f"{hit.evidence.detail}: {owner}[{hit.rule.extra}] requires {name}")
            if evidence not in needed[name]:
                needed[name].append(evidence)
    return needed


def _pick(needs: Sequence[str], declared: set[str], installed: set[str]) -> str:
    """A declared distribution first, then an installed one, else the first candidate."""
    choice = next((n for n in needs if n in declared), None)
    return choice or next((n for n in needs if n in installed), None) or needs[0]


def pickled_needs(
    scan: ScanResult, mapper: Mapper, declared: Iterable[str], installed: Iterable[str]
) -> Mapping[str, list[Evidence]]:
    """What runtime model files need to be loaded: the distribution of each third-party module
    their pickles name, mapped as imports are, with the file as evidence.

    A pickle under tests/ or scripts/ makes no runtime need, as dev code's imports do not.
    """
    declared_set, installed_set = set(declared), set(installed)
    needed: dict[str, dict[Evidence, None]] = defaultdict(dict)
    for pickled in scan.pickled:
        if pickled.context is not Context.RUNTIME:
            continue
        path = pickled.location.path
        for module, attribute in pickled.names:
            top = module.partition(".")[0]
            if top not in pickled.modules or top in scan.first_party:
                continue
            mapped = mapper.map(module)
            if not mapped.distributions:
                continue
            named = f"{module}.{attribute}" if attribute else module
            evidence = Evidence(path, 0, "implicit", f"{named} (pickled in {path})")
            needed[_pick(mapped.distributions, declared_set, installed_set)][evidence] = None
    return {name: list(evidence) for name, evidence in needed.items()}


def with_pickled_needs(
    implicit: Mapping[str, list[Evidence]],
    scan: ScanResult,
    mapper: Mapper,
    declared: Iterable[str],
    installed: Iterable[str],
) -> Mapping[str, list[Evidence]]:
    """`implicit` (from `resolve_needs`) with the runtime model files' needs added."""
    merged = {name: list(evidence) for name, evidence in implicit.items()}
    for name, evidence in pickled_needs(scan, mapper, declared, installed).items():
        have = merged.setdefault(name, [])
        have.extend(e for e in evidence if e not in have)
    return merged
