"""Polls: a broadcast's choices, and each recipient's answer (the latest counts).

``puente broadcast create … --poll "SÍ|YES,NO,TAL VEZ|MAYBE"``: up to 10 choices,
each "Spanish|English" (one text for both without ``|``). The broadcast then
leaves its recipients waiting in flows/poll.yaml, whose ``poll_answer`` step
matches a reply to a choice (bot.flows.steps.poll_answer.match); `answer`
records it, once per person (a unique key), and says so in their language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.broadcasts.broadcast import PETITION_FLOW, BroadcastError
from bot.broadcasts.models import Broadcast
from bot.contacts.models import Contact
from bot.flows.answers import parse_yes_no
from bot.flows.engine import Output
from bot.flows.steps.poll_answer import choice_phrases
from bot.i18n import N_, gettext
from bot.polls.models import Poll, PollAnswer
from bot.text import normalize

FLOW_ID = "poll"  # flows/poll.yaml: its one step records the answers
MAX_CHOICES = 10
MAX_CHOICE_LENGTH = 40

# What a contact is told ({choice} in their language).
RECORDED = N_("Got it: {choice}. Thanks!")
CHANGED = N_("Changed to {choice}.")
TEXTS = (RECORDED, CHANGED)
ONE_ROUTE = N_("A broadcast can carry a poll or a flow, not both.")
YES_SIGNS = N_(
    "On a petition call, YES and NO answer the petition: choice %(number)s reads as a yes "
    "or a no. Give the poll other choices."
)


class PollError(BroadcastError):
    """A poll that cannot be made as asked; ``str()`` is an English msgid, filled in."""

    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid)
        self.msgid, self.values = msgid, values

    def __str__(self) -> str:
        return self.msgid % self.values if self.values else self.msgid


def parse_choices(spec: str) -> list[dict[str, str]]:
    """ "SÍ|YES,NO,TAL VEZ|MAYBE" -> [{"value": "si", "es": "SÍ", "en": "YES"}, …].

    Raises PollError for fewer than 2 or more than 10 choices, an empty or too long
    one, and two that read the same once case, accents and punctuation are ignored
    (a reply could not tell them apart).
    """
    parts = [p.strip() for p in (spec or "").split(",")]
    if len(parts) > MAX_CHOICES:
        raise PollError(
            N_("A poll has at most %(most)s choices; this one has %(count)s."),
            most=MAX_CHOICES, count=len(parts),
        )  # fmt: skip
    if len(parts) < 2:
        raise PollError(N_("A poll needs at least two choices, separated by commas."))
    choices, seen = [], {}
    for number, part in enumerate(parts, 1):
        texts = [t.strip() for t in part.split("|")]
        if len(texts) > 2:
            raise PollError(
                N_("Choice %(number)s has more than one |: write it as Spanish|English."),
                number=number,
            )
        es, en = texts[0], texts[-1]
        if not es or not en:
            raise PollError(N_("Choice %(number)s is empty."), number=number)
        if max(len(es), len(en)) > MAX_CHOICE_LENGTH:
            raise PollError(
                N_("Choice %(number)s is longer than %(most)s characters."),
                number=number, most=MAX_CHOICE_LENGTH,
            )  # fmt: skip
        choice = {"value": "", "es": es, "en": en}
        phrases = choice_phrases(choice)
        if not normalize(es) or not normalize(en):
            raise PollError(
                N_("Choice %(number)s needs a letter or a digit in each language."),
                number=number,
            )
        for phrase in phrases:
            if phrase in seen:
                raise PollError(
                    N_("Choices %(first)s and %(second)s are the same: “%(text)s”."),
                    first=seen[phrase], second=number, text=phrase.upper(),
                )  # fmt: skip
            seen[phrase] = number
        choice["value"] = phrases[0].replace(" ", "_")[:64]
        choices.append(choice)
    return choices


def attach(session: Session, broadcast: Broadcast, choices: list[dict[str, str]]) -> Poll:
    """Give a draft broadcast its poll: its replies then go to the poll flow.

    A petition call may carry a poll too: YES / SÍ still signs, so the poll's
    choices may not read as a yes or a no.
    """
    if broadcast.flow_id not in (None, FLOW_ID, PETITION_FLOW):
        raise PollError(ONE_ROUTE)
    if broadcast.petition_id is not None:
        for number, choice in enumerate(choices, 1):
            if any(parse_yes_no(p) is not None for p in choice_phrases(choice)):
                raise PollError(YES_SIGNS, number=number)
    broadcast.flow_id = FLOW_ID
    poll = Poll(broadcast_id=broadcast.id, choices=[dict(c) for c in choices])
    session.add(poll)
    session.flush()
    return poll


def for_broadcast(session: Session, broadcast_id: int) -> Poll | None:
    return session.scalar(select(Poll).where(Poll.broadcast_id == broadcast_id))


def flow_answers(session: Session, broadcast_id: int) -> dict[str, Any]:
    """What the poll flow knows of its replies from the start: the poll and its choices."""
    poll = for_broadcast(session, broadcast_id)
    if poll is None:
        return {}
    choices = [{k: c[k] for k in ("value", "es", "en")} for c in poll.choices]
    return {"poll": poll.id, "poll_choices": choices}


def answer(
    session: Session,
    contact: Contact,
    poll_id: int,
    value: str,
    now: dt.datetime,
    how: Mapping[str, str | None],
) -> list[Output]:
    """Record the contact's answer (their own message only) and confirm it, or the change."""
    poll = session.get(Poll, poll_id)
    choice = poll.choice(value) if poll is not None else None
    if choice is None or not how.get("message_sid"):
        return []
    row = session.scalar(
        select(PollAnswer).where(PollAnswer.poll_id == poll_id, PollAnswer.contact_id == contact.id)
    )
    msgid = RECORDED
    if row is None:
        session.add(
            PollAnswer(
                poll_id=poll_id, contact_id=contact.id, choice=value,
                language=contact.language, channel=how.get("channel"),
                organization_id=contact.joined_via_id, answered_at=now,
                message_sid=how.get("message_sid"),
            )
        )  # fmt: skip
    elif row.choice != value:
        row.changed_from, row.choice, row.answered_at = row.choice, value, now
        row.language, row.channel = contact.language, how.get("channel")
        row.message_sid = how.get("message_sid")
        msgid = CHANGED
    language = contact.language
    return [Output(gettext(language, msgid, choice=Poll.label(choice, language)))]
