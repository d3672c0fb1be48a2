"""Playwright on Debian's Chromium, a host page on a second origin, and the demo site for the widget tests."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from comments.models import Site

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Scoring runs in the worker and the widget polls with back-off: allow for a busy machine.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    # The sync API keeps an event loop running in this thread while the browser is open, which makes
    # Django refuse ORM calls from the test body; allow them for this package only.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light", locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def demo_site(live_server) -> Site:
    """The site the demo page at / embeds, allowing the live server's own origin."""
    site, _ = Site.objects.update_or_create(
        public_key="demo", defaults={"name": "Demo site", "allowed_origins": [live_server.url]}
    )
    # A test types and posts within a second, as only a bot would: the too-fast hold has its own test.
    site.policy.min_form_seconds = 0
    site.policy.save()
    return site


@dataclass
class HostPages:
    """Pages served from a second origin, as a publisher's own web server would serve them."""

    origin: str = ""
    pages: dict[str, str] = field(default_factory=dict)

    def serve(self, path: str, html: str) -> str:
        self.pages[path] = html
        return self.origin + path


@pytest.fixture
def other_origin() -> Iterator[HostPages]:
    host = HostPages()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            html = host.pages.get(self.path)
            body = (html or "Not found").encode()
            self.send_response(200 if html is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield host
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
