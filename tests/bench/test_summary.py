"""docs/benchmarks.md gathers the reports: headings one level down, code left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import summary


def test_report_headings_go_one_level_down_but_shell_comments_stay() -> None:
    text = "# Title\n\n## Part\n\n```sh\n# a shell comment\nrun\n```\n\n### Deeper\n"
    assert summary._demoted(text).splitlines() == [
        "## Title",
        "",
        "### Part",
        "",
        "```sh",
        "# a shell comment",
        "run",
        "```",
        "",
        "#### Deeper",
    ]


def test_a_missing_report_is_named_not_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pool.md").write_text("# Pool efficiency\n\nfigures\n", encoding="utf-8")
    monkeypatch.setattr(summary, "DOCS", tmp_path)
    page = summary.render()
    assert "## Pool efficiency" in page and "figures" in page
    assert "Missing: `python -m bench.http` has not written it yet." in page
