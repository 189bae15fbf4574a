"""Headless Chromium for the browser tests: one path, one set of flags, one way to launch it.

Debian's chromium driven by Playwright; the flags keep it off this machine's closed network (without
them it tries Google's hosts at every start) and make it run as root without a GPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.needs import CHROMIUM, require_chromium

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (skipped where it is missing, failed on CI)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


#: Where the browser tests' screenshots go (docs/img takes some of them).
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
#: The console's browser size in the tests (a desk's screen).
VIEWPORT = {"width": 1280, "height": 800}
#: Generous waits for things that happen "soon" on a loaded 2-core machine; nothing is timed.
WAIT_MS = 30_000


def login(browser: Any, url: str, token: str, name: str) -> tuple[Any, Any, list[str]]:
    """A new browser context logged in to the console at ``url`` with ``token`` as ``name``;
    returns (context, page, the page's JavaScript errors so far, a list that keeps growing)."""
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(WAIT_MS)
    pg.goto(url + "/")
    assert pg.url.endswith("/login")  # behind login
    pg.fill("#token", token)
    pg.fill("#name", name)
    pg.click("#login-submit")
    pg.wait_for_selector("body[data-ready=true]")
    return context, pg, errors
