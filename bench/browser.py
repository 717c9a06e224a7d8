"""Headless Chromium for the console's tests and its load benchmark: Debian's chromium and
chromium-driver (scripts/system-deps.sh), driven by Selenium, reaching nothing beyond this
machine. `headless_chromium()` gives a fresh browser on a new profile and ends every process
of it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from selenium.webdriver import Chrome, ChromeOptions
from selenium.webdriver.chrome.service import Service

# The real binary, not the /usr/bin/chromium launcher: the launcher adds the flags of
# /etc/chromium.d (remote extensions, GPU rasterization) and a /dev/shm check that fails
# noisily when findmnt lists /dev/shm twice, as in a container.
CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1280, 900)


class Browser(Chrome):
    """A Chrome WebDriver that knows where its screenshots go by default."""

    screenshots: Path


def chromium_options(profile: Path, dead_proxy: int) -> ChromeOptions:
    options = ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        # Root cannot run Chromium's sandbox; the pages are our own.
        "--no-sandbox",
        # /dev/shm is small in containers and Chromium crashes when it fills.
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-sync",
        "--disable-component-update",
        "--disable-background-networking",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
        # Nothing leaves the machine, whatever a page or Chromium itself asks for: no host
        # but localhost and 127.0.0.1 resolves (an address literal included), so no DNS query
        # is sent; and every request not for loopback (which Chromium never sends through a
        # proxy) goes to a proxy port that refuses it.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{dead_proxy}",
    ):
        options.add_argument(argument)
    return options


@contextlib.contextmanager
def headless_chromium(screenshots: Path) -> Iterator[Browser]:
    """A headless Chromium on a new profile, quit (and every process of it ended) afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as profile,
        # Bound and never listening: connections to it are refused at once, and no other
        # process can take the port while the browser runs.
        socket.socket() as dead_proxy,
    ):
        dead_proxy.bind(("127.0.0.1", 0))
        # With both paths given Selenium skips Selenium Manager (which would download a
        # driver or a browser); pointing SE_MANAGER_PATH at nothing makes any call to it
        # fail instead. The proxy variables would send Selenium's own requests to
        # chromedriver through a proxy, and SE_CHROMEDRIVER would replace our driver.
        hidden = ("SE_CHROMEDRIVER", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY")
        saved = {name: os.environ.pop(name) for name in hidden if name in os.environ}
        manager = os.environ.get("SE_MANAGER_PATH")
        os.environ["SE_MANAGER_PATH"] = str(Path(profile) / "no-selenium-manager")
        # Chromium keeps its crash reports under $HOME/.config whatever the user-data-dir:
        # a HOME inside the profile keeps every file it writes in there.
        home = {"HOME": profile, "XDG_CONFIG_HOME": profile, "XDG_CACHE_HOME": profile}
        try:
            driver = Browser(
                options=chromium_options(Path(profile), dead_proxy.getsockname()[1]),
                service=Service(executable_path=str(CHROMEDRIVER), env={**os.environ, **home}),
            )
        finally:
            os.environ.update(saved)
            if manager is None:
                os.environ.pop("SE_MANAGER_PATH", None)
            else:
                os.environ["SE_MANAGER_PATH"] = manager
        driver.screenshots = screenshots
        try:
            yield driver
        finally:
            driver.quit()
            _kill_left_over(profile)


def _kill_left_over(profile: str) -> None:
    """quit() closes Chromium through chromedriver; a Chromium whose chromedriver died or
    that hung outlives it, reparented away. Every process of ours names the profile (a new
    temporary folder) on its command line, and no other process does."""
    mark = profile.encode()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and mark in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:  # it ended meanwhile
            pass
