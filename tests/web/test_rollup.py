"""The coalition's roll-up: exact numbers per partner on the page and in the CSV.

Two partners and the coalition's direct joins, with joins, leaves, opt-outs,
broadcasts and replies in known weeks (two weeks ago and last week), so each
number on the page is known in advance. Only coalition admins see it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from bot.accounts.models import PartnerRole, User
from bot.broadcasts.models import Broadcast, Delivery
from bot.contacts.models import ConsentEvent, Contact
from bot.db import utcnow
from bot.msgs.models import Message
from bot.partners import rollup as data
from bot.partners.models import LEFT, MEMBER, Membership, Organization
from bot.web.dashboard.charts import Series
from bot.web.dashboard.rollup import stacked_chart
from tests.dashboard_client import csrf_from
from tests.factories import DASHBOARD_PASSWORD, create_contact, create_message, create_user

MONDAY = data.week_starts(utcnow().date(), 1)[0]
# Tuesdays at noon, two weeks ago and last week: weeks 10 and 11 of the default 12.
W1 = dt.datetime.combine(MONDAY - dt.timedelta(days=13), dt.time(12), dt.UTC)
W2 = dt.datetime.combine(MONDAY - dt.timedelta(days=6), dt.time(12), dt.UTC)
SENT = W2 + dt.timedelta(days=1)  # the broadcasts' messages: last Wednesday at noon
HOUR = dt.timedelta(hours=1)


# --- the scene ---------------------------------------------------------------------


def partner(db, slug: str, name_es: str, name_en: str, country: str) -> int:
    with db.session() as session:
        root = session.scalar(select(Organization).where(Organization.parent_id.is_(None)))
        org = Organization(
            slug=slug, parent_id=root.id, name_es=name_es, name_en=name_en, country=country,
            regions=[],
        )  # fmt: skip
        session.add(org)
        session.flush()
        return org.id


def person(db, phone: str, language: str, joined: dt.datetime, via: int | None = None) -> int:
    contact = create_contact(db, phone, language, created_at=joined)
    if via is not None:
        with db.session() as session:
            session.get_one(Contact, contact).joined_via_id = via
    return contact


def member(db, contact: int, org: int, joined: dt.datetime, left: dt.datetime | None = None):
    with db.session() as session:
        session.add(
            Membership(
                contact_id=contact, organization_id=org, status=LEFT if left else MEMBER,
                source="keyword", joined_at=joined, left_at=left, extra={},
            )
        )  # fmt: skip
        if left:  # what LEAVE writes: an opt-out line of the partner's, not a STOP
            session.add(
                ConsentEvent(
                    contact_id=contact, kind="opt_out", source="leave", organization_id=org,
                    created_at=left,
                )
            )  # fmt: skip


def stop(db, contact: int, when: dt.datetime) -> None:
    with db.session() as session:
        row = session.get_one(Contact, contact)
        row.status, row.opted_out_at = "opted_out", when
        session.add(
            ConsentEvent(contact_id=contact, kind="opt_out", source="keyword", created_at=when)
        )


def broadcast(db, org: int | None, recipients: dict[int, str]) -> int:
    """A broadcast whose message to each contact was recorded at SENT with that status."""
    with db.session() as session:
        row = Broadcast(
            name="b", status="done", organization_id=org, filters={}, texts={"es": "Hola"},
            default_language="es", channels=["sms"], created_at=SENT,
        )  # fmt: skip
        session.add(row)
        session.flush()
        for contact, status in recipients.items():
            message = Message(
                contact_id=contact, direction="out", channel="sms", address="+1", body="Hola",
                status=status, created_at=SENT, updated_at=SENT,
            )  # fmt: skip
            session.add(message)
            session.flush()
            session.add(
                Delivery(
                    broadcast_id=row.id, contact_id=contact, channel="sms", batch=0,
                    status="sent", message_id=message.id,
                )
            )  # fmt: skip
        return row.id


@pytest.fixture
def scene(db) -> dict[str, int]:
    frontera = partner(db, "frontera", "Frontera Unida", "Border United", "MX")
    paz = partner(db, "paz", "Paz y Justicia", "Peace and Justice", "US")
    # Frontera: c1 and c2 two weeks ago, c3 last week; c2 left last week, then sent
    # STOP (not Frontera's opt-out: they had left); c3 sent STOP an hour after joining.
    c1 = person(db, "+525512340001", "es", W1, frontera)
    c2 = person(db, "+12135550102", "en", W1, frontera)
    c3 = person(db, "+525512340003", "es", W2, frontera)
    member(db, c1, frontera, W1)
    member(db, c2, frontera, W1, left=W2)
    member(db, c3, frontera, W2)
    stop(db, c2, W2 + 2 * HOUR)
    stop(db, c3, W2 + HOUR)
    # Paz: c5 two weeks ago (STOP last week), c4 and c1 (Frontera brought them) last week.
    c4 = person(db, "+12135550104", "en", W2, paz)
    c5 = person(db, "+12135550105", "es", W1, paz)
    member(db, c4, paz, W2)
    member(db, c5, paz, W1)
    member(db, c1, paz, W2 + HOUR)
    stop(db, c5, W2 + 3 * HOUR)
    # Direct: c6 two weeks ago, c7 last week (then STOP), c8 long before the window.
    c6 = person(db, "+525512340006", "es", W1)
    c7 = person(db, "+12135550107", "en", W2)
    c8 = person(db, "+12135550108", "en", W1 - dt.timedelta(weeks=20))
    stop(db, c7, W2 + HOUR)
    # Frontera's broadcast reached c1 and c3: c1 answered in 10 hours, c3 after 80.
    broadcast(db, frontera, {c1: "delivered", c3: "sent"})
    create_message(db, c1, "¡Ahí estaré!", created_at=SENT + 10 * HOUR)
    create_message(db, c3, "ok", created_at=SENT + 80 * HOUR)
    # The coalition's: c6 wrote only before it; c8 answered at 71 hours; c7 was blocked.
    broadcast(db, None, {c6: "delivered", c8: "delivered", c7: "blocked"})
    create_message(db, c6, "hola", created_at=SENT - HOUR)
    create_message(db, c8, "yes", created_at=SENT + 71 * HOUR)
    # Paz's broadcast never reached anyone (a pending message is not sent).
    broadcast(db, paz, {c4: "pending"})
    return {"frontera": frontera, "paz": paz}


# (members now, joins, leaves, opt-outs, broadcasts, sent to, replied, reply rate, brought)
EXPECTED = {
    "coalition": ("2", "2", "0", "1", "1", "2", "1", "50%", "3"),
    "frontera": ("2", "3", "1", "1", "1", "2", "1", "50%", "3"),
    "paz": ("3", "3", "0", "1", "0", "0", "0", "—", "2"),
}
WEEKLY = {  # the last three weeks of the twelve: two weeks ago, last week, this week
    "joins": {"coalition": [1, 1, 0], "frontera": [2, 1, 0], "paz": [1, 2, 0]},
    "leaves": {"coalition": [0, 0, 0], "frontera": [0, 1, 0], "paz": [0, 0, 0]},
    "opt_outs": {"coalition": [0, 1, 0], "frontera": [0, 1, 0], "paz": [0, 1, 0]},
}


def table_row(html: str, table: str, **attributes: str) -> list[str]:
    """The cells (<td>) of the row of ``table`` with these data- attributes."""
    body = html[html.index(f'id="{table}"') :]
    body = body[: body.index("</table>")]
    wanted = "".join(f' data-{name}="{value}"' for name, value in attributes.items())
    match = re.search(rf"<tr{wanted}>(.*?)</tr>", body, re.S)
    assert match, (table, attributes)
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
    ]


# --- the page and the CSV ----------------------------------------------------------


def test_the_page_shows_each_partners_numbers(scene, sign_in):
    page = sign_in("admin").get("/dashboard/rollup")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for slug, expected in EXPECTED.items():
        assert tuple(table_row(html, "rollup", org=slug)) == expected, slug
    for metric, rows in WEEKLY.items():
        for slug, last_three in rows.items():
            cells = table_row(html, f"weekly-{metric}", org=slug)
            assert len(cells) == 12 and [int(c) for c in cells[-3:]] == last_three
            assert set(cells[:-3]) == {"0"}, (metric, slug)
    # by language and by country: members now, joins, leaves, opt-outs
    breakdowns = {
        ("by-language", "frontera", "es"): ["Spanish", "2", "2", "0", "1"],
        ("by-language", "frontera", "en"): ["English", "0", "1", "1", "0"],
        ("by-language", "paz", "es"): ["Spanish", "2", "2", "0", "1"],
        ("by-country", "frontera", "MX"): ["Mexico", "2", "2", "0", "1"],
        ("by-country", "frontera", "US"): ["United States", "0", "1", "1", "0"],
        ("by-country", "coalition", "US"): ["United States", "1", "1", "0", "1"],
    }
    for (table, org, group), expected in breakdowns.items():
        assert table_row(html, table, org=org, group=group) == expected, (table, org, group)
    # who brought whom: Paz's members came through Paz (2) and Frontera (1)
    frontera, paz = str(scene["frontera"]), str(scene["paz"])
    assert table_row(html, "came-through", org="paz", via=frontera) == ["Border United", "1"]
    assert table_row(html, "came-through", org="paz", via=paz) == ["Peace and Justice", "2"]
    assert table_row(html, "came-through", org="frontera", via=frontera) == ["Border United", "2"]
    # the chart: joins stacked per week, one series per organization that had any
    assert html.count('<rect class="s') == 6  # 3 organizations × 2 weeks with joins


def test_the_page_in_spanish(scene, sign_in):
    html = sign_in("admin", "es").get("/dashboard/rollup").get_data(as_text=True)
    assert "Panorama de la coalición" in html and "Coalición (directo)" in html
    assert "Frontera Unida" in html and "Border United" not in html
    assert table_row(html, "by-country", org="frontera", group="MX")[0] == "México"


def test_the_csv_has_the_same_numbers(scene, sign_in):
    response = sign_in("admin").get("/dashboard/rollup.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    by = {(r["organization_slug"], r["breakdown"], r["group"]): r for r in rows}
    columns = ("members_now", "joins", "leaves", "opt_outs", "broadcasts", "contacts_sent",
               "contacts_replied", "reply_rate", "brought")  # fmt: skip
    rates = {"50%": "0.500", "—": ""}
    for slug, expected in EXPECTED.items():
        row = by[(slug, "all", "")]
        assert tuple(row[c] for c in columns) == tuple(rates.get(v, v) for v in expected), slug
    assert by[("frontera", "all", "")]["organization"] == "Border United"
    last_week = (MONDAY - dt.timedelta(weeks=1)).isoformat()
    assert [by[("frontera", "week", last_week)][m] for m in data.METRICS] == ["1", "1", "1"]
    assert by[("paz", "language", "es")]["members_now"] == "2"
    assert by[("frontera", "country", "US")]["leaves"] == "1"
    assert by[("paz", "came_through", "frontera")]["members_now"] == "1"
    assert by[("paz", "came_through", "paz")]["members_now"] == "2"
    assert len([r for r in rows if r["breakdown"] == "week"]) == 3 * 12


def test_weeks_can_be_chosen(scene, sign_in):
    admin = sign_in("admin")
    html = admin.get("/dashboard/rollup?weeks=1").get_data(as_text=True)
    assert table_row(html, "rollup", org="frontera")[1:4] == ["0", "0", "0"]  # this week only
    assert table_row(html, "rollup", org="frontera")[0] == "2"  # members now all the same
    assert len(table_row(html, "weekly-joins", org="paz")) == 1
    html = admin.get("/dashboard/rollup?weeks=2").get_data(as_text=True)
    assert table_row(html, "rollup", org="frontera")[1:4] == ["1", "1", "1"]
    for nonsense in ("0", "x", "1000"):
        html = admin.get(f"/dashboard/rollup?weeks={nonsense}").get_data(as_text=True)
        assert len(table_row(html, "weekly-joins", org="paz")) == 12


# --- who may see it ----------------------------------------------------------------


def sign_in_as(app, email: str):
    client = app.test_client()
    token = csrf_from(client.get("/dashboard/login").data)
    response = client.post(
        "/dashboard/login",
        data={"email": email, "password": DASHBOARD_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("role", ["organizer", "viewer"])
def test_only_coalition_admins_see_it(scene, sign_in, role):
    client = sign_in(role)
    assert client.get("/dashboard/rollup").status_code == 403
    assert client.get("/dashboard/rollup.csv").status_code == 403
    assert "/dashboard/rollup" not in client.get("/dashboard/").get_data(as_text=True)
    assert "/dashboard/rollup" in sign_in("admin").get("/dashboard/").get_data(as_text=True)


def test_a_partners_admin_gets_403(scene, app, db):
    email = "frontera-admin@puente.example.org"
    user = create_user(db, "admin", email=email)
    with db.session() as session:
        session.get_one(User, user).role = None  # no coalition role: Frontera's admin only
        session.add(PartnerRole(user_id=user, organization_id=scene["frontera"], role="admin"))
    client = sign_in_as(app, email)
    assert client.get("/dashboard/rollup").status_code == 403
    assert client.get("/dashboard/rollup.csv").status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    assert client.get("/dashboard/rollup").status_code == 302
    assert (
        client.get("/dashboard/rollup.csv", headers={"Accept": "application/json"}).status_code
        == 401
    )


# --- a bounded number of statements --------------------------------------------------


@contextmanager
def counted(db) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        if statement.split(None, 1)[0].upper() != "BEGIN":
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def test_statements_do_not_grow_with_partners_or_contacts(scene, sign_in, db):
    admin = sign_in("admin")
    with db.session() as session, counted(db) as statements:
        data.rollup(session, data.week_starts(utcnow().date(), 12))
    assert len(statements) == data.STATEMENTS
    with counted(db) as small:
        assert admin.get("/dashboard/rollup").status_code == 200
    for n in range(3):
        org = partner(db, f"extra{n}", f"Extra {n}", f"Extra {n}", "US")
        for k in range(4):
            contact = person(db, f"+1213555{n}2{k}0", "en", W1, org)
            member(db, contact, org, W1, left=W2 if k == 0 else None)
        broadcast(db, org, {contact: "delivered"})
    with counted(db) as large:
        html = admin.get("/dashboard/rollup").get_data(as_text=True)
    assert table_row(html, "rollup", org="extra2")[:3] == ["3", "4", "1"]
    assert len(large) == len(small) <= data.STATEMENTS + 6  # signing in: the user, their roles


def test_stacked_bars_add_up():
    chart = stacked_chart(["a", "b"], [Series("x", (1, 0)), Series("y", (3, 0))])
    first, second = chart.bars
    assert second.y + second.height == pytest.approx(first.y)  # y sits on top of x
    assert first.height * 3 == pytest.approx(second.height)
    assert [bar.css for bar in chart.bars] == ["s0", "s1"]
