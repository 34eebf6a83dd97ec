"""``GET /l/<code>``: a 302 to the broadcast's URL, the first click recorded once, previews
and erased contacts recorded never, an unknown code a plain page in both languages."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from bot.contacts.models import Contact
from bot.links import clicks, codes
from bot.links.models import BroadcastLink, LinkClick
from tests.factories import create_broadcast, create_contact

URL = "https://coalicion.example.org/marcha?from=sms"
PHONE_BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Version/17.1 Safari/604.1"


@pytest.fixture
def link(app, db):
    """(short link path, link id, contact id) of one contact's link in a broadcast."""
    contact_id = create_contact(db, "+12135550111", "es")
    broadcast_id = create_broadcast(db, {"es": f"Marcha: {URL}.", "en": f"March: {URL}."})
    with db.session() as session:
        link_id = session.scalar(
            select(BroadcastLink.id).where(BroadcastLink.broadcast_id == broadcast_id)
        )
    code = codes.encode(link_id, contact_id, clicks.key_of(app.config["SECRET_KEY"]))
    return f"/l/{code}", link_id, contact_id


def recorded(app, db) -> list[tuple[int, int]]:
    """The clicks recorded, once the redirect wrote what it holds (it does, 4 times a second)."""
    app.extensions["puente.links"].clicks.flush()
    with db.session() as session:
        return [tuple(r) for r in session.execute(select(LinkClick.link_id, LinkClick.contact_id))]


def test_a_click_redirects_and_is_recorded_once(app, client, db, link):
    path, link_id, contact_id = link
    first = client.get(path, headers={"User-Agent": PHONE_BROWSER})
    assert first.status_code == 302 and first.headers["Location"] == URL
    assert recorded(app, db) == [(link_id, contact_id)]

    again = client.get(path, headers={"User-Agent": PHONE_BROWSER})
    assert again.status_code == 302 and again.headers["Location"] == URL
    assert recorded(app, db) == [(link_id, contact_id)]


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("HEAD", {"User-Agent": PHONE_BROWSER}),
        ("GET", {"User-Agent": "WhatsApp/2.23.20.0 A"}),
        ("GET", {"User-Agent": "facebookexternalhit/1.1"}),
        (
            "GET",
            {
                "User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 "
                "(KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot "
                "Twitterbot/1.0"
            },
        ),
        ("GET", {"User-Agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"}),
        ("GET", {"User-Agent": "TelegramBot (like TwitterBot)"}),
        ("GET", {"User-Agent": "Twitterbot/1.0"}),
        ("GET", {"User-Agent": PHONE_BROWSER, "Purpose": "prefetch"}),
        ("GET", {"User-Agent": PHONE_BROWSER, "Sec-Purpose": "prefetch;prerender"}),
    ],
    ids=["head", "whatsapp", "facebook", "imessage", "slack", "telegram", "twitter", "purpose",
         "sec-purpose"],
)  # fmt: skip
def test_a_preview_redirects_and_records_nothing(app, client, db, link, method, headers):
    path, _link_id, _contact_id = link
    answer = client.open(path, method=method, headers=headers)
    assert answer.status_code == 302 and answer.headers["Location"] == URL
    assert recorded(app, db) == []


def test_an_erased_contact_still_gets_there_and_nothing_is_recorded(app, client, db, link, caplog):
    path, _link_id, contact_id = link
    with db.session() as session:
        session.execute(delete(Contact).where(Contact.id == contact_id))
    answer = client.get(path, headers={"User-Agent": PHONE_BROWSER})
    assert answer.status_code == 302 and answer.headers["Location"] == URL
    assert recorded(app, db) == []
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []  # not a refused INSERT


def test_the_redirect_reads_nothing_once_the_links_url_is_known(app, client, db, link):
    from sqlalchemy import event

    path, _link_id, _contact_id = link
    client.get(path, headers={"User-Agent": PHONE_BROWSER})  # the link's URL is now cached
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = app.extensions["puente.links"].db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            assert client.get(path, headers={"User-Agent": PHONE_BROWSER}).status_code == 302
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [s for s in statements if "SELECT" in s and "INSERT" not in s] == []  # its writer's only


def test_the_waiting_clicks_are_one_statement(db, link):
    """Every click since the last write: one INSERT … SELECT … ON CONFLICT DO NOTHING
    (an executemany), which skips the second click and the erased contact's."""
    from sqlalchemy import event

    from bot.db import utcnow
    from bot.web.links import ClickBuffer

    _path, link_id, contact_id = link
    other = create_contact(db, "+12135550112", "en")
    gone = create_contact(db, "+12135550113", "en")
    with db.session() as session:
        session.execute(delete(Contact).where(Contact.id == gone))
    buffer = ClickBuffer(db, interval=None)
    for who in (contact_id, other, contact_id, gone):
        buffer.add(link_id, who, utcnow())
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        buffer.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    writes = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(writes) == 1 and "link_clicks" in writes[0]
    with db.session() as session:
        rows = session.execute(select(LinkClick.contact_id).order_by(LinkClick.contact_id))
        assert list(rows.scalars()) == sorted([contact_id, other])


def forged(path: str) -> str:
    code = path.removeprefix("/l/")
    return "/l/" + code[:5] + ("A" if code[5] != "A" else "B") + code[6:]


@pytest.mark.parametrize("what", ["forged", "nonsense", "short", "slashes", "no such link"])
def test_an_unknown_code_gets_a_plain_page_in_both_languages(app, client, db, link, what):
    path, _link_id, contact_id = link
    key = clicks.key_of(app.config["SECRET_KEY"])
    paths = {
        "forged": forged(path),
        "nonsense": "/l/" + "x" * codes.CODE_LENGTH,
        "short": "/l/abc",
        "slashes": "/l/a/b/c",
        "no such link": "/l/" + codes.encode(999_999, contact_id, key),
    }
    answer = client.get(paths[what], headers={"User-Agent": PHONE_BROWSER})
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert "This link does not work" in page and "Este enlace no funciona" in page
    assert "Traceback" not in page and "Location" not in answer.headers
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert recorded(app, db) == []


def test_the_redirect_needs_no_sign_in_and_sets_no_cookie(app, client, link):
    path, _link_id, _contact_id = link
    answer = client.get(path, headers={"User-Agent": PHONE_BROWSER})
    assert answer.status_code == 302 and "Set-Cookie" not in answer.headers
    assert answer.headers["Cache-Control"] == "private, no-store"
