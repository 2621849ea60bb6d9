"""Round trips and equivalences: what a generator writes, the parser must read back exactly.

Where a format has a meaning the generator knows (a list of PEP 508 strings, a tar's members, an
image's layers), the parser's result is compared with it, and two writings of the same thing
(one requirements file or the same lines spread over `-r` includes; a plain, gzip or zstd layer,
streamed or on disk; a notebook or its cells alone) must give the same result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from depslim.declared import parse_requirements_file, read_declared_with_warnings
from depslim.declared.poetry import to_specifier
from depslim.dockerfile.parse import exec_form, parse_dockerfile
from depslim.imports.notebook import scan_notebook
from depslim.imports.scan import scan_text
from depslim.targets.image.layers import DIR, FILE, RegionFile, scan_layer
from depslim.targets.image.sources import resolve
from tests.fuzz import images
from tests.fuzz.strategies import dump_toml
from tests.fuzz.targets import PATTERNS, fuzz_settings, in_project

VALID_NAMES = ("numpy", "torch", "Scikit_Learn", "pandas", "x-y.z", "pkg1", "Zope.Interface")
VALID_SPECS = ("", "==1.0", ">=1,<2", "~=2.1", "!=3", "==1.*", ">=1.0a1")
VALID_MARKERS = ("", "; python_version < '3.12'", "; sys_platform == 'win32'")


@st.composite
def valid_requirement(draw: st.DrawFn) -> str:
    extras = draw(st.sampled_from(("", "[cuda]", "[a,b]")))
    return draw(st.sampled_from(VALID_NAMES)) + extras + draw(st.sampled_from(VALID_SPECS)) + draw(
        st.sampled_from(VALID_MARKERS))


def _normalised(texts: list[str]) -> list[tuple[str, str]]:
    return [(canonicalize_name(Requirement(t).name), str(Requirement(t))) for t in texts]


def _read(declared: Any) -> list[tuple[str, str]]:
    return [(r.name, r.requirement) for r in declared.requirements]


@fuzz_settings()
@given(st.lists(valid_requirement(), min_size=1, max_size=8, unique_by=lambda t: t.split("[")[0].split("=")[0]),
       st.lists(st.sampled_from(("", "  # note", " \\\n", "\t")), min_size=8, max_size=8))
def test_requirements_read_back_what_was_written(texts: list[str], decorations: list[str]) -> None:
    lines = []
    for text, decoration in zip(texts, decorations, strict=False):
        lines.append(text + decoration if decoration != " \\\n" else text.replace("=", "\\\n=", 1))
    files = {"requirements.txt": "\n".join(["# header", *lines, ""]).encode()}
    got = in_project(files, lambda root: _read(parse_requirements_file(root / "requirements.txt", root)))
    assert sorted(got) == sorted(_normalised(texts))


@fuzz_settings()
@given(st.lists(valid_requirement(), min_size=1, max_size=9), st.integers(1, 3), st.booleans())
def test_includes_read_the_same_as_one_file(texts: list[str], parts: int, nested: bool) -> None:
    """The same lines in one file, or spread over files chained with -r, are the same declarations."""
    one = in_project({"requirements.txt": "\n".join(texts).encode()},
                     lambda root: _read(parse_requirements_file(root / "requirements.txt", root)))
    chunks = [texts[i::parts] for i in range(parts)]
    files: dict[str, bytes] = {}
    names = ["requirements.txt", *(f"sub/part{i}.txt" if nested else f"part{i}.txt" for i in range(1, parts))]
    for index, (name, chunk) in enumerate(zip(names, chunks, strict=True)):
        include = []
        if index + 1 < len(names):
            target = names[index + 1]
            include = [f"-r {Path(target).relative_to(Path(name).parent) if nested and index else target}"]
        files[name] = "\n".join([*chunk, *include]).encode()
    spread = in_project(files, lambda root: _read(parse_requirements_file(root / "requirements.txt", root)))
    assert sorted(set(spread)) == sorted(set(one))


@fuzz_settings()
@given(st.lists(valid_requirement(), max_size=6), st.dictionaries(st.sampled_from(("gpu", "test", "docs")),
                                                                   st.lists(valid_requirement(), max_size=3)))
def test_pep621_reads_back_dependencies_and_extras(deps: list[str], extras: dict[str, list[str]]) -> None:
    doc = {"project": {"name": "demo", "dependencies": deps, "optional-dependencies": extras}}
    files = {"pyproject.toml": dump_toml(doc).encode()}
    declared, _ = in_project(files, lambda root: read_declared_with_warnings(root, [root / "pyproject.toml"]))
    want = {(name, text, "main") for name, text in _normalised(deps)}
    want |= {(name, text, f"optional:{extra}") for extra, items in extras.items() for name, text in _normalised(items)}
    assert {(r.name, r.requirement, r.group) for r in declared.requirements} == want


@fuzz_settings()
@given(st.lists(valid_requirement(), min_size=1, max_size=6))
def test_setup_cfg_and_setup_py_read_back_install_requires(texts: list[str]) -> None:
    cfg = "[options]\ninstall_requires =\n" + "".join(f"    {t}\n" for t in texts)
    py = f"from setuptools import setup\nsetup(name='demo', install_requires={texts!r})\n"
    want = sorted(set(_normalised(texts)))
    for name, text in (("setup.cfg", cfg), ("setup.py", py)):
        declared, _ = in_project({name: text.encode()}, lambda root, n=name: read_declared_with_warnings(
            root, [root / n]))
        assert sorted(set(_read(declared))) == want, name


@fuzz_settings()
@given(st.lists(st.integers(0, 30), min_size=1, max_size=4), st.sampled_from(("^", "~")))
def test_poetry_caret_and_tilde_keep_the_version_and_exclude_the_bump(release: list[int], op: str) -> None:
    version = ".".join(map(str, release))
    spec = SpecifierSet(to_specifier(op + version))
    assert Version(version) in spec
    if op == "^":
        index = next((i for i, part in enumerate(release) if part), len(release) - 1)
    else:
        index = 0 if len(release) == 1 else 1
    bump = [*release[:index], release[index] + 1] + [0] * (len(release) - index - 1)
    assert Version(".".join(map(str, bump))) not in spec


@fuzz_settings()
@given(st.lists(st.text(max_size=12), max_size=6))
def test_exec_form_reads_back_any_argv(argv: list[str]) -> None:
    assert exec_form(json.dumps(argv)) == argv
    assert exec_form(json.dumps(argv, ensure_ascii=False)) == argv


@fuzz_settings()
@given(st.lists(st.tuples(st.sampled_from(("python:3.11-slim", "ubuntu:22.04", "scratch")), st.booleans(),
                          st.lists(st.sampled_from(("RUN pip install x", "COPY . /app", "ENV A=1", "# c", "")),
                                   max_size=3)), min_size=1, max_size=4))
def test_dockerfile_stages_are_its_from_lines(stages: list[tuple[str, bool, list[str]]]) -> None:
    lines = []
    for index, (image, named, body) in enumerate(stages):
        lines.append(f"FROM {image}" + (f" AS stage{index}" if named else ""))
        lines += body
    parsed = in_project({"Dockerfile": "\n".join(lines).encode()}, lambda root: parse_dockerfile(root / "Dockerfile"))
    assert [(s.base, s.alias) for s in parsed.stages] == [
        (image, f"stage{i}" if named else None) for i, (image, named, _) in enumerate(stages)]


CODE = ("import numpy as np", "from torch import nn", "import os, sys", "x = 1", "from .rel import y",
        "import importlib\nimportlib.import_module('plugin')")


@fuzz_settings()
@given(st.lists(st.lists(st.sampled_from(CODE), max_size=4), max_size=4), st.booleans())
def test_notebook_imports_are_its_cells_imports(cells: list[list[str]], as_lists: bool) -> None:
    """A notebook's imports are those of its code cells scanned alone, lines counted across cells."""
    texts = ["\n".join(cell) for cell in cells]
    sources: list[Any] = [t.splitlines(keepends=True) if as_lists else t for t in texts]
    doc = {"cells": [{"cell_type": "code", "source": s, "metadata": {}, "outputs": []} for s in sources],
           "metadata": {"kernelspec": {"language": "python"}}, "nbformat": 4}
    scanned = scan_notebook(json.dumps(doc).encode(), PATTERNS)
    assert scanned is not None
    want, offset = [], 0
    for text in texts:
        imports, _, _ = scan_text(text, PATTERNS, full=True)
        want += [(m, lvl, line + offset, flags, names) for m, lvl, line, flags, names in imports]
        offset += len(text.split("\n"))
    assert list(scanned[0]) == want
    assert scanned[2] == ()


def _layer_view(scan: Any) -> list[tuple[str, str, int]]:
    return sorted(zip(scan.paths, scan.kinds, scan.sizes, strict=True))


@fuzz_settings(0.5)
@given(images.clean_layer())
def test_layer_entries_are_its_members_in_every_compression(entries: list[tuple[str, bytes, bytes]]) -> None:
    """Every member comes back with its path, kind and size; plain, gzip and zstd, streamed or on
    disk, give the same entries."""
    tar = images.clean_tar(entries)
    want = sorted(("/" + path, FILE if flag == b"0" else DIR, len(data)) for path, flag, data in entries)
    for kind in ("tar", "gzip", "zstd"):
        blob = images.compress(tar, kind)
        assert _layer_view(scan_layer(images._Reader(blob), "layer")) == want, kind


@fuzz_settings(0.5)
@given(images.clean_layer(), st.sampled_from(("tar", "gzip", "zstd")))
def test_layer_on_disk_reads_as_streamed(entries: list[tuple[str, bytes, bytes]], kind: str) -> None:
    blob = images.compress(images.clean_tar(entries), kind)

    def on_disk(root: Path) -> list[tuple[str, str, int]]:
        (root / "blob").write_bytes(blob)
        region = RegionFile(str(root / "blob"), 0, len(blob))
        try:
            return _layer_view(scan_layer(region, "layer"))
        finally:
            region.close()

    assert in_project({}, on_disk) == _layer_view(scan_layer(images._Reader(blob), "layer"))


@fuzz_settings(0.5)
@given(st.lists(images.clean_layer().map(images.clean_tar), max_size=3), st.booleans())
def test_image_resolves_to_its_layers_and_config(layers: list[bytes], nested: bool) -> None:
    """An unmutated generated image: every layer, in order, and the config as written."""
    blobs: dict[str, bytes] = {}
    config = {"architecture": "amd64", "os": "linux", "config": {"Env": ["A=1"]},
              "rootfs": {"type": "layers", "diff_ids": [images.sha256(x) for x in layers]},
              "history": [{"created_by": f"COPY {i}"} for i in range(len(layers))]}
    config_bytes = json.dumps(config).encode()
    manifest = {"schemaVersion": 2, "mediaType": images.OCI_MANIFEST,
                "config": {"digest": images._put(blobs, config_bytes), "size": len(config_bytes)},
                "layers": [{"mediaType": images.LAYER_MEDIA[0], "digest": images._put(blobs, x), "size": len(x)}
                           for x in layers]}
    manifest_bytes = json.dumps(manifest).encode()
    index = {"manifests": [{"mediaType": images.OCI_MANIFEST, "digest": images._put(blobs, manifest_bytes)}]}
    if nested:
        inner = json.dumps(index).encode()
        index = {"manifests": [{"mediaType": images.OCI_INDEX, "digest": images._put(blobs, inner)}]}
    blobs["index.json"] = json.dumps(index).encode()
    resolved = resolve(images.MemCatalog(blobs), images.DEFAULT_LIMITS, None, "ref")
    assert [layer.digest for layer in resolved.layers] == [images.sha256(x) for x in layers]
    assert resolved.config == config
    assert resolved.platform.startswith("linux/amd64")
