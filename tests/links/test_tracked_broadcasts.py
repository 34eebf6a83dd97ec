"""Tracked links end to end: a broadcast sent through the fake Twilio carries each person's
own /l/ link; their clicks become results per language and audiences of who clicked.

| contact | language | clicks |
| --- | --- | --- |
| es1 | es | clicks twice (counted once) |
| es2 | es | clicks |
| es3 | es | WhatsApp draws a preview of the link only (not a click) |
| en1 | en | clicks |
| en2 | en | nothing |
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from bot.broadcasts import audiences, broadcast, fanout, results
from bot.broadcasts.audiences import Filters
from bot.db import utcnow
from bot.links.models import BroadcastLink
from bot.sending import batches
from tests.factories import create_broadcast, create_contact
from tests.settings import PUBLIC_URL
from tests.workers import in_process, worker_env

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)

URL = "https://coalicion.example.org/marcha"
TEXTS = {"es": f"Marcha el sábado: {URL}. ¡Ven!", "en": f"March on Saturday: {URL}. Come!"}
SHORT = re.compile(re.escape(PUBLIC_URL) + r"/l/[A-Za-z0-9_-]{20}")
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Version/17.1 Safari/604.1"


@pytest.fixture
def env(app, database_url, redis_url, fake_twilio_server, fake_twilio):
    return worker_env(
        database_url,
        redis_url,
        fake_twilio_server[1],
        SECRET_KEY=app.config["SECRET_KEY"],  # the web app checks the codes the worker signs
        SMS_RATE_PER_S="40",
        SETTLE_AFTER_S="60",
    )


def send(env, broadcast_id: int) -> None:
    runtime = in_process(env)
    fanout.fan_out(runtime.db, broadcast_id, utcnow(), 500, lambda _batch: None)
    batches.send_batch(runtime, broadcast_id, 0)


def bodies(fake_twilio) -> dict[str, str]:
    return {m["to"]: m["body"] for m in fake_twilio.outbox()}


def test_a_sent_broadcast_carries_short_links_and_counts_clicks_per_language(
    app, client, db, env, fake_twilio
):
    phones = {
        "es1": "+12135550121", "es2": "+12135550122", "es3": "+12135550123",
        "en1": "+12135550124", "en2": "+12135550125",
    }  # fmt: skip
    ids = {who: create_contact(db, phone, who[:2]) for who, phone in phones.items()}
    broadcast_id = create_broadcast(db, TEXTS)
    send(env, broadcast_id)

    got = bodies(fake_twilio)
    assert sorted(got) == sorted(phones.values())
    links = {}
    for who, phone in phones.items():
        (short,) = SHORT.findall(got[phone])
        assert got[phone] == TEXTS[who[:2]].replace(URL, short)  # the period stays outside
        links[who] = short.removeprefix(PUBLIC_URL)
    assert len(set(links.values())) == 5  # one link per person

    def visit(who: str, agent: str = BROWSER) -> None:
        answer = client.get(links[who], headers={"User-Agent": agent})
        assert answer.status_code == 302 and answer.headers["Location"] == URL

    for who in ("es1", "es1", "es2", "en1"):
        visit(who)
    visit("es3", "WhatsApp/2.23.20.0 A")
    app.extensions["puente.links"].clicks.flush()  # it writes them 4 times a second

    with db.session() as session:
        found = results.results(session, broadcast_id)
        clicked = audiences.size(session, Filters(clicked=broadcast_id), ("sms",), utcnow())
        not_clicked = audiences.size(session, Filters(not_clicked=broadcast_id), ("sms",), utcnow())
        spanish_not_clicked = audiences.size(
            session, Filters(languages=("es",), not_clicked=broadcast_id), ("sms",), utcnow()
        )
    assert results.CLICKED in found.tracked
    assert found.total(results.CLICKED) == 3
    assert found.by(results.CLICKED, "language") == {"es": 2, "en": 1}
    assert found.by(results.CLICKED, "channel") == {"sms": 3}
    assert found.by(results.CLICKED, "reason") == {"1": 3}
    assert found.links == {"1": URL}
    assert (clicked, not_clicked, spanish_not_clicked) == (3, 2, 1)
    with app.app_context():
        runner = app.test_cli_runner()
        saved = runner.invoke(
            args=["audiences", "save", "clickers", "--clicked", str(broadcast_id)]
        )
        others = runner.invoke(
            args=["audiences", "save", "others", "--not-clicked", str(broadcast_id)]
        )
    assert "audience 'clickers': 3 contacts" in saved.output
    assert "audience 'others': 2 contacts" in others.output
    with db.session() as session:
        who = audiences.page(session, Filters(clicked=broadcast_id), ("sms",), utcnow())
    assert sorted(contact for contact, _channel in who) == sorted(
        ids[w] for w in ("es1", "es2", "en1")
    )


def test_the_results_page_and_csv_show_unique_clicks_per_link(
    app, client, db, env, fake_twilio, sign_in
):
    create_contact(db, "+12135550131", "es")
    create_contact(db, "+12135550132", "en")
    second = "https://coalicion.example.org/firma"
    texts = {"es": f"{URL} y {second}", "en": f"{URL} and {second}"}
    broadcast_id = create_broadcast(db, texts)
    send(env, broadcast_id)
    for body in bodies(fake_twilio).values():
        first_link = SHORT.findall(body)[0].removeprefix(PUBLIC_URL)
        assert client.get(first_link, headers={"User-Agent": BROWSER}).status_code == 302
    app.extensions["puente.links"].clicks.flush()

    organizer = sign_in("organizer")
    page = organizer.get(f"/dashboard/broadcasts/{broadcast_id}/results").get_data(as_text=True)
    assert "Unique clicks per link" in page and URL in page
    assert 'data-cell="clicked.1|total">2<' in page
    assert 'data-cell="clicked.1|language|es">1<' in page
    csv = organizer.get(f"/dashboard/broadcasts/{broadcast_id}/results.csv").get_data(as_text=True)
    assert "clicked.1,es,sms,coalition,1" in csv and "clicked.1,en,sms,coalition,1" in csv
    assert "clicked.2" not in csv  # nobody clicked the second link
    with app.app_context():
        output = app.test_cli_runner().invoke(args=["broadcast", "results", str(broadcast_id)])
    assert f"1 {URL}: 2" in output.output and "clicked: 2" in output.output


def test_tracking_off_sends_the_text_as_written(db, env, fake_twilio):
    create_contact(db, "+12135550141", "es")
    broadcast_id = create_broadcast(db, TEXTS, track_links=False)
    send(env, broadcast_id)

    assert list(bodies(fake_twilio).values()) == [TEXTS["es"]]
    with db.session() as session:
        stored = session.scalar(select(func.count()).select_from(BroadcastLink))
        found = results.results(session, broadcast_id)
    assert stored == 0 and results.CLICKED not in found.tracked


def test_the_cli_turns_tracking_off(app, db):
    create_contact(db, "+12135550151", "en")
    with app.app_context():
        output = app.test_cli_runner().invoke(
            args=["broadcast", "create", "Marcha", "--text-en", f"Come: {URL}", "--no-track-links"]
        )
    assert output.exit_code == 0, output.output
    with db.session() as session:
        (made,) = session.scalars(select(broadcast.Broadcast)).all()
        assert made.track_links is False


def test_the_preview_counts_segments_and_cost_with_the_short_link(app, db):
    create_contact(db, "+12135550161", "en")
    long_url = "https://coalicion.example.org/" + "m" * 150
    ids = {
        track: create_broadcast(db, {"en": f"March: {long_url}"}, send=False, track_links=track)
        for track in (True, False)
    }
    with db.session() as session:
        tracked = broadcast.preview(session, ids[True], app.config, utcnow())
        as_written = broadcast.preview(session, ids[False], app.config, utcnow())
    short = len(f"March: {PUBLIC_URL}/l/") + 20
    assert tracked.segments["en"].characters == short and tracked.segments["en"].segments == 1
    assert as_written.segments["en"].segments == 2
    assert tracked.estimated_cost == pytest.approx(as_written.estimated_cost / 2)


@pytest.mark.parametrize(
    ("language", "words"), [("en", "do not start with http://"), ("es", "no empiezan con http://")]
)
def test_the_preview_warns_of_links_that_are_not_http_in_both_languages(
    app, db, sign_in, language, words
):
    create_contact(db, "+12135550171", "en")
    text = "Info: www.coalicion.example.org y ftp://archivo.example.org/a"
    broadcast_id = create_broadcast(db, {"en": text, "es": text}, send=False)
    with db.session() as session:
        preview = broadcast.preview(session, broadcast_id, app.config, utcnow())
    assert preview.untracked_links == ["www.coalicion.example.org", "ftp://archivo.example.org/a"]
    assert any("www.coalicion.example.org" in w for w in preview.warnings)

    page = sign_in("organizer", language).get(f"/dashboard/broadcasts/{broadcast_id}")
    shown = page.get_data(as_text=True)
    assert words in shown and "ftp://archivo.example.org/a" in shown


def test_the_composer_can_turn_tracking_off_and_offers_the_click_audiences(db, sign_in):
    organizer = sign_in("organizer")
    form = organizer.get("/dashboard/broadcasts/new").get_data(as_text=True)
    assert 'name="links_as_written"' in form and 'data-link-length="' in form
    data = {"csrf_token": organizer.csrf_token, "name": "Marcha", "text_en": f"Come: {URL}"}
    for as_written in (False, True):
        extra = {"links_as_written": "on"} if as_written else {}
        answer = organizer.post("/dashboard/broadcasts/", data={**data, **extra})
        assert answer.status_code == 302
    with db.session() as session:
        made = session.scalars(select(broadcast.Broadcast).order_by(broadcast.Broadcast.id)).all()
        assert [b.track_links for b in made] == [True, False]
        made[0].started_at = utcnow() - dt.timedelta(hours=1)
        first = made[0].id
    form = organizer.get("/dashboard/broadcasts/new").get_data(as_text=True)
    assert f'<option value="{first}"' in form and 'name="not_clicked"' in form
    counted = organizer.get(f"/dashboard/broadcasts/audience?clicked={first}")
    assert 'data-total="0"' in counted.get_data(as_text=True)
