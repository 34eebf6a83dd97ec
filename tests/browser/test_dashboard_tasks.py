"""An organizer's main tasks, done in Debian's chromium the way a person would do them.

Each test signs in through the form, clicks and types, and takes screenshots
(tests/artifacts/screenshots/) of what the organizer saw.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from playwright.sync_api import expect

from bot.db import utcnow
from tests.browser.live import Live, shot, sign_in
from tests.factories import create_contact, create_message

pytestmark = pytest.mark.browser

TEXT_ES = "¡Marcha por la paz este sábado a las 10 en la plaza! Responde SI para confirmar."
TEXT_EN = "March for peace this Saturday at 10 in the square! Reply YES to confirm."


def wait_until(check, timeout_s: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_an_organizer_sends_a_bilingual_call_to_action(page, live: Live, worker):
    volunteers = {
        "+12135550171": ("en", "Grace"),
        "+525510000172": ("es", "Rosa"),
        "+12135550173": ("es", "Luis"),
    }
    for phone, (language, name) in volunteers.items():
        create_contact(live.db, phone, language, ("sms",), name=name, tags=("volunteer",))
    create_contact(live.db, "+12135550174", "es", ("sms",), name="Teresa")  # not a volunteer
    create_contact(live.db, "+12135550175", "es", ("sms",), tags=("volunteer",), status="opted_out")
    sign_in(page, live)
    page.get_by_role("link", name="New broadcast").first.click()
    page.get_by_label("Name (only organizers see it)").fill("Marcha por la paz")
    page.get_by_label("Text in Spanish").fill(TEXT_ES)
    page.get_by_label("Text in English").fill(TEXT_EN)
    # Live segment counts, and the warning that "á" makes the Spanish SMS cost more.
    expect(page.locator("#count-es")).to_contain_text("UCS-2")
    expect(page.locator("#count-en")).to_contain_text("GSM-7")
    expect(page.locator("#count-es-warning")).to_be_visible()
    expect(page.locator("#count-es-warning")).to_contain_text("á")
    expect(page.locator("#count-en-warning")).to_be_hidden()
    # The audience: volunteers only, with a live count.
    page.get_by_label("volunteer", exact=True).first.check()
    page.wait_for_selector("#audience-box [data-total='3']")
    shot(page, "broadcast-compose")
    page.get_by_role("button", name="Save and preview").click()
    page.wait_for_selector("text=3 contacts will receive it")
    shot(page, "broadcast-preview")
    page.get_by_label("I checked both texts and the audience.").check()
    page.get_by_role("button", name=re.compile("Send now to 3 contacts")).click()
    page.wait_for_selector("text=Sending. You can watch it go out below.")
    # The progress panel updates itself until the broadcast is done (a worker just
    # started, on a loaded machine: as long as the worker tests allow a broadcast).
    page.wait_for_selector("#progress-panel >> text=3 of 3 handled", timeout=180_000)
    wait_until(lambda: len(live.fake.outbox()) == 3, what="three messages in the outbox")
    # Twilio's receipts come later; the panel keeps polling until they are in.
    receipts: list[str] = []
    wait_until(
        lambda: (
            receipts.extend(s for s, _code in live.fake.deliver_callbacks())
            or receipts.count("delivered") >= 3
        ),
        what="three delivery receipts posted",
    )
    assert receipts.count("delivered") == 3
    page.wait_for_selector("#progress-panel [data-count='delivered']:has-text('3')")
    shot(page, "broadcast-progress")
    arrived = {m["to"]: m["body"] for m in live.fake.outbox()}
    assert arrived == {
        "+12135550171": TEXT_EN,
        "+525510000172": TEXT_ES,
        "+12135550173": TEXT_ES,
    }


def test_an_organizer_imports_a_csv_with_a_bad_row(page, live: Live, tmp_path):
    csv = tmp_path / "lista-marcha.csv"
    csv.write_text(
        "phone,channel,language,tags,consent_source,consent_date\n"
        "213-555-0181,sms,es,march,sign-up sheet at the march,2026-05-01\n"
        "12345,sms,es,march,sign-up sheet at the march,2026-05-01\n"
        "+52 55 1000 0182,whatsapp,es,march,sign-up sheet at the march,2026-05-01\n"
        "+1 312 555 0183,sms,en,march;press,sign-up sheet at the march,2026-05-01\n"
    )
    sign_in(page, live)
    page.get_by_role("link", name="Contacts").click()
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("CSV file (UTF-8)").set_input_files(str(csv))
    page.get_by_role("button", name="Import", exact=True).click()
    report = page.locator("#import-report")
    expect(report.locator("[data-count='created']")).to_have_text("3")
    expect(report.locator("[data-count='problems']")).to_have_text("1")
    bad = report.locator("tr.bad-row")
    expect(bad).to_have_count(1)
    expect(bad.locator("td").first).to_have_text("3")
    shot(page, "contacts-import-report")
    page.get_by_role("link", name="Contacts").first.click()
    page.get_by_label("Tag").select_option("march")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"[?&]tag=march"))
    expect(page.locator("body")).to_contain_text("3 contacts match.")


def test_an_organizer_answers_an_inbox_message(page, live: Live):
    contact = create_contact(live.db, "+12135550191", "es", ("sms",), name="Guadalupe")
    create_message(live.db, contact, "¿Hay transporte desde Pilsen para la marcha?")
    sign_in(page, live)
    page.get_by_role("link", name="Inbox").first.click()
    page.get_by_text("¿Hay transporte desde Pilsen para la marcha?").wait_for()
    reply = "Sí, sale un autobús a las 8 desde la parroquia. ¡Te esperamos!"
    page.get_by_label("Your reply").fill(reply)
    expect(page.locator(".counter").first).to_contain_text("SMS segments")
    shot(page, "inbox-reply")
    page.get_by_role("button", name="Send reply").click()
    page.get_by_text("Reply sent.").wait_for()
    assert [(m["to"], m["body"]) for m in live.fake.outbox()] == [("+12135550191", reply)]
    expect(page.get_by_text("Nothing waiting. Every message has been answered.")).to_be_visible()
    expect(page.get_by_role("link", name="Guadalupe")).to_have_count(0)  # answered, gone
    page.goto(live.url + f"/dashboard/contacts/{contact}")
    expect(page.locator(".thread")).to_contain_text(reply)
    shot(page, "contact-after-reply")


def test_the_interface_switches_to_spanish(page, live: Live):
    sign_in(page, live)
    page.get_by_role("button", name=re.compile("ES")).click()
    page.wait_for_selector("h1:has-text('Resumen')")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    nav = page.get_by_role("navigation", name="Menú principal")
    for word in ("Resumen", "Contactos", "Envíos masivos", "Eventos", "Bandeja de entrada"):
        expect(nav).to_contain_text(word)
    shot(page, "overview-es")
    page.get_by_role("link", name="Contactos").click()
    page.wait_for_selector("h1:has-text('Contactos')")
    expect(page.get_by_role("button", name="Filtrar")).to_be_visible()
    page.get_by_role("link", name="Cerrar sesión").count()  # noqa: B018
    # The choice is the user's: it is still Spanish after signing in again.
    page.get_by_role("button", name="Cerrar sesión").click()
    page.get_by_label("Correo electrónico").fill("organizer@puente.example.org")
    from tests.factories import DASHBOARD_PASSWORD

    page.get_by_label("Contraseña").fill(DASHBOARD_PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_selector("h1:has-text('Resumen')")


def test_an_organizer_creates_an_event_with_reminders(page, live: Live):
    sign_in(page, live)
    page.get_by_role("link", name="Events").first.click()
    page.get_by_role("link", name="New event").click()
    page.get_by_label("Name in Spanish").fill("Asamblea comunitaria")
    page.get_by_label("Name in English").fill("Community assembly")
    page.get_by_label("Place in Spanish").fill("Salón de la parroquia San Pío")
    page.get_by_label("Place in English").fill("St. Pius parish hall")
    starts = (utcnow() + dt.timedelta(days=6)).strftime("%Y-%m-%dT18:30")
    page.get_by_label("Starts").fill(starts)
    page.get_by_label("Time zone where it happens").select_option("America/Chicago")
    page.get_by_label("When to remind, before the start").fill("1d, 3h")
    page.get_by_label("Reminder in Spanish").fill(
        "Recordatorio: {name}, {when}, en {place}. ¡Trae a alguien!"
    )
    shot(page, "event-new")
    page.get_by_role("button", name="Save the event").click()
    page.get_by_text("Event saved.").wait_for()
    expect(page.get_by_text("1d before")).to_be_visible()
    expect(page.get_by_text("3h before")).to_be_visible()
    shot(page, "event-detail")


def test_a_viewer_sees_masked_numbers_and_cannot_send(page, live: Live):
    contact = create_contact(live.db, "+12135550199", "es", ("sms",), name="Omar")
    create_message(live.db, contact, "Mi número nuevo es 213 555 0198")
    sign_in(page, live, "viewer")
    page.get_by_role("link", name="Contacts").click()
    page.wait_for_url("**/dashboard/contacts/")  # and loaded: the whole list is there to read
    expect(page.locator("body")).to_contain_text("…0199")
    html = page.content()
    assert "…0199" in html and "2135550199" not in re.sub(r"\D", "", html)
    assert "Omar" not in html
    page.get_by_role("link", name=f"#{contact}").click()
    page.wait_for_url(f"**/dashboard/contacts/{contact}")
    expect(page.locator("body")).to_contain_text("Message hidden for your role")
    page.get_by_role("link", name="Inbox").click()
    page.wait_for_url("**/dashboard/inbox/")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(page.get_by_role("button", name="Send reply")).to_have_count(0)
    shot(page, "inbox-viewer")


def test_segment_counts_in_the_browser_match_the_server(page, live: Live):
    from bot.text import sms_segments

    samples = ["", "Hola", "a" * 160, "a" * 161, "á" * 70, "á" * 71, "[" * 80, "[" * 81,
               "Marcha el sábado 🙌🏽", "ñandú\r\nok", "€" * 77, "👨‍👩‍👧" * 10]  # fmt: skip
    sign_in(page, live)
    page.goto(live.url + "/dashboard/broadcasts/new")
    page.wait_for_function("() => window.PuenteSegments !== undefined")
    for text in samples:
        expected = sms_segments(text.replace("\r\n", "\n"))
        got = page.evaluate("t => window.PuenteSegments.smsSegments(t)", text.replace("\r\n", "\n"))
        assert (got["encoding"], got["segments"]) == (expected.encoding, expected.segments), text


# --- accessibility and phones --------------------------------------------------------------

PAGES = ["/dashboard/", "/dashboard/contacts/", "/dashboard/broadcasts/new", "/dashboard/inbox/",
         "/dashboard/events/new", "/dashboard/reports/", "/dashboard/flows/join",
         "/dashboard/contacts/import", "/dashboard/profile"]  # fmt: skip

UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden' && !el.labels?.length && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby') && !el.closest('[aria-labelledby]'))
  .map(el => el.outerHTML.slice(0, 80))"""

LOW_CONTRAST = """() => {
  const lum = (c) => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const background = (el) => { for (; el; el = el.parentElement) {
      const bg = getComputedStyle(el).backgroundColor;
      if (bg && !bg.startsWith('rgba(0, 0, 0, 0)') && !bg.endsWith(', 0)')) return bg; }
    return 'rgb(255, 255, 255)'; };
  const bad = [];
  document.querySelectorAll('a, button, label, p, td, th, h1, h2, h3, span, dt, dd, li, summary')
    .forEach(el => {
      if (!el.textContent.trim() || el.closest('svg') || el.offsetParent === null) return;
      const style = getComputedStyle(el);
      if (parseFloat(style.opacity) < 1 || el.disabled) return;
      const a = lum(style.color), b = lum(background(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.6 && style.fontWeight >= 700);
      const text = el.textContent.trim().slice(0, 30);
      if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName} ${text} ${ratio.toFixed(2)}`);
    });
  return bad; }"""


def test_every_field_has_a_label_and_text_has_contrast(page, live: Live):
    sign_in(page, live, "admin")
    for path in PAGES + ["/dashboard/users/"]:
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")  # what scripts fetch (the audience box) is in
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate(LOW_CONTRAST) == [], path


def test_the_keyboard_alone_is_enough(page, live: Live):
    from tests.factories import DASHBOARD_PASSWORD

    page.goto(live.url + "/dashboard/login")
    expect(page.locator("#email")).to_be_focused()  # ready to type (autofocus runs after load)
    page.keyboard.type("organizer@puente.example.org")
    expect(page.locator("#email")).to_have_value("organizer@puente.example.org")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(DASHBOARD_PASSWORD)
    expect(page.get_by_label("Password")).to_have_value(DASHBOARD_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    expect(skip).to_have_class("skip")
    page.keyboard.press("Enter")  # skip the menu
    expect(page.locator("#content")).to_be_focused()
    for _ in range(4):  # then the page's own links and buttons, with a visible focus ring
        before = page.evaluate_handle("document.activeElement")
        page.keyboard.press("Tab")
        page.wait_for_function("before => document.activeElement !== before", arg=before)
        before.dispose()
    expect(page.locator(":focus")).to_have_css("outline-style", re.compile(r"^(?!none$)"))


def test_pages_fit_a_phone_screen(phone_page, live: Live):
    from tests.browser.seed import seed_event, seed_movement

    seeded = seed_movement(live.db)
    seed_event(live.db, seeded["contacts"])
    page = phone_page
    page.goto(live.url + "/dashboard/login")
    expect(page.locator("body")).to_contain_text("Inicia sesión en Puente")  # asks for Spanish
    shot(page, "phone-login-es")
    page.get_by_label("Correo electrónico").fill("organizer@puente.example.org")
    from tests.factories import DASHBOARD_PASSWORD

    page.get_by_label("Contraseña").fill(DASHBOARD_PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_url("**/dashboard/")
    page.get_by_role("button", name=re.compile("ES")).click()
    page.wait_for_selector("h1:has-text('Resumen')")
    for path in PAGES:
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")  # what scripts fetch (the audience box) is in
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    screens = [
        ("phone-overview-es", "/dashboard/"),
        ("phone-inbox-es", "/dashboard/inbox/"),
        ("phone-broadcast-new-es", "/dashboard/broadcasts/new"),
        ("phone-contacts-es", "/dashboard/contacts/"),
    ]
    for name, path in screens:
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        shot(page, name, full_page=name != "phone-contacts-es")
