"""SIGKILL at random moments: `split`, `lock` and `analyze -o` never leave a half-written file, a
mixed set of split's files, a temp file or a child process behind.

Each command first runs once undisturbed over a project whose files hold an *old* version (made by
depslim from an earlier state of the project), which gives the *new* content and how long a run
takes. Then, TRIALS times per command (seeded), the old files are put back, the command is started
as a real process and killed with SIGKILL after a random delay within that duration. After each kill:

- every target is absent-or-old or byte-for-byte the complete new content, never anything else;
- split's three files (and lock's lock + pylock.toml) are all old or all new; a mixed set on disk
  is allowed only while a journal of that set is there (a kill between the renames), and what the
  next depslim run does first (`fsio.recover_interrupted`, then the stale-temp sweep) turns it into
  the complete new set;
- after that sweep, no `.NAME.depslim-*.tmp` file or journal is left; lock's `depslim-lock-*`
  folder (under a TMPDIR private to the test) is gone within seconds, and no process started by
  the run is alive: each run carries a unique token in its environment, which pip-compile, uv and
  the watchdog inherit, and /proc is searched for it.

TRIALS (DEPSLIM_KILL_TRIALS, default 30) is CI-sized; the counts of each outcome (killed before any
rename, mid-set, completed) are printed with `-s`.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import build_wheel
from pyindex import Index, serve_index

from depslim import fsio
from depslim.fsio import atomic_write_all, recover_interrupted, remove_stale_temps

TRIALS = int(os.environ.get("DEPSLIM_KILL_TRIALS", "30"))
SRC = Path(__file__).resolve().parents[2] / "src"
SEED = 1313


def _token_processes(token: str) -> list[int]:
    """Live processes whose environment carries `token` (a run's descendants, wherever they went)."""
    needle = f"DEPSLIM_KILL_TOKEN={token}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    with open(f"/proc/{entry.name}/stat", "rb") as stat:
                        if stat.read().rsplit(b")", 1)[1].split()[0] != b"Z":  # a zombie is gone
                            found.append(int(entry.name))
        except OSError:
            continue
    return found


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".journal")))


@dataclass
class Scenario:
    """One command to kill: how to run it, its target files and their old contents."""

    argv: list[str]
    cwd: Path
    targets: list[Path]
    old: dict[Path, bytes | None]
    env: dict[str, str]
    tmpdir: Path

    def reset(self) -> None:
        for target in self.targets:
            content = self.old[target]
            if content is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(content)

    def start(self, token: str) -> subprocess.Popen[bytes]:
        env = {**self.env, "PYTHONPATH": str(SRC), "DEPSLIM_KILL_TOKEN": token, "TMPDIR": str(self.tmpdir)}
        return subprocess.Popen([sys.executable, "-m", "depslim", *self.argv], cwd=self.cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def state(self) -> dict[Path, bytes | None]:
        return {t: t.read_bytes() if t.exists() else None for t in self.targets}


def _calibrate(scenario: Scenario) -> tuple[dict[Path, bytes | None], float]:
    """The new contents and the duration of an undisturbed run (the kill window): the shorter of
    two runs, the first one warming the caches."""
    durations = []
    for _ in range(2):
        scenario.reset()
        start = time.monotonic()
        child = scenario.start(secrets.token_hex(8))
        _, err = child.communicate(timeout=180)
        durations.append(time.monotonic() - start)
        assert child.returncode == 0, err.decode()
    duration = min(durations)
    new = scenario.state()
    assert all(new[t] is not None for t in scenario.targets)
    changing = [t for t in scenario.targets if new[t] != scenario.old[t]]
    assert len(changing) >= min(2, len(scenario.targets)), "the run must change the set for the test to mean much"
    return new, duration


def _kill_trials(scenario: Scenario, name: str) -> Counter[str]:
    """TRIALS kills at seeded random moments; every check of the module docstring after each."""
    new, duration = _calibrate(scenario)
    rng = random.Random(f"{SEED}-{name}")
    outcomes: Counter[str] = Counter()
    folders = {t.parent for t in scenario.targets}
    late = duration
    for trial in range(TRIALS):
        scenario.reset()
        token = secrets.token_hex(8)
        child = scenario.start(token)
        # odd trials: anywhere in the run; even ones: at the end, where the files are written — a
        # window that moves with the machine's load, so `late` is nudged after each such trial
        # (later when the kill came before any write, earlier when the run had finished)
        at_end = trial % 2 == 0
        time.sleep(late * rng.uniform(0.9, 1.0) if at_end else duration * rng.uniform(0.02, 1.0))
        if child.poll() is None:
            outcomes["children-at-kill"] += max(0, len(_token_processes(token)) - 1)  # depslim has it too
            child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
        killed = child.returncode == -signal.SIGKILL
        assert killed or child.returncode == 0, f"trial {trial}: exit {child.returncode}"
        raw = scenario.state()
        journals = [n for f in folders for n in _temps(f) if n.endswith(".journal")]
        leftovers = sum(len(_temps(f)) for f in folders)
        for target in scenario.targets:  # each file: old (or absent) or the complete new one
            assert raw[target] in (scenario.old[target], new[target]), f"trial {trial}: {target.name} half-written"
        changing = [t for t in scenario.targets if new[t] != scenario.old[t]]
        kinds = {("new" if raw[t] == new[t] else "old") for t in changing}
        if len(kinds) > 1:
            assert journals, f"trial {trial}: a mixed set without a journal: {raw}"
        # what the next depslim run does first
        for folder in folders:
            recover_interrupted(folder)
            remove_stale_temps(folder)
        after = scenario.state()
        kinds_after = {("new" if after[t] == new[t] else "old") for t in changing}
        assert len(kinds_after) == 1, f"trial {trial}: set still mixed after recovery"
        assert kinds_after == ({"new"} if journals else kinds)  # a journal is rolled forward
        for folder in folders:
            assert _temps(folder) == [], f"trial {trial}: temps left after the sweep: {_temps(folder)}"
        deadline = time.monotonic() + 10
        while (alive := _token_processes(token)) or list(scenario.tmpdir.glob("depslim-lock-*")):
            if time.monotonic() > deadline:
                for pid in alive:
                    os.kill(pid, signal.SIGKILL)
                pytest.fail(f"trial {trial}: outlived the run: processes {alive}, "
                            f"folders {list(scenario.tmpdir.glob('depslim-lock-*'))}")
            time.sleep(0.05)
        outcome = ("completed" if not killed else "mixed-then-recovered" if len(kinds) > 1
                   else "journal-then-recovered" if journals else f"killed-{kinds.pop()}")
        outcomes[outcome] += 1
        if at_end:
            late *= 0.93 if outcome == "completed" else 1.08 if outcome == "killed-old" else 1.0
        outcomes["raw-leftover-temps"] += leftovers
    print(f"\n{name}: {TRIALS} trials, run {duration:.2f} s, end-of-run kills at ~{late:.2f} s: {dict(outcomes)}")
    return outcomes


def _project(root: Path, requirements: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text("import click\nimport packaging\n")
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_app.py").write_text("import pytest\n")
    (root / "requirements.txt").write_text(requirements)
    return root


def _clean_env(tmp: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"], "HOME": str(tmp / "home"), "PIP_CONFIG_FILE": "/dev/null",
        "PIP_CACHE_DIR": str(tmp / "cache" / "pip"), "XDG_CACHE_HOME": str(tmp / "cache" / "xdg"),
        "UV_CACHE_DIR": str(tmp / "cache" / "uv"), "UV_NO_CONFIG": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_RETRIES": "0", "UV_HTTP_RETRIES": "0", "DEPSLIM_CACHE_DIR": str(tmp / "depslim-cache"),
        "NO_COLOR": "1",
    }


def _old_outputs(tmp: Path, argv: list[str], cwd: Path, targets: list[Path],
                 env: dict[str, str]) -> dict[Path, bytes | None]:
    """The targets as depslim wrote them for an earlier state of the project (so they are its own)."""
    run = subprocess.run([sys.executable, "-m", "depslim", *argv], cwd=cwd, capture_output=True,
                         env={**env, "PYTHONPATH": str(SRC), "TMPDIR": str(tmp)}, timeout=180)
    assert run.returncode == 0, run.stderr.decode()
    return {t: t.read_bytes() for t in targets}


def test_split_killed_at_random_moments(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj", "click\npackaging\npytest\n")
    env = _clean_env(tmp_path)
    targets = [root / "requirements-base.txt", root / "requirements-dev.txt", root / "depslim-cuts.md"]
    (root / "app.py").write_text("import click\n")  # the old state: packaging only used by the tests
    (root / "tests" / "test_app.py").write_text("import pytest\nimport packaging\n")
    old = _old_outputs(tmp_path, ["split", str(root)], root, targets, env)
    (root / "app.py").write_text("import click\nimport packaging\n")
    (root / "tests" / "test_app.py").write_text("import pytest\n")
    scenario = Scenario(["split", str(root)], root, targets, old, env, tmp_path / "tmp")
    scenario.tmpdir.mkdir()
    outcomes = _kill_trials(scenario, "split")
    assert outcomes["completed"] < TRIALS  # the kills did land


def test_analyze_output_killed_at_random_moments(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj", "click\npackaging\n")
    env = _clean_env(tmp_path)
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    (root / "app.py").write_text("import click\n")
    old = _old_outputs(tmp_path, ["analyze", str(root), "-f", "json", "-o", str(out)], root, [out], env)
    (root / "app.py").write_text("import click\nimport packaging\n")
    scenario = Scenario(["analyze", str(root), "-f", "json", "-o", str(out), "--force", "--no-cache"], root,
                        [out], old, env, tmp_path / "tmp")
    scenario.tmpdir.mkdir()
    outcomes = _kill_trials(scenario, "analyze -o")
    assert outcomes["completed"] < TRIALS  # the kills did land


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    wheels = tmp_path_factory.mktemp("kill-index")
    build_wheel(wheels, "alpha", "1.0", requires=["beta>=1"])
    build_wheel(wheels, "alpha", "2.0", requires=["beta>=2"])
    build_wheel(wheels, "beta", "1.0")
    build_wheel(wheels, "beta", "2.0", requires=["gamma"])
    build_wheel(wheels, "gamma", "0.5")
    with serve_index(wheels) as served:
        yield served


@pytest.mark.index
@pytest.mark.parametrize("backend", ["pip-tools", "uv"])
def test_lock_killed_at_random_moments(tmp_path: Path, index: Index, backend: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    env = _clean_env(tmp_path)
    base = root / "requirements-base.txt"
    targets = [root / "requirements-base.lock.txt", root / "pylock.toml"]
    argv = ["lock", "--backend", backend, "--format", "pylock", str(base)]
    base.write_text(f"--index-url {index.url}\nalpha==1.0\n")
    old = _old_outputs(tmp_path, argv, root, targets, env)
    base.write_text(f"--index-url {index.url}\nalpha==2.0\n")
    scenario = Scenario(argv, root, targets, old, env, tmp_path / "tmp")
    scenario.tmpdir.mkdir()
    outcomes = _kill_trials(scenario, f"lock ({backend})")
    assert outcomes["children-at-kill"] > 0  # the watchdog and the resolver were there to outlive it



@pytest.mark.parametrize("kill_at", ["before-journal", "after-journal", "after-rename-1", "after-rename-2",
                                     "after-rename-3"])
def test_set_killed_between_its_renames_is_completed_by_the_next_run(tmp_path: Path, kill_at: str) -> None:
    """The moment a timed SIGKILL almost never hits (the renames take microseconds), hit on purpose:
    a forked writer kills itself at `kill_at`. Before the journal the old set stays (its temps are
    swept); from the journal on, the next run's recovery completes the new set; never mixed after."""
    names = ["requirements-base.txt", "requirements-dev.txt", "depslim-cuts.md"]
    for name in names:
        (tmp_path / name).write_text(f"old {name}\n")
    items = [(tmp_path / name, f"new {name}\n" * 100) for name in names]
    pid = os.fork()
    if pid == 0:  # the writer: dies where told, as SIGKILL would leave it
        try:
            renames = 0
            real_replace, real_journal = os.replace, fsio._write_journal

            def replace(src: object, dst: object) -> None:
                nonlocal renames
                real_replace(src, dst)  # type: ignore[arg-type]
                renames += 1
                if kill_at == f"after-rename-{renames}":
                    os.kill(os.getpid(), signal.SIGKILL)

            def journal(staged: object) -> Path:
                if kill_at == "before-journal":
                    os.kill(os.getpid(), signal.SIGKILL)
                written = real_journal(staged)  # type: ignore[arg-type]
                if kill_at == "after-journal":
                    os.kill(os.getpid(), signal.SIGKILL)
                return written

            fsio.os.replace = replace  # type: ignore[assignment]
            fsio._write_journal = journal  # type: ignore[assignment]
            atomic_write_all(items)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    raw = {name: (tmp_path / name).read_text().startswith("new") for name in names}
    journals = list(tmp_path.glob(".depslim-*.journal"))
    assert (len(set(raw.values())) == 1) or journals, raw  # mixed only under a journal
    assert bool(journals) == (kill_at != "before-journal")  # after the last rename: not yet removed
    recover_interrupted(tmp_path)
    remove_stale_temps(tmp_path)
    after = {name: (tmp_path / name).read_text() for name in names}
    expected_new = kill_at != "before-journal"
    assert after == {name: (f"new {name}\n" * 100 if expected_new else f"old {name}\n") for name in names}
    assert _temps(tmp_path) == []
