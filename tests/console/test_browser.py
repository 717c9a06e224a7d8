"""The browser fixture works end to end: headless Chromium loads a page from a loopback server
and runs the vendored uPlot, and sends nothing beyond this machine."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from bench.browser import WINDOW, Browser
from tests.console.conftest import screenshot
from tests.console.test_vendor import VENDOR

# The icon link keeps Chromium from asking for /favicon.ico, so the server sees only the page
# and what it loads.
PAGE = """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>chart</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="vendor/uPlot.min.css">
<script src="vendor/uPlot.iife.min.js"></script>
</head>
<body>
<div id="chart"></div>
<script>
const minutes = Array.from({length: 120}, (_, i) => 1764900000 + i * 60);
const calls = minutes.map((_, i) => 20 + 10 * Math.sin(i / 8));
new uPlot({
  title: "Calls per minute", width: 900, height: 360,
  series: [{}, {label: "calls", stroke: "#1f6feb", width: 2}],
}, [minutes, calls], document.getElementById("chart"));
</script>
</body>
</html>
"""


class _Files(SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, format: str, *args: object) -> None:
        self.requested.append(self.path)


@contextmanager
def _static(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """Serves `folder` on a free loopback port, in a thread; yields its URL and the paths
    asked for."""
    requested: list[str] = []
    handler = type("Files", (_Files,), {"requested": requested})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_headless_chromium_renders_a_local_page_with_the_vendored_chart(
    browser: Browser, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(VENDOR, site / "vendor")
    (site / "index.html").write_text(PAGE, encoding="utf-8")

    with _static(site) as (url, requested):
        browser.get(f"{url}/index.html")
        WebDriverWait(browser, 10).until(
            lambda driver: driver.find_elements(By.CSS_SELECTOR, "#chart canvas")
        )
        assert browser.execute_script("return typeof uPlot") == "function"
        canvas = browser.find_element(By.CSS_SELECTOR, "#chart canvas")
        assert browser.execute_script("return arguments[0].width", canvas) > 0
        assert canvas.size["width"] > 0 and canvas.size["height"] > 0
        assert browser.execute_script("return [outerWidth, outerHeight]") == list(WINDOW)
        path = screenshot(browser, "uplot-chart")

    assert sorted(requested) == [
        "/index.html",
        "/vendor/uPlot.iife.min.js",
        "/vendor/uPlot.min.css",
    ]
    assert path.is_file() and path.read_bytes().startswith(b"\x89PNG")
