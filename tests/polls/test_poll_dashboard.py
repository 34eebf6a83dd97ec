"""A poll from the dashboard's new-broadcast form, and its tally on the broadcast's page."""

from __future__ import annotations

from bot.broadcasts import broadcast
from bot.broadcasts.models import Broadcast
from bot.db import utcnow
from bot.polls import polls
from bot.polls.models import PollAnswer
from tests.factories import create_contact, create_partner

TEXTS = {
    "text_es": "¿Vienes a la marcha? Responde SÍ, NO o TAL VEZ.",
    "text_en": "Coming to the march? Reply YES, NO or MAYBE.",
}
POLL = "SÍ|YES,NO,TAL VEZ|MAYBE"


def compose(client, **fields):
    data = {"csrf_token": client.csrf_token, "name": "Marcha", **TEXTS, **fields}
    return client.post("/dashboard/broadcasts/", data=data)


def test_a_poll_from_the_form_and_its_tally_on_the_page(sign_in, db):
    frontera = create_partner(db, "frontera", "FRONTERA", "BORDER", "Frontera Unida", "Border")
    ana = create_contact(db, "+12135550001", "en")
    lupe = create_contact(db, "+525512345678", "es")
    client = sign_in("organizer")
    assert 'name="poll"' in client.get("/dashboard/broadcasts/new").get_data(as_text=True)
    response = compose(client, poll=POLL)
    assert response.status_code == 302, response.data
    broadcast_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with db.session() as session:
        assert session.get(Broadcast, broadcast_id).flow_id == polls.FLOW_ID
        poll = polls.for_broadcast(session, broadcast_id)
        broadcast.send(session, broadcast_id, utcnow())
        for contact_id, value, language, via in (
            (ana, "si", "en", None), (lupe, "si", "es", frontera),
        ):  # fmt: skip
            session.add(
                PollAnswer(poll_id=poll.id, contact_id=contact_id, choice=value,
                           language=language, channel="sms", organization_id=via,
                           changed_from="no" if via else None)
            )  # fmt: skip
    page = client.get(f"/dashboard/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert 'id="poll-panel"' in page and 'data-live="true"' in page
    assert "2 answers" in page and "changed: 1" in page
    assert "1. YES" in page and "(SÍ)" in page and "100%" in page
    assert "Border" in page and "Coalition (direct)" in page
    assert 'id="chart-poll-title"' in page
    panel = client.get(f"/dashboard/broadcasts/{broadcast_id}/poll").get_data(as_text=True)
    assert panel.lstrip().startswith("<div") or 'id="poll-panel"' in panel
    copied = client.get(f"/dashboard/broadcasts/new?copy={broadcast_id}").get_data(as_text=True)
    assert 'value="SÍ|YES,NO,TAL VEZ|MAYBE"' in copied

    spanish = sign_in("admin", "es")
    page = spanish.get(f"/dashboard/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert "1. SÍ" in page and "(YES)" in page and "2 respuestas" in page
    assert "Frontera Unida" in page and "Coalición (directo)" in page


def test_refused_choices_are_explained_in_the_pages_language_and_the_form_kept(sign_in, db):
    client = sign_in("organizer")
    response = compose(client, poll="SÍ|YES,NO,si")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choices 1 and 3 are the same: “SI”." in page
    assert 'value="SÍ|YES,NO,si"' in page
    eleven = ",".join(f"O{n}" for n in range(11))
    spanish = sign_in("admin", "es")
    page = compose(spanish, poll=eleven).get_data(as_text=True)
    assert "Una encuesta tiene como máximo 10 opciones; esta tiene 11." in page
    page = compose(spanish, poll="SÍ|YES,NO", flow_id="join").get_data(as_text=True)
    assert "Un envío puede llevar una encuesta o un flujo, no ambos." in page
    with db.session() as session:
        assert session.query(Broadcast).count() == 0
