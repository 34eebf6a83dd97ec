"""What organizers do on each page, through the test client: the product's behaviour."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.accounts.models import AuditEntry
from bot.contacts.models import ConsentEvent, Contact
from bot.db import utcnow
from bot.msgs.models import Message
from bot.reports.models import Report
from bot.web.dashboard import overview
from bot.web.dashboard.charts import Series, bar_chart, line_chart, nice_ceiling
from tests.factories import (
    MX_PHONE,
    US_PHONE,
    WA_US_PHONE,
    contact_by_phone,
    create_contact,
    create_message,
    create_report,
)


def audit(db) -> list[tuple[str, str | None, dict]]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.action, e.target, e.details) for e in rows if not e.action.startswith("user.")]


# --- inbox -----------------------------------------------------------------------------


def test_an_organizer_answers_an_inbox_message(sign_in, db, fake_twilio):
    contact = create_contact(db, US_PHONE, "es")
    first = create_message(db, contact, "¿A qué hora es la marcha?")
    second = create_message(db, contact, "¿y dónde?")
    organizer = sign_in("organizer")
    inbox = organizer.get("/dashboard/inbox/").get_data(as_text=True)
    assert "¿A qué hora es la marcha?" in inbox and "2 waiting" in inbox
    response = organizer.post(
        f"/dashboard/inbox/{second}/reply",
        data={"csrf_token": organizer.csrf_token, "body": "A las 10, en la plaza."},
        follow_redirects=True,
    )
    assert "Reply sent." in response.get_data(as_text=True)
    assert [(m["to"], m["body"]) for m in fake_twilio.outbox()] == [
        (US_PHONE, "A las 10, en la plaza.")
    ]
    with db.session() as session:
        handled = [session.get(Message, i).handled_by for i in (first, second)]
    assert handled[0] == handled[1] and handled[0].startswith("organizer:")
    assert "Nothing waiting" in organizer.get("/dashboard/inbox/").get_data(as_text=True)
    ((action, target, details),) = audit(db)
    assert (action, target, details["message"]) == ("inbox.reply", f"contact:{contact}", second)


def test_no_reply_reaches_an_opted_out_contact(sign_in, db, fake_twilio):
    contact = create_contact(db, US_PHONE, status="opted_out")
    message = create_message(db, contact, "hola")
    organizer = sign_in("organizer")
    page = organizer.get("/dashboard/inbox/").get_data(as_text=True)
    assert "no reply can be sent" in page
    response = organizer.post(
        f"/dashboard/inbox/{message}/reply",
        data={"csrf_token": organizer.csrf_token, "body": "¿Sigues ahí?"},
        follow_redirects=True,
    )
    assert "Not sent: this contact opted out" in response.get_data(as_text=True)
    assert fake_twilio.outbox() == []
    with db.session() as session:
        assert session.get(Message, message).handled_by is None  # still waiting
        blocked = session.scalar(select(Message).where(Message.direction == "out"))
        assert blocked.status == "blocked"


def test_whatsapp_replies_respect_the_24_hour_window(sign_in, db, fake_twilio):
    stale = utcnow() - dt.timedelta(hours=30)
    contact = create_contact(db, MX_PHONE, channels=("whatsapp",), last_inbound_at=stale)
    message = create_message(db, contact, "hola", channel="whatsapp", created_at=stale)
    organizer = sign_in("organizer")
    assert "window is closed" in organizer.get("/dashboard/inbox/").get_data(as_text=True)
    response = organizer.post(
        f"/dashboard/inbox/{message}/reply",
        data={"csrf_token": organizer.csrf_token, "body": "Hola"},
        follow_redirects=True,
    )
    assert "24-hour window is closed" in response.get_data(as_text=True)
    assert fake_twilio.outbox() == []


def test_inside_the_window_a_whatsapp_reply_goes_out(sign_in, db, fake_twilio):
    contact = create_contact(
        db, MX_PHONE, channels=("whatsapp",), last_inbound_at=utcnow() - dt.timedelta(hours=1)
    )
    message = create_message(db, contact, "hola", channel="whatsapp")
    organizer = sign_in("organizer")
    organizer.post(
        f"/dashboard/inbox/{message}/reply",
        data={"csrf_token": organizer.csrf_token, "body": "¡Hola!"},
    )
    assert [m["to"] for m in fake_twilio.outbox()] == ["whatsapp:" + MX_PHONE]


def test_a_message_can_be_marked_done_without_answering(sign_in, db):
    contact = create_contact(db)
    message = create_message(db, contact, "gracias 🙏")
    organizer = sign_in("organizer")
    organizer.post(f"/dashboard/inbox/{message}/done", data={"csrf_token": organizer.csrf_token})
    with db.session() as session:
        assert session.get(Message, message).handled_by.startswith("dismissed:")
    assert [a for a, _, _ in audit(db)] == ["inbox.dismiss"]


# --- contacts --------------------------------------------------------------------------


@pytest.fixture
def three_contacts(db):
    return {
        "us": create_contact(db, US_PHONE, "en", ("sms",), name="Ana", tags=("volunteer",)),
        "mx": create_contact(db, MX_PHONE, "es", ("sms", "whatsapp"), name="Beto"),
        "out": create_contact(db, WA_US_PHONE, "es", ("whatsapp",), status="opted_out"),
    }


def listed(client, query: str) -> str:
    return client.get("/dashboard/contacts/?" + query).get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"Ana", "Beto", "#"}),
        ("language=en", {"Ana"}),
        ("language=es", {"Beto", "#"}),
        ("tag=volunteer", {"Ana"}),
        ("channel=whatsapp", {"Beto", "#"}),
        ("channel=sms", {"Ana", "Beto"}),
        ("status=opted_out", {"#"}),
        ("region=US-CA", {"Ana"}),
        ("q=bet", {"Beto"}),
        ("q=5678", {"Beto"}),
        ("q=%2B52+55+1234+5678", set()),  # whole numbers: the POST search below
        ("q=%23{mx}", {"Beto"}),
    ],
)
def test_contacts_are_filtered(sign_in, three_contacts, query, expected):
    page = listed(sign_in("organizer"), query.format(**three_contacts))
    shown = {name for name in ("Ana", "Beto") if f">{name}</a>" in page}
    if f">#{three_contacts['out']}</a>" in page:
        shown.add("#")
    assert shown == expected


def test_a_viewer_cannot_search_by_name(sign_in, three_contacts):
    viewer = sign_in("viewer")
    assert "0 contacts match" in listed(viewer, "q=Ana")
    assert "1 contact matches" in listed(viewer, f"q=%23{three_contacts['us']}")
    assert "Find a contact by their whole phone number" not in listed(viewer, "")


@pytest.mark.parametrize("typed", ["+52 55 1234 5678", "(55) 1234-5678 ", "+5215512345678"])
def test_a_whole_number_is_found_by_post_so_it_never_sits_in_a_url(sign_in, three_contacts, typed):
    client = sign_in("organizer")
    found = client.post(
        "/dashboard/contacts/find", data={"csrf_token": client.csrf_token, "phone": typed}
    )
    if typed.startswith("("):  # no country code: read as a US number, which nobody has
        assert found.headers["Location"] == "/dashboard/contacts/"
    else:
        assert found.headers["Location"] == f"/dashboard/contacts/{three_contacts['mx']}"
    assert sign_in("viewer").post(
        "/dashboard/contacts/find", data={"phone": typed}
    ).status_code in (
        400,
        403,
    )


def test_a_contacts_page_has_conversation_consent_and_tags(sign_in, db, three_contacts):
    contact = three_contacts["mx"]
    create_message(db, contact, "UNIRME")
    create_message(db, contact, "¡Bienvenida!", direction="out")
    page = sign_in("organizer").get(f"/dashboard/contacts/{contact}").get_data(as_text=True)
    for part in ("UNIRME", "¡Bienvenida!", "Consent log", "Opted in", "flow:join", "Add a tag"):
        assert part in page


def test_tags_are_added_and_removed_with_an_audit_trail(sign_in, db, three_contacts):
    organizer = sign_in("organizer")
    contact = three_contacts["mx"]
    token = organizer.csrf_token
    organizer.post(
        f"/dashboard/contacts/{contact}/tags", data={"csrf_token": token, "tag": "Zona Norte"}
    )
    with db.session() as session:
        assert session.get(Contact, contact).tag_names == {"zona-norte"}
    organizer.post(
        f"/dashboard/contacts/{contact}/tags/remove",
        data={"csrf_token": token, "tag": "zona-norte"},
    )
    with db.session() as session:
        assert session.get(Contact, contact).tag_names == frozenset()
    assert [(a, d) for a, _, d in audit(db)] == [
        ("contact.tag_add", {"tag": "zona-norte"}),
        ("contact.tag_remove", {"tag": "zona-norte"}),
    ]


def test_an_opt_out_asked_by_phone_call_is_recorded(sign_in, db, three_contacts, fake_twilio):
    organizer = sign_in("organizer")
    contact = three_contacts["us"]
    organizer.post(
        f"/dashboard/contacts/{contact}/opt-out",
        data={"csrf_token": organizer.csrf_token, "how": "Called the office"},
    )
    with db.session() as session:
        assert session.get(Contact, contact).status == "opted_out"
        event = session.scalar(select(ConsentEvent).where(ConsentEvent.kind == "opt_out"))
        assert event.source.startswith("organizer:") and event.words == "Called the office"


# --- reports ---------------------------------------------------------------------------


def test_the_desk_triages_a_report_and_the_audit_log_keeps_it(sign_in, db, three_contacts):
    report = create_report(db, three_contacts["mx"], what="Retén militar", where="Km 40")
    admin = sign_in("admin")
    page = admin.get("/dashboard/reports/?status=new").get_data(as_text=True)
    assert "Retén militar" in page
    admin.post(
        f"/dashboard/reports/{report}/move",
        data={"csrf_token": admin.csrf_token, "to": "triaged"},
    )
    with db.session() as session:
        assert session.get(Report, report).status == "triaged"
    assert "Retén militar" not in admin.get("/dashboard/reports/?status=new").get_data(as_text=True)
    assert audit(db)[-1][:2] == ("report.status", f"report:{report}")


# --- overview --------------------------------------------------------------------------


def test_week_buckets():
    starts = overview.week_starts(dt.date(2026, 6, 3), weeks=3)  # a Wednesday
    assert starts == [dt.date(2026, 5, 18), dt.date(2026, 5, 25), dt.date(2026, 6, 1)]
    days = [("2026-05-18", 2), (dt.date(2026, 5, 31), 1), ("2026-06-03", 4), ("2026-05-01", 9)]
    assert overview.per_week(days, starts) == [2, 1, 4]


@pytest.mark.parametrize(("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (480, 500)])
def test_axis_tops_are_round(value, top):
    assert nice_ceiling(value) == top


def test_charts_have_a_point_or_bar_per_week():
    labels = ["01/06", "08/06", "15/06"]
    line = line_chart(labels, [Series("A", (1, 2, 3))])
    assert len(line.lines[0].points.split()) == 3
    bars = bar_chart(labels, [Series("Joined", (1, 0, 2)), Series("Opted out", (0, 1, 0))])
    assert len(bars.bars) == 6 and bars.bars[0].title == "01/06 · Joined: 1"


def test_the_overview_counts_what_happened(sign_in, db):
    week_ago = utcnow() - dt.timedelta(days=8)
    a = create_contact(db, US_PHONE, "en", created_at=week_ago)
    b = create_contact(db, MX_PHONE, "es")
    create_contact(db, WA_US_PHONE, "es", status="opted_out", opted_in=False)
    create_message(db, a, "News", direction="out", status="delivered")
    create_message(db, b, "Noticias", direction="out", status="failed")
    create_message(db, b, "Noticias", direction="out", status="blocked")  # never sent
    create_message(db, b, "hola")
    with db.session() as session:
        since = dt.datetime.combine(overview.week_starts(utcnow().date())[0], dt.time(), dt.UTC)
        assert sum(overview.growth(session, overview.week_starts(utcnow().date()))[1]) == 2
        assert overview.tiles(session, utcnow()) == {
            "active": 2, "joined_week": 1, "opted_out_week": 0, "inbox": 1,
        }  # fmt: skip
        by_language = {r["key"]: r for r in overview.breakdown(session, Contact.language, since)}
        assert (by_language["en"]["sent"], by_language["en"]["delivered"]) == (1, 1)
        assert (by_language["es"]["sent"], by_language["es"]["failed"]) == (1, 1)
    page = sign_in("viewer").get("/dashboard/").get_data(as_text=True)
    assert "Contacts over time" in page and "<svg" in page


# --- flows -----------------------------------------------------------------------------


def test_the_flows_page_lists_every_flow_with_its_check(sign_in):
    page = sign_in("viewer").get("/dashboard/flows/").get_data(as_text=True)
    for flow in ("join", "report", "know_your_rights", "summit_rsvp"):
        assert f"/dashboard/flows/{flow}" in page
    assert "badge ok" in page or "badge warning" in page


def test_a_flow_page_draws_its_diagram(sign_in):
    page = sign_in("viewer").get("/dashboard/flows/join").get_data(as_text=True)
    assert 'class="diagram"' in page and ">ask_name<" in page and "marker-end" in page


def test_a_broken_flow_shows_its_problems(app, sign_in, tmp_path):
    (tmp_path / "broken.yaml").write_text(
        "flow: broken\nname: Broken\nbase_language: en\ntriggers:\n  en: [BROKEN]\n"
        "steps:\n  - id: a\n    type: send\n    text: Hi\n    next: nowhere\n"
    )
    app.config["FLOWS_DIR"] = str(tmp_path)
    client = sign_in("viewer")
    assert "1 errors" in client.get("/dashboard/flows/").get_data(as_text=True) or "error" in (
        client.get("/dashboard/flows/").get_data(as_text=True)
    )
    page = client.get("/dashboard/flows/broken").get_data(as_text=True)
    assert "nowhere" in page and "node-error" in page


def test_the_flow_tester_runs_the_real_engine_in_memory(sign_in, db):
    client = sign_in("viewer")  # trying a flow changes nothing, so every role may
    token = client.csrf_token
    page = client.post(
        "/dashboard/flows/join",
        data={"csrf_token": token, "action": "start", "language": "es", "channel": "sms"},
    ).get_data(as_text=True)
    assert "Puente Test" in page  # the confirmation names the program
    with db.session() as session:
        assert session.scalar(select(Contact)) is None  # nothing stored


# --- CSV import and export -------------------------------------------------------------

CSV = (
    "phone,channel,language,tags,consent_source,consent_date\n"
    "+1 213 555 0161,sms,es,volunteer;texas,sign-up sheet,2026-05-01\n"
    "not a number,sms,es,,sign-up sheet,2026-05-01\n"
    "(312) 555-0162,whatsapp,en,,march table,2026-05-02\n"
    "+12135550163,sms,fr,,sign-up sheet,2026-05-02\n"
)


def upload(client, text: str, region: str = "US"):
    import io

    return client.post(
        "/dashboard/contacts/import",
        data={"csrf_token": client.csrf_token, "region": region,
              "file": (io.BytesIO(text.encode()), "contacts.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip


def test_a_csv_import_reports_bad_rows_in_the_organizers_language(sign_in):
    client = sign_in("organizer", "es")
    page = upload(client, CSV).get_data(as_text=True)
    assert "el idioma &#39;fr&#39; no es uno de es, en" in page
    assert "is not one of" not in page


def test_a_csv_import_reports_each_bad_row(sign_in, db):
    client = sign_in("organizer")
    page = upload(client, CSV).get_data(as_text=True)
    assert 'data-count="created">2<' in page
    assert 'data-count="problems">2<' in page
    assert '<td class="num">3</td>' in page and '<td class="num">5</td>' in page
    assert "language &#39;fr&#39; is not one of es, en" in page
    with db.session() as session:
        phones_in = set(session.scalars(select(Contact.phone)))
        consent = session.scalars(select(ConsentEvent.source)).all()
    assert phones_in == {"+12135550161", "+13125550162"}
    assert consent == ["import:sign-up sheet", "import:march table"]
    ((action, _, details),) = audit(db)
    assert action == "contacts.import" and details["bad_rows"] == 2
    assert "+12135550161" not in page  # an organizer's report masks numbers too


def test_an_import_never_undoes_a_stop(sign_in, db):
    create_contact(db, "+12135550161", status="opted_out")
    page = upload(sign_in("organizer"), CSV).get_data(as_text=True)
    assert "had opted out" in page
    assert contact_by_phone(db, "+12135550161").status == "opted_out"


def test_a_file_that_is_not_a_csv_is_refused_kindly(sign_in):
    response = upload(sign_in("organizer"), "")
    assert response.status_code == 302


def test_the_export_has_full_numbers_only_for_admins(sign_in, db):
    create_contact(db, US_PHONE, "en", tags=("volunteer",))
    admin = sign_in("admin").get("/dashboard/contacts/export")
    assert admin.mimetype == "text/csv"
    assert "attachment" in admin.headers["Content-Disposition"]
    assert US_PHONE in admin.get_data(as_text=True)
    organizer = sign_in("organizer").get("/dashboard/contacts/export").get_data(as_text=True)
    assert US_PHONE not in organizer and "…0123" in organizer and "volunteer" in organizer
    assert sign_in("viewer").get("/dashboard/contacts/export").status_code == 403
    assert [a for a, _, _ in audit(db)] == ["contacts.export", "contacts.export"]


# --- test send ---------------------------------------------------------------------------


def test_an_organizer_sends_a_test_to_their_own_phone(sign_in, db, fake_twilio):
    from tests.factories import create_user

    client = sign_in("organizer")
    create_user(db, "organizer", phone="+12135550100")
    create_contact(db, US_PHONE, "es")
    response = client.post(
        "/dashboard/broadcasts/",
        data={"csrf_token": client.csrf_token, "text_es": "Hola", "text_en": "Hi",
              "channel_order": "sms_only"},
    )  # fmt: skip
    broadcast_id = int(response.headers["Location"].rsplit("/", 1)[1])
    not_known = client.post(
        f"/dashboard/broadcasts/{broadcast_id}/test",
        data={"csrf_token": client.csrf_token},
        follow_redirects=True,
    )
    assert "Text the bot once from your phone" in not_known.get_data(as_text=True)
    create_contact(db, "+12135550100", "es", opted_in=False)  # they texted the bot once
    client.post(
        f"/dashboard/broadcasts/{broadcast_id}/test", data={"csrf_token": client.csrf_token}
    )
    assert [(m["to"], m["body"]) for m in fake_twilio.outbox()] == [
        ("+12135550100", "[TEST] Hola"),
        ("+12135550100", "[TEST] Hi"),
    ]


def test_a_large_csv_is_not_refused_by_the_webhook_size_limit(sign_in, db):
    rows = [f"+1213555{i:04d},sms,es,big,sign-up sheet,2026-05-01" for i in range(2000, 4500)]
    text = "phone,channel,language,tags,consent_source,consent_date\n" + "\n".join(rows) + "\n"
    assert len(text) > 64 * 1024
    page = upload(sign_in("organizer"), text).get_data(as_text=True)
    assert 'data-count="created">2' in page  # 2 500, with a thin space between thousands
