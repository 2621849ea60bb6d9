"""PR-ready Markdown: valid GitHub-flavoured Markdown, links, and the 65,536-character limit."""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt
from test_diff_factory import MB, dist, finding, imported, report, torch_base, torch_head

from depslim.diffing import diff_reports
from depslim.gate import Budgets, evaluate
from depslim.model import Evidence, Verdict
from depslim.report import markdown
from depslim.report.markdown import MARKER, MAX_COMMENT_CHARS, Links, links_from

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"


def parse(text: str) -> list[str]:
    """Token types as GitHub's renderer family (CommonMark + GFM tables, raw HTML) sees them."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    return [t.type for t in md.parse(text)]


def html(text: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def big_report(n: int = 5000):  # type: ignore[no-untyped-def]
    dists = [
        dist(f"package-number-{i:05d}", "1.0.0", (n - i) * 1000, verdict=Verdict.UNUSED if i % 10 == 0 else None,
             declared_at=[f"requirements.txt:{i + 1}"] if i % 10 == 0 else [],
             evidence=[Evidence("requirements.txt", i + 1, "declared", "declared | with a pipe")])
        for i in range(n)
    ]
    findings = [finding("pip-cache", f"/root/.cache/pip/{i}", i * MB) for i in range(300)]
    return report(dists, findings=findings, kind="image", ref="registry/app:latest",
                  warnings=[f"src/mod{i}.py:1: invalid syntax" for i in range(200)])


def test_synthetic_5000_distributions_stays_under_limit_and_says_what_it_cut() -> None:
    text = markdown.render(big_report())
    assert len(text) < MAX_COMMENT_CHARS
    assert text.startswith(MARKER)
    assert "Truncated to stay under GitHub's 65,536-character comment limit" in text
    # names each section it shortened, with counts
    assert "of 5,000 distributions in “All distributions (5,000)”" in text
    assert "of 300 findings in “Findings (300" in text
    # the cut list has priority: all 500 rows fit before the detail sections get theirs
    cut = text[text.index("### Cut list"): text.index("<details>")]
    assert cut.count("| `package-number-") == 500 and "Cut list”" not in text
    assert "more distributions not shown" in text
    tokens = parse(text)
    assert "table_open" in tokens and "html_block" in tokens
    # the cut list comes first and keeps its biggest rows
    assert text.index("### Cut list") < text.index("<summary>")
    assert "`package-number-00000`" in text


def test_small_report_is_not_truncated_and_parses() -> None:
    text = markdown.render(torch_head())
    assert "Truncated" not in text
    tokens = parse(text)
    assert tokens.count("table_open") >= 2
    rendered = html(text)
    assert "<details>" in rendered and "<summary>" in rendered
    assert "<td><code>jupyter</code></td>" in rendered  # the cut list's table parsed as a table
    assert "**Cut list: 1 package, 2.00 MB freed**" in text


def test_custom_limit_is_respected() -> None:
    text = markdown.render(big_report(800), limit=8000)
    assert len(text) < 8000 and "Truncated to stay under a 8,000-character budget. Left out:" in text


def test_links_to_file_and_line() -> None:
    links = links_from("https://github.com/acme/churn", ref="abc123", env={})
    assert links == Links("https://github.com/acme/churn/blob/abc123")
    text = markdown.render(torch_head(), links=links)
    assert "[requirements.txt:3](https://github.com/acme/churn/blob/abc123/requirements.txt#L3)" in text
    assert 'href="https://github.com/acme/churn/blob/abc123/requirements.txt#L3"' in html(text)
    # image paths are not repository files
    assert links.url("/usr/lib/python3/dist-packages/x.py", 3) is None


def test_links_from_github_actions_environment() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/churn", "GITHUB_SHA": "f00"}
    assert links_from(None, env=env) == Links("https://github.com/acme/churn/blob/f00")
    assert links_from(None, env={}) is None
    sub = links_from("https://github.example.com/acme/churn/blob/main", prefix="services/api/", env={})
    assert sub is not None and sub.url("src/a.py", 2) == (
        "https://github.example.com/acme/churn/blob/main/services/api/src/a.py#L2"
    )


def test_cells_escape_pipes_and_html() -> None:
    head = report([dist("evil", "1", MB, verdict=Verdict.UNUSED, declared_at=["requirements.txt:1"],
                        evidence=[Evidence("requirements.txt", 1, "rule", "a | b <script>")])])
    text = markdown.render(head)
    assert "a \\| b &lt;script&gt;" in text
    assert "<script>" not in html(text)


def test_check_markdown() -> None:
    result = evaluate(torch_head(), Budgets(max_python_bytes=100 * MB, forbid=("jupyter*", "tensorflow")))
    text = markdown.render(result)
    assert "## depslim check: ❌ 2 of 3 budgets failed" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]
    assert rows[0].startswith("| Python bytes | 100.0 MB | 1.27 GB | ❌ fail | torch 2.2.2 700.0 MB")
    assert rows[-1].startswith("| forbidden package tensorflow | none in the runtime | none | ✅ pass")
    assert "table_open" in parse(text)


def test_diff_markdown_puts_the_evidence_line_first() -> None:
    diff = diff_reports(torch_base(), torch_head(), base_label="main", head_label="HEAD", mode="git",
                        swap_pairs=())
    links = Links("https://github.com/acme/churn/blob/f00")
    text = markdown.render(diff, links=links)
    lines = text.splitlines()
    assert lines[1] == "## depslim diff: +1.21 GB"
    assert lines[3].startswith("> This PR adds 1.21 GB: torch 2.2.2 (+CUDA)")
    assert "| ➕ added | `torch` (+CUDA) | — | 2.2.2 (700.0 MB) | +700.0 MB |" in text
    assert "[src/pipeline/train.py:4](https://github.com/acme/churn/blob/f00/src/pipeline/train.py#L4)" in text
    assert "table_open" in parse(text)


def test_findings_show_owner_fix_and_estimates() -> None:
    rep = report([dist("a", size=MB)], findings=[
        finding("model-weights", "/app/m.pt", 500 * MB, estimate=True, title="weights baked in"),
        finding("missing", "requests", evidence=[imported("src/x.py", 1, "requests")], severity="error"),
    ])
    text = markdown.render(rep)
    assert "| weights baked in | DevOps | fix /app/m.pt | ~500.0 MB (estimate) |" in text
    assert "<summary><b>Import problems</b> (1)</summary>" in text


def test_bundled_example_renders_valid_markdown() -> None:
    from depslim.core import AnalyzeOptions, analyze

    rep = analyze(AnalyzeOptions(project=EXAMPLE))
    text = markdown.render(rep, links=links_from("https://github.com/acme/churn", ref="main", env={}))
    assert len(text) < MAX_COMMENT_CHARS
    tokens = parse(text)
    assert tokens.count("table_open") >= 2 and "html_block" in tokens
    rendered = html(text)
    assert "<details>" in rendered and "<table>" in rendered
    # the cut list is first and names the notebook-only and dev tools the example declares
    assert text.index("### Cut list") < text.index("<details>")
    cut = text[text.index("### Cut list"): text.index("<details>")]
    assert "`jupyter`" in cut and "`black`" in cut
    assert "https://github.com/acme/churn/blob/main/requirements.txt#L" in text


def test_cut_package_not_installed_shows_the_same_estimate_in_terminal_and_markdown() -> None:
    """jupyter is cut but not installed: its cut finding carries the index's size, an estimate.
    The terminal said "~170.0 MB (est.)" and the markdown "not installed" / "0 B freed"."""
    from depslim.report import terminal

    cut = finding("cut-dev-only", "jupyter", 170 * MB, estimate=True)
    rep = report([dist("jupyter", None, verdict=Verdict.DEV_ONLY, declared_at=["requirements.txt:3"],
                       installed=False)], findings=[cut])
    md = markdown.render_report(rep)
    text = terminal.render(rep)
    assert "~170.0 MB (est.)" in text
    row = next(line for line in md.splitlines() if line.startswith("| `jupyter`"))
    assert "~170.0 MB (est.)" in row and "not installed" not in row
    assert "~170.0 MB (est.) for packages not installed" in md.splitlines()[3]
