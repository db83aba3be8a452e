"""Driving Debian's Chromium with selenium against a gateway served over a real socket.

Shared by the console's browser tests (tests/gateway/console/test_browser.py) and
``python -m tools.screenshots``; a developer tool, not part of the gateway. The driver is
started with an explicit chromedriver (never selenium-manager: there may be no network) and a
fresh profile. Without Chromium the browser tests fail, naming what to install, unless
``ERX_SKIP_BROWSER=1`` says to skip them.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("ERX_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = (os.environ.get("ERX_CHROMEDRIVER") or shutil.which("chromedriver")
                or "/usr/bin/chromedriver")
MISSING = ("the console's browser tests drive Chromium: install it with "
           "`apt-get install chromium chromium-driver` (Debian; .ci/run does it), or point "
           "ERX_CHROMIUM and ERX_CHROMEDRIVER at a Chromium and its matching chromedriver; "
           "set ERX_SKIP_BROWSER=1 to skip these tests knowingly")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1")


def browser_missing() -> str | None:
    """Why no browser can be driven here (None: both are installed)."""
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    return f"{', '.join(absent)} not found: {MISSING}" if absent else None


def skip_requested() -> bool:
    return os.environ.get("ERX_SKIP_BROWSER", "") == "1"


@contextmanager
def chromium(width: int = 1366, height: int = 768, language: str = "vi-VN") -> Iterator[Any]:
    """A headless Chromium (a selenium WebDriver) at ``width`` x ``height``, its interface
    and preferred language ``language``."""
    profile = tempfile.mkdtemp(prefix="erx-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--lang={language}")
    options.add_experimental_option("prefs", {
        "intl.accept_languages": f"{language},{language.split('-')[0]}"})
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        viewport(driver, width, height)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def viewport(driver: Any, width: int, height: int) -> None:
    """Size the window so that the page itself (the viewport) is ``width`` x ``height``: the
    window's frame takes room even headless."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])


class Served:
    """A WSGI server on a loopback port of its own, serving whichever app is current."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="console-server",
                                       daemon=True)
        self.thread.start()

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app"]
        return self.app(environ, start_response)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
