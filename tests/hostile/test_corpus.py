"""The hostile corpus: one generated input for every case of issue 13 (and a few more), each run
through the real CLI as its own process.

Every case builds its input in a temp folder, runs `python -m depslim ...` in a fresh process and
asserts, from the outside, what a CI user would see:
- the exit code: 2 for bad input, or a clean 0 where the input is odd but analysable;
- stderr: on exit 2 exactly one `error:` line (an optional `hint:` line may follow) that names the
  file (and where it matters the field), never "Traceback" nor "internal error";
- peak RSS of the depslim process (its `ru_maxrss`, read with `os.wait4` on that one child) under
  the case's bound: 200 MB, 300 MB for the million-file layer;
- time: the process is killed at the case's timeout, and a timeout is a failure (a hang).

Big inputs are cheap to make: an archive of zeros or a repeated byte, tar headers written by hand
(`tests.hostile.rawtar`), layers streamed to disk and never held whole in the test's memory.

MILLION_FILES is the size knob of the million-file layer case: 200,000 files by default, so the
whole file runs in well under a minute on CI (a million takes ~25 s alone on 2 cores); set
DEPSLIM_HOSTILE_FILES=1000000 for the issue's case (measured: 254 MB peak against the 300 MB bound).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import write_tree

from tests.hostile import rawtar
from tests.imagebuild import dist_entries, layer_tar

MB = 1_000_000
MiB = 1 << 20
SITE = "usr/local/lib/python3.11/site-packages"
MILLION_FILES = int(os.environ.get("DEPSLIM_HOSTILE_FILES", "200000"))
SRC = Path(__file__).resolve().parents[2] / "src"

# The peak RSS of every case, printed at the end of the session (`-s`) and kept for the report.
PEAKS: dict[str, float] = {}


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    peak_mb: float
    seconds: float


# The case runs under a small launcher process: Linux hands a forked (or vforked) child its parent's
# peak RSS (the mm's high-water mark is copied by fork and folded into ru_maxrss at exec), so a child
# forked straight from this test process — which may have held a 60 MiB input a moment ago — would
# report the test's peak, not its own. The launcher is exec'd fresh (a small mm); depslim forked
# from it reports only what depslim used. It also enforces the timeout (a hang kills the group).
_LAUNCHER = """
import json, os, signal, subprocess, sys, time
timeout, out, err = float(sys.argv[1]), sys.argv[2], sys.argv[3]
start = time.monotonic()
with open(out, "wb") as o, open(err, "wb") as e:
    child = subprocess.Popen(sys.argv[4:], stdout=o, stderr=e, stdin=subprocess.DEVNULL, start_new_session=True)
hung = False
while True:
    pid, status, usage = os.wait4(child.pid, os.WNOHANG)
    if pid:
        break
    if time.monotonic() - start > timeout:
        hung = True
        os.killpg(child.pid, signal.SIGKILL)
        pid, status, usage = os.wait4(child.pid, 0)
        break
    time.sleep(0.01)
child.returncode = os.waitstatus_to_exitcode(status)
print(json.dumps({"code": child.returncode, "maxrss_kb": usage.ru_maxrss, "hung": hung,
                  "seconds": time.monotonic() - start}))
"""


def run_depslim(args: list[str], cwd: Path, timeout: float) -> Run:
    """`python -m depslim ARGS` as a fresh process, its own peak RSS read with `wait4` (depslim's,
    not its children's: the bound is on depslim). Output goes to files, so a chatty child never
    blocks on a pipe; a run past `timeout` is killed and fails the test as a hang."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("DEPSLIM_DEBUG", None)
    out_path, err_path = cwd / ".case-stdout", cwd / ".case-stderr"
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(timeout), str(out_path), str(err_path),
         sys.executable, "-m", "depslim", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout + 30, check=True,
    )
    result = json.loads(launched.stdout)
    if result["hung"]:
        pytest.fail(f"depslim {' '.join(args)} hung: killed after {timeout} s")
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    return Run(result["code"], stdout, stderr, result["maxrss_kb"] * 1024 / MB, result["seconds"])


# ---------------------------------------------------------------------------------------------
# Builders of image inputs
# ---------------------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * MiB):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def oci(
    root: Path,
    layers: list[bytes | Path],
    *,
    config: Callable[[dict[str, Any]], Any] | None = None,
    manifest: Callable[[dict[str, Any]], Any] | None = None,
    index: Callable[[dict[str, Any]], Any] | None = None,
    media: str = rawtar.TAR,
    diff_ids: list[str] | None = None,
) -> Path:
    """A real OCI layout of uncompressed (or `media`) layers; `config`, `manifest` and `index` edit
    the JSON in place before it is written (and content-addressed), so a wrong-typed field is the
    only thing wrong. A layer given as a Path is moved in (never read whole into memory)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes | Path) -> tuple[str, int]:
        if isinstance(data, Path):
            digest = _file_sha(data)  # hashed once: an uncompressed layer's digest is its diff_id
            data.replace(blobs / digest[7:])
        else:
            digest = _sha(data)
            (blobs / digest[7:]).write_bytes(data)
        return digest, (blobs / digest[7:]).stat().st_size

    descriptors = []
    for layer in layers:
        digest, size = put(layer)
        descriptors.append({"mediaType": media, "digest": digest, "size": size})
    if diff_ids is None:
        diff_ids = [d["digest"] for d in descriptors]
    conf: dict[str, Any] = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "User": ""},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"/bin/sh -c #(nop) COPY layer{i} /"} for i in range(len(layers))],
    }
    if config:
        config(conf)
    conf_digest, conf_size = put(json.dumps(conf).encode())
    man: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": conf_digest, "size": conf_size},
        "layers": descriptors,
    }
    if manifest:
        manifest(man)
    man_digest, man_size = put(json.dumps(man).encode())
    idx: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": man["mediaType"], "digest": man_digest, "size": man_size,
                       "platform": {"os": "linux", "architecture": "amd64"}}],
    }
    if index:
        index(idx)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps(idx))
    return root


def python_layer(*dists: list[Any]) -> bytes:
    """A layer with a Python interpreter's stdlib marker and the given dist entries."""
    entries: list[Any] = [*(e for dist in dists for e in dist)]
    from tests.imagebuild import File

    entries.append(File("/usr/local/lib/python3.11/os.py", "# stdlib\n"))
    entries.append(File("/usr/local/bin/python3.11", b"\x7fELF"))
    return layer_tar(entries)


def docker_archive(path: Path, layer: bytes, edit: Callable[[list[dict[str, Any]]], Any]) -> Path:
    """A legacy docker-archive whose manifest.json is edited before it is written."""
    import io

    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [_sha(layer)]}, "history": []}).encode()
    manifest: list[dict[str, Any]] = [{"Config": "config.json", "RepoTags": ["x:1"], "Layers": ["l/layer.tar"]}]
    edit(manifest)
    with tarfile.open(path, "w") as tar:
        for name, data in (("config.json", config), ("l/layer.tar", layer),
                           ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def tiny_layer() -> bytes:
    return rawtar.layer([rawtar.member("app/x.py", b"import os\n")])


def stream_layer(path: Path, members: list[tuple[str, int, bytes, bytes]]) -> Path:
    """An uncompressed layer on disk: (name, size, head, fill) members, each member's data `head`
    then `fill` repeated up to `size` — an empty fill leaves holes (a sparse file: 3 GB of zeros
    cost no disk). Written a MiB at a time: this process never holds a big input."""
    with open(path, "wb") as out:
        for name, size, head, fill in members:
            out.write(rawtar.header(name.encode(), size))
            out.write(head)
            left = size - len(head)
            if fill:
                chunk = fill * (MiB // len(fill))
                while left > 0:
                    left -= out.write(chunk[:left])
            padded = left + (-size % rawtar.BLOCK)
            out.seek(padded, os.SEEK_CUR)
        out.write(rawtar.end())
        out.truncate()
    return path


# ---------------------------------------------------------------------------------------------
# The cases: each returns (argv, the text the error line must name)
# ---------------------------------------------------------------------------------------------

Build = Callable[[Path], tuple[list[str], str]]


@dataclass(frozen=True)
class Case:
    build: Build
    code: int = 2
    rss_mb: int = 200
    timeout: float = 30


def _image_cmd(ref: Path, name: str | None = None) -> tuple[list[str], str]:
    return ["image", str(ref), "-f", "json"], name or ref.name


def _config_case(edit: Callable[[dict[str, Any]], Any], field: str) -> Build:
    def build(tmp: Path) -> tuple[list[str], str]:
        argv, _ = _image_cmd(oci(tmp / "img", [tiny_layer()], config=edit))
        return argv, field

    return build


def _set(key: str, value: Any, under: str | None = None) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        (doc[under] if under else doc)[key] = value

    return edit


def case_repotags_int(tmp: Path) -> tuple[list[str], str]:
    path = docker_archive(tmp / "repotags.tar", tiny_layer(), lambda m: m[0].__setitem__("RepoTags", 5))
    return _image_cmd(path)


def case_platform_string(tmp: Path) -> tuple[list[str], str]:
    def edit(idx: dict[str, Any]) -> None:
        idx["manifests"][0]["platform"] = "linux/amd64"
        idx["manifests"].append({**idx["manifests"][0], "platform": "linux/arm64"})

    return ["image", str(oci(tmp / "img", [tiny_layer()], index=edit)), "--platform", "linux/amd64"], "platform"


def case_annotations_list(tmp: Path) -> tuple[list[str], str]:
    def edit(idx: dict[str, Any]) -> None:
        idx["manifests"][0]["annotations"] = ["org.opencontainers.image.ref.name", "latest"]

    return ["image", str(oci(tmp / "img", [tiny_layer()], index=edit)), "-f", "json"], "annotations"


def case_dir_info_string(tmp: Path) -> tuple[list[str], str]:
    dist = dist_entries("/" + SITE, "evil", files={
        "evil/__init__.py": "", "evil-1.0.dist-info/direct_url.json": json.dumps(
            {"url": "file:///src/evil", "dir_info": "editable"})})
    return ["image", str(oci(tmp / "img", [python_layer(dist)])), "-f", "json"], "direct_url.json"


def case_record_200k_field(tmp: Path) -> tuple[list[str], str]:
    dist = dist_entries("/" + SITE, "evil", record=False)
    from tests.imagebuild import File

    record = "evil/__init__.py,sha256=x,1\n" + "x" * 200_000 + ",sha256=y,2\n"
    dist.append(File(f"/{SITE}/evil-1.0.dist-info/RECORD", record))
    return ["image", str(oci(tmp / "img", [python_layer(dist)])), "-f", "json"], "RECORD"


def case_blob_digest_mismatch(tmp: Path) -> tuple[list[str], str]:
    layout = oci(tmp / "img", [tiny_layer()])
    man = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    layer = json.loads((layout / "blobs/sha256" / man[7:]).read_text())["layers"][0]["digest"]
    blob = layout / "blobs/sha256" / layer[7:]
    tampered = bytearray(blob.read_bytes())
    tampered[512 + 0] = ord("J")  # the file's data: "import os" becomes "Jmport os", same size
    blob.write_bytes(bytes(tampered))
    return ["image", str(layout), "-f", "json"], layer[7:19]


def case_blob_fifo(tmp: Path) -> tuple[list[str], str]:
    return _blob_fifo(tmp, lambda manifest: manifest["layers"][0]["digest"])


def case_config_fifo(tmp: Path) -> tuple[list[str], str]:
    return _blob_fifo(tmp, lambda manifest: manifest["config"]["digest"])


def _blob_fifo(tmp: Path, pick: Callable[[dict[str, Any]], str]) -> tuple[list[str], str]:
    """An OCI layout whose blob `pick` names (from the manifest) is a FIFO: reading it must not hang."""
    layout = oci(tmp / "img", [tiny_layer()])
    man = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    digest = pick(json.loads((layout / "blobs/sha256" / man[7:]).read_text()))
    blob = layout / "blobs/sha256" / digest[7:]
    blob.unlink()
    os.mkfifo(blob)
    return ["image", str(layout), "-f", "json"], digest[7:19]


def case_index_fifo(tmp: Path) -> tuple[list[str], str]:
    layout = oci(tmp / "img", [tiny_layer()])
    (layout / "index.json").unlink()
    os.mkfifo(layout / "index.json")
    return ["image", str(layout), "-f", "json"], "index.json"


def case_deep_path(tmp: Path) -> tuple[list[str], str]:
    """One member whose path has 100,000 components: 200 KB of name in a pax record, ~12 KB gzipped."""
    name = "a/" * 99_999 + "a"
    layer = rawtar.layer([rawtar.member(name, b"x")])
    blob = rawtar.gzip_stream([layer])
    layout = oci(tmp / "img", [blob], media=rawtar.GZIP, diff_ids=[_sha(layer)])
    return ["image", str(layout), "-f", "json"], "img"


def case_deep_dirs_many_members(tmp: Path) -> tuple[list[str], str]:
    """200 members each 250 components deep (under the depth cap), each in a distinct branch: the
    implicit parents of each are materialised at most once per prefix, within the budget."""
    members = [rawtar.member("/".join(f"d{b}x{k}" for k in range(250)) + "/f", b"") for b in range(200)]
    return ["image", str(oci(tmp / "img", [rawtar.layer(members)])), "-f", "json"], ""


def _wide_deep(prefix: str) -> Build:
    """2,000 members 250 components deep in distinct branches (names near PATH_MAX): every member
    brings 250 implicit parent directories of ~2 KB average name, so the tree would hold ~1 GB of
    names. The budget refuses the image once they pass `max_tree_bytes` of memory. With `prefix`
    an emoji, every name is stored four bytes a character: the budget counts memory, not length."""

    def build(tmp: Path) -> tuple[list[str], str]:
        members = [rawtar.member(prefix + "/".join(f"{b:05d}" + "y" * 10 for _ in range(250)) + "/f")
                   for b in range(2000)]
        return ["image", str(oci(tmp / "img", [rawtar.layer(members)])), "-f", "json"], "path names"

    return build


def case_metadata_60mib_header(tmp: Path) -> tuple[list[str], str]:
    head = b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\nSummary: "
    layer = stream_layer(tmp / "layer.tar", [
        (f"{SITE}/evil/__init__.py", 0, b"", b""),
        (f"{SITE}/evil-1.0.dist-info/METADATA", 60 * MiB, head, b"x"),
        (f"{SITE}/evil-1.0.dist-info/INSTALLER", 4, b"pip\n", b""),
        ("usr/local/lib/python3.11/os.py", 0, b"", b""),
    ])
    return ["image", str(oci(tmp / "img", [layer])), "-f", "json"], ""


def case_fifty_captured_60mib(tmp: Path) -> tuple[list[str], str]:
    """Fifty dists whose RECORD and entry_points.txt are 60 MiB each (3 GB of zeros after a real
    first line, a sparse file): each capture is capped, and so is their total."""
    members: list[tuple[str, int, bytes, bytes]] = [("usr/local/lib/python3.11/os.py", 0, b"", b"")]
    for k in range(25):
        info = f"{SITE}/d{k}-1.0.dist-info"
        members += [
            (f"{SITE}/d{k}/__init__.py", 0, b"", b""),
            (f"{info}/METADATA", 40, f"Metadata-Version: 2.1\nName: d{k}\nVersion: 1.0\n".encode()[:40], b""),
            (f"{info}/RECORD", 60 * MiB, f"d{k}/__init__.py,,0\n".encode(), b""),
            (f"{info}/entry_points.txt", 60 * MiB, b"[console_scripts]\nx = d:main\n", b""),
        ]
    layer = stream_layer(tmp / "layer.tar", members)
    return ["image", str(oci(tmp / "img", [layer])), "-f", "json"], ""


def case_million_files(tmp: Path) -> tuple[list[str], str]:
    blob = tmp / "layer.tar.zst"
    diff = rawtar.million_file_layer(blob, files=MILLION_FILES)
    layout = oci(tmp / "img", [blob], media=rawtar.ZSTD, diff_ids=[diff])
    return ["image", str(layout), "-f", "json", "-o", str(tmp / "out.json")], ""


# Project inputs -------------------------------------------------------------------------------


def project(tmp: Path, files: dict[str, str | bytes]) -> Path:
    return write_tree(tmp / "proj", files)


def _analyze(files: dict[str, str | bytes], names: str, *extra: str, command: str = "analyze") -> Build:
    def build(tmp: Path) -> tuple[list[str], str]:
        root = project(tmp, {"app.py": "import os\n", **files})
        return [command, str(root), "-f", "json", *extra], names

    return build


def case_estimate_local_folder(tmp: Path) -> tuple[list[str], str]:
    root = project(tmp, {"pkg/setup.py": "raise SystemExit('ran')\n", "req.txt": "./pkg\n"})
    return ["estimate", str(root / "req.txt"), "-f", "json", "--find-links", str(tmp)], "req.txt"


def case_output_fifo(tmp: Path) -> tuple[list[str], str]:
    """Without --force an existing FIFO is an existing file: refused, never opened."""
    root = project(tmp, {"app.py": "import os\n", "requirements.txt": "click\n"})
    os.mkfifo(tmp / "out.json")
    return ["analyze", str(root), "-f", "json", "-o", str(tmp / "out.json")], "out.json"


def case_output_fifo_forced(tmp: Path) -> tuple[list[str], str]:
    """With --force the FIFO is replaced by the report (an atomic rename), never written through."""
    root = project(tmp, {"app.py": "import os\n", "requirements.txt": "click\n"})
    os.mkfifo(tmp / "out.json")
    return ["analyze", str(root), "-f", "json", "-o", str(tmp / "out.json"), "--force"], "out.json"


def case_split_output_fifo(tmp: Path) -> tuple[list[str], str]:
    root = project(tmp, {"app.py": "import click\n", "requirements.txt": "click\n"})
    os.mkfifo(root / "requirements-base.txt")
    return ["split", str(root)], "requirements-base.txt"


def case_split_input_fifo(tmp: Path) -> tuple[list[str], str]:
    root = project(tmp, {"app.py": "import click\n"})
    os.mkfifo(root / "requirements.txt")
    return ["split", str(root), "-r", str(root / "requirements.txt")], "requirements.txt"


def case_lock_output_fifo(tmp: Path) -> tuple[list[str], str]:
    root = project(tmp, {"requirements-base.txt": "click\n"})
    os.mkfifo(root / "requirements-base.lock.txt")
    return ["lock", str(root / "requirements-base.txt")], "requirements-base.lock.txt"


def _report_case(command: str, edit: Callable[[dict[str, Any]], Any], shape: str = "") -> Build:
    def build(tmp: Path) -> tuple[list[str], str]:
        base = _valid_report(tmp)
        doc = json.loads(base.read_text())
        edit(doc)
        bad = tmp / "bad-report.json"
        bad.write_text(shape or json.dumps(doc))
        if command == "diff":
            return ["diff", str(base), str(bad)], "bad-report.json"
        return ["check", "--report", str(bad), "--max-python-bytes", "10GB"], "bad-report.json"

    return build


_REPORT_CACHE: dict[str, str] = {}


def _valid_report(tmp: Path) -> Path:
    """A real `analyze -f json` report of a tiny project (made once per session, then copied)."""
    if "text" not in _REPORT_CACHE:
        root = project(tmp / "r", {"app.py": "import click\n", "requirements.txt": "click\n"})
        run = run_depslim(["analyze", str(root), "-f", "json", "-o", str(tmp / "r.json")], tmp, 60)
        assert run.code == 0, run.stderr
        _REPORT_CACHE["text"] = (tmp / "r.json").read_text()
    (tmp / "base-report.json").write_text(_REPORT_CACHE["text"])
    return tmp / "base-report.json"


def _null(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.__setitem__(key, None)


CASES: dict[str, Case] = {
    # Crashes: image config / manifest / index fields of the wrong JSON type
    "config-env-int": Case(_config_case(_set("Env", 7, under="config"), "Env")),
    "config-history-int": Case(_config_case(_set("history", 3), "history")),
    "config-rootfs-list": Case(_config_case(_set("rootfs", ["sha256:00"]), "rootfs")),
    "config-config-string": Case(_config_case(_set("config", "nope"), "config")),
    "config-diff-ids-dict": Case(_config_case(lambda c: c["rootfs"].__setitem__("diff_ids", {"a": 1}), "diff_ids")),
    "manifest-repotags-int": Case(case_repotags_int),
    "index-platform-string": Case(case_platform_string),
    "index-annotations-list": Case(case_annotations_list),
    "direct-url-dir-info-string": Case(case_dir_info_string),
    "record-200kb-field": Case(case_record_200k_field, code=0),
    # Crashes: project files
    "requirement-url-bad-host": Case(_analyze({"requirements.txt": "x @ https://[oops]/x.whl\n"}, "requirements.txt")),
    "requirement-bare-url-bad-host": Case(_analyze({"requirements.txt": "https://[oops]/x.whl\n"}, "requirements.txt")),
    "dockerfile-from-superscript": Case(_analyze({"Dockerfile": "FROM ²\nCMD [\"python\", \"app.py\"]\n"}, "Dockerfile",
                                                 "--scope", "serving"), code=0),
    "dockerfile-from-superscript-audit": Case(_analyze({"Dockerfile": "FROM ²\n"}, "Dockerfile", "--dockerfile-only",
                                                       command="audit"), code=0),
    "dockerfile-deep-exec-form": Case(_analyze({"Dockerfile": "FROM python:3.11\nRUN " + "[" * 50_000 + "\n"
                                                + "CMD [\"python\", \"app.py\"]\n"}, "Dockerfile",
                                               "--scope", "serving"), code=0),
    "dockerfile-deep-exec-form-audit": Case(_analyze({"Dockerfile": "FROM python:3.11\nRUN " + "[" * 50_000 + "\n"},
                                                     "Dockerfile", "--dockerfile-only", command="audit"), code=0),
    "gitignore-bad-range": Case(_analyze({".gitignore": "[z-a]\n\\\n"}, ".gitignore"), code=0),
    "estimate-local-folder": Case(case_estimate_local_folder),
    # Hangs: a FIFO where a file is expected
    "fifo-analyze-output": Case(case_output_fifo),
    "fifo-analyze-output-forced": Case(case_output_fifo_forced, code=0),
    "fifo-split-output": Case(case_split_output_fifo),
    "fifo-split-input": Case(case_split_input_fifo),
    "fifo-lock-output": Case(case_lock_output_fifo),
    "fifo-oci-layer-blob": Case(case_blob_fifo),
    "fifo-oci-config-blob": Case(case_config_fifo),
    "fifo-oci-index": Case(case_index_fifo),
    # Malformed reports
    "diff-target-null": Case(_report_case("diff", _null("target"))),
    "diff-distributions-null": Case(_report_case("diff", _null("distributions"))),
    "check-target-null": Case(_report_case("check", _null("target"))),
    "check-distributions-null": Case(_report_case("check", _null("distributions"))),
    "diff-report-list": Case(_report_case("diff", lambda d: None, shape="[1, 2]")),
    "diff-report-deep-nesting": Case(_report_case("diff", lambda d: None, shape="[" * 100_000 + "]" * 100_000)),
    "check-report-not-json": Case(_report_case("check", lambda d: None, shape="\x00\xff garbage")),
    # Unbounded memory
    "path-100000-components": Case(case_deep_path),
    "deep-dirs-many-members": Case(case_deep_dirs_many_members, code=0),
    "wide-deep-tree-ascii": Case(_wide_deep("")),
    "wide-deep-tree-emoji": Case(_wide_deep("\U0001f600/")),
    "metadata-60mib-header": Case(case_metadata_60mib_header, code=0),
    "fifty-captured-60mib": Case(case_fifty_captured_60mib, code=0, timeout=60),
    "million-file-layer": Case(case_million_files, code=0, rss_mb=300, timeout=120),
    # Tampering
    "oci-blob-digest-mismatch": Case(case_blob_digest_mismatch),
    # More
    "python2-file": Case(_analyze({"legacy.py": "print 'hello'\nexec 'x = 1'\n"}, ""), code=0),
    "requirements-binary-garbage": Case(_analyze({"requirements.txt": bytes(range(256)) * 8}, "requirements.txt")),
    "requirements-include-cycle": Case(_analyze({"requirements.txt": "-r requirements.txt\nclick\n"},
                                                "requirements.txt")),
    "notebook-not-json": Case(_analyze({"nb.ipynb": "{ this is not json"}, ""), code=0),
    "notebook-cells-int": Case(_analyze({"nb.ipynb": json.dumps({"cells": 5, "nbformat": 4})}, ""), code=0),
    "pyproject-not-toml": Case(_analyze({"pyproject.toml": "[project\nname = 'x'\n"}, "pyproject.toml")),
    "pyproject-dependencies-int": Case(_analyze({"pyproject.toml": "[project]\nname = 'x'\ndependencies = 5\n"},
                                                "pyproject.toml")),
    "symlink-loops": Case(_analyze({}, "", "--no-cache"), code=0),
}


def _with_loops(build: Build) -> Build:
    def wrapped(tmp: Path) -> tuple[list[str], str]:
        argv, name = build(tmp)
        root = tmp / "proj"
        (root / "loop").symlink_to("loop")
        (root / "sub").mkdir()
        (root / "sub" / "up").symlink_to("..")
        (root / "a.py").symlink_to("b.py")
        (root / "b.py").symlink_to("a.py")
        return argv, name

    return wrapped


CASES["symlink-loops"] = Case(_with_loops(CASES["symlink-loops"].build), code=0)


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_case(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    argv, names = case.build(tmp_path)
    run = run_depslim(argv, tmp_path, case.timeout)
    PEAKS[name] = run.peak_mb
    shown = f"exit {run.code}, {run.peak_mb:.0f} MB, {run.seconds:.1f} s\nstderr: {run.stderr[-2000:]}"
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, shown
    assert run.code == case.code, shown
    if case.code == 2:
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if not line.startswith("hint:")]
        assert len(errors) == 1 and errors[0].startswith("error:"), shown
        assert names in errors[0], f"the error does not name {names!r}\n{shown}"
    assert run.peak_mb < case.rss_mb, shown


def test_zz_print_peaks() -> None:
    """Not a check: the peak RSS of every case run in this session, for the record (`-s`)."""
    for name, peak in sorted(PEAKS.items(), key=lambda item: -item[1]):
        print(f"{name:40s} {peak:7.1f} MB")
