"""WhatsApp's formatting in the browser (Debian's chromium through Playwright).

bot/web/static/formatting.js must read marks exactly as bot/formatting.py does:
the composer counts the SMS segments of the text without marks, and the simulator
draws WhatsApp's *bold* as bold, never running a message as HTML.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from bot import formatting
from bot.broadcasts.broadcast import sms_segments_of
from tests.browser.live import WAIT_MS, Live, serve, shot, sign_in
from tests.factories import create_contact, create_message
from tests.formatting_cases import SMS_TEXTS
from tests.paths import ROOT
from tests.settings import settings_for

pytestmark = pytest.mark.browser

SCRIPT = ROOT / "bot" / "web" / "static" / "formatting.js"
PIECES = [*"aeiouáéíóúñÑxyzAB019 .,:;!¡?¿()-/@\n\t", "📣", "🇲🇽", "e\u0301", "https://", "www.",
          "ana@example.org", "𝐀", "\u00a0", "\u2003"] + list("*_~`") * 6  # fmt: skip


NESTED = ["*_ambos_*", "*negrita _y cursiva_*", "```*tal cual*```", "_hola y *adiós*",
          "```código sin cerrar", "***hola***", "~_*tres*_~", ""]  # fmt: skip


def samples() -> list[str]:
    """The table's texts, and 400 random ones made of the pieces that matter."""
    rng = random.Random(14)
    made = ["".join(rng.choices(PIECES, k=rng.randint(0, 40))) for _ in range(400)]
    return [t for t, _ in SMS_TEXTS] + NESTED + made


def python_reading(text: str) -> dict[str, Any]:
    return {
        "plain": formatting.plain(text),
        "spans": [[s.text, sorted(s.styles)] for s in formatting.spans(text)],
        "unclosed": formatting.unclosed(text),
    }


JS_READING = """texts => texts.map(t => ({
  plain: PuenteFormatting.plain(t),
  spans: PuenteFormatting.spans(t).map(s => [s.text, s.styles.slice().sort()]),
  unclosed: PuenteFormatting.unclosed(t),
}))"""


@pytest.fixture
def simulator(sqlite_template, tmp_path, fake_twilio_server, fake_twilio) -> Iterator[str]:
    """The simulator on a free port (SQLite: the page is what is tested here)."""
    from bot import create_app

    path = tmp_path / "puente.db"
    path.write_bytes(sqlite_template.read_bytes())
    database_url, fake_url = f"sqlite:///{path}", fake_twilio_server[1]
    server, thread, url = serve(
        lambda url: create_app(settings_for(database_url, fake_url, PUBLIC_URL=url))
    )
    yield url
    server.shutdown()
    thread.join()
    server.server_close()
    server.app.extensions["puente.db"].engine.dispose()


def say(page: Any, text: str) -> None:
    """Type and send; wait for our bubble and the answer (or the "(no reply)" note)."""
    count = page.locator("#thread .msg").count()
    page.fill("#text", text)
    page.press("#text", "Enter")
    page.wait_for_function(f"document.querySelectorAll('#thread .msg').length >= {count + 2}")


@pytest.fixture
def blank(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_script_tag(path=str(SCRIPT))
    yield page
    page.close()


def test_the_browser_reads_marks_as_python_does(blank):
    texts = samples()
    got = blank.evaluate(JS_READING, texts)
    for text, reading in zip(texts, got, strict=True):
        assert reading == python_reading(text), repr(text)


def test_the_browser_draws_nodes_never_html(blank):
    drawn = blank.evaluate(
        """text => { const div = document.createElement('div');
                     PuenteFormatting.render(div, text, 'whatsapp');
                     return [div.innerHTML, div.querySelectorAll('b, img').length]; }""",
        "*<b>hi</b>* _<img src=x onerror=alert(1)>_",
    )
    assert drawn == [
        "<strong>&lt;b&gt;hi&lt;/b&gt;</strong> <em>&lt;img src=x onerror=alert(1)&gt;</em>",
        0,
    ]


COMPOSED = "*Rally* _today_ ~now~ " + "a" * 140  # 2 segments as written, 1 as SMS gets it


def test_the_composer_counts_the_segments_sms_gets(page, live: Live):
    sign_in(page, live)
    page.goto(live.url + "/dashboard/broadcasts/new")
    page.get_by_label("Text in English").fill(COMPOSED)
    expected = sms_segments_of(COMPOSED)
    assert (expected.segments, expected.characters) == (1, 156)
    expect(page.locator("#count-en")).to_have_text(
        f"SMS segments: {expected.segments} · characters: {expected.characters} · GSM-7"
    )
    page.get_by_label("Text in Spanish").fill("*Marcha* hoy")
    expect(page.locator("#count-es")).to_have_text("SMS segments: 1 · characters: 10 · GSM-7")
    shot(page, "composer-formatting")


def test_every_counter_counts_the_segments_sms_gets(page, live: Live):
    """The event reminders' counters and the inbox reply's, as the composer's."""
    contact = create_contact(live.db, "+12135550161", "en", ("sms",))
    message_id = create_message(live.db, contact, "¿Cuándo es la marcha?")
    sign_in(page, live)
    page.goto(live.url + "/dashboard/events/new")
    page.get_by_label("Reminder in English").fill("*Tomorrow* at _10_")
    expect(page.locator("#count-en")).to_have_text("SMS segments: 1 · characters: 14 · GSM-7")
    page.goto(live.url + "/dashboard/inbox/")
    page.locator(f"#reply-{message_id}").fill("*Sábado* a las _10_")
    expect(page.locator(f"#reply-{message_id}-count")).to_have_text(
        "SMS segments: 1 · characters: 15 · UCS-2"
    )


def test_the_simulator_shows_whatsapp_formatting_and_sms_plain(browser, simulator):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.set_default_timeout(WAIT_MS)
    page.goto(simulator + "/")
    page.select_option("#channel", "whatsapp")
    page.select_option("#phone", "+12135550123")
    say(page, "RIGHTS")
    expect(page.locator("#thread .msg.in").first).to_contain_text("Know your rights, from")
    expect(page.locator("#thread .msg.in strong").first).to_have_text("Know your rights")

    script, image = "<script>window.injected = 1</script>", "<img src=x onerror='injected=2'>"
    say(page, f"{script} *hola* {image}")
    mine = page.locator("#thread .msg.out").last
    expect(mine).to_have_text(f"{script} hola {image}")
    expect(mine.locator("strong")).to_have_text("hola")
    assert page.locator("#thread script, #thread img").count() == 0
    assert page.evaluate("() => window.injected") is None
    shot(page, "simulator-whatsapp-formatting")

    page.select_option("#channel", "sms")
    page.select_option("#phone", "+15125550142")
    say(page, "RIGHTS")
    reply = page.locator("#thread .msg.in").first
    expect(reply).to_contain_text("Know your rights, from")
    assert "*" not in reply.inner_text()
    assert page.locator("#thread strong").count() == 0
    shot(page, "simulator-sms-plain")
    page.close()
