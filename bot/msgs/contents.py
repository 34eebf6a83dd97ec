"""The Content API contents of questions' WhatsApp buttons and lists, made once and reused.

A content is keyed by a hash of everything it says: its kind, language, text,
options and the numbered text it carries for other channels. The first contact
to get a question in a language makes its content; everyone after reuses its
``HX…`` sid from the ``whatsapp_contents`` table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.channels import twilio
from bot.db import Database, utcnow
from bot.flows.turn import Interactive, Option
from bot.msgs.models import WhatsAppContent

log = logging.getLogger(__name__)


def to_json(interactive: Interactive) -> dict[str, Any]:
    """The form as stored with a queued reply (``messages.extra``)."""
    return dataclasses.asdict(interactive)


def from_json(data: dict[str, Any]) -> Interactive:
    options = tuple(Option(**option) for option in data["options"])
    return Interactive(data["kind"], data["body"], options, data.get("button", ""))


def content_hash(interactive: Interactive, text: str, language: str) -> str:
    """sha256 of the kind, language, text and options: equal contents, equal hashes."""
    whole = {"form": to_json(interactive), "text": text, "language": language}
    encoded = json.dumps(whole, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def content_sid_for(
    db: Database, sender: twilio.Sender, interactive: Interactive, text: str, language: str
) -> str | None:
    """The content's sid, made now if it was never made; None when the API refused it.

    Two workers making the same content at once both create it at Twilio; the
    first row stays and the other's content is simply never used again.
    """
    key = content_hash(interactive, text, language)
    with db.session() as session:
        known = session.scalar(
            select(WhatsAppContent.content_sid).where(WhatsAppContent.hash == key)
        )
    if known is not None:
        return known
    types = twilio.content_types(interactive, text)
    sid = twilio.create_content(sender, f"puente_{key[:16]}", language, types)
    if sid is None:
        return None
    try:
        with db.session() as session:
            row = WhatsAppContent(
                hash=key, content_sid=sid, kind=interactive.kind, language=language,
                created_at=utcnow(),
            )  # fmt: skip
            session.add(row)
    except IntegrityError:  # made by another worker meanwhile: theirs is as good
        log.info("content %s was made twice; keeping the first", key[:16])
    return sid
