"""`--format html` opened in a real headless Chromium: no console errors, no network request, the
charts' numbers (DOM data-* attributes) equal the JSON report's, tables sort from the keyboard,
hostile names stay text. A screenshot of each page is saved under the test's temp folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_diff_factory import MB, dist, finding, imported, report, torch_base, torch_head

from depslim.audit import audit_table
from depslim.cli import cli
from depslim.diffing import diff_reports
from depslim.gate import Budgets, evaluate
from depslim.model import Evidence, LayerInfo, Verdict
from depslim.report import html
from depslim.report.markdown import Links
from depslim.units import human_bytes
from tests.cdp import Browser, Page, require_chromium
from tests.imagebuild import File, Image, Whiteout, dist_entries, image_config, layer_tar, write_docker_archive

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"
SITE = "/usr/local/lib/python3.11/site-packages"

# What the page may hold that points elsewhere: only <a href> to http(s) (links the reader clicks).
EXTERNAL = """[...document.querySelectorAll('[src],[href],link,iframe,img,object,embed,base')]
  .filter(e => !(e.tagName === 'A' && /^https?:/.test(e.getAttribute('href'))))
  .map(e => e.outerHTML.slice(0, 120))"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    executable = require_chromium()
    chromium = Browser(executable, tmp_path_factory.mktemp("chromium"))
    yield chromium
    chromium.close()


def open_clean(browser: Browser, page_file: Path, shot: Path) -> Page:
    """Load the page, save its screenshot, and assert it asked for nothing and logged no error."""
    page = browser.open(page_file.as_uri())
    page.screenshot(shot)
    assert shot.stat().st_size > 1000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.problems() == []
    assert page.requests() == [page_file.as_uri()]
    assert page.evaluate(EXTERNAL) == []
    assert page.evaluate("document.scripts.length") == 1  # ours, inline
    return page


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_analyze_example_page_carries_the_json_numbers(browser: Browser, tmp_path: Path) -> None:
    out_json, out_html = tmp_path / "report.json", tmp_path / "report.html"
    run("analyze", str(EXAMPLE), "-f", "json", "-o", str(out_json))
    run("analyze", str(EXAMPLE), "-f", "html", "-o", str(out_html), "--repository-url", "https://github.com/acme/churn")
    data = json.loads(out_json.read_text())
    page = open_clean(browser, out_html, tmp_path / "analyze.png")

    installed = {d["name"]: d for d in data["distributions"] if d["installed"] and d["size_bytes"] > 0}
    tiles = page.evaluate("[...document.querySelectorAll('.tile')].map(t => [t.dataset.name, +t.dataset.bytes, "
                          "+t.dataset.count, t.dataset.verdict])")
    assert sum(b for _n, b, _c, _v in tiles) == sum(d["size_bytes"] for d in installed.values())
    assert sum(c for _n, _b, c, _v in tiles) == len(installed)
    for name, size, count, colour in tiles:
        if count == 1:
            assert size == installed[name]["size_bytes"]
            if installed[name]["verdict"] in ("dev-only", "unused"):
                assert colour == installed[name]["verdict"]
    assert page.evaluate("document.querySelector('svg.treemap').getAttribute('role')") == "img"
    caption = page.evaluate("document.querySelector('svg.treemap title').textContent")
    assert caption.startswith("Installed bytes")
    # the caption's total is the report's installed bytes (each file once), the number every command shows
    assert f"distributions, {human_bytes(data['summary']['installed_bytes'])}" in caption

    cut = page.evaluate("[...document.querySelectorAll('#cut tbody tr')].map(r => [r.dataset.name, r.dataset.bytes])")
    expected = {d["name"]: d["retained_bytes"] for d in data["distributions"]
                if d["verdict"] in ("unused", "dev-only") and d["installed"]}
    assert {n: int(b) for n, b in cut if b} == expected
    assert len(cut) == data["summary"]["cut_count"]
    links = page.evaluate("[...document.querySelectorAll('#cut a')].map(a => a.getAttribute('href'))")
    assert "https://github.com/acme/churn/blob/HEAD/requirements.txt#L16" in links  # jupyter, dev-only

    # keyboard: Tab reaches the header's button, Enter sorts, aria-sort says how
    sorted_by = "document.querySelector('#findings th:nth-child(5)').getAttribute('aria-sort')"
    page.evaluate("document.querySelector('#findings th:nth-child(5) button').focus()")
    page.key("Enter", "Enter", 13, "\r")
    assert page.evaluate(sorted_by) == "ascending"
    page.key("Enter", "Enter", 13, "\r")
    assert page.evaluate(sorted_by) == "descending"
    savings = page.evaluate("[...document.querySelectorAll('#findings tbody tr')].map(r => r.dataset.bytes)")
    numbers = [int(s) if s else -1 for s in savings]
    assert numbers == sorted(numbers, reverse=True)
    assert page.evaluate("document.getElementById('sort-status').textContent").endswith("descending")
    assert page.problems() == []
    page.close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layers = [
        layer_tar([*dist_entries(SITE, "alpha", "1.0", {"alpha/__init__.py": "a" * 5000}),
                   *dist_entries(SITE, "beta", "2.0", {"beta.py": "b" * 100}),
                   File("/root/.cache/pip/blob", b"p" * 30000)]),
        layer_tar([Whiteout("/root/.cache/pip")]),
    ]
    config = image_config(layers, history=["/bin/sh -c pip install alpha beta <script>x</script>",
                                           "/bin/sh -c rm -rf /root/.cache/pip"])
    return write_docker_archive(tmp_path_factory.mktemp("img") / "img.tar", Image(layers, config))


def test_image_page_layers_and_waste_equal_the_json(browser: Browser, archive: Path, tmp_path: Path) -> None:
    doc = json.loads(run("image", str(archive), "-f", "json"))
    out = tmp_path / "image.html"
    run("image", str(archive), "-f", "html", "-o", str(out))
    page = open_clean(browser, out, tmp_path / "image.png")
    layers = page.evaluate("[...document.querySelectorAll('.waterfall .layer')].map(l => "
                           "[+l.dataset.index, +l.dataset.bytes, +l.dataset.waste])")
    assert [(i, b) for i, b, _w in layers] == [(x["index"], x["size_bytes"]) for x in doc["layers"]]
    assert sum(w for _i, _b, w in layers) > 0  # the pip cache deleted in layer 1 is waste shipped in layer 0
    assert page.evaluate("document.querySelectorAll('.waterfall rect.waste').length") >= 1
    tiles = page.evaluate("Object.fromEntries([...document.querySelectorAll('.tile')].map(t => "
                          "[t.dataset.name, +t.dataset.bytes]))")
    assert tiles == {d["name"]: d["size_bytes"] for d in doc["distributions"] if d["size_bytes"]}
    assert "<script>x</script>" in page.evaluate("document.querySelector('.waterfall').textContent")
    page.close()


def test_diff_check_and_audit_pages(browser: Browser, tmp_path: Path) -> None:
    base, head = torch_base(), torch_head()
    diff = diff_reports(base, head)
    out = tmp_path / "diff.html"
    out.write_text(html.render(diff))
    page = open_clean(browser, out, tmp_path / "diff.png")
    pairs = page.evaluate("[...document.querySelectorAll('.bars .pair')].map(p => "
                          "[p.dataset.name, p.dataset.beforeBytes, p.dataset.afterBytes])")
    assert pairs[0] == ["total", str(diff.base_bytes), str(diff.head_bytes)]
    by_name = {c.name: c for c in diff.changes}
    for name, before, after in pairs[1:]:
        change = by_name[name]
        assert before == ("" if change.kind == "added" else str(change.base_bytes))
        assert after == ("" if change.kind == "removed" else str(change.head_bytes))
    page.close()

    result = evaluate(head, Budgets(max_python_bytes=100 * MB, forbid=("nvidia-*",)))
    out = tmp_path / "check.html"
    out.write_text(html.render(result))
    page = open_clean(browser, out, tmp_path / "check.png")
    statuses = page.evaluate("[...document.querySelectorAll('#budgets tbody tr')].map(r => r.dataset.status)")
    assert sorted(statuses) == sorted(r.status for r in result.results)
    page.close()

    table = audit_table(head.findings or [finding("pip-cache", "/root/.cache/pip", 5 * MB)], head.target)
    out = tmp_path / "audit.html"
    out.write_text(html.render(table))
    page = open_clean(browser, out, tmp_path / "audit.png")
    assert page.evaluate("document.querySelectorAll('#findings tbody tr').length") == len(table.rows)
    page.close()


HOSTILE = '"><img src=x onerror=alert(1)><script>alert(2)</script>'


def test_hostile_names_paths_and_instructions_stay_text_and_secrets_are_masked(
    browser: Browser, tmp_path: Path
) -> None:
    bad = dist(f"evil{HOSTILE}", "1.0", 5 * MB, verdict=Verdict.UNUSED, declared_at=["requirements.txt:1"],
               evidence=[imported(f"src/{HOSTILE}.py", 3, "evil")])
    secret = "https://user:hunter2secret@pypi.example/simple"
    rep = report([bad, dist("ok", "1.0", MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:2"])],
                 findings=[finding("pip-cache", f"/root/{HOSTILE}", MB, title=f"cache {secret}",
                                   evidence=[Evidence("Dockerfile", 2, "dockerfile", f"RUN pip install -i {secret}")])],
                 kind="image", layers=[LayerInfo(0, "sha256:1", 3 * MB, f"RUN {HOSTILE} {secret}")])
    text = html.render(rep, links=Links("javascript:alert(3)//"))
    assert "hunter2secret" not in text and "<img" not in text and "javascript:" not in text
    out = tmp_path / "hostile.html"
    out.write_text(text)
    page = open_clean(browser, out, tmp_path / "hostile.png")
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert HOSTILE in page.evaluate("document.body.textContent")
    assert page.evaluate("document.querySelector('.tile').dataset.name") == f"evil{HOSTILE}"
    page.close()


def test_verify_page_before_after(browser: Browser, tmp_path: Path) -> None:
    from depslim.verify.checks import CheckResult
    from depslim.verify.run import ColdStart, ImageFacts, VerifyReport

    before = ImageFacts("app:latest", 2_230_000_000, "", "3.11", ("uvicorn",), ColdStart("port 8080", (2.1,)))
    after = ImageFacts("app:slim", 572_400_000, "app", "3.11", ("uvicorn",), ColdStart("port 8080", (0.8,)))
    checks = (CheckResult("import", "churn.serve", True),
              CheckResult("import", "churn.train", False, breakage=True, missing="sklearn", fix="add scikit-learn"))
    rep = VerifyReport("fixtures/example", after, checks, baseline=before)
    out = tmp_path / "verify.html"
    out.write_text(html.render(rep))
    page = open_clean(browser, out, tmp_path / "verify.png")
    assert page.evaluate("[...document.querySelectorAll('.bars .pair')].map(p => "
                         "[+p.dataset.beforeBytes, +p.dataset.afterBytes])") == [[2_230_000_000, 572_400_000]]
    assert page.evaluate("[...document.querySelectorAll('#checks tbody tr')].map(r => r.dataset.ok)") == [
        "true", "false"]
    page.close()


def test_squarified_tiles_fill_the_box_in_proportion() -> None:
    from depslim.report.treemap import squarify

    values = [500, 300, 120, 50, 20, 7, 2, 1, 0]
    rects = squarify(values, 0, 0, 960, 540)
    assert len(rects) == 8  # zero gets no tile
    total = sum(values)
    for rect in rects:
        assert rect.w * rect.h == pytest.approx(960 * 540 * values[rect.index] / total)
        assert rect.x >= -1e-6 and rect.x + rect.w <= 960 + 1e-6 and rect.y + rect.h <= 540 + 1e-6
    worst = max(max(r.w / r.h, r.h / r.w) for r in rects)
    assert worst < 6  # squarified: no sliver tiles


def test_a_layer_value_that_would_run_past_the_edge_is_drawn_before_its_bar() -> None:
    """The last layer of an image usually ends at the chart's right edge: its value goes left of it."""
    import re

    from depslim.report.svg import LayerBar, waterfall_svg

    svg = waterfall_svg([LayerBar(0, 10 * MB, 0, "FROM base"), LayerBar(1, 990 * MB, 300 * MB, "RUN pip install")],
                        width=960, title="t", desc="d")
    labels = re.findall(r'<text class="val" x="([\d.]+)" y="[\d.]+"( text-anchor="end")?>([^<]*)</text>', svg)
    (_x_first, end_first, _), (x_last, end_last, text_last) = labels
    assert not end_first and end_last  # the first fits after its bar, the last does not
    assert float(x_last) + 7 * len(text_last) <= 960  # drawn inside the chart, ending where its bar starts
