"""The engine fast path without an engine: which store (or why not), the layer-directory walk against
the tar the engine would export of the same directory, its safety, and the bbolt reader's refusals.

The equivalence test is the guard against drift: the walk mirrors `layers._scan` (same captured
files, ELF sections, limits, warnings), so every LayerScan field must equal the tar scan's for a
directory holding every kind of entry, with the default limits and with tight ones.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from depslim.errors import ImageFormatError, TargetError
from depslim.targets.image.boltdb import BoltDB, BoltError, uvarint
from depslim.targets.image.layers import DEFAULT_LIMITS, LayerScan, Limits, RegionFile, scan_layer
from depslim.targets.image.layerstore import (
    OVERLAY2,
    SNAPSHOTTER,
    StoreUnavailable,
    _FileReader,
    chain_ids,
    scan_layer_dir,
    store_plan,
)
from depslim.targets.image.sources import engine_connection
from tests.elfbuild import Synthetic

# What this machine's engine (Docker 20.10, overlay2) answers to GET /info and GET /images/…/json,
# trimmed to the fields that matter.
INFO: dict[str, Any] = {
    "Driver": "overlay2",
    "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"],
                     ["Native Overlay Diff", "true"], ["userxattr", "false"]],
    "SecurityOptions": ["name=seccomp,profile=default"],
    "OSType": "linux",
    "DockerRootDir": "/var/lib/docker",
}
INSPECT: dict[str, Any] = {
    "Id": "sha256:" + "c" * 64,
    "RootFS": {"Type": "layers", "Layers": ["sha256:" + "a" * 64, "sha256:" + "b" * 64]},
    "GraphDriver": {"Name": "overlay2", "Data": {
        "LowerDir": "/var/lib/docker/overlay2/" + "1" * 64 + "/diff",
        "MergedDir": "/var/lib/docker/overlay2/" + "2" * 64 + "/merged",
        "UpperDir": "/var/lib/docker/overlay2/" + "2" * 64 + "/diff",
        "WorkDir": "/var/lib/docker/overlay2/" + "2" * 64 + "/work"}},
}
# Docker 24+ with the containerd image store (`"features": {"containerd-snapshotter": true}`).
INFO_C8D: dict[str, Any] = {
    **INFO, "Driver": "overlayfs", "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
    "Containerd": {"Address": "/run/containerd/containerd.sock",
                   "Namespaces": {"Containers": "moby", "Plugins": "plugins.moby"}},
}
INSPECT_C8D: dict[str, Any] = {**INSPECT, "GraphDriver": {"Name": "overlayfs", "Data": None}}


def _reason(**kwargs: Any) -> str:
    args = {"docker_host": "", "system": "linux", "info": INFO, "inspect": INSPECT, "privileged": True, **kwargs}
    with pytest.raises(StoreUnavailable) as caught:
        store_plan(**args)
    return str(caught.value)


# --- which store, or why not ---------------------------------------------------------------------------


def test_overlay2_engine_is_read_from_its_store() -> None:
    plan = store_plan("", "linux", INFO, INSPECT, True)
    assert (plan.kind, plan.root) == (OVERLAY2, "/var/lib/docker")
    assert store_plan("unix:///var/run/docker.sock", "linux", INFO, INSPECT, True).kind == OVERLAY2


def test_containerd_image_store_is_read_from_its_overlayfs_snapshots() -> None:
    plan = store_plan("", "linux", INFO_C8D, INSPECT_C8D, True)
    assert (plan.kind, plan.snapshotter, plan.namespace) == (SNAPSHOTTER, "overlayfs", "moby")


@pytest.mark.parametrize("host", ["tcp://127.0.0.1:2375", "tcp://docker:2376", "ssh://me@build-host"])
def test_remote_docker_host_falls_back(host: str) -> None:
    assert _reason(docker_host=host) == (f"DOCKER_HOST={host} is not a local socket: the engine's layer store "
                                         "is not on this machine")


def test_rootless_engine_falls_back() -> None:
    info = {**INFO, "SecurityOptions": ["name=seccomp,profile=default", "name=rootless", "name=cgroupns"],
            "DockerRootDir": "/home/me/.local/share/docker",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Native Overlay Diff", "true"], ["userxattr", "true"]]}
    assert "rootless" in _reason(docker_host="unix:///run/user/1000/docker.sock", info=info)


@pytest.mark.parametrize("driver", ["vfs", "btrfs", "zfs", "fuse-overlayfs", "devicemapper"])
def test_other_storage_driver_falls_back(driver: str) -> None:
    info = {**INFO, "Driver": driver, "DriverStatus": [["Build Version", "Btrfs v6.2"]]}
    inspect = {**INSPECT, "GraphDriver": {"Name": driver, "Data": {"RootDir": "/var/lib/docker/x"}}}
    assert _reason(info=info, inspect=inspect) == (
        f"the engine's storage driver is {driver!r}; depslim reads layers directly only from overlay2 and the "
        "containerd overlayfs snapshotter")


@pytest.mark.parametrize("snapshotter", ["native", "stargz", "btrfs"])
def test_containerd_store_with_another_snapshotter_falls_back(snapshotter: str) -> None:
    inspect = {**INSPECT_C8D, "GraphDriver": {"Name": snapshotter, "Data": None}}
    assert f"uses the {snapshotter!r} snapshotter" in _reason(info=INFO_C8D, inspect=inspect)


def test_not_root_falls_back_unless_overlay_uses_user_xattrs() -> None:
    assert _reason(privileged=False).startswith("not root: overlay marks opaque directories with trusted.* xattrs")
    assert _reason(info=INFO_C8D, inspect=INSPECT_C8D, privileged=False).startswith("not root")
    user_xattrs = {**INFO, "DriverStatus": [["Native Overlay Diff", "true"], ["userxattr", "true"]]}
    assert store_plan("", "linux", user_xattrs, INSPECT, False).kind == OVERLAY2


def test_overlay2_without_native_diff_falls_back() -> None:
    info = {**INFO, "DriverStatus": [["Backing Filesystem", "extfs"], ["Native Overlay Diff", "false"]]}
    assert "without native diff" in _reason(info=info)


@pytest.mark.parametrize("system", ["darwin", "win32"])
def test_engine_in_a_vm_falls_back(system: str) -> None:
    assert _reason(system=system) == f"depslim runs on {system}: the engine's layer store is inside its Linux VM"


def test_inspect_without_layer_directories_falls_back() -> None:
    assert "names no layer directories" in _reason(inspect={**INSPECT, "GraphDriver": {"Name": "overlay2",
                                                                                         "Data": None}})
    assert "data root" in _reason(info={**INFO, "DockerRootDir": None})


def test_chain_ids_follow_the_image_spec() -> None:
    # the chain of the real two-layer e2e image checked against `docker image inspect` + layerdb
    diff = ["sha256:" + "a" * 64, "sha256:" + "b" * 64]
    chain = chain_ids(diff)
    assert chain[0] == diff[0]
    import hashlib

    assert chain[1] == "sha256:" + hashlib.sha256(f"{diff[0]} {diff[1]}".encode()).hexdigest()


def test_engine_connection_speaks_plain_tcp_and_refuses_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:23750")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    conn = engine_connection(timeout=1)
    assert (conn.host, conn.port) == ("127.0.0.1", 23750)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    with pytest.raises(TargetError, match="TLS"):
        engine_connection(timeout=1)
    monkeypatch.setenv("DOCKER_HOST", "ssh://me@host")
    with pytest.raises(TargetError, match="only unix:// sockets and plain tcp://"):
        engine_connection(timeout=1)


def test_engine_read_must_be_known() -> None:
    from depslim.targets.image import open_image

    with pytest.raises(TargetError, match="engine_read='fast'"):
        open_image("docker:whatever", engine_read="fast")


# --- the walk against the tar the engine would export -------------------------------------------------

SITE = "usr/lib/python3/dist-packages"
METADATA = "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Dist: numpy\n\n" + "README " * 4000


def _tree(root: Path, outside: Path) -> None:
    """A layer directory with every kind of entry a layer holds."""
    def write(rel: str, data: bytes | str) -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    dist = f"{SITE}/pkg-1.0.dist-info"
    write(f"{dist}/METADATA", METADATA)
    write(f"{dist}/RECORD", "pkg/__init__.py,,\npkg/_native.so,,\n")
    write(f"{dist}/top_level.txt", "pkg\n")
    write(f"{dist}/INSTALLER", "pip\n")
    write(f"{dist}/entry_points.txt", "[console_scripts]\npkg = pkg:main\n")
    native = write(f"{SITE}/pkg/_native.so", Synthetic(soname="libpkg.so.1", needed=["libz.so.1"]).build())
    os.link(native, root / SITE / "pkg/_native_again.so")  # a second name: a hardlink member
    init = write(f"{SITE}/pkg/__init__.py", "def main():\n    return 0\n")
    os.link(init, root / SITE / "pkg/alias.py")
    write(f"{SITE}/pkg/data/empty.bin", b"")
    write("var/lib/dpkg/status", "Package: libfoo\nStatus: install ok installed\nVersion: 1\n\n")
    write("var/lib/dpkg/info/libfoo.list", "/usr/lib/x86_64-linux-gnu/libfoo.so.1\n/usr/share/doc/libfoo\n")
    write("etc/os-release", 'ID=debian\nVERSION_CODENAME=bookworm\n')
    write("usr/local/lib/python3.11/site-packages/pyvenv.cfg", "home = /usr/bin\n")
    write("opt/" + "long-directory-name/" * 8 + "file-with-a-long-name.txt", "x" * 300)
    os.makedirs(root / "usr/bin", exist_ok=True)
    os.symlink("python3.11", root / "usr/bin/python3")
    os.symlink("/usr/bin/python3", root / "usr/bin/python")
    os.symlink("usr/lib", root / "lib")
    os.symlink(str(outside), root / "data")  # an absolute target: never followed by the walk
    os.mkdir(root / "empty")
    os.mkfifo(root / "empty/fifo")
    os.open(bytes(root / "usr") + b"/caf\xe9-latin1.txt", os.O_CREAT | os.O_WRONLY, 0o644)
    write("srv/.wh.literal", b"")  # a name only odd tools leave: the archive reads it as a whiteout
    os.link(outside / "shared.bin", root / "srv/shared.bin")  # nlink 2, its other name outside the layer
    opaque = root / "srv/cache"
    opaque.mkdir()
    write("srv/cache/fresh.txt", "new")
    os.setxattr(opaque, "user.overlay.opaque", b"y")
    not_opaque = root / "srv/not-opaque"
    not_opaque.mkdir()
    os.setxattr(not_opaque, "user.overlay.opaque", b"n")
    if os.geteuid() == 0:  # overlay whiteouts are 0/0 character devices; only root can make them
        os.mknod(root / "srv/gone.txt", stat.S_IFCHR | 0o600, os.makedev(0, 0))
        os.mknod(root / "srv/gone-dir", stat.S_IFCHR | 0o600, os.makedev(0, 0))
        os.mknod(root / "srv/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a real device: kept as is
        trusted = root / "srv/trusted-opaque"
        trusted.mkdir()
        os.setxattr(trusted, "trusted.overlay.opaque", b"y")


def _export(root: Path, out: Path) -> Path:
    """The tar docker writes of a layer directory (moby pkg/archive with the overlay whiteout format):
    `filepath.WalkDir` order (names as bytes, depth first), tarfile's own hardlink detection (the first
    name written is the file), 0/0 character devices as `.wh.NAME`, opaque dirs followed by their marker."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        def walk(directory: bytes, rel: bytes) -> None:
            for name in sorted(os.listdir(directory)):
                path, arc = directory + b"/" + name, (rel + b"/" + name).lstrip(b"/")
                info = os.lstat(path)
                arcname = arc.decode("utf-8", "surrogateescape")
                if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                    parent, _, base = arcname.rpartition("/")
                    tar.addfile(tarfile.TarInfo(f"{parent}/.wh.{base}".lstrip("/")))
                    continue
                member = tar.gettarinfo(os.fsdecode(path), arcname)
                if member.isreg():
                    with open(path, "rb") as handle:
                        tar.addfile(member, handle)
                else:
                    tar.addfile(member)
                if stat.S_ISDIR(info.st_mode):
                    keys = os.listxattr(path)
                    if any(k in keys and os.getxattr(path, k) == b"y"
                           for k in ("trusted.overlay.opaque", "user.overlay.opaque")):
                        tar.addfile(tarfile.TarInfo(f"{arcname}/.wh..wh..opq"))
                    walk(path, rel + b"/" + name)
        walk(bytes(root), b"")
    return out


def _tar_scan(path: Path, limits: Limits = DEFAULT_LIMITS) -> LayerScan:
    region = RegionFile(str(path), 0, path.stat().st_size)
    try:
        return scan_layer(region, "layer", limits)
    finally:
        region.close()


def _fields(scan: LayerScan) -> dict[str, Any]:
    return {"entries": scan.entries, "whiteouts": scan.whiteouts, "opaques": scan.opaques,
            "captured": scan.captured, "elf": scan.elf, "content_bytes": scan.content_bytes,
            "warnings": scan.warnings, "name_bytes": scan.name_bytes}


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("never read")
    (outside / "shared.bin").write_bytes(b"s" * 77)
    root = tmp_path / "diff"
    root.mkdir()
    _tree(root, outside)
    return root


@pytest.mark.parametrize("limits", [DEFAULT_LIMITS, Limits(max_small_capture=4, max_metadata_header=40)],
                         ids=["default-limits", "tight-limits"])
def test_walk_equals_the_scan_of_the_exported_tar(layer: Path, tmp_path: Path, limits: Limits) -> None:
    walked = scan_layer_dir(str(layer), "layer", limits)
    expected = _tar_scan(_export(layer, tmp_path / "layer.tar"), limits)
    assert _fields(walked) == _fields(expected)
    entries = {path: (kind, size, link) for path, kind, size, link in walked.entries}
    assert entries[f"/{SITE}/pkg/_native_again.so"] == ("h", 0, f"/{SITE}/pkg/_native.so")
    assert entries["/usr/caf\ufffd-latin1.txt"][0] == "f"
    assert entries["/data"][0] == "l" and not any(path.startswith("/data/") for path in entries)
    assert "/srv/cache" in walked.opaques and "/srv/not-opaque" not in walked.opaques
    assert "/srv/literal" in walked.whiteouts
    if os.geteuid() == 0:
        assert {"/srv/gone.txt", "/srv/gone-dir"} <= set(walked.whiteouts)
        assert entries["/srv/null"] == ("o", 0, None) and "/srv/trusted-opaque" in walked.opaques


def test_walk_keeps_the_archives_name_limits(tmp_path: Path) -> None:
    deep = tmp_path / "diff" / "/".join(f"d{i}" for i in range(7))
    deep.mkdir(parents=True)
    (deep / "f").write_text("x")
    limits = Limits(max_depth=5)
    with pytest.raises(ImageFormatError) as walked:
        scan_layer_dir(str(tmp_path / "diff"), "layer", limits)
    with pytest.raises(ImageFormatError) as archived:
        _tar_scan(_export(tmp_path / "diff", tmp_path / "layer.tar"), limits)
    assert walked.value.problem == archived.value.problem
    assert "more than 5" in walked.value.problem


def test_a_symlink_out_of_the_image_is_refused_as_in_the_archive(tmp_path: Path) -> None:
    root = tmp_path / "diff"
    (root / "etc").mkdir(parents=True)
    os.symlink("../../../../../etc/shadow", root / "etc/evil")
    with pytest.raises(ImageFormatError) as walked:
        scan_layer_dir(str(root), "layer", DEFAULT_LIMITS)
    with pytest.raises(ImageFormatError) as archived:
        _tar_scan(_export(root, tmp_path / "layer.tar"))
    assert walked.value.problem == archived.value.problem == (
        "symlink points outside the image: /etc/evil -> ../../../../../etc/shadow")


def _state(root: Path) -> list[tuple[str, int, int, int]]:
    out = []
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            info = os.lstat(os.path.join(directory, name))
            out.append((os.path.join(directory, name), info.st_mtime_ns, info.st_ctime_ns, info.st_size))
    return sorted(out)


def test_walk_never_writes_and_never_leaves_the_layer(layer: Path, tmp_path: Path) -> None:
    before, outside_before = _state(layer), _state(tmp_path / "outside")
    scan = scan_layer_dir(str(layer), "layer", DEFAULT_LIMITS)
    assert _state(layer) == before and _state(tmp_path / "outside") == outside_before
    assert not any("never read" in data.decode("utf-8", "replace") for data in scan.captured.values())


def test_files_are_opened_without_following_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("secret")
    os.symlink(tmp_path / "real", tmp_path / "METADATA")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        reader = _FileReader(fd, "METADATA", os.lstat(tmp_path / "METADATA").st_ino, 6, "layer", "METADATA")
        with pytest.raises(OSError) as caught:
            reader.read_raw(6)
        assert caught.value.errno == errno.ELOOP
    finally:
        os.close(fd)


def test_a_file_swapped_after_it_was_listed_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "RECORD").write_text("listed")
    listed = os.lstat(tmp_path / "RECORD").st_ino
    os.replace(tmp_path / "RECORD", tmp_path / "old")
    (tmp_path / "RECORD").write_text("swapped in")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(StoreUnavailable, match="changed while it was read"):
            _FileReader(fd, "RECORD", listed, 6, "layer", "RECORD").read_data(6)
    finally:
        os.close(fd)


def test_an_unreadable_layer_is_a_reason_to_fall_back(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="cannot open layer directory"):
        scan_layer_dir(str(tmp_path / "missing"), "layer", DEFAULT_LIMITS)


# --- the bbolt reader ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\x00" * 8192, os.urandom(16384), b"\xed\xda\x0c\xed" * 2048],
                         ids=["empty", "zeros", "random", "magic-only"])
def test_bolt_reader_refuses_what_is_not_a_bbolt_file(data: bytes) -> None:
    with pytest.raises(BoltError):
        BoltDB(data).bucket(b"v1", b"snapshots")


def test_uvarint_reads_go_varints() -> None:
    assert uvarint(b"\x01") == 1 and uvarint(b"\xac\x02") == 300
    with pytest.raises(BoltError):
        uvarint(b"\xff" * 11)


def test_tar_export_helper_writes_what_docker_writes(layer: Path, tmp_path: Path) -> None:
    """The test's exporter itself: whiteouts and the opaque marker as docker names them."""
    with tarfile.open(_export(layer, tmp_path / "layer.tar")) as tar:
        names = tar.getnames()
    assert "srv/cache/.wh..wh..opq" in names and names.index("srv/cache/.wh..wh..opq") == names.index("srv/cache") + 1
    assert "srv/.wh.literal" in names
    if os.geteuid() == 0:
        assert "srv/.wh.gone.txt" in names
    assert isinstance(io.BytesIO(), io.BytesIO)
