"""The vendored uPlot (scripts/vendor-uplot.sh) is in the package, whole and as pinned."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import callmask

VENDOR = Path(callmask.__file__).parent / "http" / "console" / "static" / "vendor"
FILES = ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE")


def _recorded() -> dict[str, str]:
    """SHA256SUMS as sha256sum writes it: `<hex>  <name>` per line."""
    sums = {}
    for line in (VENDOR / "SHA256SUMS").read_text(encoding="ascii").splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.lstrip("*")] = digest
    return sums


@pytest.mark.parametrize("name", FILES)
def test_vendored_file_is_in_the_package_and_not_empty(name: str) -> None:
    assert (VENDOR / name).is_file()
    assert (VENDOR / name).stat().st_size > 0


def test_uplot_stays_under_60_kb_so_the_console_stays_light() -> None:
    assert (VENDOR / "uPlot.iife.min.js").stat().st_size < 60 * 1024


@pytest.mark.parametrize("name", FILES)
def test_vendored_file_matches_the_sum_the_script_recorded(name: str) -> None:
    digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
    assert _recorded()[name] == digest


def test_the_mit_license_ships_beside_uplot() -> None:
    text = (VENDOR / "uPlot.LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in text and "Leon Sorokin" in text
