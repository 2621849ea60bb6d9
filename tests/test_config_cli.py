"""`--config` / `[tool.depslim]` through the real commands: default_map, per-command tables,
validation against each command's options, paths relative to the config file, and one test per
key proving that writing it changes what the command does."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from depslim.cli import COMMANDS, cli
from depslim.cli.config import ANALYSIS_KEYS, option_keys
from depslim.knowledge import load_data

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"
README = Path(__file__).resolve().parent.parent / "README.md"
KEYS: dict[str, Any] = load_data("config_keys")["keys"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def command(name: str) -> click.Command:
    found = cli.get_command(click.Context(cli), name)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's analyze report, so gates and audits need no new analysis."""
    out = tmp_path_factory.mktemp("cfg") / "example.json"
    code, output = run("analyze", str(EXAMPLE), "--no-cache", "-o", str(out))
    assert code == 0, output
    return out


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the bundled example, whose config each test rewrites."""
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root)
    return root


def configure(root: Path, body: str) -> None:
    text = (root / "pyproject.toml").read_text()
    text = re.sub(r"^\[tool\.depslim\]\n(?:(?!\[).*\n?)*", "", text, flags=re.M)
    (root / "pyproject.toml").write_text(text + "\n[tool.depslim]\n" + body)


def analyze(root: Path, *extra: str) -> dict[str, Any]:
    code, out = run("analyze", str(root), "--no-cache", "-f", "json", *extra)
    assert code == 0, out
    return json.loads(out)  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------ validation


def test_typo_in_a_command_table_is_named_with_a_hint(project: Path) -> None:
    configure(project, '[tool.depslim.check]\nforbd = ["jupyter*"]\n')
    code, out = run("check", str(project))
    assert code == 2 and "unknown key 'forbd' in [tool.depslim.check]" in out and "did you mean 'forbid'?" in out


def test_a_key_the_command_does_not_take_is_rejected_in_its_table(project: Path) -> None:
    configure(project, '[tool.depslim.analyze]\nforbid = ["jupyter*"]\n')
    code, out = run("analyze", str(project), "--no-cache")
    assert code == 2 and "`depslim analyze` has no --forbid" in out


def test_top_level_keys_fill_only_the_commands_that_take_them(project: Path, saved: Path) -> None:
    configure(project, 'forbid = ["jupyter*"]\nformat = "json"\n')
    code, out = run("check", str(project), "--report", str(saved))  # forbid fills check; format too
    assert code == 1 and json.loads(out)["kind"] == "check"
    assert analyze(project)["project"]  # analyze ignores forbid and takes format


def test_check_forbid_in_its_own_table(project: Path, saved: Path) -> None:
    configure(project, '[tool.depslim.check]\nforbid = ["jupyter*"]\n')
    code, out = run("check", str(project), "--report", str(saved), "-f", "json")
    assert code == 1, out
    assert json.loads(out)["results"][0]["rule"] == "forbid"
    code, out = run("check", str(project), "--report", str(saved), "--forbid", "nothing-*")
    assert code == 0  # the command line wins over the table


def test_python_is_an_interpreter_and_python_version_a_target(project: Path) -> None:
    configure(project, 'python = "3.11"\n')
    code, out = run("analyze", str(project), "--no-cache")
    assert code == 2 and "python-version" in out
    configure(project, '[tool.depslim.lock]\npython-version = "3.10"\n')
    ctx = command("lock").make_context("lock", [], obj=None)
    with ctx:
        pass
    # lock resolves from the current folder's config; the table is read as its --python-version
    from depslim.cli.config import command_defaults
    from depslim.config import load_config

    assert command_defaults(load_config(project), command("lock"), "lock")["python_version"] == "3.10"


def test_paths_are_relative_to_the_config_file(tmp_path: Path, saved: Path) -> None:
    ci = tmp_path / "ci"
    ci.mkdir()
    shutil.copy(saved, ci / "saved.json")
    (ci / "gate.toml").write_text('report = "saved.json"\nforbid = ["jupyter*"]\n')
    code, out = run("check", "--config", str(ci / "gate.toml"), "-f", "json")
    assert code == 1, out  # found ci/saved.json although the current folder is elsewhere
    assert json.loads(out)["results"][0]["rule"] == "forbid"


# ------------------------------------------------------------------------------- every key


def _sample(key: str, spec: dict[str, Any]) -> Any:
    if spec.get("choices"):
        return spec["choices"][-1] if key != "format" else "json"
    return {"bool": True, "list[str]": ["x"], "size": "2MB", "percent": 5, "int": 2000, "str": "x",
            "number": 1.5}.get(spec["type"], "x")


def test_every_key_is_read_by_an_option_or_by_the_analysis() -> None:
    options = {key for name in COMMANDS for key in option_keys(command(name))}
    unread = sorted(set(KEYS) - options - ANALYSIS_KEYS)
    assert not unread, f"config keys nothing reads: {unread}"


def test_every_key_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = [key for key in KEYS if f"`{key}`" not in text]
    assert not missing, f"undocumented config keys: {missing}"


@pytest.mark.parametrize("key", sorted(k for k in KEYS if k not in ANALYSIS_KEYS or k in ("dockerfile", "find-links")))
def test_every_option_key_fills_its_option(key: str, tmp_path: Path) -> None:
    """For each command taking `key`, the config value is what the command's parameter receives."""
    from depslim.cli.config import command_defaults
    from depslim.config import ProjectConfig

    value = _sample(key, KEYS[key])
    if key == "python":
        value = "venv/bin/python"
    config = ProjectConfig(values={}, path=tmp_path / "depslim.toml", commands={})
    filled = 0
    for name in COMMANDS:
        option = option_keys(command(name)).get(key)
        if option is None:
            continue
        per_command = ProjectConfig(values={}, path=config.path, commands={name: {key: value}})
        defaults = command_defaults(per_command, command(name), name)
        assert option.name in defaults, (name, key)
        got = defaults[option.name]
        if isinstance(option.type, click.Path):
            first = got[0] if isinstance(got, tuple) else got
            assert str(first).startswith(str(tmp_path))  # relative to the config file
        filled += 1
    assert filled, f"no command takes {key}"


def test_keep_takes_a_package_off_the_cut_list(project: Path) -> None:
    before = analyze(project)
    assert "matplotlib" in {f["subject"] for f in before["findings"] if f["code"].startswith("cut-")}
    configure(project, 'keep = [{name = "matplotlib", reason = "called by a plugin"}]\n')
    after = analyze(project)
    assert "matplotlib" not in {f["subject"] for f in after["findings"] if f["code"].startswith("cut-")}
    assert {d["name"]: d["verdict"] for d in after["distributions"]}["matplotlib"] == "runtime"
    assert any("config keeps matplotlib" in w and "plugin" in w for w in after["warnings"])
    assert after["summary"]["cut_count"] == before["summary"]["cut_count"] - 1


def test_ignore_drops_findings_and_says_so(project: Path) -> None:
    before = analyze(project)
    assert any(f["code"].startswith("dockerfile-") for f in before["findings"])
    configure(project, 'ignore = [{code = "dockerfile-*", reason = "base image owned by platform team"}]\n')
    after = analyze(project)
    assert not any(f["code"].startswith("dockerfile-") for f in after["findings"])
    assert any("config ignores" in w and "dockerfile-*" in w for w in after["warnings"])


def test_exclude_dev_paths_and_script_paths_change_verdicts(project: Path) -> None:
    (project / "jobs").mkdir()
    (project / "jobs" / "fetch.py").write_text("import requests\n")

    def verdict(name: str) -> str:
        return {d["name"]: d["verdict"] for d in analyze(project)["distributions"]}[name]  # type: ignore[no-any-return]

    configure(project, "exclude = []\n")
    assert verdict("requests") == "unreachable"  # imported by jobs/, which no entrypoint reaches
    configure(project, 'dev-paths = ["jobs"]\n')
    assert verdict("requests") == "dev-only"
    configure(project, 'script-paths = ["jobs"]\n')
    assert verdict("requests") == "dev-only"
    configure(project, 'exclude = ["src/churn/db.py"]\n')
    # its one importer is not scanned: no longer runtime (kept only because the example's runtime packages
    # are not installed here, so no one can tell whether one of them requires it)
    assert verdict("sqlalchemy") == "implicit"


def test_budget_keys_and_allow_unmeasured(project: Path, saved: Path) -> None:
    configure(project, 'max-image-bytes = "100MB"\n')
    code, out = run("check", str(project), "--report", str(saved))
    assert code == 1 and "UNMEASURED" in out and "--allow-unmeasured" in out
    configure(project, 'max-image-bytes = "100MB"\nallow-unmeasured = true\n')
    code, out = run("check", str(project), "--report", str(saved))
    assert code == 0, out
    configure(project, 'max-python-bytes = "1kB"\n')
    assert run("check", str(project), "--report", str(saved))[0] == 1
    configure(project, "fail-on-unused = true\n")
    assert run("check", str(project), "--report", str(saved))[0] == 0  # nothing is proven unused here
    doc = json.loads(saved.read_text())
    for dist in doc["distributions"]:
        if dist["name"] == "httpx":
            dist["verdict"] = "unused"  # as measured in an environment that has the runtime packages
    unused = saved.with_name("unused.json")
    unused.write_text(json.dumps(doc))
    assert run("check", str(project), "--report", str(unused))[0] == 1


def test_format_and_scope_keys(project: Path) -> None:
    configure(project, 'format = "markdown"\nscope = "serving"\n')
    code, out = run("analyze", str(project), "--no-cache")
    assert code == 0 and out.lstrip().startswith(("#", "<"))  # markdown, not the terminal table
    configure(project, 'scope = "serving"\n')
    assert analyze(project)["scope"] == "serving"


def test_a_python_version_under_python_in_a_lock_table_names_the_key_and_its_line(project: Path) -> None:
    """`[tool.depslim.lock] python = "3.11"`: lock's target Python is python-version; the error says so
    and points at the line, like every other config error."""
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.depslim.lock]\npython = "3.11"\n')
    code, out = run("lock", str(project / "requirements.txt"), "--config", str(project / "pyproject.toml"))
    assert code == 2
    assert "pyproject.toml:5" in out and "takes python-version" in out and "python-version = '3.11'" in out
