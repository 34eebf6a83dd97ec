"""A live Puente for the browser tests: the app on a real port, a fake Twilio that
delivers status callbacks, a real Redis, a real worker process, and Debian's chromium.

Chromium missing: the tests are skipped on a laptop and fail in CI (CI=true).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from bot.channels.fake_twilio import FakeTwilio, fake_state, run_fake_twilio, stop_fake_twilio
from tests.browser.live import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, WAIT_MS, Live, Quiet, serve
from tests.factories import create_user
from tests.services import unavailable
from tests.settings import AUTH_TOKEN, settings_for

pytestmark = pytest.mark.browser


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

    server, thread, url = serve(make_app, request_handler=Quiet)
    app = server.app
    database = app.extensions["puente.db"]
    for role in ("admin", "organizer", "viewer"):
        create_user(database, role, "en", phone="+12135550100" if role == "organizer" else None)
    yield Live(url, database, fake, settings, redis_url)
    server.shutdown()
    thread.join()
    server.server_close()
    database.engine.dispose()


@pytest.fixture
def worker(live: Live) -> Iterator[Any]:
    """A real `python worker.py` on the live app's database and Redis.

    Reconcile every 15 s, as in production, not every 1 s as the worker tests ask: one
    worker takes the "high" queue first, so on a loaded machine, where a reconcile job
    takes over a second, a 1 s tick queues the next before the broadcast's jobs ("low")
    get a turn, and they wait for as long as the load lasts. Nothing here needs it.
    """
    from tests.workers import WorkerProcess, worker_env

    env = worker_env(
        live.settings["DATABASE_URL"],
        live.redis_url,
        live.settings["TWILIO_API_URL"],
        RECONCILE_INTERVAL_S="15",
    )
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
