"""[tool.depslim] / depslim.toml: keys, types, did-you-mean, per-command tables, parse_size."""

from __future__ import annotations

from pathlib import Path

import pytest

from depslim.config import load_config, parse_size
from depslim.errors import InputError
from depslim.knowledge import load_data

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"


def pyproject(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n\n[tool.depslim]\n' + body, encoding="utf-8")
    return path


def test_values_types_and_default_map(tmp_path: Path) -> None:
    pyproject(
        tmp_path,
        """dev-paths = ["tests", "docs"]
script-paths = "tools"
max-image-bytes = "1.5GB"
max-python-bytes = 800000000
max-waste-percent = "12.5%"
fail-on-unused = true
swap = ["torch-cpu"]
forbid = ["jupyter*", "nvidia-*"]
keep = ["boto3", {name = "s3fs", reason = "read_parquet on s3:// paths"}]
backend = "uv"
swaps = [{id = "x", remove = "a"}]

[tool.depslim.lock]
python-version = "3.11"
""",
    )
    config = load_config(tmp_path)
    assert config.path == tmp_path / "pyproject.toml"
    assert config.values["script-paths"] == ["tools"]  # a string is a one-item list
    assert config.values["max-image-bytes"] == 1_500_000_000
    assert config.values["max-waste-percent"] == 12.5
    assert config.get("python-version", "lock") == "3.11" and config.get("python-version", "analyze") is None
    assert config.values["keep"][1] == {"name": "s3fs", "reason": "read_parquet on s3:// paths"}


def test_bundled_example_config() -> None:
    config = load_config(EXAMPLE)
    assert config.values == {"dev-paths": ["tests", "docs", "notebooks", "benchmarks"]}


def test_no_config_is_empty(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    config = load_config(tmp_path)
    assert config.values == {} and config.path is None
    assert load_config(tmp_path / "missing-dir-is-fine").values == {}


def test_unknown_key_names_file_line_and_suggests(tmp_path: Path) -> None:
    pyproject(tmp_path, 'dev-paths = ["tests"]\nmax-image-byte = "1GB"\n')
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    err = info.value
    assert str(err) == "pyproject.toml:6: unknown key 'max-image-byte' in [tool.depslim]"
    assert err.hint == "did you mean 'max-image-bytes'?"


def test_snake_case_key_suggests_kebab(tmp_path: Path) -> None:
    pyproject(tmp_path, 'dev_paths = ["tests"]\n')
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    assert info.value.hint == "did you mean 'dev-paths'?"


def test_unknown_key_in_command_table(tmp_path: Path) -> None:
    pyproject(tmp_path, '[tool.depslim.lock]\npyhton-version = "3.11"\n')
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    assert "[tool.depslim.lock]" in str(info.value) and info.value.hint == "did you mean 'python-version'?"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('fail-on-unused = "yes"', "fail-on-unused must be true or false"),
        ("dev-paths = [1, 2]", "dev-paths must be a list of strings"),
        ('max-image-bytes = "lots"', "max-image-bytes must be a size"),
        ("max-waste-percent = 150", "max-waste-percent must be a percentage from 0 to 100"),
        ('backend = "poetry"', "backend must be one of pip-tools, uv"),
        ("image = 3", "image must be a string"),
    ],
)
def test_wrong_types_are_input_errors(tmp_path: Path, body: str, needle: str) -> None:
    pyproject(tmp_path, body + "\n")
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    assert str(info.value).startswith("pyproject.toml:5: ")
    assert needle in str(info.value)


def test_depslim_toml_and_explicit_file(tmp_path: Path) -> None:
    pyproject(tmp_path, 'image = "from-pyproject"\n')
    (tmp_path / "depslim.toml").write_text('image = "from-depslim-toml"\n', encoding="utf-8")
    assert load_config(tmp_path).values["image"] == "from-depslim-toml"
    other = tmp_path / "ci" / "strict.toml"
    other.parent.mkdir()
    other.write_text("max-waste-bytes = \"200MiB\"\n", encoding="utf-8")
    config = load_config(tmp_path, other)
    assert config.values == {"max-waste-bytes": 200 * 1024**2} and config.path == other
    with pytest.raises(InputError, match="config file does not exist"):
        load_config(tmp_path, tmp_path / "nope.toml")


def test_config_toml_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "depslim.toml").write_text('image = "a"\nforbid = [\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"^depslim.toml(:\d+)?: invalid TOML"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0),
        (1234, 1234),
        ("1234", 1234),
        ("500MB", 500_000_000),
        ("500 mb", 500_000_000),
        ("2kB", 2000),
        ("1.2GiB", round(1.2 * 1024**3)),
        ("1.5 GB", 1_500_000_000),
        ("3MiB", 3 * 1024**2),
        ("1TiB", 1024**4),
        ("10B", 10),
        (".5GB", 500_000_000),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "1.2.3GB", "5M", "12 parsecs", "-1", -1, True])
def test_parse_size_rejects(text: str | int) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_every_key_has_a_known_type() -> None:
    from depslim.config import _VALIDATORS

    keys = load_data("config_keys")["keys"]
    assert {"dev-paths", "max-image-bytes", "forbid", "keep", "backend", "repository-url"} <= set(keys)
    assert all(record["type"] in _VALIDATORS for record in keys.values())
