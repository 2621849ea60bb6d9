"""The probe `depslim verify` runs inside the image's container (stdlib only, any Python 3.8+).

It is passed as `python -c <this file's text> <spec JSON>` to a container with no network, a
read-only root filesystem, an unprivileged user and resource limits. Two modes:

- `checks`: each import (and each model file's names, in order) in a fresh interpreter
  with a timeout, each command looked up on PATH; one JSON line per check on stdout.
- `start`: starts the image's own command and reports, as one JSON line, the seconds from this
  probe's start until the server's port accepts a connection (or the entry module is imported).

This is the one place where depslim runs the code it analyses: deliberately, and only here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # never true inside the container: the probe needs nothing beyond the stdlib at runtime
    from typing import Any, TypedDict

    Record = dict[str, Any]  # one JSON line the probe writes

    class Model(TypedDict):
        file: str
        names: list[str]  # the names an unpickler resolves, in order

    class Spec(TypedDict, total=False):
        mode: str  # "checks" | "start"
        timeout: float
        imports: list[str]  # checks mode
        models: list[Model]
        commands: list[str]
        argv: list[str]  # start mode
        port: int | str | None
        module: str | None

CHILD = r"""
import importlib, json, sys, time, traceback
t0 = time.perf_counter()
out = {"ok": True}
try:
    # several targets are resolved in order, as an unpickler resolves a model file's names
    for target in sys.argv[1:]:
        module, _, attr = target.partition(":")
        module, _, folder = module.partition("@")
        if folder:  # a script's module: its folder is sys.path[0], as when it is run by path
            sys.path.insert(0, folder)
        out["at"] = target
        obj = importlib.import_module(module)
        for part in [p for p in attr.split(".") if p]:
            obj = getattr(obj, part)
    out.pop("at", None)
except BaseException as exc:
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    out = {"ok": False, "type": type(exc).__name__, "message": str(exc)[:500], "at": out.get("at"),
           "missing": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
           "where": "%s:%s" % (last.filename, last.lineno) if last else ""}
out["seconds"] = round(time.perf_counter() - t0, 4)
sys.stdout.write("\n@@depslim@@" + json.dumps(out) + "\n")
"""


def emit(record: Record) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def run_import(target: str | list[str], timeout: float) -> Record:
    started = time.perf_counter()
    targets = target if isinstance(target, list) else [target]
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, *targets], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "type": "Timeout", "message": f"no answer within {timeout}s", "missing": None,
                "seconds": round(time.perf_counter() - started, 3)}
    text = done.stdout.decode("utf-8", "replace")
    marker = text.rfind("@@depslim@@")
    if marker < 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        return {"ok": False, "type": "Crashed", "message": f"exit {done.returncode}: {' | '.join(tail)}",
                "missing": None, "seconds": round(time.perf_counter() - started, 3)}
    try:
        record: Record = json.loads(text[marker + len("@@depslim@@"):].strip().splitlines()[0])
        return record
    except ValueError:
        return {"ok": False, "type": "Crashed", "message": "unreadable probe output", "missing": None}


def checks(spec: Spec) -> None:
    timeout = float(spec.get("timeout", 120))
    for target in spec.get("imports", []):
        emit(dict(run_import(target, timeout), check="import", target=target))
    for model in spec.get("models", []):
        emit(dict(run_import(model["names"], timeout), check="model", target=model["file"]))
    for command in spec.get("commands", []):
        found = shutil.which(command)
        emit({"check": "command", "target": command, "ok": found is not None, "path": found,
              "type": None if found else "NotOnPath", "message": "" if found else f"{command} is not on PATH"})


def accepts(port: int) -> bool:
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.05)
                if sock.connect_ex((host, port)) == 0:
                    return True
        except OSError:
            continue
    return False


def start(spec: Spec, t0: float) -> None:
    argv = spec["argv"]
    timeout = float(spec.get("timeout", 60))
    port = spec.get("port")
    if not port:
        module = spec["module"]
        assert module is not None, "the caller sends a module whenever it sends no port"
        result = run_import(module, timeout)
        emit(dict(result, check="start", ready=result.get("ok"), seconds=round(time.perf_counter() - t0, 4)))
        return
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        emit({"check": "start", "ready": False, "type": type(exc).__name__, "message": str(exc)})
        return
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        if accepts(int(port)):
            emit({"check": "start", "ready": True, "seconds": round(time.perf_counter() - t0, 4)})
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
            return
        if proc.poll() is not None:
            tail = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()[-5:] if proc.stderr else []
            emit({"check": "start", "ready": False, "type": "Exited",
                  "message": f"exit {proc.returncode}: {' | '.join(tail)}",
                  "seconds": round(time.perf_counter() - t0, 4)})
            return
        time.sleep(0.005)
    proc.kill()
    emit({"check": "start", "ready": False, "type": "Timeout",
          "message": f"port {port} did not accept within {timeout}s"})


def main() -> None:
    t0 = time.perf_counter()
    spec: Spec = json.loads(sys.argv[1])
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    if spec.get("mode") == "start":
        start(spec, t0)
    else:
        checks(spec)


if __name__ == "__main__":  # `python -c <text>` runs it as __main__; importing it does nothing
    main()
