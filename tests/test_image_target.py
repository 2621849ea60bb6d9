"""ImageTarget end to end on archives built here: Python discovery, exact sizes, findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from depslim.imagedoc import image_finders
from depslim.targets.image import open_image
from tests.imagebuild import (
    File,
    Hardlink,
    Image,
    Opaque,
    Symlink,
    Whiteout,
    dist_entries,
    image_config,
    layer_tar,
    write_docker_archive,
    write_oci_layout,
)

SITE = "/usr/local/lib/python3.11/site-packages"
MiB = 1024 * 1024


def _layers() -> list[bytes]:
    base = [
        File("/etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12"\nID=debian\n'),
        File("/usr/local/bin/python3.11", b"\x7fELF" + b"0" * 100),
        *dist_entries(SITE, "alpha", "1.0", {
            "alpha/__init__.py": "A = 1\n",
            "alpha/impl.py": "x" * 300,
            "alpha/tests/test_a.py": "t" * 2000,
            "../../../bin/alpha": "#!/usr/bin/python3\n",
        }, requires=["beta>=1"], top_level=["alpha"], console_scripts={"alpha": "alpha:main"}),
        *dist_entries(SITE, "beta", "2.0", {"beta/__init__.py": "b" * 50, "shared/common.py": "c" * 700}),
        *dist_entries(SITE, "gamma", "3.0", {"gamma.py": "g" * 40, "shared/common.py": "c" * 700,
                                             "../../../share/gamma/data.txt": "d" * 123}),
        File(f"{SITE}/stray/loose.py", "o" * 900),
        File("/root/.cache/pip/http/a/blob", b"p" * (2 * MiB)),
        File("/opt/data/old.bin", b"o" * 10),
        File("/var/lib/dpkg/status", (
            "Package: gcc-12\nStatus: install ok installed\nInstalled-Size: 100\nVersion: 12.2.0\n"
            "Architecture: amd64\n\n"
            "Package: libc6-dev\nStatus: install ok installed\nInstalled-Size: 50\nVersion: 2.36\n\n"
            "Package: gcc-12-base\nStatus: install ok installed\nInstalled-Size: 10\nVersion: 12.2.0\n\n"
            "Package: python3.11\nStatus: install ok installed\nInstalled-Size: 10\nVersion: 3.11.2-6\n"
        )),
        File("/var/lib/dpkg/info/gcc-12.list", "/usr/bin/gcc-12\n"),
        File("/app/.env", "SECRET=1\n"),
        File("/app/model.safetensors", b"w" * (11 * MiB)),
    ]
    later = [
        Whiteout("/root/.cache/pip"),
        File(f"{SITE}/alpha/impl.py", "y" * 100),  # overwrite: 300 bytes still shipped below
        Opaque("/opt/data"),
        File("/opt/data/new.bin", b"n"),
        File("/root/.cache/uv/x", b"u" * 5000),
        Symlink(f"{SITE}/alpha/link.py", "impl.py"),
        Hardlink("/opt/data/hard.bin", "/opt/data/new.bin"),
    ]
    venv = [
        File("/opt/venv/pyvenv.cfg", "home = /usr/local/bin\nversion = 3.11.9\n"),
        *dist_entries("/opt/venv/lib/python3.11/site-packages", "beta", "1.5", {"beta/__init__.py": "v" * 80}),
    ]
    return [layer_tar(base), layer_tar(later), layer_tar(venv)]


def _config(layers: list[bytes], user: str = "") -> dict[str, object]:
    return image_config(
        layers,
        history=["/bin/sh -c #(nop) ADD file:abc in /", "/bin/sh -c rm -rf /root/.cache/pip",
                 "RUN /bin/sh -c python -m venv /opt/venv # buildkit"],
        env=["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin", "PYTHON_VERSION=3.11.9"],
        user=user, empty_history=(1,),
    )


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    layers = _layers()
    path = write_docker_archive(tmp_path_factory.mktemp("img") / "img.tar", Image(layers, _config(layers)))
    return open_image(str(path))


def test_info_has_python_platform_markers_layers(target) -> None:  # type: ignore[no-untyped-def]
    info = target.info()
    assert info.kind == "image"
    assert info.python_version == "3.11.9"
    assert info.platform == "linux/amd64"
    assert info.markers["platform_machine"] == "x86_64"
    assert info.markers["python_version"] == "3.11"
    assert info.markers["sys_platform"] == "linux"
    assert info.site_dirs[0] == "/opt/venv/lib/python3.11/site-packages"  # venv on PATH first
    assert SITE in info.site_dirs
    # empty_layer history entries are skipped when pairing
    assert [layer.instruction for layer in info.layers] == [
        "ADD file:abc in /", "RUN rm -rf /root/.cache/pip", "RUN python -m venv /opt/venv",
    ]
    assert info.totals["image_bytes"] == sum(layer.size_bytes for layer in info.layers)
    assert info.env["PYTHON_VERSION"] == "3.11.9"


def test_distribution_bytes_are_lstat_sums_of_present_record_files(target) -> None:  # type: ignore[no-untyped-def]
    dists = {(d.name, d.version): d for d in target.distributions()}
    alpha = dists[("alpha", "1.0")]
    files = {f.path: f.size for f in alpha.files}
    assert files[f"{SITE}/alpha/impl.py"] == 100  # the final (overwritten) copy
    assert files["/usr/local/bin/alpha"] == len("#!/usr/bin/python3\n")  # ../../../bin from RECORD
    assert alpha.entry_points == ("alpha",)
    assert alpha.top_level == ("alpha",)
    assert alpha.requires == ("beta>=1",)
    assert alpha.installer == "pip"
    gamma = dists[("gamma", "3.0")]
    assert {f.path for f in gamma.files} >= {f"{SITE}/shared/common.py", "/usr/local/share/gamma/data.txt"}
    beta = dists[("beta", "2.0")]
    assert f"{SITE}/shared/common.py" in {f.path for f in beta.files}  # shared files appear in both
    assert dists[("beta", "1.5")].site == "/opt/venv/lib/python3.11/site-packages"
    expected = 6 + 100 + 2000 + 19  # alpha's own files
    assert sum(s for p, s in files.items() if ".dist-info/" not in p) == expected


def test_python_bytes_are_record_files_counted_once_as_every_command_shows(target) -> None:  # type: ignore[no-untyped-def]
    """Python bytes = the files RECORDs list (pip's .pyc included), each once: shared/common.py
    (in beta's and gamma's RECORD) once, the console script in /usr/local/bin in, the orphan
    stray/loose.py out; analyze's "installed" and check's Python bytes are the same number."""
    from depslim.core import AnalyzeOptions, build_report
    from depslim.gate import python_bytes
    from depslim.sizes import installed_bytes

    total = target.info().totals["python_bytes"]
    assert total == installed_bytes(target.distributions())
    every = {f.path: f.size for d in target.distributions() for f in d.files}
    assert total == sum(every.values()) and f"{SITE}/stray/loose.py" not in every
    report = build_report(AnalyzeOptions(), target, None, None)
    assert report.summary.installed_bytes == python_bytes(report) == total


def _by_code(target, code: str):  # type: ignore[no-untyped-def]
    return [f for f in image_finders(target).findings if f.code == code]


def test_deleted_in_later_layer_charges_the_whole_pip_cache(target) -> None:  # type: ignore[no-untyped-def]
    [deleted] = [f for f in _by_code(target, "deleted-in-later-layer") if f.subject == "/root/.cache/pip"]
    assert deleted.savings_bytes == 2 * MiB
    assert deleted.id == "deleted-in-later-layer:/root/.cache/pip"
    assert deleted.data["layer"] == 0 and deleted.data["removed_in_layer"] == 1
    assert any("rm -rf /root/.cache/pip" in e.detail for e in deleted.evidence)
    assert all(e.kind == "layer" for e in deleted.evidence)
    [opaque] = [f for f in _by_code(target, "deleted-in-later-layer") if f.subject == "/opt/data"]
    assert opaque.savings_bytes == 10 and opaque.data["kind"] == "opaque"  # hid old.bin
    over = {f.subject: f.savings_bytes for f in _by_code(target, "overwritten-in-later-layer")}
    assert over["layer 1"] == 300
    assert over["layer 0"] == 700  # gamma re-wrote beta's shared file in the same layer tar


def test_final_filesystem_findings(target) -> None:  # type: ignore[no-untyped-def]
    codes = {f.code: f for f in image_finders(target).findings}
    assert codes["uv-cache"].savings_bytes == 5000
    assert codes["site-packages-tests"].savings_bytes == 2000
    assert codes["model-weights"].subject == "/app/model.safetensors"
    assert codes["secret-file"].subject == "/app/.env"
    assert codes["root-user"].savings_bytes is None
    orphans = codes["orphan-files"]
    assert orphans.subject == SITE and orphans.savings_bytes == 900 + len("impl.py")  # + a symlink
    build = codes["build-tools"]
    assert build.estimate is True
    assert build.savings_bytes == (100 + 50) * 1024  # gcc-12-base is a runtime lib, excluded
    assert build.data["packages"][0]["name"] == "gcc-12"
    dup = codes["duplicate-distribution"]
    assert dup.subject == "beta"
    assert "pip-cache" not in codes  # deleted: it is not in the final filesystem
    waste = image_finders(target).totals["waste_bytes"]
    assert waste == 2 * MiB + 10 + 300 + 700 + 5000 + 2000 + 11 * MiB + len("SECRET=1\n") + dup.savings_bytes
    for finding in image_finders(target).findings:
        assert finding.id == f"{finding.code}:{finding.subject}"
        assert finding.fix and finding.owner


def test_non_root_user_has_no_root_finding(tmp_path: Path) -> None:
    layers = [layer_tar([File("/a", "a")])]
    path = write_oci_layout(tmp_path / "oci", [Image(layers, image_config(layers, user="app"))])
    target = open_image(str(path))
    assert not [f for f in image_finders(target).findings if f.code == "root-user"]
    assert target.info().user == "app"


def test_debian_dist_packages_and_dpkg_python_version(tmp_path: Path) -> None:
    site = "/usr/local/lib/python3.11/dist-packages"
    layers = [layer_tar([
        File("/var/lib/dpkg/status", "Package: python3.11\nStatus: install ok installed\nVersion: 3.11.2-6\n"),
        *dist_entries(site, "delta", "0.1"),
        *dist_entries("/usr/lib/python3/dist-packages", "debpkg", "9", record=False),
        File("/usr/lib/python3/dist-packages/debpkg/__init__.py", "x"),
        File("/var/lib/dpkg/info/python3-debpkg.list", "/.\n/usr/lib/python3/dist-packages/debpkg/__init__.py\n"),
    ])]
    path = write_docker_archive(tmp_path / "deb.tar", Image(layers))
    target = open_image(str(path))
    info = target.info()
    assert info.python_version == "3.11.2"
    assert set(info.site_dirs) == {site, "/usr/lib/python3/dist-packages"}
    dists = {d.name: d for d in target.distributions()}
    assert dists["delta"].size_bytes > 0
    assert dists["debpkg"].has_record is False and dists["debpkg"].files == ()
    # dpkg owns debpkg's files: not orphans
    assert not [f for f in image_finders(target).findings if f.code == "orphan-files"]


def test_pythonpath_from_config_is_a_site_dir(tmp_path: Path) -> None:
    layers = [layer_tar(dist_entries("/app/libs", "epsilon", "1"))]
    config = image_config(layers, env=["PYTHONPATH=/app/libs"])
    target = open_image(str(write_docker_archive(tmp_path / "pp.tar", Image(layers, config))))
    assert "/app/libs" in target.info().site_dirs
    assert [d.name for d in target.distributions()] == ["epsilon"]
