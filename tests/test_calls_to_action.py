"""Issue 12's "done when", end to end: a petition call with a link and a poll, in two
variants, to a bilingual audience; people sign by replying and by keyword, click and
answer; the results show each count by language and by variant.

| who | language | does |
| --- | --- | --- |
| es1 | es | replies SÍ (signs), then MARCHA (the poll) |
| es2 | es | answers 2 (the poll), then texts FIRMO (signs by keyword) |
| es3 | es | a WhatsApp preview (no click), two clicks (one), sí twice (signs once) |
| es4 | es | nothing |
| en1 | en | replies YES (signs), clicks, answers MARCH |
| en2 | en | texts SIGN twice (one signature) |
| en3 | en | HEAD and a Slackbot preview of the link (no click), answers ONLINE |
| en4 | en | "maybe later": nothing recorded, left for the inbox |
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter

import pytest
from sqlalchemy import select

from bot.broadcasts import fanout
from bot.broadcasts.models import Delivery
from bot.db import utcnow
from bot.petitions import petitions
from bot.petitions.models import Signature
from bot.polls.models import Poll, PollAnswer
from bot.polls.tally import broadcast_results
from bot.sending import batches
from tests.factories import contact_by_phone, create_contact
from tests.settings import PUBLIC_URL
from tests.twilio_requests import text
from tests.workers import in_process, worker_env

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)

URL = "https://coalicion.example.org/armas"
SHORT = re.compile(re.escape(PUBLIC_URL) + r"(/l/[A-Za-z0-9_-]{20})")
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Version/17.1 Safari/604.1"
PHONES = {
    "es1": "+12135550131", "es2": "+12135550132", "es3": "+12135550133", "es4": "+12135550134",
    "en1": "+12135550135", "en2": "+12135550136", "en3": "+12135550137", "en4": "+12135550138",
}  # fmt: skip


@pytest.fixture
def env(app, database_url, redis_url, fake_twilio_server):
    return worker_env(
        database_url, redis_url, fake_twilio_server[1], SECRET_KEY=app.config["SECRET_KEY"],
        SMS_RATE_PER_S="40", SETTLE_AFTER_S="60",
    )  # fmt: skip


def cli(app, *args: str) -> str:
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_petition_call_with_a_link_and_a_poll_counts_everything_by_language_and_variant(
    app, client, db, env, fake_twilio, sign_in
):
    with db.session() as session:
        petitions.create(
            session, "armas",
            titles={"es": "Alto al tráfico de armas", "en": "Stop gun trafficking"},
            texts={"es": "Pedimos…", "en": "We ask…"}, target="SRE", target_country="MX",
            goal=1000, keywords={"es": ["FIRMO"], "en": ["SIGN"]}, flows=None, now=utcnow(),
        )  # fmt: skip
    for who, phone in PHONES.items():
        create_contact(db, phone, who[:2], fields={"name": f"Persona {who}", "zip": "78701"})
    created = cli(
        app, "broadcast", "create", "Armas",
        "--text-es", f"Firma para frenar las armas: {URL} Responde SÍ. ¿Marcha o en línea?",
        "--text-en", f"Sign to stop the guns: {URL} Reply YES. March or online?",
        "--variant-b-es", f"¡Las armas cruzan cada día! Firma: {URL} Responde SÍ. ¿Marcha?",
        "--variant-b-en", f"Guns cross every day! Sign: {URL} Reply YES. March?",
        "--petition", "armas", "--poll", "MARCHA|MARCH,EN LÍNEA|ONLINE", "--seed", "7",
    )  # fmt: skip
    broadcast_id = int(re.search(r"broadcast (\d+) created", created).group(1))
    cli(app, "broadcast", "send", str(broadcast_id))
    runtime = in_process(env)
    fanout.fan_out(runtime.db, broadcast_id, utcnow(), 500, lambda _batch: None)
    batches.send_batch(runtime, broadcast_id, 0)

    sent = {m["to"]: m["body"] for m in fake_twilio.outbox()}
    assert sorted(sent) == sorted(PHONES.values())
    ids = {who: contact_by_phone(db, phone).id for who, phone in PHONES.items()}
    with db.session() as session:
        variant = dict(
            session.execute(
                select(Delivery.contact_id, Delivery.variant).where(
                    Delivery.broadcast_id == broadcast_id
                )
            ).all()
        )
        choices = {c["en"]: c["value"] for c in session.scalars(select(Poll.choices)).one()}
    of = {who: variant[ids[who]] for who in PHONES}
    assert set(of.values()) == {"A", "B"}  # seed 7 splits these eight both ways
    for who, phone in PHONES.items():  # each got their variant, in their language
        body = sent[phone]
        assert ("Las armas cruzan" in body or "Guns cross" in body) == (of[who] == "B")
        assert ("Firma" in body) == (who[:2] == "es")
    link = {who: SHORT.search(sent[phone]).group(1) for who, phone in PHONES.items()}

    def say(who: str, words: str) -> list[str]:
        return text(client, PHONES[who], words)

    def visit(who: str, agent: str = BROWSER, method: str = "GET") -> None:
        answer = client.open(link[who], method=method, headers={"User-Agent": agent})
        assert answer.status_code == 302 and answer.headers["Location"] == URL

    assert "Eres la firma número 1." in say("es1", "SÍ")[0]
    assert say("es1", "MARCHA") == ["Anotado: MARCHA. ¡Gracias!"]
    say("es2", "2")
    assert "Eres la firma número 2." in say("es2", "FIRMO")[0]
    visit("es3", "WhatsApp/2.23.20.0 A")
    visit("es3")
    visit("es3")
    assert "número 3" in say("es3", "sí")[0]
    assert "Ya firmaste" in say("es3", "sí")[0]  # nobody signs twice
    assert "signature number 4" in say("en1", "YES")[0]
    visit("en1")
    say("en1", "MARCH")
    assert "signature number 5" in say("en2", "SIGN")[0]
    assert "already signed" in say("en2", "SIGN")[0]
    visit("en3", method="HEAD")
    visit("en3", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")
    say("en3", "ONLINE")
    assert say("en4", "maybe later") == []  # not an answer: the inbox's
    app.extensions["puente.links"].clicks.flush()

    with db.session() as session:
        signed = session.scalars(select(Signature.contact_id)).all()
        answered = dict(session.execute(select(PollAnswer.contact_id, PollAnswer.choice)).all())
        found = broadcast_results(session, broadcast_id)
    assert sorted(signed) == sorted(ids[w] for w in ("es1", "es2", "es3", "en1", "en2"))
    assert answered == {
        ids["es1"]: choices["MARCH"], ids["es2"]: choices["ONLINE"],
        ids["en1"]: choices["MARCH"], ids["en3"]: choices["ONLINE"],
    }  # fmt: skip

    def count(*who: str) -> Counter[str]:
        return Counter(of[w] for w in who)

    assert found.by("sent", "language") == {"es": 4, "en": 4}
    assert found.by("signed", "language") == {"es": 3, "en": 2}
    assert found.by("signed", "variant") == count("es1", "es2", "es3", "en1", "en2")
    assert found.by("answered", "language") == {"es": 2, "en": 2}
    assert found.by("answered", "variant") == count("es1", "es2", "en1", "en3")
    assert found.by("answered", "reason") == {choices["MARCH"]: 2, choices["ONLINE"]: 2}
    assert found.by("clicked", "language") == {"es": 1, "en": 1}  # previews and HEAD: none
    assert found.by("clicked", "variant") == count("es3", "en1")
    replied = ("es1", "es2", "es3", "en1", "en2", "en3", "en4")
    assert found.by("replied", "variant") == count(*replied)

    organizer = sign_in("organizer", "es")
    page = organizer.get(f"/dashboard/broadcasts/{broadcast_id}/results")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for shown in ("Respuestas a la encuesta", "MARCHA", "EN LÍNEA", URL):
        assert shown in html
    by_language = html.split('id="chart-results-language-title"')[1].split("</figure>")[0]
    for bar in (
        "Firmaron la petición en 72 horas: 3",
        "Firmaron la petición en 72 horas: 2",
        "Clics únicos (todos los enlaces): 1",
    ):
        assert bar in by_language, bar  # the chart shows what the call achieved
    rows = list(csv.reader(io.StringIO(
        organizer.get(f"/dashboard/broadcasts/{broadcast_id}/results.csv").get_data(as_text=True)
    )))  # fmt: skip
    header, data = rows[0], rows[1:]
    assert header[-1] == "variant"
    totals: Counter[tuple[str, str, str]] = Counter()
    for figure, language, _channel, _partner, number, variant_of in data:
        totals[(figure.split(".")[0], language, variant_of)] += int(number)
    expected_by = {
        "signed": ("es1", "es2", "es3", "en1", "en2"),
        "answered": ("es1", "es2", "en1", "en3"),
        "clicked": ("es3", "en1"),
    }
    for figure, who in expected_by.items():
        expected = Counter((figure, w[:2], of[w]) for w in who)
        assert {k: v for k, v in totals.items() if k[0] == figure} == expected


def test_a_petition_calls_poll_may_not_have_a_yes_or_a_no(app, db):
    with db.session() as session:
        petitions.create(
            session, "armas", titles={"es": "Alto", "en": "Stop"}, texts={"es": "…", "en": "…"},
            target="SRE", goal=10, keywords={"es": ["FIRMO"], "en": ["SIGN"]}, flows=None,
            now=utcnow(),
        )  # fmt: skip
    with app.app_context():
        result = app.test_cli_runner().invoke(
            args=[
                "broadcast",
                "create",
                "Armas",
                "--text-es",
                "Firma",
                "--text-en",
                "Sign",
                "--petition",
                "armas",
                "--poll",
                "SÍ|YES,NO",
            ]  # fmt: skip
        )
    assert result.exit_code == 1
    assert "YES and NO answer the petition: choice 1 reads as a yes or a no" in result.output
