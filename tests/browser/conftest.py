"""A live Puente for the browser tests: the app on a real port, a fake Twilio that
delivers status callbacks, a real Redis, a real worker process, and Debian's chromium.

Chromium missing: the tests are skipped on a laptop and fail in CI (CI=true).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from werkzeug.serving import WSGIRequestHandler, make_server

from bot.channels.fake_twilio import FakeTwilio, fake_state, run_fake_twilio, stop_fake_twilio
from bot.db import Database
from tests.conftest import AUTH_TOKEN, DASHBOARD_PASSWORD, make_user, settings_for
from tests.services import unavailable

CHROMIUM = os.environ.get("PUENTE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
# Every wait is for a condition (expect, wait_for_*); these bounds only stop a hang.
# A loaded CI machine can take seconds to render a page, far more than Playwright's
# 5 s default for `expect`.
WAIT_MS = 60_000
expect.set_options(timeout=WAIT_MS)

pytestmark = pytest.mark.browser


class _Quiet(WSGIRequestHandler):
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


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def callback_twilio() -> Iterator[tuple[FakeTwilio, str]]:
    """A fake Twilio with status callbacks, posted when a test calls deliver_callbacks().

    (Posted at once, a callback can beat the sender's record of the SID; the
    tests deliver them once the sends are recorded, as Twilio's usually come.)
    """
    server, thread, base_url = run_fake_twilio(
        "127.0.0.1", 0, auth_token=AUTH_TOKEN, callbacks=True, callback_worker=False
    )
    yield fake_state(server.app), base_url
    stop_fake_twilio(server, thread)


@pytest.fixture
def live(sqlite_template, tmp_path, callback_twilio, redis_url) -> Iterator[Live]:
    """Puente on a free port, on SQLite (the browser tests run once, not per database)."""
    from bot import create_app

    fake, fake_url = callback_twilio
    fake.clear_outbox()
    fake.clear_rules()
    while not fake.pending.empty():  # callbacks left by an earlier test's sends
        fake.pending.get_nowait()
    path = tmp_path / "puente.db"
    path.write_bytes(sqlite_template.read_bytes())
    settings: dict[str, Any] = {}

    def make_app(url: str) -> Any:
        settings.update(
            settings_for(f"sqlite:///{path}", fake_url, PUBLIC_URL=url, REDIS_URL=redis_url)
        )
        return create_app(settings)

    server, thread, url = serve(make_app, request_handler=_Quiet)
    app = server.app
    database = app.extensions["puente.db"]
    for role in ("admin", "organizer", "viewer"):
        make_user(database, role, "en", phone="+12135550100" if role == "organizer" else None)
    yield Live(url, database, fake, settings, redis_url)
    server.shutdown()
    thread.join()
    server.server_close()
    database.engine.dispose()


@pytest.fixture
def worker(live: Live) -> Iterator[Any]:
    """A real `python worker.py` on the live app's database and Redis."""
    from tests.test_broadcast_factories import WorkerProcess, settings

    env = settings(live.settings["DATABASE_URL"], live.redis_url, live.settings["TWILIO_API_URL"])
    env["PUBLIC_URL"] = live.url
    process = WorkerProcess(env)
    yield process
    process.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, locale="es-MX", is_mobile=True, has_touch=True)
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()


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
