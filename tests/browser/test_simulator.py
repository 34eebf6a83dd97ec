"""The phone simulator in a real browser (Debian's chromium through Playwright).

The ``browser`` fixture is shared with the dashboard tests (tests/browser/conftest.py).

A newcomer's first experience: pick a number, text the bot, see what a phone
would get. The page signs and posts to the real webhook.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.browser.live import WAIT_MS, serve
from tests.settings import settings_for

pytestmark = pytest.mark.browser


@pytest.fixture
def simulator_url(database_url, fake_twilio_server, fake_twilio) -> Iterator[str]:
    from bot import create_app

    server, thread, url = serve(
        lambda url: create_app(settings_for(database_url, fake_twilio_server[1], PUBLIC_URL=url))
    )
    yield url
    server.shutdown()
    thread.join()
    server.server_close()
    server.app.extensions["puente.db"].engine.dispose()


def say(page, text: str) -> str:
    """Type and send; returns every bubble that came back (or "(no reply)")."""
    count = page.locator("#thread .msg").count()
    page.fill("#text", text)
    page.press("#text", "Enter")
    # wait for our bubble and the answer (or the "(no reply)" note)
    page.wait_for_function(f"document.querySelectorAll('#thread .msg').length >= {count + 2}")
    bubbles = page.locator("#thread .msg").all_inner_texts()
    return "\n".join(bubbles[count + 1 :])


CONVERSATION = [
    # (channel, number, they text, last bubble contains)
    ("sms", "+525512345678", "Hola", "Bienvenida/o"),
    ("sms", "+525512345678", "AYUDA", "para ayuda escribe a help@puente.example.org"),
    ("sms", "+525512345678", "ENGLISH", "we will write to you in English"),
    ("sms", "+525512345678", "STOP", "You are unsubscribed"),
    ("sms", "+525512345678", "Hola", "(no reply)"),
    ("sms", "+525512345678", "START", "You are subscribed"),
    ("whatsapp", "+12135550123", "Hello", "Welcome to Puente Test"),
    ("whatsapp", "+12135550123", "BAJA", "Te diste de baja"),
    # flows, in action
    ("whatsapp", "+526641234567", "DERECHOS", "información general, no asesoría legal"),
    ("whatsapp", "+526641234567", "1", "Agentes de inmigración en tu puerta"),
    ("sms", "+15125550142", "JOIN", "You're signed up"),
    ("sms", "+15125550142", "Sam", "ZIP code"),
]


def test_a_newcomer_texts_the_bot_from_the_simulator(browser, simulator_url, tmp_path):
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone screen
    page.set_default_timeout(WAIT_MS)
    page.goto(simulator_url + "/")
    for channel, number, said, expected in CONVERSATION:
        page.select_option("#channel", channel)
        page.select_option("#phone", number)
        answer = say(page, said)
        assert expected in answer, (said, answer)
    os.makedirs("tests/artifacts/screenshots", exist_ok=True)
    page.screenshot(path="tests/artifacts/screenshots/simulator.png", full_page=True)
    page.close()


@pytest.fixture
def queued_simulator(database_url, fake_twilio_server, fake_twilio, redis_url):
    """The simulator on an app with a queue: replies with buttons go by the REST API."""
    from bot import create_app

    apps = []

    def make(url):
        app = create_app(
            settings_for(database_url, fake_twilio_server[1], PUBLIC_URL=url, REDIS_URL=redis_url)
        )
        apps.append(app)
        return app

    server, thread, url = serve(make)
    from tests.factories import create_event

    create_event(apps[0].extensions["puente.db"])  # CUMBRE takes its RSVPs
    yield url, apps[0]
    server.shutdown()
    thread.join()
    server.server_close()
    apps[0].extensions["puente.db"].engine.dispose()


def run_reply_job(app) -> None:
    """What the worker does: send the queued replies to the last message received."""
    from sqlalchemy import select

    from bot.msgs import replies
    from bot.msgs.models import Message
    from bot.msgs.sending import sender_from_config

    db = app.extensions["puente.db"]
    with db.session() as session:
        sid = session.scalar(
            select(Message.sid).where(Message.direction == "in").order_by(Message.id.desc())
        )
    replies.send_queued(db, sender_from_config(app.config), sid)


def test_whatsapp_buttons_and_lists_show_and_a_tap_answers(browser, queued_simulator):
    url, app = queued_simulator
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.set_default_timeout(WAIT_MS)
    page.goto(url + "/")
    page.select_option("#channel", "whatsapp")
    page.select_option("#phone", "+526641234567")
    say(page, "CUMBRE")  # empty TwiML: the question comes through the outbox
    run_reply_job(app)
    page.get_by_role("button", name="Tal vez").click()  # waits until the poll has drawn it
    page.wait_for_function(
        "[...document.querySelectorAll('#thread .msg.in')]"
        ".some(m => m.textContent.includes('Gracias'))"
    )
    say(page, "DERECHOS")
    run_reply_job(app)
    opener = page.get_by_role("button", name="☰ Elegir")
    opener.click()
    row = page.get_by_role("option", name="Agentes en tu puerta")
    assert "Agentes de inmigración en tu puerta" in row.inner_text()  # the full label below it
    row.click()
    page.wait_for_function(
        "[...document.querySelectorAll('#thread .msg.out')]"
        ".some(m => m.textContent === 'Agentes en tu puerta')"
    )
    page.wait_for_function("document.querySelectorAll('#thread .msg.note').length >= 3")
    run_reply_job(app)  # the topic, then "more" with its buttons
    page.get_by_role("button", name="Menú").wait_for()
    os.makedirs("tests/artifacts/screenshots", exist_ok=True)
    page.screenshot(path="tests/artifacts/screenshots/simulator-buttons.png", full_page=True)
    page.close()
