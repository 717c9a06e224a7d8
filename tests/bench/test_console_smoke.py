"""The console's load benchmark at a tiny size: seeds, loads both pages in Chromium, writes."""

from __future__ import annotations

import re
from pathlib import Path

from bench import console


def test_console_bench_measures_both_pages_and_writes_its_table(tmp_path: Path) -> None:
    page = tmp_path / "console-load.md"
    argv = ["--maskings", "400", "--calls", "50", "--rounds", "2", "--output", str(page)]

    assert console.main(argv) == 0

    text = page.read_text(encoding="utf-8")
    assert "400 maskings (0 sets answered 1505)" in text
    rows = {
        name: [cell.strip() for cell in line.split("|")[2:-1]]
        for line in text.splitlines()
        if (name := line.split("|")[1].strip() if line.startswith("| ") else "")
        in ("sign-in (baseline)", "overview, 24 h")
    }
    signin, overview = rows["sign-in (baseline)"], rows["overview, 24 h"]
    # The overview loads the chart library and its figures; the sign-in page neither.
    assert (int(signin[0]), int(overview[0])) == (2, 5)
    assert float(overview[1].split()[0]) > 50 > float(signin[1].split()[0])
    assert signin[-1] == "-" and re.fullmatch(r"\d+ / \d+", overview[-1])
    assert re.search(r"loads in \*\*\d+\.\dx\*\* the sign-in page's time", text)
