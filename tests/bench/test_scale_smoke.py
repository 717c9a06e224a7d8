"""The scale runner at a tiny size: seeds, checks the invariant, measures, writes its page."""

from __future__ import annotations

from pathlib import Path

from bench import scale
from tests.backends import PG_URL

TINY = [
    "--maskings", "2000", "--pool", "300", "--hubs", "10,50,200",
    "--peers", "5", "--peer-degree", "40",
    "--small-maskings", "300", "--small-pool", "60", "--small-hubs", "10,50",
    "--small-peers", "5", "--small-peer-degree", "10",
    "--ops", "12", "--route-ops", "12", "--unset-ops", "4", "--http-ops", "6",
    "--case-seconds", "10",
]  # fmt: skip


def test_scale_runner_writes_its_tables_on_both_backends(tmp_path: Path) -> None:
    page = tmp_path / "scale.md"
    argv = [*TINY, "--backends", "sqlite,postgresql", "--pg-url", PG_URL, "--output", str(page)]

    assert scale.main(argv) == 0

    text = page.read_text(encoding="utf-8")
    for heading in ("## States", "## Through the service", "## Over HTTP", "## Query plans"):
        assert heading in text
    assert "delta (most live maskings of one party): 200" in text
    assert "| set, a hub of degree 200 + a fresh customer |" in text
    assert "### postgresql" in text


def test_a_hub_wider_than_the_pool_is_refused() -> None:
    try:
        scale.main([*TINY, "--hubs", "10,300", "--no-output"])
    except SystemExit as refused:
        assert "needs d DIDs" in str(refused)
    else:
        raise AssertionError("a hub of degree 300 on a pool of 300 was accepted")
