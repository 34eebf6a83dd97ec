"""`puente broadcast create … --poll` and `puente broadcast poll N`; refused choices."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.broadcasts.models import Broadcast
from bot.contacts.models import Contact
from bot.polls import polls
from bot.polls.models import PollAnswer
from tests.factories import create_contact, create_partner

CREATE = [
    "broadcast", "create", "Marcha", "--text-es", "¿Vienes? Responde SÍ, NO o TAL VEZ",
    "--text-en", "Coming? Reply YES, NO or MAYBE",
]  # fmt: skip


def run(app, *args):
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("SÍ|YES,NO,SI", "Choices 1 and 3 are the same: “SI”."),
        ("Sí|Yes,No|YES", "Choices 1 and 2 are the same: “YES”."),
        ("A, B ,¡a!", "Choices 1 and 3 are the same: “A”."),
        (",".join(str(n) for n in range(11)), "A poll has at most 10 choices; this one has 11."),
        ("SÍ|YES", "A poll needs at least two choices, separated by commas."),
        ("SÍ|YES,,NO", "Choice 2 is empty."),
        ("SÍ|YES|OUI,NO", "Choice 1 has more than one |: write it as Spanish|English."),
        ("SÍ|YES,👍", "Choice 2 needs a letter or a digit in each language."),
    ],
)
def test_refused_choices_say_why(spec, reason):
    with pytest.raises(polls.PollError) as refused:
        polls.parse_choices(spec)
    assert str(refused.value) == reason


def test_ten_choices_and_one_text_for_both_languages_are_fine():
    choices = polls.parse_choices(",".join(f"Opción {n}|Option {n}" for n in range(1, 10)) + ",NO")
    assert len(choices) == 10
    assert choices[-1] == {"value": "no", "es": "NO", "en": "NO"}
    assert choices[0] == {"value": "opcion_1", "es": "Opción 1", "en": "Option 1"}


def test_create_with_a_poll_then_its_tally(app, db):
    frontera = create_partner(db, "frontera", "FRONTERA", "BORDER", "Frontera Unida", "Border")
    result = run(app, *CREATE, "--poll", "SÍ|YES,NO,TAL VEZ|MAYBE")
    assert result.exit_code == 0, result.output
    assert "broadcast 1 created (draft)" in result.output
    with db.session() as session:
        assert session.get(Broadcast, 1).flow_id == polls.FLOW_ID
        poll = polls.for_broadcast(session, 1)
        assert [c["value"] for c in poll.choices] == ["si", "no", "tal_vez"]
        assert polls.flow_answers(session, 1) == {"poll": poll.id, "poll_choices": poll.choices}
    ana, lupe = create_contact(db, "+12135550001", "en"), create_contact(db, "+525512345678")
    with db.session() as session:
        session.get(Contact, lupe).joined_via_id = frontera
        for contact_id, value, language, channel in (
            (ana, "si", "en", "sms"), (lupe, "tal_vez", "es", "whatsapp"),
        ):  # fmt: skip
            session.add(
                PollAnswer(poll_id=poll.id, contact_id=contact_id, choice=value,
                           language=language, channel=channel,
                           organization_id=session.get(Contact, contact_id).joined_via_id)
            )  # fmt: skip
    output = run(app, "broadcast", "poll", "1").output
    assert "broadcast 1: 2 answer(s), 0 changed" in output
    assert "1. SÍ / YES" in output and "50%" in output
    assert "  en: SÍ/YES 1, NO/NO 0, TAL VEZ/MAYBE 0" in output
    assert "  whatsapp: SÍ/YES 0, NO/NO 0, TAL VEZ/MAYBE 1" in output
    assert "  frontera: SÍ/YES 0, NO/NO 0, TAL VEZ/MAYBE 1" in output
    assert "  coalition (direct): SÍ/YES 1, NO/NO 0, TAL VEZ/MAYBE 0" in output


def test_a_refused_poll_creates_no_broadcast(app, db):
    result = run(app, *CREATE, "--poll", "SÍ|YES,SI")
    assert result.exit_code == 1 and "Choices 1 and 2 are the same: “SI”." in result.output
    result = run(app, *CREATE, "--poll", "SÍ|YES,NO", "--flow", "summit_rsvp")
    assert result.exit_code == 1
    assert "A broadcast can carry a poll or a flow, not both." in result.output
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Broadcast)) == 0


def test_poll_of_a_broadcast_without_one(app, db):
    assert run(app, *CREATE).exit_code == 0
    result = run(app, "broadcast", "poll", "1")
    assert result.exit_code == 1 and "broadcast 1 has no poll" in result.output
