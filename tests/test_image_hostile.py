"""Hostile and broken archives end in one ImageFormatError line (exit 2), never a traceback,
never a write outside a temp dir, never unbounded memory."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner

from depslim.cli import cli
from depslim.errors import ImageFormatError
from depslim.targets.image import Limits, open_image
from tests.imagebuild import (
    File,
    Hardlink,
    Image,
    RawMember,
    Symlink,
    image_config,
    layer_tar,
    sha256,
    write_docker_archive,
    write_oci_layout,
)

MiB = 1024 * 1024


def _archive(tmp_path: Path, layer: bytes, compression: str | None = None, raw_blob: bytes | None = None) -> Path:
    """An OCI layout whose single layer blob is `raw_blob` (or `layer` compressed)."""
    layout = write_oci_layout(tmp_path / "oci", [Image([layer], compression=compression)])
    if raw_blob is not None:
        manifest_digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
        manifest = json.loads((layout / "blobs/sha256" / manifest_digest[7:]).read_text())
        blob_name = manifest["layers"][0]["digest"][7:]
        (layout / "blobs/sha256" / blob_name).write_bytes(raw_blob)
    return layout


def _expect_error(ref: Path, match: str, **kwargs: object) -> ImageFormatError:
    with pytest.raises(ImageFormatError, match=match) as info:
        open_image(str(ref), **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    assert str(ref) in str(info.value)  # the message names the archive
    return info.value


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/../../x", "/etc/passwd"])
def test_escaping_and_absolute_member_names(tmp_path: Path, name: str) -> None:
    layer = layer_tar([RawMember(name, data=b"pwned")])
    _expect_error(_archive(tmp_path, layer), "escapes the archive root|absolute member name")
    assert not (tmp_path.parent / "etc").exists()


def test_symlink_pointing_outside(tmp_path: Path) -> None:
    layer = layer_tar([Symlink("/a/b", "../../../../etc/shadow")])
    _expect_error(_archive(tmp_path, layer), "symlink points outside")


def test_hardlink_pointing_outside(tmp_path: Path) -> None:
    layer = layer_tar([File("/x", "x"), Hardlink("/y", "../../x")])
    _expect_error(_archive(tmp_path, layer), "escapes the archive root")


def test_truncated_layer_tar(tmp_path: Path) -> None:
    layer = layer_tar([File("/big", b"z" * 100_000), File("/after", b"a")])
    _expect_error(_archive(tmp_path, layer, raw_blob=layer[:50_000]), "truncated tar")


def test_truncated_outer_archive(tmp_path: Path) -> None:
    path = write_docker_archive(tmp_path / "a.tar", Image([layer_tar([File("/f", b"f" * 50_000)])]))
    data = path.read_bytes()
    path.write_bytes(data[:20_000])
    _expect_error(path, "truncated|missing")


def test_corrupt_gzip(tmp_path: Path) -> None:
    layer = layer_tar([File("/f", bytes(range(256)) * 400)])
    blob = bytearray(gzip.compress(layer))
    blob[len(blob) // 2 : len(blob) // 2 + 64] = b"\xff" * 64
    _expect_error(_archive(tmp_path, layer, raw_blob=bytes(blob)), "corrupt gzip|truncated|corrupt tar|not a tar")


def test_truncated_gzip(tmp_path: Path) -> None:
    layer = layer_tar([File("/f", bytes(range(256)) * 400)])
    blob = gzip.compress(layer)
    _expect_error(_archive(tmp_path, layer, raw_blob=blob[: len(blob) // 2]), "truncated")


def test_corrupt_zstd(tmp_path: Path) -> None:
    layer = layer_tar([File("/f", bytes(range(256)) * 400)])
    blob = bytearray(zstandard.ZstdCompressor().compress(layer))
    blob[20:80] = b"\x00" * 60
    _expect_error(_archive(tmp_path, layer, raw_blob=bytes(blob)), "zstd|truncated|tar")


def test_missing_blob(tmp_path: Path) -> None:
    layout = _archive(tmp_path, layer_tar([File("/f", "f")]))
    manifest_digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest[7:]).read_text())
    (layout / "blobs/sha256" / manifest["layers"][0]["digest"][7:]).unlink()
    _expect_error(layout, "missing layer blob")


def test_missing_manifest(tmp_path: Path) -> None:
    path = tmp_path / "nothing.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    _expect_error(path, "neither index.json nor manifest.json")


def test_manifest_pointing_outside_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "evil.tar"
    config = json.dumps(image_config([])).encode()
    with tarfile.open(path, "w") as tar:
        manifest = [{"Config": "c.json", "Layers": ["../../etc/passwd"]}]
        for name, data in (("c.json", config), ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _expect_error(path, "escapes the archive root")


def test_bad_digest_in_index(tmp_path: Path) -> None:
    layout = _archive(tmp_path, layer_tar([File("/f", "f")]))
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["digest"] = "sha256:../../../etc/passwd"
    (layout / "index.json").write_text(json.dumps(index))
    _expect_error(layout, "bad or missing digest")


def test_absurd_size_field(tmp_path: Path) -> None:
    info = tarfile.TarInfo("huge")
    info.size = 2**45  # 32 TiB: base-256 in a GNU header
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    _expect_error(_archive(tmp_path, layer_tar([]), raw_blob=header + b"\0" * 1024), "absurd member size")


def test_not_a_tar_layer(tmp_path: Path) -> None:
    _expect_error(_archive(tmp_path, layer_tar([]), raw_blob=b"this is not a tar" * 100), "not a tar")


def _zero_tar_stream(size: int) -> bytes:
    info = tarfile.TarInfo("zeros")
    info.size = size
    return info.tobuf(format=tarfile.PAX_FORMAT)


def test_zstd_decompression_bomb_is_capped_by_ratio(tmp_path: Path) -> None:
    compressor = zstandard.ZstdCompressor(level=1)
    out = io.BytesIO()
    with compressor.stream_writer(out, closefd=False) as writer:
        writer.write(_zero_tar_stream(512 * MiB))
        chunk = b"\0" * MiB
        for _ in range(512):
            writer.write(chunk)
    blob = out.getvalue()
    assert len(blob) < MiB
    _expect_error(_archive(tmp_path, layer_tar([]), raw_blob=blob), "decompression bomb")


def test_gzip_bomb_is_capped_by_total(tmp_path: Path) -> None:
    blob = gzip.compress(_zero_tar_stream(8 * MiB) + b"\0" * (8 * MiB), compresslevel=1)
    limits = Limits(max_layer_bytes=4 * MiB)
    _expect_error(_archive(tmp_path, layer_tar([]), raw_blob=blob), "decompression bomb", limits=limits)


def test_hostile_archive_via_cli_exits_2_with_one_line(tmp_path: Path) -> None:
    layer = layer_tar([RawMember("../../escape", data=b"x")])
    layout = _archive(tmp_path, layer)
    result = CliRunner().invoke(cli, ["image", str(layout), "-f", "json"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "escapes the archive root" in lines[0]


def test_digest_helper_is_real_sha256() -> None:
    assert sha256(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
