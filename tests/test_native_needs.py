"""OS library needs end to end: gcc-built wheels' libraries inside real image archives (plain, gzip,
zstd layers) and in an environment on disk, dpkg list mapping, base provides, packaged data."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from depslim.errors import ImageFormatError, TargetError
from depslim.model import InstalledDistribution, InstalledFile
from depslim.native.base import base_from_data, base_provides, parse_python_slim
from depslim.native.data import native_data, package_map
from depslim.native.elf import ElfInfo, read_elf_file
from depslim.native.needs import BaseProvides, OsLibNeed, elf_problems, os_library_needs, packages_to_install
from depslim.native.sonames import library_sonames, list_package, soname_packages
from depslim.targets.environment import host_debian_release, host_dpkg_sonames, read_native, scan_site_dirs
from depslim.targets.image import open_image
from depslim.targets.image.layers import _dpkg_list_filter, scan_layer
from tests.elfbuild import Synthetic, gcc_lib, readelf_dynamic
from tests.imagebuild import Entry, File, Image, Symlink, Whiteout, dist_entries, layer_tar, write_docker_archive

SITE = "/usr/local/lib/python3.11/site-packages"

# /var/lib/dpkg/info/libgl1:amd64.list exactly as Debian bookworm's libgl1 1.6.0-1 installs it.
LIBGL1_LIST = """/.
/usr
/usr/lib
/usr/lib/x86_64-linux-gnu
/usr/lib/x86_64-linux-gnu/libGL.so.1.7.0
/usr/share
/usr/share/bug
/usr/share/bug/libgl1
/usr/share/bug/libgl1/control
/usr/share/doc
/usr/share/doc/libgl1
/usr/share/doc/libgl1/changelog.Debian.gz
/usr/share/doc/libgl1/copyright
/usr/lib/x86_64-linux-gnu/libGL.so.1
"""
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real shared objects, laid out like auditwheel-repaired wheels."""
    tmp = tmp_path_factory.mktemp("wheels")
    gl = gcc_lib(tmp / "libGL.so.1", "libGL.so.1")
    gomp = gcc_lib(tmp / "libgomp.so.1", "libgomp.so.1")
    odbc = gcc_lib(tmp / "libodbc.so.2", "libodbc.so.2")
    pq = gcc_lib(tmp / "libpq.so.5", "libpq.so.5")
    vendored = gcc_lib(tmp / "libpng16-1a2b3c4d.so.16.40.0", "libpng16-1a2b3c4d.so.16.40.0", ["-lm"])
    ext = gcc_lib(tmp / "cv2.abi3.so", None, [str(vendored), str(gl), "-lm", "-lpthread"])
    boost = gcc_lib(tmp / "lib_lightgbm.so", None, [str(gomp), "-lm"])
    gone = gcc_lib(tmp / "_odbc.so", None, [str(odbc)])
    old = gcc_lib(tmp / "_pg_old.so", None, [str(pq)])
    new = gcc_lib(tmp / "_pg_new.so", None, ["-lm"])
    return {p.name: p.read_bytes() for p in (vendored, ext, boost, gone, old, new)}


def layers(wheels: dict[str, bytes]) -> list[bytes]:
    base: list[Entry] = [
        File("/etc/os-release", OS_RELEASE),
        File("/var/lib/dpkg/info/libgl1:amd64.list", LIBGL1_LIST),
        File("/var/lib/dpkg/info/libc6:amd64.list",
             "/lib/x86_64-linux-gnu/libc.so.6\n/lib/x86_64-linux-gnu/libm.so.6\n"),
        File("/usr/lib/x86_64-linux-gnu/libc.so.6", b"\x7fELF-not-read"),
    ]
    pkgs = (
        dist_entries(SITE, "opencv-python", "4.10.0", {
            "cv2/__init__.py": "",
            "cv2/cv2.abi3.so": wheels["cv2.abi3.so"],
            "opencv_python.libs/libpng16-1a2b3c4d.so.16.40.0": wheels["libpng16-1a2b3c4d.so.16.40.0"],
        })
        + dist_entries(SITE, "lightgbm", "4.5.0", {"lightgbm/lib/lib_lightgbm.so": wheels["lib_lightgbm.so"]})
        + dist_entries(SITE, "pyodbc", "5.0", {"_odbc.so": wheels["_odbc.so"]})
        + dist_entries(SITE, "pg", "1.0", {"pg/_pg.so": wheels["_pg_old.so"],
                                           "pg/junk.so.1": Synthetic(phnum=0xFFFE).build()})
    )
    later: list[Entry] = [Whiteout(f"{SITE}/_odbc.so"), File(f"{SITE}/pg/_pg.so", wheels["_pg_new.so"])]
    return [layer_tar(base), layer_tar(pkgs), layer_tar(later)]


def slim_base() -> BaseProvides:
    base = base_from_data("python:3.11-slim-bookworm")
    assert base is not None
    return base


@pytest.mark.parametrize("compression", [None, "gzip", "zstd"])
def test_image_reports_the_os_libraries_the_wheels_need(
    tmp_path: Path, wheels: dict[str, bytes], compression: str | None
) -> None:
    archive = write_docker_archive(tmp_path / "img.tar", Image(layers(wheels), compression=compression))
    analysis = open_image(str(archive)).analysis
    ext = f"{SITE}/cv2/cv2.abi3.so"
    assert set(analysis.elf) == {
        ext, f"{SITE}/opencv_python.libs/libpng16-1a2b3c4d.so.16.40.0", f"{SITE}/lightgbm/lib/lib_lightgbm.so",
        f"{SITE}/pg/_pg.so", f"{SITE}/pg/junk.so.1",
    }  # the whited-out _odbc.so is gone; pg/_pg.so is the layer-2 copy
    assert analysis.elf[ext].needed[:2] == ("libpng16-1a2b3c4d.so.16.40.0", "libGL.so.1")
    assert "libpq.so.5" not in analysis.elf[f"{SITE}/pg/_pg.so"].needed
    assert analysis.elf[f"{SITE}/pg/junk.so.1"].problem  # hostile file: read, reported, no crash
    assert analysis.dpkg_sonames["libGL.so.1"] == "libgl1" and analysis.debian_release == "bookworm"
    assert len(analysis.distributions) == 4  # the walk's accounting survived the partial reads

    needs = os_library_needs(analysis.distributions, analysis.elf, slim_base(), analysis.dpkg_sonames,
                             analysis.debian_release)
    assert needs == [
        OsLibNeed("libGL.so.1", "libgl1", "dpkg", (("opencv-python", ext),)),
        # lib_lightgbm.so is opened with ctypes, not linked from an extension module
        OsLibNeed("libgomp.so.1", "libgomp1", "data", (("lightgbm", f"{SITE}/lightgbm/lib/lib_lightgbm.so"),),
                  at_import=False),
    ]
    assert packages_to_install(needs) == ["libgl1", "libgomp1"]
    assert [p.distribution for p in elf_problems(analysis.distributions, analysis.elf)] == ["pg"]


def test_image_elf_matches_readelf_on_the_same_bytes(tmp_path: Path, wheels: dict[str, bytes]) -> None:
    archive = write_docker_archive(tmp_path / "img.tar", Image(layers(wheels), compression="gzip"))
    analysis = open_image(str(archive)).analysis
    for name, path in (("cv2.abi3.so", f"{SITE}/cv2/cv2.abi3.so"),
                       ("lib_lightgbm.so", f"{SITE}/lightgbm/lib/lib_lightgbm.so")):
        (tmp_path / name).write_bytes(wheels[name])
        info = analysis.elf[path]
        assert (info.soname, info.needed) == readelf_dynamic(tmp_path / name)


def test_only_shipped_distributions_count(tmp_path: Path, wheels: dict[str, bytes]) -> None:
    archive = write_docker_archive(tmp_path / "img.tar", Image(layers(wheels)))
    analysis = open_image(str(archive)).analysis
    shipped = [d for d in analysis.distributions if d.name == "lightgbm"]
    needs = os_library_needs(shipped, analysis.elf, slim_base(), analysis.dpkg_sonames, "bookworm")
    assert [n.soname for n in needs] == ["libgomp.so.1"]
    # without its vendored libs' distribution, cv2's libpng copy is not provided any more
    cv = [d for d in analysis.distributions if d.name == "opencv-python"]
    stripped = [InstalledDistribution(d.name, d.display_name, d.version, d.site, d.dist_info,
                                      files=tuple(f for f in d.files if ".libs/" not in f.path)) for d in cv]
    needs = os_library_needs(stripped, analysis.elf, slim_base(), analysis.dpkg_sonames, "bookworm")
    assert [n.soname for n in needs] == ["libGL.so.1", "libpng16-1a2b3c4d.so.16.40.0"]
    assert needs[1].package is None and needs[1].source is None


def test_layer_walk_reads_elf_and_keeps_going_after_it(wheels: dict[str, bytes]) -> None:
    data = layer_tar([
        File(f"{SITE}/a/big.so", wheels["cv2.abi3.so"] + bytes(3 * 1024 * 1024)),
        File(f"{SITE}/a-1.dist-info/RECORD", "a/big.so,,\n"),
        File("/opt/not-site/x.so", wheels["lib_lightgbm.so"]),
    ])

    class _Bytes:
        def __init__(self) -> None:
            self._io = io.BytesIO(data)

        def read(self, n: int) -> bytes:
            return self._io.read(n)

    scan = scan_layer(_Bytes(), "t.tar")
    assert list(scan.elf) == [f"{SITE}/a/big.so"]  # outside site dirs: not read
    assert scan.captured[f"{SITE}/a-1.dist-info/RECORD"] == b"a/big.so,,\n"
    sizes = len(wheels["cv2.abi3.so"]) + 3 * 1024 * 1024 + len("a/big.so,,\n") + len(wheels["lib_lightgbm.so"])
    assert scan.content_bytes == sizes and scan.tar_bytes <= len(data)
    cut = data[: data.index(wheels["cv2.abi3.so"]) + 2000]

    class _Cut(_Bytes):
        def __init__(self) -> None:
            self._io = io.BytesIO(cut)

    with pytest.raises(ImageFormatError, match="truncated"):
        scan_layer(_Cut(), "t.tar")


def test_dpkg_list_filter_keeps_libraries_and_site_lines_bounded() -> None:
    kept = _dpkg_list_filter(LIBGL1_LIST.encode() + b"/usr/lib/python3/dist-packages/yaml/__init__.py\n")
    assert kept.splitlines() == [
        b"/usr/lib/x86_64-linux-gnu/libGL.so.1.7.0",
        b"/usr/lib/x86_64-linux-gnu/libGL.so.1",
        b"/usr/lib/python3/dist-packages/yaml/__init__.py",
    ]
    flood = b"".join(b"/usr/lib/x/libz%d.so.1\n" % i for i in range(20000))
    assert len(_dpkg_list_filter(flood).splitlines()) == 4096


def test_soname_packages_from_real_list_content() -> None:
    lists = [
        ("/var/lib/dpkg/info/libgl1:amd64.list", LIBGL1_LIST.encode()),
        ("/var/lib/dpkg/info/libgl-dev:amd64.list", b"/usr/lib/x86_64-linux-gnu/libGL.so\n"
                                                     b"/usr/lib/x86_64-linux-gnu/libGL.so.1\n"),
        ("/var/lib/dpkg/info/weird.list", b"/usr/lib/x86_64-linux-gnu/plugins/libnotinpath.so.1\n"
                                          b"/usr/lib/x86_64-linux-gnu/plugins/libGL.so.1\n"),
    ]
    mapping = soname_packages(lists)
    assert mapping == {"libGL.so.1.7.0": "libgl1", "libGL.so.1": "libgl1", "libGL.so": "libgl-dev",
                       "libnotinpath.so.1": "weird"}  # second choice: listed outside the loader dirs
    assert list_package("/var/lib/dpkg/info/libgl1:amd64.list") == "libgl1"
    assert list_package("/var/lib/dpkg/info/zlib1g.list") == "zlib1g"
    assert library_sonames(["/usr/lib/x86_64-linux-gnu/libz.so.1", "/usr/local/lib/libpython3.11.so.1.0",
                            "/opt/lib/libx.so.1", "/usr/lib/x86_64-linux-gnu/gconv/libGB.so"]) == {
        "libz.so.1", "libpython3.11.so.1.0"}


def test_environment_reads_record_elf_files_and_host_lists(tmp_path: Path, wheels: dict[str, bytes]) -> None:
    site = tmp_path / "site-packages"
    (site / "cv2").mkdir(parents=True)
    (site / "opencv_python.libs").mkdir()
    (site / "cv2" / "cv2.abi3.so").write_bytes(wheels["cv2.abi3.so"])
    vendored = "opencv_python.libs/libpng16-1a2b3c4d.so.16.40.0"
    (site / vendored).write_bytes(wheels["libpng16-1a2b3c4d.so.16.40.0"])
    (site / "cv2" / "data.txt").write_text("x")
    info_dir = site / "opencv_python-4.10.0.dist-info"
    info_dir.mkdir()
    (info_dir / "METADATA").write_text("Metadata-Version: 2.1\nName: opencv-python\nVersion: 4.10.0\n")
    (info_dir / "RECORD").write_text(
        f"cv2/cv2.abi3.so,,\n{vendored},,\ncv2/data.txt,,\nopencv_python-4.10.0.dist-info/RECORD,,\n")
    dists = scan_site_dirs([str(site)])
    elf = read_native(dists)
    so = str(site / "cv2" / "cv2.abi3.so")
    assert sorted(elf) == [so, str(site / vendored)]
    assert elf[so] == read_elf_file(so)
    dpkg = tmp_path / "info"
    dpkg.mkdir()
    (dpkg / "libgl1:amd64.list").write_text(LIBGL1_LIST)
    (dpkg / "libgl1:amd64.md5sums").write_text("ignored\n")
    mapping = host_dpkg_sonames(str(dpkg))
    assert mapping["libGL.so.1"] == "libgl1"
    needs = os_library_needs(dists, elf, slim_base(), mapping, None)
    assert [(n.soname, n.package, n.source) for n in needs] == [("libGL.so.1", "libgl1", "dpkg")]
    assert host_dpkg_sonames(str(tmp_path / "none")) == {}
    (tmp_path / "os-release").write_text(OS_RELEASE)
    assert host_debian_release(str(tmp_path / "os-release")) == "bookworm"
    assert host_debian_release(str(tmp_path / "none")) is None


def test_base_image_read_from_an_archive_or_data(tmp_path: Path) -> None:
    base: list[Entry] = [
        File("/etc/os-release", OS_RELEASE.replace("bookworm", "trixie")),
        File("/usr/lib/x86_64-linux-gnu/libGL.so.1.7.0", b"x"),
        Symlink("/usr/lib/x86_64-linux-gnu/libGL.so.1", "libGL.so.1.7.0"),
        File("/var/lib/dpkg/info/libgl1:amd64.list", LIBGL1_LIST),
    ]
    archive = write_docker_archive(tmp_path / "base.tar", Image([layer_tar(base)]))
    provides = base_provides(str(archive))
    assert provides is not None and provides.source == "image" and provides.release == "trixie"
    assert {"libGL.so.1", "libGL.so.1.7.0"} <= provides.sonames

    def missing(ref: str) -> object:
        raise TargetError(f"{ref}: no such image")

    data = base_provides("python:3.12-slim-trixie", open_image=missing)
    assert data is not None and data.source == "data" and data.release == "trixie"
    assert {"libc.so.6", "libssl.so.3", "libpython3.12.so.1.0", "libz.so.1"} <= data.sonames
    assert "libGL.so.1" not in data.sonames
    assert base_provides("ubuntu:22.04", open_image=missing) is None


def test_python_slim_refs() -> None:
    assert parse_python_slim("python:3.11-slim-bookworm") == ("3.11", "bookworm")
    assert parse_python_slim("docker.io/library/python:3.12.4-slim-trixie") == ("3.12", "trixie")
    assert parse_python_slim("python:3.13-slim") == ("3.13", native_data()["python_slim"]["default_release"])
    assert parse_python_slim("python:3.11") is None and parse_python_slim("pytorch/pytorch:2.3") is None


def test_packaged_data_is_measured_for_both_releases() -> None:
    data = native_data()
    assert set(data["releases"]) >= {"bookworm", "trixie"}
    for release in ("bookworm", "trixie"):
        record = data["releases"][release]
        assert record["measured"] is True
        assert {"libc.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libssl.so.3", "libffi.so.8"} <= set(
            record["base_sonames"])
    bookworm, trixie = package_map("bookworm"), package_map("trixie")
    expect = {"libGL.so.1": "libgl1", "libgomp.so.1": "libgomp1", "libSM.so.6": "libsm6", "libICE.so.6": "libice6",
              "libXext.so.6": "libxext6", "libXrender.so.1": "libxrender1", "libX11.so.6": "libx11-6",
              "libxcb.so.1": "libxcb1", "libEGL.so.1": "libegl1", "libOpenGL.so.0": "libopengl0",
              "libGLX.so.0": "libglx0", "libsndfile.so.1": "libsndfile1", "libgfortran.so.5": "libgfortran5",
              "libquadmath.so.0": "libquadmath0", "libpq.so.5": "libpq5", "libodbc.so.2": "libodbc2",
              "libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0",
              "libgeos_c.so.1": "libgeos-c1v5", "libaio.so.1": "libaio1"}
    assert {k: bookworm.get(k) for k in expect} == expect
    assert trixie["libglib-2.0.so.0"] == "libglib2.0-0t64"
    assert package_map(None) == bookworm  # the default release


def test_release_mismatch_prefers_the_base_release_names() -> None:
    info = ElfInfo(None, ("libglib-2.0.so.0",))
    dist = InstalledDistribution("g", "g", "1", SITE, f"{SITE}/g-1.dist-info", files=(InstalledFile("/x/g.so", 1),))
    base = BaseProvides("python:3.12-slim-trixie", frozenset(), "data", "trixie")
    [need] = os_library_needs([dist], {"/x/g.so": info}, base, {"libglib-2.0.so.0": "libglib2.0-0"}, "bookworm")
    assert (need.package, need.source) == ("libglib2.0-0t64", "data")
    [same] = os_library_needs([dist], {"/x/g.so": info}, base, {"libglib-2.0.so.0": "libglib2.0-0t64"}, "trixie")
    assert (same.package, same.source) == ("libglib2.0-0t64", "dpkg")


def test_hostile_so_in_site_dir_does_not_break_the_image(tmp_path: Path) -> None:
    hostile = Synthetic(phnum=0xFFFE).build()
    entries = dist_entries(SITE, "evil", "1", {"evil/_x.so": hostile, "evil/_y.so.1": b"\x7fELF\x02\x01\x01"})
    archive = write_docker_archive(tmp_path / "evil.tar", Image([layer_tar(entries)], compression="gzip"))
    analysis = open_image(str(archive)).analysis
    assert analysis.elf[f"{SITE}/evil/_x.so"].problem
    assert f"{SITE}/evil/_y.so.1" not in analysis.elf
    assert os_library_needs(analysis.distributions, analysis.elf) == []


def _dist(name: str, *paths: str) -> InstalledDistribution:
    return InstalledDistribution(name, name, "1", SITE, f"{SITE}/{name}-1.dist-info",
                                 files=tuple(InstalledFile(p, 1) for p in paths))


def test_import_reach_driver_libraries_and_path_needed_entries() -> None:
    ext = f"{SITE}/nv/_C.cpython-311-x86_64-linux-gnu.so"
    vendored = f"{SITE}/nv.libs/libnvshmem_host.so.3"
    plugin = f"{SITE}/nv/lib/nvshmem_transport_ucx.so.3"
    elf = {
        ext: ElfInfo(None, ("libnvshmem_host.so.3", "libcuda.so.1", "libc.so.6")),
        vendored: ElfInfo("libnvshmem_host.so.3", ("libibverbs.so.1", "libnvidia-ml.so.1")),
        plugin: ElfInfo("nvshmem_transport_ucx.so.3", ("libucp.so.0", "libibverbs.so.1")),
    }
    needs = os_library_needs([_dist("nv", ext, vendored, plugin)], elf, frozenset({"libc.so.6"}))
    # libcuda/libnvidia-ml come from the host's driver at run time; the vendored library is provided
    assert [(n.soname, n.at_import, len(n.needed_by)) for n in needs] == [
        ("libibverbs.so.1", True, 2), ("libucp.so.0", False, 1)]


def test_needs_of_nothing_and_unknown_packages() -> None:
    assert os_library_needs([], {}) == []
    info = ElfInfo(None, ("libwhatever.so.9",))
    [need] = os_library_needs([_dist("w", "/x/_w.so")], {"/x/_w.so": info}, slim_base())
    assert (need.package, need.source, need.at_import) == (None, None, True)
    assert packages_to_install([need]) == []
