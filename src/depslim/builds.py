"""Requirements a resolver would *build* — and so run code of — before anything is installed.

`depslim lock` (pip-compile, uv) and `depslim estimate` (pip's dry run) hand a requirements file to
a resolver. For most lines the resolver reads metadata (a wheel's, or the index's); but a local
folder, a local or remote sdist, an editable or a VCS checkout has no metadata until it is built:
the resolver runs its `setup.py` or build backend. That is code of the analysed project (or of
whoever wrote the file), and depslim runs none outside `depslim verify`'s sandbox. So such lines
are refused (exit 2, naming the line and why) unless the user passes `--allow-build`.

Not refused: a distribution the index offers only as an sdist. Building it is what `pip install`
of that name does anyway and the file does not point at it; `estimate` resolves with
`--only-binary=:all:`, where pip never builds one (`binary_only`).

A cheap text scan (`suspect`) runs first, so the common file (names and pins, an https index)
costs one read before the resolver starts; only a file that might name a build is parsed with the
full requirements reader.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from depslim.errors import InputError
from depslim.fsio import expand_user

WHEEL = ".whl"
ARCHIVES = (".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".tar.lz")
VCS = ("git+", "hg+", "svn+", "bzr+")
MAX_INCLUDES = 100  # -r/-c files followed by the text scan (the full reader reports cycles itself)
MAX_LISTED = 10_000  # entries of a local --find-links / file: index looked at for sdists

# Anything that might be a build: an editable, a VCS URL, a local path or file: URL, an archive
# name, or a local --find-links / index folder. A superset: the full reader decides.
_SUSPECT = re.compile(
    r"(?im)^\s*(?:-e\b|--editable\b|[.~/]|[a-z]:[\\/])"
    r"|(?:git|hg|svn|bzr)\+"
    r"|\bfile:"
    r"|\.(?:zip|tar|tgz|tbz|txz|tar\.(?:gz|bz2|xz|lz))\b"
    r"|^\s*(?:-f|--find-links|-i|--index-url|--extra-index-url)(?:\s*=\s*|\s+)(?!https?://)"
)
_INCLUDE = re.compile(r"(?m)^\s*(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=\S))(\S+)")


def _texts(path: Path) -> Iterator[str]:
    """The text of `path` and of the files it includes (-r/-c), each once."""
    todo: list[Path] = [path]
    seen: set[str] = set()
    while todo and len(seen) < MAX_INCLUDES:
        current = todo.pop()
        key = os.path.abspath(current)
        if key in seen:
            continue
        seen.add(key)
        try:
            text = current.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue  # the full reader names a missing or unreadable file
        yield text
        todo += [current.parent / match.group(1) for match in _INCLUDE.finditer(text)]


def suspect(path: Path) -> bool:
    """Might `path` (or what it includes) name something a resolver would build?"""
    return any(_SUSPECT.search(text) for text in _texts(path))


def _why(url: str, editable: bool, base: Path) -> str | None:
    """Why resolving this direct reference builds it (None: it does not, e.g. a wheel's URL)."""
    if editable:
        return "an editable requirement: installing it builds it in place"
    lowered = url.lower()
    if lowered.startswith(VCS):
        return "a VCS requirement: resolving it checks out the repository and builds it"
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "ftp"):
        name = unquote(parts.path).lower()
        return None if name.endswith(WHEEL) else "a direct URL to a source archive: resolving it builds the sdist"
    local = expand_user(unquote(parts.path) if parts.scheme == "file" else url.split(";", 1)[0].strip())
    if not local.is_absolute():
        local = base / local
    if local.name.lower().endswith(WHEEL):
        return None
    if local.is_dir():
        return "a local folder: resolving it runs its setup.py or build backend"
    return "a local source archive: resolving it builds the sdist"


def _sdists_in(folder: Path) -> str | None:
    """The first source archive in a local --find-links / file: index folder (what pip would build)."""
    seen = 0
    for current, dirs, files in os.walk(folder):
        for name in sorted(files):
            seen += 1
            lowered = name.lower()
            if lowered.endswith(ARCHIVES) and not lowered.endswith(WHEEL):
                return os.path.join(current, name)
        if seen > MAX_LISTED:
            break
        dirs.sort()
    return None


def builds_needed(path: Path, *, binary_only: bool = False) -> list[str]:
    """`file:line: what and why` for every line of `path` (and its includes) a resolver would build.

    `binary_only`: the resolver takes wheels only from indexes and --find-links folders (estimate's
    `--only-binary=:all:`), so sdists found there are no build."""
    from depslim.declared.requirements import parse_requirements_file

    base = path.parent
    declared = parse_requirements_file(path, base)
    found: list[str] = []
    for req in declared.requirements:
        if req.url is None and not req.editable:
            continue
        why = _why(req.url or req.requirement, req.editable, base)
        if why is not None:
            found.append(f"{req.location}: {req.url or req.requirement!r} is {why}")
    if not binary_only:
        idx = declared.index
        for link in (*idx.find_links, *(u for u in (idx.index_url, *idx.extra_index_urls) if u)):
            parts = urlsplit(link)
            if parts.scheme not in ("", "file"):
                continue
            folder = expand_user(unquote(parts.path) if parts.scheme == "file" else link)
            sdist = _sdists_in(folder if folder.is_absolute() else base / folder) if link else None
            if sdist is not None:
                found.append(f"{path.name}: the local package folder {link} holds a source archive "
                             f"({os.path.basename(sdist)}) that the resolver would build")
    return found


def refuse_builds(path: Path, *, binary_only: bool = False) -> None:
    """Raise InputError (exit 2) when resolving `path` would build something (see the module)."""
    if not suspect(path):
        return
    found = builds_needed(path, binary_only=binary_only)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise InputError(found[0].split(": ", 1)[0], found[0].split(": ", 1)[1] + more,
                         hint="depslim runs no code of what it analyses; pass --allow-build to let the "
                              "resolver build it")
