"""`ImageTarget`: an image (archive, layout or engine) measured without running anything in it.

Opening reads each layer once (in parallel threads for files on disk: inflating releases
the GIL), stacks the scans into the merged filesystem in order, then answers the Target
protocol from that: TargetInfo with layers and totals, distributions with lstat-exact
RECORD sizes. What is waste is judged by `depslim.findings.image` (a registered finder).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depslim.errors import ImageFormatError, TargetError
from depslim.model import InstalledDistribution, LayerInfo, TargetInfo
from depslim.native.elf import ElfInfo
from depslim.native.sonames import DPKG_INFO, debian_release, os_release, soname_packages
from depslim.progress import NULL_PROGRESS, Progress
from depslim.sizes import installed_bytes
from depslim.targets.image import python as py
from depslim.targets.image.digests import RegionHasher, mismatch
from depslim.targets.image.fs import MergedFS
from depslim.targets.image.layers import DEFAULT_LIMITS, Budget, LayerScan, Limits, scan_layer
from depslim.targets.image.layerstore import ENGINE_READS, StoreLayer, StoreUnavailable, fallback_note, open_store_image
from depslim.targets.image.sources import (
    LayerRef,
    ResolvedImage,
    engine_has,
    open_path,
    parse_platform,
    parse_ref,
    resolve,
    stream_engine_image,
)

PROGRESS_KEY = "image-layers"


def clean_instruction(created_by: str) -> str:
    """Turn a history `created_by` into the Dockerfile-ish instruction people recognise."""
    text = created_by.strip()
    for prefix in ("/bin/sh -c #(nop) ", "/bin/sh -c #(nop)"):
        if text.startswith(prefix):
            return text[len(prefix) :].strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c ") :].strip()
    if text.startswith("RUN /bin/sh -c "):
        text = "RUN " + text[len("RUN /bin/sh -c ") :]
    return text.removesuffix("# buildkit").strip()


def layer_instructions(config: dict[str, Any], count: int) -> list[str]:
    """Pair history with layers, skipping `empty_layer` entries (ENV, CMD… make no layer)."""
    history = [h for h in config.get("history") or [] if isinstance(h, dict) and not h.get("empty_layer")]
    out = []
    for index in range(count):
        entry = history[index] if index < len(history) else {}
        text = entry.get("created_by") or entry.get("comment") or ""
        out.append(clean_instruction(str(text)))
    return out


@dataclass
class ImageAnalysis:
    """Everything the findings need, computed once per image."""

    ref: str
    archive: str
    fs: MergedFS
    config: dict[str, Any]
    layers: list[LayerInfo]
    env: dict[str, str]
    user: str
    site_dirs: list[str]
    dpkg: dict[str, dict[str, str]]
    distributions: list[InstalledDistribution]
    orphans: list[py.Orphans]
    warnings: list[str] = field(default_factory=list)
    # site-dir shared libraries of the final filesystem -> SONAME / DT_NEEDED (depslim.native)
    elf: dict[str, ElfInfo] = field(default_factory=dict)
    # soname -> Debian package, from the image's dpkg file lists (loader directories only)
    dpkg_sonames: dict[str, str] = field(default_factory=dict)
    debian_release: str | None = None  # VERSION_CODENAME of a Debian(-like) os-release

    def instruction(self, layer: int) -> str:
        return self.layers[layer].instruction if 0 <= layer < len(self.layers) else ""


class ImageTarget:
    """The Target protocol over one image."""

    def __init__(self, analysis: ImageAnalysis, info: TargetInfo) -> None:
        self.analysis = analysis
        self._info = info

    def info(self) -> TargetInfo:
        return self._info

    def distributions(self) -> Sequence[InstalledDistribution]:
        return tuple(self.analysis.distributions)

    @property
    def warnings(self) -> list[str]:
        return list(self.analysis.warnings)


def _scan_from_disk(
    ref: LayerRef, index: int, label: str, limits: Limits, on_read: Callable[[int], None], budget: Budget
) -> tuple[LayerScan, str | None]:
    """Scan one layer blob on disk while `RegionHasher` hashes it; (scan, hex digest or None)."""
    if isinstance(ref, StoreLayer):  # a directory of the engine's layer store (layerstore.py), not a blob
        return ref.scan_dir(label, limits, on_read, budget), None
    assert ref.opener is not None
    promised = ref.expected or ref.diff_id
    hasher = None
    if promised is not None and ref.region is not None:
        hasher = RegionHasher(*ref.region, promised.algorithm, label)
    try:
        try:
            raw = ref.opener()
        except OSError as exc:
            raise ImageFormatError(label, f"cannot read layer: {exc.strerror or exc}") from None
        try:
            scan = scan_layer(raw, label, limits, on_read, budget, index)
        except OSError as exc:
            raise ImageFormatError(label, f"cannot read layer: {exc}") from None
        finally:
            raw.close()
    except BaseException:
        if hasher is not None:
            hasher.cancel()
        raise
    return scan, (hasher.result() if hasher is not None else None)


def verify_layer(ref: LayerRef, scan: LayerScan, actual: str | None, label: str, warnings: list[str]) -> None:
    """The layer's bytes against what the manifest promises (depslim.targets.image.digests).

    A blob named by its digest (OCI, Docker 25 archives) must hash to it; a legacy docker-archive
    `layer.tar` is an uncompressed tar, whose hash is the config's diff_id. A mismatch is an
    ImageFormatError naming the blob. A layer with nothing to check against says so.
    """
    if ref.expected is not None:
        expected = ref.expected
    elif ref.diff_id is not None and scan.compression == "tar":
        expected = ref.diff_id
    else:
        warnings.append(f"{label}: no digest to check its content against (a {scan.compression} layer "
                        "of a legacy docker-archive); not verified")
        return
    if actual is not None and actual != expected.hex:
        raise mismatch(label, ref.name or ref.digest, expected, actual)


def _layer_label(image: ResolvedImage, index: int) -> str:
    digest = image.layers[index].digest
    return f"{image.archive}: layer {index} ({digest})"


def _merge_layers(
    image: ResolvedImage, limits: Limits, progress: Progress, budget: Budget
) -> tuple[MergedFS, list[LayerScan]]:
    """Scan (in parallel when on disk) and stack every layer, releasing each scan's entries."""
    fs = MergedFS(image.archive, budget)
    summaries: list[LayerScan] = []

    def keep(index: int, scan: LayerScan, actual: str | None) -> None:
        verify_layer(image.layers[index], scan, actual, _layer_label(image, index), image.warnings)
        try:
            fs.apply(index, scan)
        except ImageFormatError as exc:
            raise ImageFormatError(_layer_label(image, index), exc.problem) from None
        image.warnings.extend(scan.warnings)
        summaries.append(LayerScan(content_bytes=scan.content_bytes, tar_bytes=scan.tar_bytes,
                                   compressed_bytes=scan.compressed_bytes, compression=scan.compression))

    if all(layer.scan is not None for layer in image.layers):
        for index, layer in enumerate(image.layers):
            assert layer.scan is not None
            keep(index, layer.scan, layer.actual)
            layer.scan = None
        return fs, summaries
    total = sum(layer.size or 0 for layer in image.layers)
    count = len(image.layers)
    progress.start(PROGRESS_KEY, f"Reading {count} layer{'s' if count != 1 else ''}", total=total or None)

    def on_read(amount: int) -> None:
        progress.advance(PROGRESS_KEY, amount)

    workers = max(1, min(len(image.layers), os.cpu_count() or 2, 4))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="depslim-layer") as pool:
        futures = {
            i: pool.submit(_scan_from_disk, layer, i, _layer_label(image, i), limits, on_read, budget)
            for i, layer in enumerate(image.layers)
        }
        try:
            for index in range(len(image.layers)):
                keep(index, *futures.pop(index).result())  # popped: its scan is released once applied
        except BaseException:
            budget.close()  # scans waiting for room (depslim.targets.image.layers.Budget) stop waiting
            for future in futures.values():
                future.cancel()
            raise
    progress.finish(PROGRESS_KEY)
    return fs, summaries


def _user(config: dict[str, Any]) -> str:
    inner = config.get("config") or {}
    return str(inner.get("User") or "") if isinstance(inner, dict) else ""


def analyze_resolved(
    image: ResolvedImage, limits: Limits, progress: Progress, budget: Budget | None = None
) -> ImageTarget:
    """Merge layers and read the Python inside."""
    fs, scans = _merge_layers(image, limits, progress, budget if budget is not None else Budget(limits))
    config = image.config
    instructions = layer_instructions(config, len(image.layers))
    layers = [
        LayerInfo(index=i, digest=layer.digest, size_bytes=scans[i].content_bytes, instruction=instructions[i])
        for i, layer in enumerate(image.layers)
    ]
    env = py.env_dict(config)
    site_dirs = py.find_site_dirs(fs, env)
    dpkg = py.dpkg_packages(fs.captured("/var/lib/dpkg/status"))
    version = py.python_version(fs, env, site_dirs, dpkg)
    dists = py.read_distributions(fs, site_dirs)
    orphans = py.find_orphans(fs, site_dirs, dists, py.dpkg_owned(fs))
    dpkg_sonames = soname_packages(
        (path, fs.captured(path) or b"") for path in fs.captured_paths()
        if path.startswith(DPKG_INFO) and path.endswith(".list")
    )
    release = debian_release(os_release(fs.captured("/etc/os-release") or fs.captured("/usr/lib/os-release")))
    fs.drop_captured()
    analysis = ImageAnalysis(
        ref=image.ref, archive=image.archive, fs=fs, config=config, layers=layers, env=env,
        user=_user(config), site_dirs=site_dirs, dpkg=dpkg, distributions=dists, orphans=orphans,
        warnings=list(image.warnings), elf=fs.elf_files(), dpkg_sonames=dpkg_sonames, debian_release=release,
    )
    python_bytes = installed_bytes(dists)  # what analyze, check and diff show for the same image
    info = TargetInfo(
        kind="image",
        ref=image.ref,
        python_version=version,
        platform=image.platform,
        site_dirs=tuple(site_dirs),
        markers=py.marker_environment(version, image.platform) if version else {},
        layers=tuple(layers),
        totals={"image_bytes": sum(layer.size_bytes for layer in layers), "python_bytes": python_bytes},
        env=env,
        user=analysis.user,
    )
    return ImageTarget(analysis, info)


def open_image(
    ref: str,
    *,
    platform: str | None = None,
    progress: Progress = NULL_PROGRESS,
    limits: Limits = DEFAULT_LIMITS,
    engine_read: str = "auto",
) -> ImageTarget:
    """Open an image by path (docker-archive, oci-archive, OCI layout dir) or engine name.

    An engine image is read from the engine's layer store when it is readable here, else through
    the save stream (the report's warnings say why, once); `engine_read` forces one: "store" (an
    error, with the reason, when it cannot be read) or "save".
    """
    if engine_read not in ENGINE_READS:
        raise TargetError(f"engine_read={engine_read!r}: expected one of {', '.join(ENGINE_READS)}")
    if platform:
        parse_platform(platform)  # a bad --platform fails before any I/O
    kind, value = parse_ref(ref)
    if kind == "path":
        catalog = open_path(Path(value), limits)
        image = resolve(catalog, limits, platform, ref)
        return analyze_resolved(image, limits, progress)
    if not ref.startswith(("docker:", "docker-daemon:")) and not engine_has(value):
        raise TargetError(f"{ref}: no such file or directory, and no Docker engine image by that name")
    why = ""
    if engine_read != "save":
        try:
            return analyze_resolved(open_store_image(value, ref, limits, platform), limits, progress)
        except StoreUnavailable as exc:
            progress.finish(PROGRESS_KEY)
            if engine_read == "store":
                raise TargetError(f"docker:{value}: cannot read the engine's layer store: {exc}") from None
            why = str(exc)
    progress.start(PROGRESS_KEY, f"Streaming {value} from the Docker engine", total=None)

    def on_read(amount: int) -> None:
        progress.advance(PROGRESS_KEY, amount)

    budget = Budget(limits)
    catalog = stream_engine_image(value, limits, on_read=on_read, budget=budget)
    progress.finish(PROGRESS_KEY)
    image = resolve(catalog, limits, platform, ref)
    image.archive = f"docker:{value}"
    if why:
        image.warnings.append(fallback_note(value, why))
    return analyze_resolved(image, limits, progress, budget)
