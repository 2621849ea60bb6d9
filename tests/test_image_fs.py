"""Merged filesystem semantics: whiteouts, opaque dirs, overwrites, links, lstat sizes."""

from __future__ import annotations

import io

import pytest

from depslim.errors import ImageFormatError
from depslim.targets.image.fs import MergedFS
from depslim.targets.image.layers import BoundedStream, scan_layer
from tests.imagebuild import Dir, File, Hardlink, Opaque, Symlink, Whiteout, layer_tar


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        return self._io.read(n)


def merged(*layers: list) -> MergedFS:
    fs = MergedFS("test.tar")
    for index, entries in enumerate(layers):
        fs.apply(index, scan_layer(_Bytes(layer_tar(entries)), "test.tar"))
    return fs


def test_whiteout_of_directory_charges_everything_it_hides() -> None:
    fs = merged(
        [File("/root/.cache/pip/a", b"x" * 1000), File("/root/.cache/pip/sub/b", b"y" * 500), File("/keep", b"k")],
        [Whiteout("/root/.cache/pip")],
    )
    assert "/root/.cache/pip" not in fs.nodes and "/root/.cache/pip/sub/b" not in fs.nodes
    assert "/root/.cache" in fs.nodes and "/keep" in fs.nodes
    [removal] = fs.removals
    assert (removal.kind, removal.path, removal.layer, removal.bytes) == ("whiteout", "/root/.cache/pip", 1, 1500)
    assert removal.by_layer == {0: 1500}
    assert removal.top[0] == (1000, "/root/.cache/pip/a")


def test_whiteout_only_hides_lower_layers_not_its_own() -> None:
    fs = merged([File("/app/x", b"old!")], [Whiteout("/app/x"), File("/app/x", b"new")])
    assert fs.nodes["/app/x"][1:3] == (3, 1)
    assert [(r.kind, r.bytes) for r in fs.removals] == [("whiteout", 4)]


def test_opaque_dir_hides_lower_children_even_when_listed_after_new_content() -> None:
    fs = merged(
        [File("/opt/data/a", b"aaaa"), File("/opt/data/deep/b", b"bb")],
        [File("/opt/data/c", b"c"), Opaque("/opt/data")],
    )
    assert sorted(p for p in fs.nodes if p.startswith("/opt/data/")) == ["/opt/data/c"]
    [removal] = fs.removals
    assert (removal.kind, removal.path, removal.bytes) == ("opaque", "/opt/data", 6)


def test_overwrite_records_the_replaced_copy() -> None:
    fs = merged([File("/etc/big", b"1" * 300)], [File("/etc/big", b"2" * 10)])
    assert fs.nodes["/etc/big"][1] == 10
    [removal] = fs.removals
    assert (removal.kind, removal.bytes, removal.by_layer) == ("overwrite", 300, {0: 300})


def test_directory_over_directory_keeps_children_and_is_not_waste() -> None:
    fs = merged([File("/d/a", b"a")], [Dir("/d"), File("/d/b", b"b")])
    assert {"/d/a", "/d/b"} <= set(fs.nodes)
    assert fs.removals == []


def test_symlink_and_hardlink_sizes_follow_lstat() -> None:
    fs = merged([
        File("/data/real.bin", b"z" * 4096),
        Symlink("/data/link", "real.bin"),
        Hardlink("/data/hard", "/data/real.bin"),
        Dir("/empty"),
    ])
    assert fs.lstat("/data/link")[1] == len("real.bin")
    assert fs.lstat("/data/hard")[1] == 4096
    assert fs.lstat("/empty")[1] == 0


def test_lstat_follows_intermediate_symlinks_like_the_kernel() -> None:
    fs = merged([
        Dir("/usr/bin"), File("/usr/bin/tool", b"12345"),
        Symlink("/bin", "usr/bin"),
        Symlink("/opt/venv/lib64", "lib"), File("/opt/venv/lib/x.py", b"xx"),
        Symlink("/loop/a", "b"), Symlink("/loop/b", "a"),
    ])
    assert fs.lstat("/bin/tool")[1] == 5
    assert fs.lstat("/opt/venv/lib64/x.py")[1] == 2
    assert fs.lstat("/loop/a/x") is None  # a symlink loop resolves to nothing, not a hang
    assert fs.lstat("/missing/x") is None


def test_absolute_symlink_resolves_inside_the_image_root() -> None:
    fs = merged([File("/real/f", b"abc"), Symlink("/x/y", "/real")])
    assert fs.lstat("/x/y/f")[1] == 3


def test_glob_matches_names_and_any_depth() -> None:
    fs = merged([
        File("/usr/local/cuda-12.1/lib64/libcudart_static.a", b"s" * 10),
        File("/usr/local/cuda-12.1/targets/x/lib/libcublas_static.a", b"s" * 20),
        File("/usr/local/cuda-12.1/lib64/libcudart.so", b"d"),
    ])
    assert fs.glob("/usr/local/cuda*/**/lib*_static.a") == [
        "/usr/local/cuda-12.1/lib64/libcudart_static.a",
        "/usr/local/cuda-12.1/targets/x/lib/libcublas_static.a",
    ]


def test_hardlink_to_missing_member_is_an_error() -> None:
    with pytest.raises(ImageFormatError, match="hardlink"):
        merged([Hardlink("/a", "/nowhere")])


def test_bounded_stream_stops_at_its_length() -> None:
    stream = BoundedStream(_Bytes(b"abcdef"), 4)
    assert stream.read(10) == b"abcd" and stream.read(10) == b""
