"""The generated import-name index (`data/import_names.json`): its data, the Mapper's use of it, and
`depslim analyze` / `depslim split` on a project whose imports are not installed in the target.

Real packaged data, no network: the target is a bare venv, so every third-party name has to come
from the index (or the alias table that overrides it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from depslim.errors import InputError
from depslim.knowledge import load_json_data
from depslim.mapping import KNOWN_MAPPINGS, Mapped, Mapper, _index_entry, import_index
from depslim.model import InstalledDistribution, InstalledFile

DATA = Path(__file__).resolve().parent.parent / "src" / "depslim" / "data" / "import_names.json"
OPENCV = ("opencv-contrib-python", "opencv-contrib-python-headless", "opencv-python", "opencv-python-headless")


def test_the_generated_table_loads_validated_and_stays_small() -> None:
    index = import_index()
    doc = load_json_data("import_names")
    assert DATA.stat().st_size < 1_500_000
    assert len(index.names) == doc["stats"]["names"] > 500
    ambiguous = {name for name, value in doc["names"].items() if isinstance(value, dict)}
    assert len(ambiguous) == doc["stats"]["ambiguous"]
    assert all(len(index.names[name]) >= 2 for name in ambiguous)
    assert all(len(dists) == 1 for name, dists in index.names.items() if name not in ambiguous)
    # every distribution a name points at was read, with its version and where its names came from
    named = {d for dists in index.names.values() for d in dists}
    assert named <= doc["distributions"].keys()
    assert {source for _, source in doc["distributions"].values()} <= {"metadata", "files", "top_level"}
    # what wheels ship by mistake is not a name: `tests`, `docs`, …; nor a private duplicate (`_yaml`)
    assert not set(doc["dropped_top_level"]) & {name.split(".")[0] for name in index.names}
    assert "_yaml" not in index.names
    assert {"google", "google.cloud"} <= index.namespaces
    assert not index.namespaces & index.names.keys()


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("sklearn", ("scikit-learn",)),
        ("sklearn.linear_model", ("scikit-learn",)),
        ("PIL.Image", ("pillow",)),
        ("yaml", ("pyyaml",)),
        ("bs4", ("beautifulsoup4",)),
        ("google.cloud.storage", ("google-cloud-storage",)),
        ("google.cloud.storage.blob", ("google-cloud-storage",)),
        ("google.protobuf.message", ("protobuf",)),
        ("dateutil.parser", ("python-dateutil",)),
        ("skimage", ("scikit-image",)),
        ("attr", ("attrs",)),
        ("attrs", ("attrs",)),
    ],
)
def test_tricky_names_map_to_the_distribution_that_ships_them(module: str, expected: tuple[str, ...]) -> None:
    assert Mapper([]).map(module) == Mapped(expected, "index")


def test_a_name_several_distributions_ship_is_ambiguous_unless_the_project_declares_one() -> None:
    assert Mapper([]).map("cv2") == Mapped(OPENCV, "ambiguous")
    assert Mapper([], ["opencv-python-headless"]).map("cv2") == Mapped(("opencv-python-headless",), "index")
    assert Mapper([]).map("jwt") == Mapped(("jwt", "pyjwt"), "ambiguous")
    assert Mapper([], ["PyJWT"]).map("jwt") == Mapped(("pyjwt",), "index")
    # two of the candidates declared: still the project's to say which one the code means
    both = Mapper([], ["opencv-python", "opencv-python-headless"]).map("cv2")
    assert both == Mapped(("opencv-python", "opencv-python-headless"), "ambiguous")
    assert "index" in KNOWN_MAPPINGS and "ambiguous" not in KNOWN_MAPPINGS and "identity" not in KNOWN_MAPPINGS


def test_aliases_override_the_index_and_a_namespace_owns_nothing_below_it() -> None:
    mapper = Mapper([])
    # the index read only psycopg2-binary's wheel; the hand-kept table knows psycopg2 ships it too
    assert mapper.map("psycopg2") == Mapped(("psycopg2", "psycopg2-binary"), "ambiguous")
    assert Mapper([], ["psycopg2-binary"]).map("psycopg2") == Mapped(("psycopg2-binary",), "alias")
    assert mapper.map("MySQLdb") == Mapped(("mysqlclient",), "alias")
    # google.cloud is a namespace many wheels share: an unknown name below it is a guess, never
    # protobuf (the alias for a bare `import google`) nor any google-cloud-* wheel
    assert mapper.map("google.cloud.frobnicate") == Mapped(("google-cloud-frobnicate",), "identity")
    assert mapper.map("google") == Mapped(("protobuf",), "alias")
    assert mapper.map("not_a_known_module_xyz") == Mapped(("not-a-known-module-xyz",), "identity")
    assert mapper.modules_of("google-cloud-storage") == {"google.cloud.storage"}


def test_installed_metadata_still_wins(tmp_path: Path) -> None:
    site = str(tmp_path / "site")
    local = InstalledDistribution(name="my-yaml-fork", display_name="my-yaml-fork", version="1.0", site=site,
                                  dist_info=f"{site}/my_yaml_fork-1.0.dist-info",
                                  files=(InstalledFile(f"{site}/yaml/__init__.py", 10),))
    assert Mapper([local]).map("yaml") == Mapped(("my-yaml-fork",), "record")


def test_the_index_is_loaded_only_when_installed_metadata_has_no_answer(tmp_path: Path) -> None:
    """Start-up never pays for the table: a fresh process maps installed and stdlib names without it."""
    site = tmp_path / "site"
    code = f"""
from depslim.knowledge import load_json_data
from depslim.mapping import Mapper
from depslim.model import InstalledDistribution, InstalledFile
dist = InstalledDistribution("pyyaml", "PyYAML", "6.0", {str(site)!r}, {str(site)!r} + "/PyYAML-6.0.dist-info",
                             files=(InstalledFile({str(site)!r} + "/yaml/__init__.py", 1),))
mapper = Mapper([dist])
assert mapper.map("yaml.loader").how == "record" and mapper.map("json").how == "stdlib"
assert load_json_data.cache_info().currsize == 0
assert mapper.map("sklearn").how == "index"
assert load_json_data.cache_info().currsize == 1
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "value",
    ["", ["pyyaml"], {"ambiguous": ["only-one"]}, {"ambiguous": ["a", "b"], "extra": 1}, {"ambigous": ["a", "b"]}],
)
def test_a_malformed_entry_is_refused_naming_the_file(value: object) -> None:
    with pytest.raises(InputError, match=r"import_names\.json"):
        _index_entry("yaml", value)


# ---------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A target with nothing installed: every third-party import is missing there."""
    root = tmp_path_factory.mktemp("bare")
    venv.EnvBuilder(with_pip=False).create(root / "venv")
    return root / "venv" / "bin" / "python"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "app.py").write_text("import dateutil.parser\nimport jwt\nimport cv2\n\n"
                                 "print(dateutil.parser, jwt, cv2)\n")
    (root / "requirements.txt").write_text("opencv-python-headless\n")
    return root


def _depslim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depslim", *args], capture_output=True, text=True, timeout=300)


def test_analyze_names_the_distribution_of_an_import_the_target_lacks(
    project: Path, bare_python: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    result = _depslim("analyze", str(project), "--python", str(bare_python), "--format", "json", "-o", str(out),
                      "--no-cache")
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    imports = {i["module"]: (i["distribution"], i["mapping"]) for i in report["imports"]}
    assert imports["dateutil"] == ("python-dateutil", "index")
    assert imports["jwt"] == ("jwt,pyjwt", "ambiguous")
    assert imports["cv2"] == ("opencv-python-headless", "index")  # the declared candidate wins
    findings = {f["id"]: f for f in report["findings"]}
    missing = findings["missing:python-dateutil"]
    assert missing["subject"] == "python-dateutil" and missing["fix"] == "declare python-dateutil"
    ambiguous = findings["missing:jwt or pyjwt"]
    assert "ambiguous" in ambiguous["title"]
    assert ambiguous["fix"] == "declare the one of jwt, pyjwt the code means"
    assert ambiguous["data"]["candidates"] == ["jwt", "pyjwt"]
    assert not any(f["subject"] in ("jwt", "pyjwt") for f in report["findings"])


def test_split_writes_a_known_mapping_and_only_notes_an_ambiguous_one(project: Path, bare_python: Path) -> None:
    result = _depslim("split", str(project), "--python", str(bare_python))
    assert result.returncode == 0, result.stderr
    base = (project / "requirements-base.txt").read_text()
    names = {line.split()[0] for line in base.splitlines() if line and not line.startswith("#")}
    assert {"python-dateutil", "opencv-python-headless"} <= names
    assert not names & {"jwt", "pyjwt"}
    assert "jwt or pyjwt" in " ".join(result.stdout.split() + result.stderr.split())
