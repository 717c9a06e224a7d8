"""Headless Chromium for the console's tests (bench/browser.py starts it, sealed off from the
network).

`browser` is a fresh Chromium per test (its own profile, so no cookie or storage crosses
tests); point it at `live.url + "/console/..."`. `screenshot(browser, name)` keeps a PNG of
the page: in $CALLMASK_SCREENSHOTS when set, else in the test's tmp dir.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.browser import Browser, headless_chromium

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """A headless Chromium on a new profile, quit after the test."""
    with headless_chromium(tmp_path / "screenshots") as driver:
        yield driver


def screenshot(driver: Browser, name: str) -> Path:
    """Saves the page as `<name>.png` and returns its path."""
    chosen = os.environ.get("CALLMASK_SCREENSHOTS")
    folder = Path(chosen) if chosen else driver.screenshots
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name).removesuffix('.png')}.png"
    image = driver.get_screenshot_as_png()
    assert image.startswith(PNG)
    path.write_bytes(image)
    return path
