"""Budgets → CheckResult on hand-built Reports, and the GitHub annotations for them."""

from __future__ import annotations

import pytest
from test_diff_factory import MB, dist, finding, report, torch_base, torch_head

from depslim.errors import InputError
from depslim.gate import (
    FAIL,
    PASS,
    UNMEASURED,
    Budgets,
    LockStatus,
    budgets_from,
    evaluate,
    parse_size,
    python_bytes,
    runtime_distributions,
)
from depslim.model import Evidence, LayerInfo, Verdict
from depslim.report import github


def image_report(**kw: object):  # type: ignore[no-untyped-def]
    return report(
        [
            dist("torch", "2.2.2", 700 * MB, requires=["nvidia-cublas-cu12"]),
            dist("nvidia-cublas-cu12", "12.1.3.1", 510 * MB),
            dist("numpy", "1.26.4", 40 * MB),
        ],
        kind="image",
        ref="app.tar",
        layers=[LayerInfo(0, "sha256:a", 80 * MB, "ADD rootfs"),
                LayerInfo(1, "sha256:b", 1300 * MB, "RUN pip install -r requirements.txt")],
        **kw,  # type: ignore[arg-type]
    )


def test_parse_size_units() -> None:
    assert parse_size("500MB") == 500 * MB
    assert parse_size("1.5 GB") == 1_500_000_000
    assert parse_size("800MiB") == 800 * 2**20
    assert parse_size(1234) == 1234
    with pytest.raises(ValueError):
        parse_size("lots")


def test_image_budget_over_passes_under_fails_with_top_contributors() -> None:
    img = image_report()
    ok = evaluate(img, Budgets(max_image_bytes=2_000 * MB))
    assert ok.passed and ok.results[0].status == PASS
    bad = evaluate(img, Budgets(max_image_bytes=500 * MB))
    assert not bad.passed
    line = bad.failures[0].line()
    assert line.startswith("FAIL image size: limit 500.0 MB, actual 1.38 GB")
    # biggest first, and the heaviest layer with its instruction
    assert line.index("torch 2.2.2") < line.index("nvidia-cublas-cu12") < line.index("numpy")
    assert "layer 1" in line and "RUN pip install" in line


def test_image_total_from_target_totals_wins_over_layers() -> None:
    img = image_report(totals={"image_bytes": 100 * MB})
    assert evaluate(img, Budgets(max_image_bytes=200 * MB)).passed


def test_image_budget_on_environment_is_unmeasured_not_passed() -> None:
    result = evaluate(torch_head(), Budgets(max_image_bytes=1))
    assert result.results[0].status == UNMEASURED
    assert "--image" in result.results[0].line()


def test_python_bytes_in_environment_is_the_runtime_closure() -> None:
    # The same venv holds torch for both; only the head declares it, and pytest is dev-only.
    assert python_bytes(torch_base()) == 60 * MB
    assert python_bytes(torch_head()) == (60 + 700 + 510 + 2) * MB
    assert evaluate(torch_base(), Budgets(max_python_bytes=100 * MB)).passed
    head = evaluate(torch_head(), Budgets(max_python_bytes=100 * MB))
    assert head.failures[0].rule == "max-python-bytes"
    assert "torch 2.2.2" in head.failures[0].line()
    assert head.failures[0].evidence[0].path == "requirements.txt"


def test_python_budget_with_no_runtime_package_installed_is_unmeasured_and_fails() -> None:
    """`check --python /usr/bin/python3` on a project none of whose runtime packages is installed
    there: 0 B would be a pass nobody measured (analyze says "runtime closure not measured")."""
    bare = report([dist("pandas", None, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:1"], installed=False),
                   dist("pip", "24.0", 6 * MB)])
    assert python_bytes(bare) is None
    result = evaluate(bare, Budgets(max_python_bytes=1 * MB))
    assert result.results[0].status == UNMEASURED and not result.passed
    allowed = evaluate(bare, Budgets(max_python_bytes=1 * MB), allow_unmeasured=True)
    assert allowed.passed
    # allowed is not passed: every format's status line says it was not measured
    assert allowed.summary() == "0 of 1 budgets passed, 1 not measured (allowed by --allow-unmeasured)"
    assert result.summary().startswith("1 of 1 budgets failed (1 not measured")
    from depslim.report import github, markdown

    assert github.render_check(result).splitlines()[-1].startswith("::error ")  # it fails the job: an error
    assert "✅" not in markdown.render_check(allowed) and "not measured" in markdown.render_check(allowed)


def test_forbidden_globs_hit_declared_and_transitive_packages() -> None:
    result = evaluate(torch_head(), Budgets(forbid=("jupyter*", "nvidia-*", "tensorflow*")))
    by_what = {r.what: r for r in result.results}
    jupyter, nvidia, tf = (by_what[f"forbidden package {p}"] for p in ("jupyter*", "nvidia-*", "tensorflow*"))
    assert jupyter.status == FAIL and "jupyter 1.0.0" in jupyter.line()
    assert jupyter.evidence[0] == Evidence("requirements.txt", 3, "declared", "jupyter")
    # nvidia-cublas is not declared: the annotation points at torch, which pulls it in
    assert nvidia.status == FAIL and "required by torch" in nvidia.line()
    assert (nvidia.evidence[0].path, nvidia.evidence[0].line) == ("requirements.txt", 2)
    assert tf.status == PASS
    assert evaluate(torch_base(), Budgets(forbid=("jupyter*", "nvidia-*"))).passed


def test_forbidden_ignores_dev_only_declarations_in_environments_but_not_in_images() -> None:
    env = report([dist("pytest", "8", MB, declared_at=["requirements-dev.txt:1"], dev=True)])
    assert evaluate(env, Budgets(forbid=("pytest",))).passed
    img = report([dist("pytest", "8", MB)], kind="image")
    assert not evaluate(img, Budgets(forbid=("pytest",))).passed


def test_runtime_without_declarations_is_the_whole_environment() -> None:
    env = report([dist("a", size=1), dist("b", size=2)])
    assert [d.name for d in runtime_distributions(env)] == ["a", "b"]


def test_waste_bytes_and_percent() -> None:
    img = image_report(
        findings=[
            finding("pip-cache", "/root/.cache/pip", 180 * MB, evidence=[Evidence("Dockerfile", 7, "dockerfile")]),
            finding("build-tools", "gcc", 90 * MB),
            finding("model-weights", "/app/model.pt", 500 * MB, estimate=True),  # estimates never count
            finding("cut-unused", "jupyter", 350 * MB),  # opportunities are not waste
        ]
    )
    result = evaluate(img, Budgets(max_waste_bytes=200 * MB, max_waste_percent=10))
    waste, share = result.results
    assert waste.status == FAIL and waste.actual == "270.0 MB"
    assert "pip-cache" in waste.line() and waste.evidence[0].path == "Dockerfile"
    assert share.status == FAIL and share.actual.startswith("19.6% of image bytes")
    assert evaluate(img, Budgets(max_waste_percent=25)).passed


def test_fail_on_unused_lists_cut_with_retained_bytes() -> None:
    rep = report([
        dist("seaborn", "0.13.2", 5 * MB, verdict=Verdict.UNUSED, declared_at=["requirements.txt:9"],
             retained=9 * MB),
        dist("black", "24", MB, verdict=Verdict.UNUSED, declared_at=["requirements-dev.txt:2"], dev=True),
        dist("pandas", "2", MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:1"]),
    ])
    result = evaluate(rep, Budgets(fail_on_unused=True))
    (gate,) = result.results
    assert gate.status == FAIL and gate.actual == "1 (9.00 MB retained)"
    assert "seaborn 0.13.2 9.00 MB (declared at requirements.txt:9)" in gate.line()
    assert "black" not in gate.line()


def test_lock_freshness() -> None:
    rep = torch_base()
    assert evaluate(rep, Budgets(lock_fresh=True), LockStatus(True)).passed
    stale = evaluate(rep, Budgets(lock_fresh=True), LockStatus(False, "requirements-base.lock.txt: stale",
                                                                  "requirements-base.lock.txt"))
    assert stale.failures[0].line() == (
        "FAIL lock freshness: limit fresh, actual stale — requirements-base.lock.txt: stale"
    )
    assert evaluate(rep, Budgets(lock_fresh=True), None).results[0].status == UNMEASURED


def test_budgets_from_config_values() -> None:
    budgets = budgets_from({"max-image-bytes": "1.5GB", "max-waste-percent": "10%", "forbid": "jupyter*",
                            "fail-on-unused": True})
    assert budgets == Budgets(max_image_bytes=1_500_000_000, max_waste_percent=10.0, forbid=("jupyter*",),
                              fail_on_unused=True)
    with pytest.raises(InputError, match=r"pyproject.toml: max-python-bytes: not a size"):
        budgets_from({"max-python-bytes": "huge"}, "pyproject.toml")
    with pytest.raises(InputError, match="between 0 and 100"):
        budgets_from({"max-waste-percent": 150})
    with pytest.raises(InputError, match="forbid"):
        budgets_from({"forbid": [1, 2]})


def test_github_annotations_point_at_the_declaring_line() -> None:
    result = evaluate(torch_head(), Budgets(forbid=("jupyter*",), max_python_bytes=MB))
    text = github.render(result, prefix="services/api")
    lines = text.splitlines()
    forbid = [line for line in lines if "title=depslim forbid" in line]
    assert forbid == [
        "::error file=services/api/requirements.txt,line=3,title=depslim forbid::FAIL forbidden package "
        "jupyter*: limit none in the runtime, actual 1 present; top contributors: jupyter 1.0.0 2.00 MB "
        "(declared at requirements.txt:3)"
    ]
    # the budget failure is annotated at each top contributor's declaration, once per line
    budget = [line.split("::")[1] for line in lines if "max-python-bytes" in line]
    assert budget == [
        "error file=services/api/requirements.txt,line=2,title=depslim max-python-bytes",
        "error file=services/api/requirements.txt,line=1,title=depslim max-python-bytes",
        "error file=services/api/requirements.txt,line=3,title=depslim max-python-bytes",
    ]
    assert lines[-1] == "::error title=depslim check::depslim check: 2 of 2 budgets failed"  # the gate fails


def test_github_escaping() -> None:
    assert github.command("error", "50% done\nnext", file="a,b:c.txt", line=3, title="t") == (
        "::error file=a%2Cb%3Ac.txt,line=3,title=t::50%25 done%0Anext"
    )
    # image paths are not repository files: no file= property
    assert github.command("warning", "x") == "::warning::x"


def test_github_diff_notice_at_the_import() -> None:
    from depslim.diffing import diff_reports

    text = github.render(diff_reports(torch_base(), torch_head(), swap_pairs=()))
    lines = text.splitlines()
    assert lines[0].startswith("::notice title=depslim diff::This PR adds 1.21 GB: torch 2.2.2 (+CUDA)")
    assert lines[1] == (
        "::notice file=src/pipeline/train.py,line=4,title=depslim diff::torch 2.2.2 (+CUDA) adds 1.21 GB "
        "(with nvidia-cublas-cu12)"
    )
