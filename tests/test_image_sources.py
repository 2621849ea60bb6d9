"""Every archive format and compression gives the same measured image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from depslim.errors import TargetError
from depslim.imagedoc import image_finders
from depslim.targets.image import open_image
from depslim.targets.image.sources import parse_ref
from tests.imagebuild import (
    File,
    Image,
    Whiteout,
    dist_entries,
    image_config,
    layer_tar,
    write_docker_archive,
    write_oci_archive,
    write_oci_layout,
)

SITE = "/usr/local/lib/python3.11/site-packages"


def _layers() -> list[bytes]:
    return [
        layer_tar([*dist_entries(SITE, "alpha", "1.0", {"alpha/__init__.py": "a" * 1234}),
                   File("/root/.cache/pip/x", b"p" * 4321)]),
        layer_tar([Whiteout("/root/.cache/pip")]),
    ]


def _summary(ref: str, platform: str | None = None) -> tuple:
    target = open_image(ref, platform=platform)
    dists = tuple((d.name, d.version, d.size_bytes) for d in target.distributions())
    deleted = [f.savings_bytes for f in image_finders(target).findings if f.code == "deleted-in-later-layer"]
    return dists, deleted, target.info().platform


EXPECTED_DELETED = [4321]


@pytest.mark.parametrize("compression", [None, "gzip", "zstd"])
@pytest.mark.parametrize("kind", ["docker-legacy", "docker-oci", "oci-dir", "oci-archive"])
def test_formats_and_compressions_agree(tmp_path: Path, kind: str, compression: str | None) -> None:
    image = Image(_layers(), compression=compression)
    if kind == "docker-legacy":
        ref = write_docker_archive(tmp_path / "a.tar", image)
    elif kind == "docker-oci":
        ref = write_docker_archive(tmp_path / "a.tar", image, oci=True)
    elif kind == "oci-dir":
        ref = write_oci_layout(tmp_path / "layout", [image])
    else:
        ref = write_oci_archive(tmp_path / "a.tar", write_oci_layout(tmp_path / "layout", [image]))
    dists, deleted, platform = _summary(str(ref))
    alpha = next(d for d in dists if d[0] == "alpha")
    assert alpha[2] > 1234  # package file + dist-info
    assert deleted == EXPECTED_DELETED
    assert platform == "linux/amd64"


def test_multi_platform_index_picks_the_requested_platform(tmp_path: Path) -> None:
    amd = Image([layer_tar(dist_entries(SITE, "onlyamd", "1"))], platform=("linux", "amd64", ""))
    arm_layers = [layer_tar(dist_entries(SITE, "onlyarm", "1"))]
    arm = Image(arm_layers, image_config(arm_layers, arch="arm64"), platform=("linux", "arm64", "v8"),
                compression="gzip")
    layout = write_oci_layout(tmp_path / "multi", [amd, arm], nested=True)
    dists, _deleted, platform = _summary(str(layout), platform="linux/arm64")
    assert [d[0] for d in dists] == ["onlyarm"] and platform == "linux/arm64"
    target = open_image(str(layout), platform="linux/arm64")
    assert target.info().markers["platform_machine"] == "aarch64"
    dists, _deleted, platform = _summary(str(layout), platform="linux/amd64")
    assert [d[0] for d in dists] == ["onlyamd"]
    with pytest.raises(TargetError, match="no manifest for platform linux/s390x"):
        open_image(str(layout), platform="linux/s390x")


def test_docker_archive_symlinked_duplicate_layer(tmp_path: Path) -> None:
    """docker save writes a repeated layer once and symlinks the second `layer.tar`."""
    import io
    import tarfile

    layer = layer_tar([File("/same", "s" * 10)])
    config = image_config([layer, layer])
    path = tmp_path / "dup.tar"
    with tarfile.open(path, "w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("aaa/layer.tar", layer)
        link = tarfile.TarInfo("bbb/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../aaa/layer.tar"
        tar.addfile(link)
        add("c.json", json.dumps(config).encode())
        add("manifest.json", json.dumps([{"Config": "c.json", "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]).encode())
    target = open_image(str(path))
    assert len(target.info().layers) == 2
    assert [f.savings_bytes for f in image_finders(target).findings if f.code == "overwritten-in-later-layer"] == [10]


def test_parse_ref_prefixes(tmp_path: Path) -> None:
    existing = tmp_path / "x.tar"
    existing.write_bytes(b"")
    assert parse_ref(str(existing)) == ("path", str(existing))
    assert parse_ref(f"docker-archive:{existing}") == ("path", str(existing))
    assert parse_ref(f"oci:{tmp_path}:latest") == ("path", str(tmp_path))
    assert parse_ref("docker:python:3.11") == ("engine", "python:3.11")
    assert parse_ref("someimage:tag") == ("engine", "someimage:tag")


def test_bad_platform_string() -> None:
    with pytest.raises(TargetError, match="OS/ARCH"):
        open_image("/nonexistent-dir-for-test", platform="amd64")


class _Pipe:
    """A non-seekable byte stream, like the engine's HTTP response body."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, n: int) -> bytes:
        n = min(n, 7919)  # short reads, as a socket gives them
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


@pytest.mark.parametrize("oci", [False, True])
def test_streamed_save_matches_the_file(tmp_path: Path, oci: bool) -> None:
    """The engine path scans a `docker save` stream in one pass, layers before manifest.json."""
    from depslim.progress import NULL_PROGRESS
    from depslim.targets.image.layers import DEFAULT_LIMITS
    from depslim.targets.image.sources import StreamCatalog, resolve
    from depslim.targets.image.target import analyze_resolved

    path = write_docker_archive(tmp_path / "s.tar", Image(_layers(), compression="gzip" if oci else None), oci=oci)
    catalog = StreamCatalog("docker:test")
    catalog.consume(_Pipe(path.read_bytes()), DEFAULT_LIMITS)
    target = analyze_resolved(resolve(catalog, DEFAULT_LIMITS, None, "docker:test"), DEFAULT_LIMITS, NULL_PROGRESS)
    streamed = (tuple((d.name, d.version, d.size_bytes) for d in target.distributions()),
                [f.savings_bytes for f in image_finders(target).findings if f.code == "deleted-in-later-layer"])
    assert streamed == _summary(str(path))[:2]
    assert streamed[1] == EXPECTED_DELETED
