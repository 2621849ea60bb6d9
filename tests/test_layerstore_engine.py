"""The engine fast path against the real engine: every kind of layer entry read from the layer store as
the docker-archive reads it, each fallback reason met for real, and the containerd snapshotter.

One small image is built from the local base with the legacy builder: an opaque directory (a
directory removed and made again in a later RUN), whiteouts, hardlinks (within a layer, and to a
lower layer's file, which overlay copies up), a shared library in a site dir and a second name of
it, a dist-info, symlinks, a FIFO, a non-UTF-8 name and a path longer than a tar header holds.

Fallbacks, each under its real condition: a remote engine (DOCKER_HOST=tcp:// through a local
relay to the engine's socket), an unprivileged user (nobody, in the docker group), an unprivileged
user with CAP_SYS_ADMIN but no read access to /var/lib/docker. The containerd image store is a
private containerd (its own root, state and socket) that imports the image's docker-archive and
unpacks it with the overlayfs snapshotter; its `ctr export` is the archive to compare with.
Under CI=true a missing engine (or containerd, setpriv, a system Python) is a failure, never a skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from depslim.cli.image import build_document
from depslim.progress import NULL_PROGRESS
from depslim.targets.image import open_image
from depslim.targets.image.boltdb import BoltDB
from depslim.targets.image.layers import DEFAULT_LIMITS, RegionFile, scan_layer
from depslim.targets.image.layerstore import SNAPSHOTTER, StorePlan, StoreUnavailable, scan_layer_dir, store_image
from depslim.targets.image.sources import open_path, resolve
from depslim.targets.image.target import analyze_resolved
from tests.engine import BASE, IN_CI, docker, require_engine

pytestmark = pytest.mark.docker

TAG = "depslim-layerstore:tricky"
SITE = "/usr/local/lib/python3.11/dist-packages"
DOCKERFILE = f"""\
FROM {BASE}
RUN mkdir -p /opt/o/sub {SITE}/tricky-1.0.dist-info {SITE}/tricky /usr/local/bin \\
 && echo old > /opt/o/a && echo old > /opt/o/sub/b \\
 && printf 'Metadata-Version: 2.1\\nName: tricky\\nVersion: 1.0\\n\\nbody\\n' > {SITE}/tricky-1.0.dist-info/METADATA \\
 && printf 'tricky/__init__.py,,\\ntricky/_j.so,,\\ntricky/_j_again.so,,\\n' > {SITE}/tricky-1.0.dist-info/RECORD \\
 && echo pip > {SITE}/tricky-1.0.dist-info/INSTALLER && echo tricky > {SITE}/tricky-1.0.dist-info/top_level.txt \\
 && echo 'X = 1' > {SITE}/tricky/__init__.py \\
 && cp /usr/lib/python3.11/lib-dynload/_json.*.so {SITE}/tricky/_j.so \\
 && ln {SITE}/tricky/_j.so {SITE}/tricky/_j_again.so \\
 && ln -s /usr/bin/python3 /usr/local/bin/tricky-python && ln -s ../o /opt/o/sub/up \\
 && mkdir -p "/opt/$(printf 'long-directory-name/%.0s' 1 2 3 4 5 6 7 8)" \\
 && touch "/opt/$(printf 'long-directory-name/%.0s' 1 2 3 4 5 6 7 8)file" \\
 && touch "/opt/$(printf 'caf\\351')" && mkfifo /opt/fifo \\
 && dd if=/dev/zero of=/opt/junk.bin bs=1k count=64 2>/dev/null
RUN rm -rf /opt/o && mkdir -p /opt/o && echo new > /opt/o/c \\
 && rm /opt/junk.bin {SITE}/tricky/_j_again.so \\
 && ln /usr/bin/perl /opt/perl-again
RUN echo done > /done
"""


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_engine()
    ctx = tmp_path_factory.mktemp("tricky")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    subprocess.run(["docker", "build", "-q", "-t", TAG, str(ctx)], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_BUILDKIT": "0"})
    archive = ctx / "image.tar"
    docker("save", "-o", str(archive), TAG)
    inspect = json.loads(docker("image", "inspect", TAG).stdout)[0]
    try:
        yield {"archive": archive, "inspect": inspect, "doc": build_document(open_image(str(archive)))}
    finally:
        subprocess.run(["docker", "rmi", "-f", TAG], capture_output=True)
        subprocess.run(["docker", "image", "prune", "-f"], capture_output=True)


def _without(doc: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The document but for the source field (and `keys` at the top level)."""
    out = {k: v for k, v in doc.items() if k not in keys}
    out["target"] = {k: v for k, v in doc["target"].items() if k != "ref"}
    return out


def _fallback(doc: dict[str, Any], archive_doc: dict[str, Any], reason: str) -> None:
    """Read through the save stream, said once and why; otherwise the archive's report."""
    doc, archive_doc = json.loads(json.dumps(doc)), json.loads(json.dumps(archive_doc))  # as a report is read
    for d in (doc, archive_doc):  # the envelope's `schema` is added where a report is written, not built
        d.pop("schema", None)
    notes = [w for w in doc["warnings"] if "save stream" in w]
    assert len(notes) == 1 and notes[0].startswith(f"docker:{TAG}: read through the engine's save stream")
    assert reason in notes[0], notes[0]
    assert [w for w in doc["warnings"] if w not in notes] == archive_doc["warnings"]
    assert _without(doc, "warnings") == _without(archive_doc, "warnings")


# --- the fast path reads every kind of entry as the archive does ---------------------------------------


def test_every_kind_of_entry_reads_as_in_the_archive(tricky: dict[str, Any]) -> None:
    from click.testing import CliRunner

    from depslim.cli import cli

    runner = CliRunner()
    engine = runner.invoke(cli, ["image", f"docker:{TAG}", "--format", "json"], catch_exceptions=False).output
    saved = runner.invoke(cli, ["image", str(tricky["archive"]), "--format", "json"], catch_exceptions=False).output
    assert engine.replace(json.dumps(f"docker:{TAG}"), json.dumps(str(tricky["archive"]))) == saved
    assert "save stream" not in engine

    # layer by layer: the walk of each layer directory is the scan of its tar in the archive
    image = resolve(open_path(tricky["archive"]), DEFAULT_LIMITS, None, str(tricky["archive"]))
    graph = tricky["inspect"]["GraphDriver"]["Data"]
    dirs = [*reversed(graph["LowerDir"].split(":")), graph["UpperDir"]]
    assert len(dirs) == len(image.layers) == 4
    for index, (layer, directory) in enumerate(zip(image.layers, dirs, strict=True)):
        assert layer.region is not None
        region = RegionFile(*layer.region)
        try:
            archived = scan_layer(region, "layer", DEFAULT_LIMITS)
        finally:
            region.close()
        walked = scan_layer_dir(directory, "layer", DEFAULT_LIMITS)
        if index == 0:  # the base: `docker import` of mmdebstrap's tar, whose order is not the walk's
            assert sorted(walked.entries) == sorted(archived.entries)
        else:
            assert walked.entries == archived.entries, f"layer {index}"
        for field in ("whiteouts", "opaques", "captured", "elf", "content_bytes", "warnings"):
            assert getattr(walked, field) == getattr(archived, field), f"layer {index}: {field}"
        if index == 1:
            kinds = {path: (kind, link) for path, kind, _size, link in walked.entries}
            assert kinds[f"{SITE}/tricky/_j_again.so"] == ("h", f"{SITE}/tricky/_j.so")
            assert f"{SITE}/tricky/_j.so" in walked.elf and kinds["/opt/fifo"][0] == "o"
            assert "/opt/caf\ufffd" in kinds
        if index == 2:
            assert walked.opaques == ["/opt/o"]
            assert {"/opt/junk.bin", f"{SITE}/tricky/_j_again.so"} <= set(walked.whiteouts)
            kinds = {path: (kind, link) for path, kind, _size, link in walked.entries}
            # `ln` to a lower file: overlay copies it up; the first name walked ("/opt" < "/usr") is the file
            assert kinds["/opt/perl-again"] == ("f", None) and kinds["/usr/bin/perl"] == ("h", "/opt/perl-again")


def test_store_is_what_engine_read_store_insists_on(tricky: dict[str, Any]) -> None:
    target = open_image(f"docker:{TAG}", engine_read="store")
    assert not target.warnings
    assert [layer.digest for layer in target.info().layers] == [layer["digest"] for layer in tricky["doc"]["layers"]]


# --- each fallback reason, for real ----------------------------------------------------------------


class _Relay(socketserver.ThreadingTCPServer):
    """A TCP listener on 127.0.0.1 relaying each connection to the engine's unix socket: a remote engine."""

    daemon_threads = True
    allow_reuse_address = True


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect("/var/run/docker.sock")
        selector = selectors.DefaultSelector()
        selector.register(self.request, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, self.request)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        finally:
            selector.close()
            upstream.close()


def test_remote_docker_host_falls_back_to_the_save_stream(tricky: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    relay = _Relay(("127.0.0.1", 0), _Pipe)
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    try:
        host = f"tcp://127.0.0.1:{relay.server_address[1]}"
        monkeypatch.setenv("DOCKER_HOST", host)
        monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
        doc = build_document(open_image(f"docker:{TAG}"))
        with pytest.raises(Exception, match="not a local socket"):
            open_image(f"docker:{TAG}", engine_read="store")
    finally:
        relay.shutdown()
        relay.server_close()
    _fallback(doc, tricky["doc"], f"DOCKER_HOST={host} is not a local socket")


def _need(condition: bool, problem: str) -> None:
    if not condition:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def as_nobody(tricky: dict[str, Any]) -> Iterator[Any]:
    """Run `depslim image` as the unprivileged user nobody (in the engine socket's group), with a
    Python nobody can execute: this interpreter when it can, else the system's of the same version,
    with depslim and the packages it loaded copied where nobody can read them."""
    _need(os.geteuid() == 0, "not root: cannot switch to an unprivileged user")
    _need(shutil.which("setpriv") is not None, "setpriv (util-linux) not installed")
    # load everything `depslim image` imports, then copy the packages it came from (not the stdlib)
    from click.testing import CliRunner

    from depslim.cli import cli

    CliRunner().invoke(cli, ["image", str(tricky["archive"]), "--format", "json"])
    # not under pytest's temp root: that is 0700, so nobody could not reach anything inside it
    root = Path(tempfile.mkdtemp(prefix="depslim-nobody-"))
    os.chmod(root, 0o755)
    site = root / "site"
    stdlib = os.path.dirname(os.__file__)
    for top in sorted({name.partition(".")[0] for name in list(sys.modules)}):
        try:  # a module made at run time (Cython's `_cython_3_2_4`) has no spec: nothing to copy
            spec = importlib.util.find_spec(top) if top not in ("__main__", "tests") else None
        except ValueError:
            continue
        origin = spec.origin if spec is not None else None
        if not origin or origin in ("built-in", "frozen") or (origin.startswith(stdlib + "/") and \
                "site-packages" not in origin):
            continue
        if spec is not None and spec.submodule_search_locations:
            shutil.copytree(next(iter(spec.submodule_search_locations)), site / top,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            site.mkdir(exist_ok=True)
            shutil.copy2(origin, site / os.path.basename(origin))
    (root / "cache").mkdir()
    os.chown(root / "cache", 65534, 65534)
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
    gid = os.stat("/var/run/docker.sock").st_gid
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "HOME": str(root), "DEPSLIM_NO_MEMO": "1",
           "DEPSLIM_CACHE_DIR": str(root / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    base = ["setpriv", "--reuid=65534", "--regid=65534", f"--groups={gid}"]
    python = None
    for candidate in (sys.executable, f"/usr/bin/python{version}"):
        probe = subprocess.run([*base, "--", candidate, "-s", "-c", "import depslim.cli"], env=env,
                               capture_output=True, cwd=root)
        if probe.returncode == 0:
            python = candidate
            break
    _need(python is not None, f"no Python {version} the user nobody can run")

    def run(*caps: str) -> dict[str, Any]:
        extra = [f"--inh-caps=+{','.join(caps)}", f"--ambient-caps=+{','.join(caps)}"] if caps else []
        result = subprocess.run([*base, *extra, "--", str(python), "-s", "-m", "depslim", "image", f"docker:{TAG}",
                                 "--format", "json"], env=env, capture_output=True, text=True, cwd=root, timeout=600)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    try:
        yield run
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_unprivileged_user_falls_back_to_the_save_stream(as_nobody: Any, tricky: dict[str, Any]) -> None:
    """nobody cannot see trusted.* xattrs (overlay's opaque marks): reading the store would be wrong."""
    _fallback(as_nobody(), tricky["doc"], "not root: overlay marks opaque directories with trusted.* xattrs")


def test_no_read_access_to_the_store_falls_back(as_nobody: Any, tricky: dict[str, Any]) -> None:
    """With CAP_SYS_ADMIN (trusted xattrs visible) but not the owner of /var/lib/docker (0710 root)."""
    _fallback(as_nobody("sys_admin"), tricky["doc"], "no read access to the engine's layer store (/var/lib/docker/")


# --- the containerd image store: overlayfs snapshots ---------------------------------------------------


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory, tricky: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A private containerd holding the tricky image, unpacked with the overlayfs snapshotter."""
    _need(os.geteuid() == 0, "not root: containerd needs root")
    _need(shutil.which("containerd") is not None and shutil.which("ctr") is not None, "containerd/ctr not installed")
    top = tmp_path_factory.mktemp("ctd")
    data = top / "data"  # the engine's data root: Docker's own containerd lives in <root>/containerd/daemon
    sock = top / "ctd.sock"
    config = top / "config.toml"
    config.write_text(f'version = 2\nroot = "{data}/containerd/daemon"\nstate = "{top}/state"\n'
                      'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                      f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{sock}.ttrpc"\n')
    process = subprocess.Popen(["containerd", "--config", str(config)], stdout=subprocess.DEVNULL,
                               stderr=open(top / "log", "wb"))  # noqa: SIM115 - closed with the process
    ctr = ["ctr", "--address", str(sock), "--namespace", "moby"]
    try:
        for _ in range(100):
            if subprocess.run([*ctr, "version"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run([*ctr, "images", "import", "--snapshotter", "overlayfs", str(tricky["archive"])],
                       check=True, capture_output=True)
        listed = subprocess.run([*ctr, "images", "ls"], check=True, capture_output=True, text=True).stdout
        name, _type, target = next(line.split()[:3] for line in listed.splitlines() if TAG.split(":")[0] in line)
        exported = top / "export.tar"
        subprocess.run([*ctr, "images", "export", str(exported), name], check=True, capture_output=True)
        yield {"root": data, "target": target, "export": exported}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_containerd_snapshots_read_as_the_export(containerd: dict[str, Any], tricky: dict[str, Any]) -> None:
    plan = StorePlan(SNAPSHOTTER, str(containerd["root"]), "overlayfs", "moby")
    inspect = {"Id": containerd["target"], "RootFS": tricky["inspect"]["RootFS"],
               "GraphDriver": {"Name": "overlayfs", "Data": None}}
    image = store_image(plan, inspect, f"docker:{TAG}", f"docker:{TAG}", DEFAULT_LIMITS, None)
    assert all("/io.containerd.snapshotter.v1.overlayfs/snapshots/" in layer.directory  # type: ignore[attr-defined]
               for layer in image.layers)
    doc = build_document(analyze_resolved(image, DEFAULT_LIMITS, NULL_PROGRESS))
    exported = build_document(open_image(str(containerd["export"])))
    assert _without(doc) == _without(exported)
    assert _without(doc, "layers") == _without(tricky["doc"], "layers")  # and the docker-archive's findings


def test_containerd_metadata_is_read_without_containerd(containerd: dict[str, Any], tricky: dict[str, Any]) -> None:
    db = BoltDB.open(f"{containerd['root']}/containerd/daemon/io.containerd.snapshotter.v1.overlayfs/metadata.db")
    keys = [key.decode() for key, _bucket in db.bucket(b"v1", b"snapshots").buckets()]
    from depslim.targets.image.layerstore import chain_ids

    chains = chain_ids(tricky["inspect"]["RootFS"]["Layers"])
    assert {key.split("/", 2)[2] for key in keys} >= set(chains)
    plan = StorePlan(SNAPSHOTTER, str(containerd["root"]), "overlayfs", "k8s.io")  # another namespace: not ours
    inspect = {"Id": containerd["target"], "RootFS": tricky["inspect"]["RootFS"]}
    with pytest.raises(StoreUnavailable, match="has no committed overlayfs snapshot"):
        store_image(plan, inspect, f"docker:{TAG}", f"docker:{TAG}", DEFAULT_LIMITS, None)
