"""The live Puente the browser tests drive: a server on its own port, its state,
signing in through the form, and screenshots.

(The fixtures that start it are in conftest.py.)
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from werkzeug.serving import WSGIRequestHandler, make_server

from bot.channels.fake_twilio import FakeTwilio
from bot.db import Database
from tests.factories import DASHBOARD_PASSWORD
from tests.paths import TESTS

CHROMIUM = os.environ.get("PUENTE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = TESTS / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
# Every wait is for a condition (expect, wait_for_*); these bounds only stop a hang.
# A loaded CI machine can take seconds to render a page, far more than Playwright's
# 5 s default for `expect`.
WAIT_MS = 60_000
expect.set_options(timeout=WAIT_MS)


class Quiet(WSGIRequestHandler):
    """Serves without a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _not_yet(environ: dict, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def serve(make_app: Any, **server_options: Any) -> tuple[Any, threading.Thread, str]:
    """Serve ``make_app(url)`` on a port the server itself binds (no free_port() race).

    The app needs its own URL (PUBLIC_URL, for signatures), so the socket is bound
    first, with a placeholder app that nothing can reach before serve_forever starts.
    """
    server = make_server("127.0.0.1", 0, _not_yet, threaded=True, **server_options)
    url = f"http://127.0.0.1:{server.server_port}"
    server.app = make_app(url)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return server, thread, url


@dataclass
class Live:
    """The running app: its URL, database, fake Twilio and settings."""

    url: str
    db: Database
    fake: FakeTwilio
    settings: dict[str, Any]
    redis_url: str


def sign_in(page: Any, live: Live, role: str = "organizer") -> None:
    """Sign in through the form, as a person would."""
    page.goto(live.url + "/dashboard/login")
    page.get_by_label("Email").fill(f"{role}@puente.example.org")
    page.get_by_label("Password").fill(DASHBOARD_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard/")


def shot(page: Any, name: str, full_page: bool = True) -> Path:
    """A screenshot in tests/artifacts/screenshots/<name>.png (long lists: the first screen)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
