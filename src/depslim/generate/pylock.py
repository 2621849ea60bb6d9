"""PEP 751 `pylock.toml` from a depslim lock's pins.

A requirements lock only knows hashes; PEP 751 wants each file's name and URL too. The
files are found by asking the lock's own indexes (PEP 691 JSON, or PEP 503 HTML) for each
pinned project and keeping the files whose sha256 is one of the pin's hashes — so the
pylock lists exactly what the requirements lock allows, nothing the resolver did not vouch
for. URLs are written without userinfo: credentials stay in the environment.

TOML is emitted by hand (the structure is fixed and small; strings use JSON escaping,
which is valid TOML basic-string syntax) and checked with tomllib in the tests.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import unquote, urldefrag, urljoin

from packaging.utils import canonicalize_name

from depslim.errors import LockError
from depslim.generate.stamp import stamp
from depslim.wheelsize import split_userinfo

if TYPE_CHECKING:
    from depslim.generate.lock import InputSpec, Pin

DEFAULT_INDEX = "https://pypi.org/simple"
_MARKERS = {
    "linux/amd64": "sys_platform == 'linux' and platform_machine == 'x86_64'",
    "linux/arm64": "sys_platform == 'linux' and platform_machine == 'aarch64'",
    "darwin/arm64": "sys_platform == 'darwin' and platform_machine == 'arm64'",
    "darwin/amd64": "sys_platform == 'darwin' and platform_machine == 'x86_64'",
    "windows/amd64": "sys_platform == 'win32' and platform_machine == 'AMD64'",
}


def _expand(value: str, env: Mapping[str, str]) -> str:
    """pip's rule: only `${NAME}` is expanded (for fetching; never for writing)."""
    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: env.get(m.group(1), m.group(0)), value)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _project_files(index: str, name: str, env: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(filename, absolute url, sha256) of every file the index lists for `name`."""
    base, auth = split_userinfo(_expand(index, env).rstrip("/"))
    page = f"{base}/{name}/"
    request = urllib.request.Request(page, headers={
        "Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            ctype = response.headers.get("Content-Type", "")
            body = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise LockError(f"pylock: {page}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise LockError(f"pylock: index unreachable: {page}: {getattr(exc, 'reason', exc)}") from None
    files: list[tuple[str, str, str]] = []
    if "json" in ctype:
        for item in json.loads(body).get("files", []):
            sha = (item.get("hashes") or {}).get("sha256")
            if sha:
                files.append((item["filename"], urljoin(page, item["url"]), sha))
        return files
    parser = _Anchors()
    parser.feed(body)
    for href in parser.hrefs:
        url, fragment = urldefrag(urljoin(page, href))
        match = re.fullmatch(r"sha256=([0-9a-f]{64})", fragment)
        if match:
            files.append((unquote(url.rsplit("/", 1)[-1]), url, match.group(1)))
    return files


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_pylock(pins: Sequence[Pin], spec: InputSpec, python: str, plat: str,
                  *, env: Mapping[str, str] | None = None) -> str:
    """The `pylock.toml` text for `pins`, with files looked up on the lock's indexes."""
    env = env if env is not None else os.environ
    indexes = [line.split(" ", 1)[1] for line in spec.options
               if line.startswith(("--index-url ", "--extra-index-url "))]
    if not any(line.startswith("--index-url ") for line in spec.options) and "--no-index" not in spec.options:
        indexes.insert(0, env.get("PIP_INDEX_URL", DEFAULT_INDEX))
    out = ['lock-version = "1.0"', 'created-by = "depslim"', f'requires-python = "=={python}.*"']
    if plat in _MARKERS:
        out.append(f"environments = [{_q(f'python_version == {python!r} and ' + _MARKERS[plat])}]")
    jobs = [(index, canonicalize_name(pin.name)) for pin in pins for index in indexes]
    with ThreadPoolExecutor(max_workers=8) as pool:  # one page per project and index, fetched in parallel
        pages = dict(zip(jobs, pool.map(lambda job: _project_files(job[0], job[1], env), jobs), strict=True))
    for pin in pins:
        wanted = {h.split(":", 1)[1] for h in pin.hashes if h.startswith("sha256:")}
        found: dict[str, tuple[str, str]] = {}
        for index in indexes:
            for filename, url, sha in pages[(index, canonicalize_name(pin.name))]:
                if sha in wanted and filename not in found:
                    found[filename] = (split_userinfo(url)[0], sha)
        if not found:
            raise LockError(f"pylock: no file of {pin.requirement} with a locked hash on "
                            f"{', '.join(split_userinfo(_expand(i, env))[0] for i in indexes)}")
        out += ["", "[[packages]]", f"name = {_q(pin.name)}"]
        if pin.version:
            out.append(f"version = {_q(pin.version)}")
        wheels = sorted(f for f in found if f.endswith(".whl"))
        sdists = sorted(f for f in found if not f.endswith(".whl"))
        if sdists:
            url, sha = found[sdists[0]]
            out += ["", "[packages.sdist]", f"name = {_q(sdists[0])}", f"url = {_q(url)}",
                    f"hashes = {{sha256 = {_q(sha)}}}"]
        for wheel in wheels:
            url, sha = found[wheel]
            out += ["", "[[packages.wheels]]", f"name = {_q(wheel)}", f"url = {_q(url)}",
                    f"hashes = {{sha256 = {_q(sha)}}}"]
    return stamp("\n".join(out) + "\n")
