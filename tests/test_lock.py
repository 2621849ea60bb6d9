"""depslim lock against a real PEP 503 index on 127.0.0.1, with real pip-compile, uv and pip.

The index serves wheels built here (alpha → beta → gamma; a CUDA-ish `torchlike 1.0` on the
main index and `torchlike 1.0+cpu` on a second "CPU" index). Nothing is stubbed: the
resolvers fetch pages and files over HTTP, and a fresh venv installs the lock with
`pip install --require-hashes`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import build_wheel, make_venv
from pyindex import Index, serve_index

from depslim.cli import cli
from depslim.errors import InputError, LockError
from depslim.generate.lock import LockOptions, check_lock, compute_lock, default_output, write_lock
from depslim.generate.stamp import is_intact

pytestmark = pytest.mark.index

SECRET = "s3cr3t-Pa55"


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    main = tmp_path_factory.mktemp("index-main")
    cpu = tmp_path_factory.mktemp("index-cpu")
    build_wheel(main, "alpha", "1.0", requires=["beta>=1"])
    build_wheel(main, "beta", "1.0")
    build_wheel(main, "beta", "2.0", requires=["gamma"])
    build_wheel(main, "gamma", "0.5")
    build_wheel(main, "delta", "1.0")
    build_wheel(main, "torchlike", "1.0", requires=["gamma"])  # the "CUDA" build
    build_wheel(cpu, "torchlike", "1.0+cpu")
    return {"main": main, "cpu": cpu}


@pytest.fixture(scope="session")
def indexes(wheels: dict[str, Path]) -> Iterator[dict[str, Index]]:
    with serve_index(wheels["main"]) as main, serve_index(wheels["cpu"]) as cpu, \
            serve_index(wheels["main"], auth=("user", SECRET)) as private:
        yield {"main": main, "cpu": cpu, "private": private}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Isolated pip/uv configuration: no user config, caches under tmp, no retries."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "PIP_CONFIG_FILE": "/dev/null",
        "PIP_CACHE_DIR": str(tmp_path / "cache" / "pip"),
        "XDG_CACHE_HOME": str(tmp_path / "cache" / "xdg"),
        "UV_CACHE_DIR": str(tmp_path / "cache" / "uv"),
        "UV_NO_CONFIG": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_RETRIES": "0",
        "UV_HTTP_RETRIES": "0",
    }


def _base(tmp_path: Path, indexes: dict[str, Index], *lines: str) -> Path:
    path = tmp_path / "requirements-base.txt"
    body = [f"--index-url {indexes['main'].url}", f"--extra-index-url {indexes['cpu'].url}", *lines]
    path.write_text("\n".join(body) + "\n")
    return path


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("backend", ["pip-tools", "uv"])
def test_real_backend_locks_full_closure_with_cpu_build(
    backend: str, tmp_path: Path, indexes: dict[str, Index], wheels: dict[str, Path], env: dict[str, str]
) -> None:
    base = _base(tmp_path, indexes, "alpha", "torchlike==1.0  # swapped from torch")
    result = compute_lock(base, options=LockOptions(backend=backend, env=env))
    pins = {p.name: p for p in result.pins}
    assert {n: p.version for n, p in pins.items()} == {
        "alpha": "1.0", "beta": "2.0", "gamma": "0.5", "torchlike": "1.0+cpu"}
    cpu_wheel = next(wheels["cpu"].glob("torchlike-*.whl"))
    assert pins["torchlike"].hashes == (_sha(cpu_wheel),)
    assert pins["gamma"].via == ("beta",)
    text = result.text
    assert f"--extra-index-url {indexes['cpu'].url}\n" in text
    assert "torchlike==1.0+cpu \\\n    --hash=" + _sha(cpu_wheel) in text
    assert str(tmp_path) not in text  # no absolute paths in the header
    assert is_intact(text)


def test_both_backends_give_the_same_pins(tmp_path: Path, indexes: dict[str, Index], env: dict[str, str]) -> None:
    base = _base(tmp_path, indexes, "alpha", "delta", "torchlike")
    a = compute_lock(base, tmp_path / "a.lock.txt", LockOptions(backend="pip-tools", env=env))
    b = compute_lock(base, tmp_path / "b.lock.txt", LockOptions(backend="uv", env=env))
    assert [(p.requirement, p.hashes) for p in a.pins] == [(p.requirement, p.hashes) for p in b.pins]
    assert a.inputs_digest == b.inputs_digest


def test_fresh_venv_installs_lock_with_require_hashes_and_tampering_fails(
    tmp_path: Path, indexes: dict[str, Index], env: dict[str, str]
) -> None:
    base = _base(tmp_path, indexes, "alpha", "torchlike")
    write_lock(compute_lock(base, options=LockOptions(backend="uv", env=env)))
    lock = default_output(base)
    python = make_venv(tmp_path / "venv")
    pip = [str(python), "-m", "pip", "install", "--no-cache-dir", "--require-hashes"]
    subprocess.run([*pip, "-r", str(lock)], check=True, env=env, capture_output=True)
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], env=env,
                            capture_output=True, text=True, check=True).stdout
    assert "torchlike==1.0+cpu" in listed and "gamma==0.5" in listed

    tampered = tmp_path / "tampered.lock.txt"
    text = lock.read_text()
    start = text.index("alpha==1.0 \\\n    --hash=sha256:") + len("alpha==1.0 \\\n    --hash=sha256:")
    tampered.write_text(text[:start] + ("0" if text[start] != "0" else "1") + text[start + 1:])
    failed = subprocess.run([*pip, "--force-reinstall", "-r", str(tampered)], env=env,
                            capture_output=True, text=True)
    assert failed.returncode != 0
    assert "HASHES" in failed.stderr.upper()


def test_check_fresh_then_stale_and_cli_exit_codes(
    tmp_path: Path, indexes: dict[str, Index], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _base(tmp_path, indexes, "alpha")
    write_lock(compute_lock(base, options=LockOptions(backend="uv", env=env)))
    assert check_lock(base) == []
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["lock", "--check", "requirements-base.txt"]).exit_code == 0

    base.write_text(base.read_text() + "delta\n")
    problems = check_lock(base)
    assert any("stale" in p for p in problems)
    assert any("delta" in p and "not in the lock" in p for p in problems)
    assert runner.invoke(cli, ["lock", "--check", "requirements-base.txt"]).exit_code == 1

    # a hand edit of the lock itself is caught by its stamp
    base.write_text(base.read_text().replace("delta\n", ""))
    lock = default_output(base)
    lock.write_text(lock.read_text().replace("beta==2.0", "beta==1.0"))
    assert any("edited by hand" in p for p in check_lock(base))


def test_cli_lock_writes_base_and_dev_locks(
    tmp_path: Path, indexes: dict[str, Index], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _base(tmp_path, indexes, "alpha")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements-base.txt\ndelta\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env=env).invoke(cli, ["lock", "--backend", "uv", "--format", "pylock"])
    assert result.exit_code == 0, result.output
    dev = (tmp_path / "requirements-dev.lock.txt").read_text()
    assert "alpha==1.0" in dev and "delta==1.0" in dev
    assert "delta" not in (tmp_path / "requirements-base.lock.txt").read_text()
    assert (tmp_path / "pylock.toml").is_file() and (tmp_path / "pylock.dev.toml").is_file()
    again = CliRunner(env=env).invoke(cli, ["lock", "--backend", "uv"])
    assert again.exit_code == 0, again.output


def test_pylock_lists_wheels_with_urls_and_hashes(
    tmp_path: Path, indexes: dict[str, Index], wheels: dict[str, Path], env: dict[str, str]
) -> None:
    base = _base(tmp_path, indexes, "alpha", "torchlike")
    result = compute_lock(base, options=LockOptions(backend="pip-tools", env=env, pylock=True))
    assert result.pylock_text is not None and result.pylock_path == tmp_path / "pylock.toml"
    data = tomllib.loads(result.pylock_text)
    assert data["lock-version"] == "1.0" and data["created-by"] == "depslim"
    packages = {p["name"]: p for p in data["packages"]}
    assert set(packages) == {"alpha", "beta", "gamma", "torchlike"}
    torch = packages["torchlike"]
    cpu_wheel = next(wheels["cpu"].glob("torchlike-*.whl"))
    assert torch["version"] == "1.0+cpu"
    assert torch["wheels"] == [{
        "name": cpu_wheel.name,
        "url": f"{indexes['cpu'].url.removesuffix('/simple')}/files/{cpu_wheel.name}",
        "hashes": {"sha256": _sha(cpu_wheel).split(":")[1]},
    }]


@pytest.mark.parametrize("backend", ["pip-tools", "uv"])
def test_credentials_from_env_never_written(
    backend: str, tmp_path: Path, indexes: dict[str, Index], env: dict[str, str]
) -> None:
    private = indexes["private"]
    env = {**env, "DEPSLIM_TEST_INDEX": private.url_with_auth("user", SECRET)}
    base = tmp_path / "requirements-base.txt"
    base.write_text("--index-url ${DEPSLIM_TEST_INDEX}\nalpha\n")
    before = len(private.requests)
    result = compute_lock(base, options=LockOptions(backend=backend, env=env, pylock=True))
    write_lock(result)
    assert len(private.requests) > before  # the secret did reach the index…
    for path in (default_output(base), tmp_path / "pylock.toml"):
        text = path.read_text()
        assert SECRET not in text  # …but never the files
    assert "--index-url ${DEPSLIM_TEST_INDEX}\n" in default_output(base).read_text()
    assert [p.name for p in result.pins] == ["alpha", "beta", "gamma"]


def test_unreachable_index_is_lock_error_and_old_lock_untouched(tmp_path: Path, env: dict[str, str]) -> None:
    base = tmp_path / "requirements-base.txt"
    base.write_text(f"--index-url http://user:{SECRET}@127.0.0.1:9/simple\nalpha\n")
    lock = default_output(base)
    lock.write_bytes(b"old lock\n")
    for backend in ("pip-tools", "uv"):
        with pytest.raises(LockError) as err:
            compute_lock(base, options=LockOptions(backend=backend, env=env))
        assert "\n" not in err.value.message and SECRET not in err.value.message
        assert "could not lock" in err.value.message
    assert lock.read_bytes() == b"old lock\n"


def test_failed_resolution_is_one_clear_line(tmp_path: Path, indexes: dict[str, Index], env: dict[str, str]) -> None:
    base = _base(tmp_path, indexes, "alpha>=5")
    with pytest.raises(LockError) as err:
        compute_lock(base, options=LockOptions(backend="uv", env=env))
    assert "alpha" in err.value.message and "\n" not in err.value.message


@pytest.mark.parametrize("line", ["-e ./pkg", "./pkg", "pkg @ file:///tmp/pkg"])
def test_editables_and_local_paths_refused(tmp_path: Path, line: str, env: dict[str, str]) -> None:
    base = tmp_path / "requirements-base.txt"
    base.write_text(f"alpha\n{line}\n")
    with pytest.raises(InputError) as err:
        compute_lock(base, options=LockOptions(backend="uv", env=env))
    assert "requirements-base.txt:2" in err.value.message
    assert "hash" in err.value.message


def test_pip_tools_refuses_another_platform(tmp_path: Path) -> None:
    base = tmp_path / "requirements-base.txt"
    base.write_text("alpha\n")
    with pytest.raises(LockError) as err:
        compute_lock(base, options=LockOptions(backend="pip-tools", platform="darwin/arm64"))
    assert "--backend uv" in (err.value.hint or "")


def test_a_bad_input_is_reported_before_a_bad_target(tmp_path: Path) -> None:
    base = tmp_path / "requirements-base.txt"
    base.write_text("alpha\ntorch==\n")
    with pytest.raises(InputError) as err:  # both wrong: the input's line wins, as if read first
        compute_lock(base, options=LockOptions(backend="uv", platform="plan9/mips"))
    assert "requirements-base.txt:2" in err.value.message
    base.write_text("alpha\n")
    with pytest.raises(InputError) as err:
        compute_lock(base, options=LockOptions(backend="uv", platform="plan9/mips"))
    assert "plan9/mips" in err.value.message


@pytest.mark.parametrize("backend", ["pip-tools", "uv"])
def test_relock_keeps_existing_pins_unless_upgrade(
    backend: str, tmp_path: Path, indexes: dict[str, Index], env: dict[str, str]
) -> None:
    base = _base(tmp_path, indexes, "alpha", "beta<2")
    options = LockOptions(backend=backend, env=env)
    write_lock(compute_lock(base, options=options))
    base.write_text(base.read_text().replace("beta<2\n", ""))
    kept = {p.name: p.version for p in compute_lock(base, options=options).pins}
    assert kept["beta"] == "1.0"  # the existing lock's pins are preferences, like pip-compile's own
    upgraded = {p.name: p.version for p in compute_lock(base, options=LockOptions(backend=backend, env=env,
                                                                                    upgrade=True)).pins}
    assert upgraded["beta"] == "2.0"


def test_dev_lock_agrees_with_the_base_lock_it_includes(
    tmp_path: Path, indexes: dict[str, Index], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _base(tmp_path, indexes, "alpha", "beta<2")
    write_lock(compute_lock(base, options=LockOptions(backend="uv", env=env)))
    base.write_text(base.read_text().replace("beta<2\n", ""))  # base lock keeps beta 1.0 as a preference
    (tmp_path / "requirements-dev.txt").write_text("-r requirements-base.txt\ndelta\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env=env).invoke(cli, ["lock", "--backend", "uv"])
    assert result.exit_code == 0, result.output
    dev = (tmp_path / "requirements-dev.lock.txt").read_text()
    assert "beta==1.0 \\" in dev  # unconstrained, a fresh dev resolution would take beta 2.0
    assert "/tmp" not in dev and "constraints.txt" not in dev


def test_foreign_or_hand_edited_lock_is_not_overwritten_without_force(
    tmp_path: Path, indexes: dict[str, Index], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _base(tmp_path, indexes, "alpha")
    lock = tmp_path / "requirements-base.lock.txt"
    lock.write_text("# autogenerated by pip-compile\nalpha==1.0\n")
    monkeypatch.chdir(tmp_path)
    refused = CliRunner(env=env).invoke(cli, ["lock", "--backend", "uv"])
    assert refused.exit_code == 2 and "not written by depslim" in refused.output
    assert lock.read_text() == "# autogenerated by pip-compile\nalpha==1.0\n"
    forced = CliRunner(env=env).invoke(cli, ["lock", "--backend", "uv", "--force"])
    assert forced.exit_code == 0, forced.output
    assert is_intact(lock.read_text())


def test_check_without_inputs_follows_the_readme_flow_and_a_missing_input_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`split` writes base and dev, the README locks only the base: `lock --check` checks the
    base and the dev file only once it has a lock; a named file that does not exist exits 2."""
    from depslim.generate.lock import check_inputs

    base, dev = tmp_path / "requirements-base.txt", tmp_path / "requirements-dev.txt"
    base.write_text("alpha\n")
    dev.write_text("-r requirements-base.txt\ndelta\n")
    default_output(base).write_text("alpha==1.0\n")
    assert check_inputs(tmp_path) == [base]
    default_output(dev).write_text("delta==1.0\n")
    assert check_inputs(tmp_path) == [base, dev]
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["lock", "--check", "nonexist.txt"])
    assert result.exit_code == 2 and "no such file" in result.output
