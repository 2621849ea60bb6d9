"""Runtime vs dev requirements from evidence: `requirements-base.txt`, `requirements-dev.txt`
and the cut list (`depslim-cuts.md`).

Everything here is a pure function of (Report, DeclaredSet, accepted swaps, options), so the
same inputs always give byte-identical texts (sorted, no timestamps, no absolute paths) and the
whole plan is computed before anything is written.

Decisions (documented because reviewers ask):
- `runtime` and `implicit` verdicts go to base; `typing-only` goes to dev (type checkers run in
  dev, nothing imports it at runtime) and is listed under "Moved to dev" in the cut list.
- `dev-only` goes to dev; `unused` is dropped and listed with its retained bytes and evidence,
  except a package the user declared only as dev, which stays in dev (dev environments are the
  user's call; the cut list is about what ships).
- A declared package with no verdict (not analysed) stays in base: depslim never drops what it
  has no evidence about.
- A package declared only as opt-in (an extra, a pixi feature, an optional requirements file such
  as `requirements-optional.txt`: groups "optional:...") is no part of the runtime base: it goes to
  base only when runtime code needs it whatever (an import outside try/except ImportError, or an
  implicit need), to dev when only dev code uses it, and else is listed as "optional" (never as
  "dropped": it was never in the runtime; a swap for it does not apply).
- A package imported by runtime code but not declared is added to base, pinned to the target's
  version, with a "not declared upstream" reason: `transitive` (only installed as someone else's
  dependency: the import must not break when the parent changes its own) and `undeclared`
  (installed, declared nowhere: the old image happened to have it). A `missing` import (installed
  nowhere) is added unpinned when its distribution is known by name (a packaged alias or the
  environment's metadata), else it is a note: depslim never invents a distribution name.
- `-e .` / a path to the project itself stays in base for `split` (`keep_local_project`); `slim`
  copies the code instead and leaves it out.
- Pins are `==` the version installed in the target; when it is not installed the declared
  specifier is kept. Extras and markers carry over; so do index options (`${VAR}` kept as written).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from depslim.declared.base import parse_requirement, requirement_name
from depslim.errors import InputError
from depslim.generate.stamp import stamp
from depslim.mapping import KNOWN_MAPPINGS
from depslim.model import (
    DeclaredRequirement,
    DeclaredSet,
    DistributionReport,
    Evidence,
    Finding,
    Report,
    Scope,
    Verdict,
)
from depslim.redact import has_literal_credential, literal_credential_note
from depslim.units import human_bytes as format_bytes
from depslim.verdicts import is_kept

# Import problems whose distribution goes into base anyway: the runtime imports it.
_UNDECLARED = ("transitive", "undeclared", "missing", "undeclared-implicit", "missing-implicit")
# Import → distribution mappings that name a real distribution even when it is not installed
# (never `identity`, a guess, nor `ambiguous`, a choice among candidates).
_KNOWN_MAPPINGS = KNOWN_MAPPINGS

# Which evidence explains a runtime line, best first.
_RUNTIME_KINDS = ("import", "dynamic-import", "optional-import", "entrypoint", "notebook-import")
_DEV_KINDS = ("import", "dynamic-import", "optional-import", "notebook-import", "typing-import", "rule")


@dataclass(frozen=True)
class SplitOptions:
    """File names the generated texts refer to (the dev file includes the base by name)."""

    base_name: str = "requirements-base.txt"
    dev_name: str = "requirements-dev.txt"
    cuts_name: str = "depslim-cuts.md"
    keep_local_project: bool = True
    command: str = "depslim split"
    # Exact pins (==installed) for declared packages: right for an application's requirements files,
    # wrong for a library's pyproject, whose ranges its users resolve against (`split --to pyproject`).
    pin: bool = True


@dataclass(frozen=True)
class Line:
    """One requirement line of a generated file and why it is there."""

    name: str  # canonical name ("" for an unnamed URL requirement)
    requirement: str
    reason: str

    def render(self) -> str:
        return f"{self.requirement}  # {self.reason}"


@dataclass(frozen=True)
class Cut:
    """Something that is not in the base file, with what it weighs and why."""

    name: str
    version: str | None
    kind: str  # dropped | unreachable | moved-to-dev | swapped | optional
    why: str
    size_bytes: int | None
    estimate: bool = False
    evidence: tuple[Evidence, ...] = ()
    replacement: str = ""
    label: str = ""  # what the user declared/pinned, e.g. "black==24.3.0"


@dataclass(frozen=True)
class SplitResult:
    """The computed plan and its rendered texts (stamped, ready for atomic writes)."""

    base: tuple[Line, ...]
    dev: tuple[Line, ...]
    cuts: tuple[Cut, ...]
    index_lines: tuple[str, ...]
    base_text: str
    dev_text: str
    cuts_text: str
    notes: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- swaps


def swap_from(finding: Finding) -> str:
    """The canonical name a swap finding removes (`subject`, else the name in data["from"])."""
    if finding.subject:
        return canonicalize_name(finding.subject)
    text = str(finding.data.get("from", ""))
    return requirement_name(text) or canonicalize_name(text)


def _swap_to(finding: Finding) -> tuple[str, ...]:
    to = finding.data.get("to", ())
    items: Iterable[object] = (to,) if isinstance(to, str) else to  # type: ignore[assignment]
    return tuple(str(item) for item in items if str(item).strip())


def _swap_index(finding: Finding) -> tuple[str, ...]:
    lines = finding.data.get("index_lines", finding.data.get("index", ()))
    items: Iterable[object] = (lines,) if isinstance(lines, str) else lines  # type: ignore[assignment]
    return tuple(str(item).strip() for item in items if str(item).strip())


def select_swaps(report: Report, *, apply_all: bool = False, ids: Sequence[str] = ()) -> tuple[Finding, ...]:
    """The swap findings the user accepted: all (`--apply-swaps`) or by id / from-name (`--swap`)."""
    swaps = sorted((f for f in report.findings if f.code == "swap"), key=lambda f: f.id)
    if apply_all:
        return tuple(swaps)
    chosen: list[Finding] = []
    for wanted in ids:
        match = [f for f in swaps if wanted in (f.id, f.subject) or canonicalize_name(wanted) == swap_from(f)]
        if not match:
            known = ", ".join(f.id for f in swaps) or "none"
            raise InputError("--swap", f"no swap finding {wanted!r} in this analysis (known: {known})")
        chosen.extend(m for m in match if m not in chosen)
    return tuple(sorted(chosen, key=lambda f: f.id))


# --------------------------------------------------------------------------- reasons


def _pick(evidence: Iterable[Evidence], kinds: Sequence[str]) -> Evidence | None:
    ranked = [e for e in sorted(evidence) if e.kind in kinds]
    ranked.sort(key=lambda e: kinds.index(e.kind))
    return ranked[0] if ranked else None


def _where(ev: Evidence) -> str:
    return f"{ev.path}:{ev.line}" if ev.line else ev.path


def runtime_reason(dist: DistributionReport) -> str:
    ev = _pick(dist.evidence, _RUNTIME_KINDS)
    return f"{ev.kind}: {_where(ev)}" if ev else "runtime"


def implicit_reason(dist: DistributionReport) -> str:
    ev = _pick(dist.evidence, ("implicit",))
    if ev is None:
        return "implicit"
    return f"implicit: {ev.detail} in {_where(ev)}" if ev.detail else f"implicit: {_where(ev)}"


def unreachable_reason(dist: DistributionReport, report: Report) -> str:
    ev = _pick(dist.evidence, (*_RUNTIME_KINDS, "implicit"))
    served = ", ".join(sorted({_where(e) for e in report.entrypoints})) or "no entrypoint"
    where = f" at {_where(ev)}" if ev else ""
    return f"unreachable: imported{where}, code no served entrypoint reaches ({served})"


def dev_reason(dist: DistributionReport) -> str:
    ev = _pick(dist.evidence, _DEV_KINDS)
    if dist.verdict is Verdict.TYPING_ONLY:
        return f"typing-only: {_where(ev)}" if ev else "typing-only"
    if ev is None:
        return "dev-only"
    if ev.kind == "rule":
        return f"dev tool{': ' + ev.detail if ev.detail else ''}"
    return f"dev-only: {_where(ev)}"


def _declared_where(reqs: Sequence[DeclaredRequirement]) -> str:
    return ", ".join(sorted({str(r.location) for r in reqs}))


def _cut_why(dist: DistributionReport, reqs: Sequence[DeclaredRequirement]) -> str:
    return f"unused: no import or implicit use found; declared at {_declared_where(reqs)}"


def _left_optional(reqs: Sequence[DeclaredRequirement], dist: DistributionReport | None) -> bool:
    """Declared only as opt-in (maybe also as dev), and runtime code does not need it whatever:
    no implicit need, no import outside try/except ImportError (a guard that re-raises is no
    guard: the scanner reads that as a plain import). Dev-only use is left to the dev rules."""
    if all(r.dev for r in reqs) or not all(r.dev or r.group.startswith("optional:") for r in reqs):
        return False
    verdict = dist.verdict if dist is not None else None
    if verdict in (Verdict.TYPING_ONLY, Verdict.DEV_ONLY, Verdict.IMPLICIT):
        return False
    return dist is None or not any(e.kind in _RUNTIME_KINDS and e.kind != "optional-import" for e in dist.evidence)


def _optional_why(dist: DistributionReport | None, reqs: Sequence[DeclaredRequirement]) -> str:
    where = _declared_where([r for r in reqs if not r.dev])
    if dist is None or dist.verdict is None:
        return f"optional: declared at {where}; no verdict in the analysis"
    ev = _pick(dist.evidence, _RUNTIME_KINDS)
    if ev is None:
        return f"optional: declared at {where}; never imported"
    return f"optional: declared at {where}; runtime code works without it (optional import at {_where(ev)})"


# --------------------------------------------------------------------------- lines


def _requirement_text(reqs: Sequence[DeclaredRequirement], dist: DistributionReport | None, pin: bool = True) -> str:
    """Pin to the target's version (or keep the declared specifier when not `pin`); keep extras,
    markers and URLs from the declaration."""
    first = reqs[0]
    if first.editable:
        return f"-e {first.url or first.requirement}"
    parsed = [parse_requirement(r.requirement, r.location.path, r.location.line or None) for r in reqs]
    req = parsed[0]
    extras = sorted(set().union(*(p.extras for p in parsed)))
    name = req.name + (f"[{','.join(extras)}]" if extras else "")
    if req.url:
        text = f"{name} @ {req.url}"
    elif pin and dist is not None and dist.installed and dist.version:
        text = f"{name}=={dist.version}"
    else:
        text = f"{name}{req.specifier}"
    return f"{text} ; {req.marker}" if req.marker else text


def _from_rule(finding: Finding) -> bool:
    """A need a packaged rule names (its distribution name is real), not a guess from a module name."""
    return any(e.kind == "implicit" and "pickled in" not in e.detail for e in finding.evidence)


def _swap_destination(verdict: Verdict | None, scope: Scope, dev_declared: bool) -> str | None:
    """Where a swapped package's twin goes: where the package itself would have gone (base for what
    ships, dev for a dev-only one); None when it is cut anyway, so the swap does not apply."""
    if dev_declared or verdict in (Verdict.DEV_ONLY, Verdict.TYPING_ONLY):
        return "dev"
    if verdict is None or is_kept(verdict, scope):
        return "base"
    return None


def _is_local_path(req: DeclaredRequirement) -> bool:
    """`-e .`, `.`, `./pkg`, `file:` URLs: code of the project's tree, not an index package."""
    text = (req.url or req.requirement).strip()
    return text.startswith((".", "/", "file:")) or text in ("", ".")


def _pin(name: str, dist: DistributionReport | None, pin: bool = True) -> str:
    """An added (undeclared) requirement: == the installed version, or >= it when not pinning."""
    if dist is None or not dist.installed or not dist.version:
        return name
    return f"{name}{'==' if pin else '>='}{dist.version}"


def _group(declared: DeclaredSet) -> tuple[dict[str, list[DeclaredRequirement]], list[DeclaredRequirement]]:
    named: dict[str, list[DeclaredRequirement]] = {}
    unnamed: list[DeclaredRequirement] = []
    for req in sorted(declared.requirements, key=lambda r: (r.location, r.requirement)):
        if req.constraint:
            continue
        if req.name is None:
            unnamed.append(req)
        else:
            named.setdefault(canonicalize_name(req.name), []).append(req)
    return named, unnamed


def index_lines(declared: DeclaredSet, swaps: Sequence[Finding]) -> tuple[str, ...]:
    """Index options for the base file: the sources' own lines first, then what swaps need."""
    idx = declared.index
    lines: list[str] = []
    if idx.index_url:
        lines.append(f"--index-url {idx.index_url}")
    lines += [f"--extra-index-url {u}" for u in idx.extra_index_urls]
    lines += [f"--find-links {u}" for u in idx.find_links]
    lines += [f"--trusted-host {h}" for h in idx.trusted_hosts]
    for finding in swaps:
        for line in _swap_index(finding):
            option, _, value = line.partition(" ")
            if option in ("-i", "--index-url") and any(x.startswith("--index-url") for x in lines):
                line = f"--extra-index-url {value.strip()}"  # keep the user's primary index
            if line not in lines:
                lines.append(line)
    return tuple(lines)


def credential_notes(declared: DeclaredSet) -> list[str]:
    """Where a declaration holds a credential in clear: it is masked in every file depslim writes
    (`stamp` redacts), so the file would not authenticate; the user is told to use a reference."""
    out = [literal_credential_note(str(req.location)) for req in declared.requirements
           if has_literal_credential(f"{req.requirement} {req.url or ''}")]
    idx = declared.index
    if any(has_literal_credential(url) for url in (idx.index_url or "", *idx.extra_index_urls, *idx.find_links)):
        out.append(literal_credential_note("an index option (--index-url / --extra-index-url / --find-links)"))
    return list(dict.fromkeys(out))


def plan_split(
    report: Report,
    declared: DeclaredSet,
    swaps: Sequence[Finding] = (),
    options: SplitOptions = SplitOptions(),
) -> SplitResult:
    """Compute base/dev lines and the cut list, and render the three stamped texts."""
    named, unnamed = _group(declared)
    swapped = {swap_from(f): f for f in swaps}
    swap_into: dict[str, str] = {}  # swapped name -> "base" | "dev": where its twin goes
    base: dict[str, Line] = {}
    dev: dict[str, Line] = {}
    cuts: list[Cut] = []
    notes: list[str] = []

    for name, reqs in sorted(named.items()):
        dist = report.distribution(name)
        text = _requirement_text(reqs, dist, options.pin)
        label = text.split(" ;", 1)[0]
        dev_declared = all(r.dev for r in reqs)
        verdict = dist.verdict if dist is not None else None
        if _left_optional(reqs, dist):
            cuts.append(Cut(name, dist.version if dist else None, "optional", _optional_why(dist, reqs),
                            dist.retained_bytes if dist and dist.installed else None,
                            evidence=dist.evidence if dist else (), label=label))
            continue
        destination = _swap_destination(verdict, report.scope, dev_declared) if name in swapped else None
        if destination is not None:
            finding = swapped[name]
            swap_into[name] = destination
            cuts.append(Cut(name, dist.version if dist else None, "swapped", finding.title or finding.id,
                            finding.savings_bytes, finding.estimate, finding.evidence,
                            ", ".join(_swap_to(finding)), label))
            continue
        if verdict is Verdict.RUNTIME:
            base[name] = Line(name, text, runtime_reason(dist))  # type: ignore[arg-type]
        elif verdict is Verdict.IMPLICIT:
            base[name] = Line(name, text, implicit_reason(dist))  # type: ignore[arg-type]
        elif verdict is Verdict.UNREACHABLE:
            assert dist is not None
            reason = unreachable_reason(dist, report)
            if report.scope is Scope.SERVING and not dev_declared:
                cuts.append(Cut(name, dist.version, "unreachable", reason,
                                dist.retained_bytes if dist.installed else None, evidence=dist.evidence, label=label))
            elif dev_declared:
                dev[name] = Line(name, text, reason)
            else:
                base[name] = Line(name, text, f"{reason}; kept (--scope all)")
        elif verdict in (Verdict.TYPING_ONLY, Verdict.DEV_ONLY):
            reason = dev_reason(dist)  # type: ignore[arg-type]
            dev[name] = Line(name, text, reason)
            if not dev_declared:
                cuts.append(Cut(name, dist.version if dist else None, "moved-to-dev", reason,
                                dist.retained_bytes if dist and dist.installed else None,
                                evidence=dist.evidence if dist else (), label=label))
        elif verdict is Verdict.UNUSED:
            if dev_declared:
                dev[name] = Line(name, text, f"dev-declared: {_declared_where(reqs)} (no import seen)")
            else:
                cuts.append(Cut(name, dist.version if dist else None, "dropped", _cut_why(dist, reqs),  # type: ignore[arg-type]
                                dist.retained_bytes if dist and dist.installed else None,
                                evidence=dist.evidence if dist else (), label=label))
        elif dev_declared:
            dev[name] = Line(name, text, f"dev-declared: {_declared_where(reqs)}")
        else:
            base[name] = Line(name, text, f"declared: {_declared_where(reqs)} (no verdict: kept)")
            notes.append(f"{name}: no verdict in the analysis; kept in {options.base_name}")

    for req in unnamed:
        if not options.keep_local_project and _is_local_path(req):
            notes.append(f"{req.requirement} ({req.location}): the project itself is copied into the image, "
                         f"not installed from {options.base_name}")
            continue
        target = dev if req.dev else base
        text = f"-e {req.url or req.requirement}" if req.editable else req.requirement
        target[f"~{req.requirement}"] = Line("", text, f"declared: {req.location}")

    for finding in swaps:
        gone = swap_from(finding)
        if gone not in swap_into:  # what it replaces is cut anyway: a lean twin must not bring it back
            continue
        saving = (f" ({format_bytes(-finding.savings_bytes, estimate=finding.estimate)})"
                  if finding.savings_bytes is not None else "")
        into = base if swap_into[gone] == "base" else dev
        for to in _swap_to(finding):
            to_name = canonicalize_name(parse_requirement(to, f"swap {finding.id}", None, what="replacement").name)
            if into is base:
                dev.pop(to_name, None)
            into.setdefault(to_name, Line(to_name, to, f"swapped from {gone}{saving}"))

    known = {i.distribution for i in report.imports if i.distribution and i.mapping in _KNOWN_MAPPINGS}
    for finding in sorted((f for f in report.findings if f.code in _UNDECLARED), key=lambda f: f.id):
        name = canonicalize_name(str(finding.data.get("distribution", finding.subject)))
        if not name or name in base or name in swapped:
            continue
        dist = report.distribution(name)
        ev = _pick(finding.evidence or (dist.evidence if dist else ()), (*_RUNTIME_KINDS, "implicit"))
        where = f"imported at {_where(ev)}" if ev else "imported by runtime code"
        if ev is not None and ev.kind == "implicit":
            where = f"implicit: {ev.detail} in {_where(ev)}" if ev.detail else f"implicit: {_where(ev)}"
        candidates = finding.data.get("candidates")
        if isinstance(candidates, list) and candidates:  # several provide the import: the project's to say which
            notes.append(f"{' or '.join(str(c) for c in candidates)}: {where} but neither declared nor installed, and "
                         f"the import is ambiguous (each of them provides it); declare the one the code means")
            continue
        if finding.code == "transitive":
            via = ", ".join(dist.required_by) if dist and dist.required_by else "another package"
            reason = f"transitive: {where}, installed via {via} (not declared upstream)"
        elif finding.code in ("undeclared", "undeclared-implicit"):
            reason = f"undeclared: {where}, installed in the target (not declared upstream)"
        elif name in known or (finding.code == "missing-implicit" and _from_rule(finding)):
            reason = f"missing: {where}, not installed in the target: unpinned (not declared upstream)"
        else:
            notes.append(f"{name}: {where} but neither declared nor installed, and no distribution is known "
                         f"to provide it; declare it yourself")
            continue
        base[name] = Line(name, _pin(name, dist, options.pin), reason)
        dev.pop(name, None)

    for name in list(dev):
        if name in base:
            dev.pop(name)

    base_lines = tuple(base[k] for k in sorted(base))
    dev_lines = tuple(dev[k] for k in sorted(dev))
    cut_list = tuple(sorted(cuts, key=lambda c: (c.kind, c.name)))
    idx = index_lines(declared, swaps)
    notes += credential_notes(declared)
    return SplitResult(
        base=base_lines,
        dev=dev_lines,
        cuts=cut_list,
        index_lines=idx,
        base_text=stamp(_render_base(report, base_lines, cut_list, idx, options)),
        dev_text=stamp(_render_dev(dev_lines, options)),
        cuts_text=stamp(render_cuts_markdown(report, cut_list, options), comment="<!--"),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- rendering


def _target_phrase(report: Report) -> str:
    target = report.target
    python = f", Python {target.python_version}" if target.python_version else ""
    if target.kind == "image":
        return f"image {target.ref}{python}"
    return f"{target.kind or 'environment'}{python}"


def _size(cut: Cut) -> str:
    return format_bytes(cut.size_bytes, estimate=cut.estimate) if cut.size_bytes is not None else "not installed"


def _cut_comment_lines(cuts: Sequence[Cut], options: SplitOptions) -> list[str]:
    sections: Mapping[str, str] = {
        "dropped": "Cut list (dropped)",
        "unreachable": "Not reached by the served entrypoint (--scope serving)",
        "moved-to-dev": f"Moved to {options.dev_name}",
        "swapped": "Swapped",
        "optional": "Optional (declared opt-in, not needed by runtime code)",
    }
    out: list[str] = []
    for kind, title in sections.items():
        chosen = [c for c in cuts if c.kind == kind]
        if not chosen:
            continue
        if kind == "dropped":
            total = sum(c.size_bytes or 0 for c in chosen)
            title += f": {len(chosen)} package(s), {format_bytes(total)} incl. what only they need"
        out.append(f"# {title}:")
        for c in chosen:
            label = c.label or (f"{c.name}=={c.version}" if c.version else c.name)
            if kind == "swapped":
                saving = (format_bytes(-c.size_bytes, estimate=c.estimate) if c.size_bytes is not None
                          else "saving not measured")
                out.append(f"#   {label} -> {c.replacement}  {saving}  ({c.why})")
            else:
                out.append(f"#   {label}  {_size(c)}  {c.why}")
    return out


def _pins_phrase(report: Report, lines: Sequence[Line]) -> str:
    """Where the versions come from, true for this file: a line is pinned to the target only when
    the target has the package installed; the rest keep their declared specifiers."""
    installed = {d.name for d in report.distributions if d.installed}
    pinned = sum(1 for line in lines if line.name in installed)
    where = _target_phrase(report)
    if pinned == len(lines):
        return f"# Pins are the versions installed in the target ({where}); each line says why."
    if not pinned:
        return (f"# Nothing here is installed in the target ({where}): lines keep their declared "
                "specifiers; each line says why.")
    return (f"# {pinned} of {len(lines)} lines are pinned to the versions installed in the target ({where}); "
            "the rest keep their declared specifiers; each line says why.")


def _render_base(
    report: Report, lines: Sequence[Line], cuts: Sequence[Cut], idx: Sequence[str], options: SplitOptions
) -> str:
    head = [
        f"# {options.base_name}: runtime requirements written by `{options.command}`.",
        _pins_phrase(report, lines),
        f"# Edit the sources and rerun `{options.command}`: hand edits here are detected.",
    ]
    cut_lines = _cut_comment_lines(cuts, options)
    if cut_lines:
        head += ["#", *cut_lines, f"# Details: {options.cuts_name}"]
    body = [*head, "", *idx]
    if idx:
        body.append("")
    body += [line.render() for line in lines]
    return "\n".join(body) + "\n"


def _render_dev(lines: Sequence[Line], options: SplitOptions) -> str:
    body = [
        f"# {options.dev_name}: development requirements written by `{options.command}`.",
        f"# Edit the sources and rerun `{options.command}`: hand edits here are detected.",
        "",
        f"-r {options.base_name}",
        *(line.render() for line in lines),
    ]
    return "\n".join(body) + "\n"


def _version_cell(cut: Cut) -> str:
    if cut.version:
        return cut.version
    return f"declared `{cut.label}`" if cut.label else "—"


def _evidence(items: Iterable[Evidence]) -> str:
    """Evidence for a table cell; a rule has no place, so it is shown without one."""
    parts = []
    for ev in sorted(items):
        what = f"{ev.kind}: {ev.detail}" if ev.detail else ev.kind
        parts.append(f"{_where(ev)} ({what})" if ev.path else what)
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_cuts_markdown(report: Report, cuts: Sequence[Cut], options: SplitOptions = SplitOptions()) -> str:
    """The cut list for the PR description: what left the base file, its bytes and evidence."""
    dropped = [c for c in cuts if c.kind == "dropped"]
    unreached = [c for c in cuts if c.kind == "unreachable"]
    moved = [c for c in cuts if c.kind == "moved-to-dev"]
    swapped = [c for c in cuts if c.kind == "swapped"]
    optional = [c for c in cuts if c.kind == "optional"]
    total = sum(c.size_bytes or 0 for c in dropped)
    out = [
        "# depslim cut list" + (f" for {report.project}" if report.project not in ("", ".") else ""),
        "",
        f"Target: {_target_phrase(report)}. Sizes are measured installed bytes (MB = 10^6 bytes) and include "
        "what only that package needs (retained); estimates say so.",
        "",
        f"## Dropped from {options.base_name}",
        "",
    ]
    if dropped:
        out += [f"{len(dropped)} package(s), {format_bytes(total)} in total.", "",
                "| Package | Version | Bytes (incl. retained) | Why | Evidence |", "|---|---|---|---|---|"]
        out += [f"| {_cell(c.name)} | {_version_cell(c)} | {_size(c)} | {_cell(c.why)} | "
                f"{_cell(_evidence(c.evidence)) or '—'} |" for c in dropped]
    else:
        out.append("Nothing dropped.")
    if unreached:
        out += ["", "## Not reached by the served entrypoint", "",
                "Imported only by first-party code that the image's command never reaches (`--scope serving`); "
                "pass `--scope all` to keep them.", "",
                "| Package | Version | Bytes (incl. retained) | Why | Evidence |", "|---|---|---|---|---|"]
        out += [f"| {_cell(c.name)} | {_version_cell(c)} | {_size(c)} | {_cell(c.why)} | "
                f"{_cell(_evidence(c.evidence)) or '—'} |" for c in unreached]
    if moved:
        out += ["", f"## Moved to {options.dev_name}", "",
                "| Package | Version | Bytes (incl. retained) | Why | Evidence |", "|---|---|---|---|---|"]
        out += [f"| {_cell(c.name)} | {_version_cell(c)} | {_size(c)} | {_cell(c.why)} | "
                f"{_cell(_evidence(c.evidence)) or '—'} |" for c in moved]
    if optional:
        out += ["", f"## Optional, not in {options.base_name}", "",
                "Declared as opt-in (an extra, an optional requirements file) and not needed by runtime code: "
                "install them where the feature is wanted.", "",
                "| Package | Version | Bytes (incl. retained) | Why | Evidence |", "|---|---|---|---|---|"]
        out += [f"| {_cell(c.name)} | {_version_cell(c)} | {_size(c)} | {_cell(c.why)} | "
                f"{_cell(_evidence(c.evidence)) or '—'} |" for c in optional]
    if swapped:
        out += ["", "## Swapped", "", "| From | To | Saving | Finding | Evidence |", "|---|---|---|---|---|"]
        for c in swapped:
            saving = format_bytes(c.size_bytes, estimate=c.estimate) if c.size_bytes is not None else "not measured"
            label = c.label or (f"{c.name}=={c.version}" if c.version else c.name)
            out.append(f"| {_cell(label)} | {_cell(c.replacement)} | {saving} | {_cell(c.why)} | "
                       f"{_cell(_evidence(c.evidence)) or '—'} |")
    return "\n".join(out) + "\n"
