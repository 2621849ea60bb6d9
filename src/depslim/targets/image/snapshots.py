"""The containerd image store (Docker's `containerd-snapshotter` feature, the default from Docker 29):
an engine image whose layers are overlayfs snapshot directories.

There, `docker image inspect` gives no layer directories (GraphDriver.Data is null) and the Engine
API does not say where containerd keeps its data, so depslim finds it: Docker runs either its own
containerd (`<DockerRootDir>/containerd/daemon`) or the system's (`root` in
/etc/containerd/config.toml, by default /var/lib/containerd). The right one holds the image: its
content store (`io.containerd.content.v1.content/blobs/sha256/<hex>`) has the index or manifest
`inspect`'s Id names. Those blobs are read as an OCI layout is (each checked against its digest),
so the config and the layer list are those `docker save` would write; then the overlayfs
snapshotter's `metadata.db` (a bbolt file, `depslim.targets.image.boltdb`) maps each layer's chain
id, in the engine's containerd namespace, to its committed snapshot `snapshots/<id>/fs`, and the
parent of each snapshot must be the one of the layer below. The directories are walked by
`depslim.targets.image.layerstore` exactly as overlay2's are (containerd writes whiteouts and opaque
directories the same way).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from depslim.errors import ImageFormatError
from depslim.targets.image.boltdb import BoltDB, BoltError, uvarint
from depslim.targets.image.layers import Limits
from depslim.targets.image.layerstore import (
    StoreCatalog,
    StoreLayer,
    StorePlan,
    StoreUnavailable,
    chain_ids,
    read_small,
)
from depslim.targets.image.sources import LayerRef, ResolvedImage

CONTENT = "io.containerd.content.v1.content"
SYSTEM_CONFIG = "/etc/containerd/config.toml"
SYSTEM_ROOT = "/var/lib/containerd"
COMMITTED = 3  # containerd's snapshots.KindCommitted
_BLOB = re.compile(r"blobs/sha256/[0-9a-f]{64}")


def containerd_roots(plan: StorePlan, system_config: str = SYSTEM_CONFIG) -> list[str]:
    """Where containerd may keep the engine's images, in the order they are tried."""
    roots = [f"{plan.root}/containerd/daemon"]
    try:
        config = tomllib.loads(read_small(system_config, 1024 * 1024).decode("utf-8"))
        if isinstance(config.get("root"), str) and config["root"].startswith("/"):
            roots.append(config["root"].rstrip("/"))
    except (StoreUnavailable, UnicodeDecodeError, tomllib.TOMLDecodeError):
        pass
    roots.append(SYSTEM_ROOT)
    return list(dict.fromkeys(roots))


class ContentCatalog(StoreCatalog):
    """containerd's content store seen as an OCI layout: `index.json` names the engine image's
    target; `blobs/sha256/<hex>` are read from the store (and checked by `resolve`)."""

    def __init__(self, archive: str, root: str, target: str, limits: Limits, namespace: str,
                 snapshotter: str) -> None:
        index = {"schemaVersion": 2, "manifests": [{"digest": target}]}
        super().__init__(archive, {"index.json": json.dumps(index).encode()}, {})
        self.root = root
        self.limits = limits
        self.namespace = namespace
        self.snapshotter = snapshotter

    def _blob(self, name: str) -> str | None:
        return f"{self.root}/{CONTENT}/{name}" if _BLOB.fullmatch(name) else None

    def exists(self, name: str) -> bool:
        if name in self._members:
            return True
        path = self._blob(name)
        return path is not None and os.path.isfile(path) and not os.path.islink(path)

    def read(self, name: str, limit: int) -> bytes:
        if name in self._members:
            return super().read(name, limit)
        path = self._blob(name)
        if path is None:
            raise ImageFormatError(self.archive, f"missing {name}")
        try:
            return read_small(path, limit)
        except StoreUnavailable as exc:
            raise ImageFormatError(self.archive, f"cannot read {name} from containerd's content store: {exc}") from None

    def layer(self, name: str) -> LayerRef:
        return StoreLayer(digest=name, name=name)  # its snapshot directory is bound after resolution

    def bind(self, image: ResolvedImage) -> None:
        """Give each resolved layer its committed snapshot directory, checking the parent chain."""
        snapshots = f"{self.root}/io.containerd.snapshotter.v1.{self.snapshotter}"
        try:
            bucket = BoltDB.open(f"{snapshots}/metadata.db").bucket(b"v1", b"snapshots")
            committed = _committed(bucket.buckets(), self.namespace)
        except PermissionError as exc:
            raise StoreUnavailable(f"no read access to {snapshots}/metadata.db: {exc.strerror}") from None
        except (OSError, BoltError) as exc:
            raise StoreUnavailable(f"cannot read {snapshots}/metadata.db: {exc}") from None
        diff_ids = [str(layer.diff_id) for layer in image.layers]
        below = ""
        for index, (layer, chain) in enumerate(zip(image.layers, chain_ids(diff_ids), strict=True)):
            found = committed.get(chain)
            if found is None or not isinstance(layer, StoreLayer):
                raise StoreUnavailable(f"layer {index} ({chain[:19]}…) has no committed {self.snapshotter} "
                                       "snapshot (not unpacked for this platform?)")
            key, snapshot_id, parent = found
            if parent != below:
                raise StoreUnavailable(f"layer {index}: its snapshot's parent is not the layer below")
            layer.directory = f"{snapshots}/snapshots/{snapshot_id}/fs"
            below = key


def _committed(buckets: Any, namespace: str) -> dict[str, tuple[str, int, str]]:
    """chain id -> (snapshot key, snapshot id, parent key) of the namespace's committed snapshots.

    containerd names a committed layer snapshot `<namespace>/<sequence>/<chain id>` in the
    snapshotter (its metadata layer adds the namespace and a sequence to the chain id)."""
    out: dict[str, tuple[str, int, str]] = {}
    for raw_key, bucket in buckets:
        key = raw_key.decode("utf-8", "replace")
        space, _, rest = key.partition("/")
        name = rest.partition("/")[2]
        if space != namespace or not name.startswith("sha256:"):
            continue
        values = bucket.values()
        if values.get(b"kind") != bytes([COMMITTED]) or b"id" not in values:
            continue
        parent = values.get(b"parent", b"").decode("utf-8", "replace")
        out.setdefault(name, (key, uvarint(values[b"id"]), parent))
    return out


def snapshotter_catalog(
    plan: StorePlan, inspect: Mapping[str, Any], archive: str, limits: Limits, platform: str | None,
    roots: list[str] | None = None,
) -> ContentCatalog:
    """The engine image's content (index/manifest/config) from the containerd root that has it."""
    target = str(inspect.get("Id") or "")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", target):
        raise StoreUnavailable(f"unexpected image id {target[:80]!r}")
    blob = f"blobs/sha256/{target.removeprefix('sha256:')}"
    tried = []
    for root in roots if roots is not None else containerd_roots(plan):
        path = f"{root}/{CONTENT}/{blob}"
        try:
            os.stat(path, follow_symlinks=False)
        except PermissionError as exc:
            raise StoreUnavailable(f"no read access to containerd's content store ({path}: {exc.strerror})") from None
        except OSError:
            tried.append(root)
            continue
        return ContentCatalog(archive, root, target, limits, plan.namespace, plan.snapshotter)
    raise StoreUnavailable(f"the image's content is in none of the containerd roots tried ({', '.join(tried)})")


__all__ = ["ContentCatalog", "containerd_roots", "snapshotter_catalog"]
