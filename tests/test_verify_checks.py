"""What a failed check inside the image means (no engine needed: the classification is pure).

A breakage names what the image lacks, who provides it and the line to add back; anything else is
reported as what it is. The fix never names a distribution nothing says provides the module.
"""

from __future__ import annotations

from pathlib import Path

from depslim.mapping import Mapper
from depslim.model import Evidence, InstalledDistribution, InstalledFile
from depslim.verify.checks import FixContext, Planned, classify, entry_program
from depslim.verify.run import start_record

SITE = "/usr/lib/python3/dist-packages"


def _dist(name: str, version: str, top: str) -> InstalledDistribution:
    return InstalledDistribution(name=name, display_name=name, version=version, site=SITE,
                                 dist_info=f"{SITE}/{name}-{version}.dist-info",
                                 files=(InstalledFile(f"{SITE}/{top}/__init__.py", 10),))


def _ctx(tmp_path: Path) -> FixContext:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.pkl").write_bytes(b"x")
    reference = [_dist("scikit-learn", "1.6.1", "sklearn")]
    return FixContext(Mapper(reference), {"scikit-learn": "1.6.1"}, frozenset({"churn"}),
                      "requirements-slim.txt", {"libGL.so.1": "libgl1"}, {"uvicorn": "uvicorn"}, tmp_path, "/app")


PLANNED = Planned(why={"import:churn.serve": Evidence("src/churn/serve.py", 0, "reached", "churn.serve")})


def test_a_missing_module_names_the_distribution_and_the_pin_to_add_back(tmp_path: Path) -> None:
    result = classify({"check": "import", "target": "churn.serve", "ok": False, "type": "ModuleNotFoundError",
                       "message": "No module named 'sklearn'", "missing": "sklearn"}, PLANNED, _ctx(tmp_path))
    assert result.breakage and result.distribution == "scikit-learn"
    assert result.fix == "add scikit-learn==1.6.1 to requirements-slim.txt (it provides `sklearn`)"
    assert result.why == Evidence("src/churn/serve.py", 0, "reached", "churn.serve")


def test_an_unknown_module_is_never_given_a_guessed_distribution(tmp_path: Path) -> None:
    result = classify({"check": "import", "target": "app", "ok": False, "type": "ModuleNotFoundError",
                       "message": "No module named 'constants'", "missing": "constants"}, PLANNED, _ctx(tmp_path))
    assert result.breakage and result.distribution is None
    assert result.fix == "install what provides `constants`"


def test_first_party_library_file_and_command_breakages(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    own = classify({"check": "import", "target": "churn.serve", "ok": False, "type": "ModuleNotFoundError",
                    "message": "No module named 'churn.model'", "missing": "churn.model"}, PLANNED, ctx)
    assert own.breakage and own.fix == "copy the first-party module churn.model into the image"
    lib = classify({"check": "import", "target": "cv2", "ok": False, "type": "ImportError",
                    "message": "libGL.so.1: cannot open shared object file: No such file or directory"}, PLANNED, ctx)
    assert lib.breakage and lib.missing == "libGL.so.1" and "libgl1" in lib.fix
    file = classify({"check": "start", "target": "uvicorn app:app", "ok": False, "type": "FileNotFoundError",
                     "message": "[Errno 2] No such file or directory: '/app/models/m.pkl'"}, PLANNED, ctx)
    assert file.breakage and file.missing == "models/m.pkl" and file.fix.startswith("copy models/m.pkl")
    elsewhere = classify({"check": "start", "target": "x", "ok": False, "type": "FileNotFoundError",
                          "message": "[Errno 2] No such file or directory: '/data/cache.db'"}, PLANNED, ctx)
    assert not elsewhere.breakage  # not a project file: the image cannot be blamed
    command = classify({"check": "command", "target": "uvicorn", "ok": False, "type": "NotOnPath",
                        "message": "uvicorn is not on PATH"}, PLANNED, ctx)
    assert command.breakage and command.distribution == "uvicorn"


def test_other_errors_are_reported_as_what_they_are(tmp_path: Path) -> None:
    result = classify({"check": "import", "target": "app.db", "ok": False, "type": "KeyError",
                       "message": "'DATABASE_URL'"}, PLANNED, _ctx(tmp_path))
    assert not result.ok and not result.breakage and result.fix == ""


def test_a_failed_start_is_classified_by_the_exception_that_ended_it() -> None:
    tail = ("Exited: exit 1:   File \"/app/app.py\", line 3, in <module> | import joblib | "
            "ModuleNotFoundError: No module named 'joblib'")
    record = start_record(tail, ["uvicorn", "app:app"])
    assert record["type"] == "ModuleNotFoundError" and record["missing"] == "joblib"
    other = start_record("Exited: exit 1: x | RuntimeError: no GPU", ["python", "serve.py"])
    assert other["type"] == "RuntimeError" and other["missing"] is None


def test_entry_program_sees_through_shells_and_wrappers() -> None:
    assert entry_program(["uvicorn", "app:app"]) == "uvicorn"
    assert entry_program(["/bin/sh", "-c", "exec gunicorn app:app -b :80"]) == "gunicorn"
    assert entry_program(["tini", "--", "python", "serve.py"]) is None
    assert entry_program(["python3", "-m", "app"]) is None
