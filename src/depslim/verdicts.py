"""A verdict for each declared distribution, from the evidence alone.

Order matters and is the whole rule: any runtime import → runtime; an implicit need →
implicit; needed by a runtime distribution → implicit (cutting it frees nothing);
typing-only imports → typing-only; imports only from dev/script code or notebooks, or a
known dev tool → dev-only; nothing at all → unused (the cut list).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import TypeGuard

from depslim.knowledge import load_data
from depslim.model import Context, Evidence, ImportRef, Scope, Verdict


@cache
def dev_tool_patterns() -> tuple[str, ...]:
    return tuple(load_data("dev_tools")["dev_tools"]["patterns"])


def is_dev_tool(name: str) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in dev_tool_patterns())


def import_evidence(ref: ImportRef) -> Evidence:
    """The evidence line for one import, saying what kind of import it was."""
    if ref.notebook:
        kind = "notebook-import"
    elif ref.typing_only:
        kind = "typing-import"
    elif ref.optional:
        kind = "optional-import"
    elif ref.dynamic:
        kind = "dynamic-import"
    else:
        kind = "import"
    return Evidence(ref.location.path, ref.location.line, kind, f"{ref.module} ({ref.context.value})")


def is_runtime_use(ref: ImportRef) -> bool:
    return ref.context is Context.RUNTIME and not ref.typing_only and not ref.notebook


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    evidence: tuple[Evidence, ...]


def decide(
    name: str,
    imports: Sequence[ImportRef],
    implicit: Sequence[Evidence],
    runtime_dependents: Sequence[str],
    reached: Callable[[ImportRef], bool] | None = None,
    unreached_implicit: Sequence[Evidence] = (),
) -> Decision:
    """The verdict for one declared distribution and the evidence behind it.

    `reached` says whether an import sits in code some entrypoint reaches (None: reachability
    unknown, every runtime import counts); `unreached_implicit` are implicit needs seen only in
    code no entrypoint reaches. Both only turn what would be `runtime`/`implicit` into
    `unreachable`, never into a cut by themselves: that is the scope's call.
    """
    runtime_refs = [r for r in imports if is_runtime_use(r)]
    runtime = [import_evidence(r) for r in runtime_refs if reached is None or reached(r)]
    if runtime:
        return Decision(Verdict.RUNTIME, tuple(sorted(runtime)))
    if implicit:
        return Decision(Verdict.IMPLICIT, tuple(sorted(implicit)))
    if runtime_dependents:
        ev = Evidence("", 0, "dependency", f"required by {', '.join(sorted(runtime_dependents))}")
        return Decision(Verdict.IMPLICIT, (ev,))
    unreached = [import_evidence(r) for r in runtime_refs] + list(unreached_implicit)
    if unreached:
        return Decision(Verdict.UNREACHABLE, tuple(sorted(unreached)))
    typing = [import_evidence(r) for r in imports if r.context is Context.RUNTIME and r.typing_only]
    if typing:
        return Decision(Verdict.TYPING_ONLY, tuple(sorted(typing)))
    other = [import_evidence(r) for r in imports]
    if other:
        return Decision(Verdict.DEV_ONLY, tuple(sorted(other)))
    if is_dev_tool(name):
        return Decision(Verdict.DEV_ONLY, (Evidence("", 0, "rule", "known dev tool (depslim data: dev_tools.toml)"),))
    return Decision(Verdict.UNUSED, (Evidence("", 0, "rule", "no import, implicit need or dependent found"),))


CUT_VERDICTS = frozenset({Verdict.UNUSED, Verdict.DEV_ONLY, Verdict.TYPING_ONLY})
KEEP_VERDICTS = frozenset({Verdict.RUNTIME, Verdict.IMPLICIT})


def is_cut(verdict: Verdict | None, scope: Scope = Scope.ALL) -> TypeGuard[Verdict]:
    """Does this verdict take a package out of what ships? `unreachable` only when asked."""
    return verdict in CUT_VERDICTS or (verdict is Verdict.UNREACHABLE and scope is Scope.SERVING)


def is_kept(verdict: Verdict | None, scope: Scope = Scope.ALL) -> bool:
    """Does this verdict keep a package in what ships? (`None`, not analysed, is neither.)"""
    return verdict in KEEP_VERDICTS or (verdict is Verdict.UNREACHABLE and scope is not Scope.SERVING)
