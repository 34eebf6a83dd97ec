"""The right to be erased, and a copy of one's data.

`erase` removes one person from every table in one transaction: their
contact, addresses, tags, fields, flow session, consent log, memberships,
RSVPs, deliveries, link clicks, messages both ways (bodies, addresses, media), reports
(answers and media links), and the personal part of their signatures and poll
answers (those still count, with nobody behind them). What is kept is only
what stops Puente from ever texting them again: a keyed hash of the number
with the opt-out (bot.contacts.suppressions). Audit entries about them keep
the fact (who did what, when) and lose their details.

`summary` is what MIS DATOS / MY DATA answers: the kinds of data held, how
many messages, which organizations, whether they signed or reported (never a
report's content), and how to erase it all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from bot import defaults
from bot.accounts.models import AuditEntry
from bot.broadcasts.models import Delivery, Rsvp
from bot.compliance import replies
from bot.compliance.language import guess_language
from bot.contacts import consent, suppressions
from bot.contacts.models import Address, ConsentEvent, Contact, ContactTag, FlowSession
from bot.i18n import gettext
from bot.links.models import LinkClick
from bot.msgs.models import EarlyCallback, Message
from bot.msgs.sending import sender_from_config
from bot.partners.models import MEMBER, Membership, Organization
from bot.petitions.models import Signature
from bot.polls.models import PollAnswer
from bot.reports import media as report_media
from bot.reports import storage
from bot.reports.models import Report, ReportMedia, ReportNote
from bot.text import normalize

CONFIRM_WITHIN = dt.timedelta(minutes=defaults.DEFAULT_ERASURE_CONFIRM_MINUTES)


def confirms_now(contact: Contact, now: dt.datetime) -> bool:
    """Whether the message being handled (BORRAR, DELETE) confirms an erase request.

    Only when it is the very next message after the request (any other reply
    cancels: it moves ``last_seen_at`` on) and comes within `CONFIRM_WITHIN`.
    Read before the message itself touches the contact.
    """
    asked = contact.erasure_asked_at
    return (
        asked is not None
        and contact.last_seen_at == asked
        and dt.timedelta(0) <= now - asked <= CONFIRM_WITHIN
    )


def erase(
    session: Session,
    contact_id: int,
    key: str,
    now: dt.datetime,
    *,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Erase the contact and everything about them; keep their number's suppression.

    With ``config``, their reports' photos, audio and video go too: the stored
    files and any copy still at Twilio (bot.reports.media). Anything the
    session holds is written first and then let go of: the contact's rows are
    gone, and nothing may write them back at commit.
    """
    session.flush()
    phone = session.scalar(select(Contact.phone).where(Contact.id == contact_id))
    if phone is None:
        return
    if config is not None:
        _erase_media(session, contact_id, config)
    addresses = list(
        session.scalars(select(Address.address).where(Address.contact_id == contact_id))
    )
    theirs = or_(Message.contact_id == contact_id, Message.address.in_(addresses))
    message_ids = select(Message.id).where(theirs).scalar_subquery()
    report_ids = select(Report.id).where(Report.contact_id == contact_id).scalar_subquery()
    sids = select(Message.sid).where(theirs, Message.sid.is_not(None)).scalar_subquery()
    for statement in (
        delete(Delivery).where(Delivery.contact_id == contact_id),
        delete(LinkClick).where(LinkClick.contact_id == contact_id),
        delete(Rsvp).where(Rsvp.contact_id == contact_id),
        delete(ReportNote).where(ReportNote.report_id.in_(report_ids)),
        update(Report).where(Report.duplicate_of_id.in_(report_ids)).values(duplicate_of_id=None),
        delete(Report).where(Report.contact_id == contact_id),
        update(Signature)
        .where(Signature.contact_id == contact_id)
        .values(contact_id=None, name=None, postal_code=None, message_sid=None, extra={}),
        update(PollAnswer)
        .where(PollAnswer.contact_id == contact_id)
        .values(contact_id=None, message_sid=None),
        update(AuditEntry).where(AuditEntry.target == f"contact:{contact_id}").values(details={}),
        delete(EarlyCallback).where(EarlyCallback.sid.in_(sids)),
        update(Message).where(Message.in_reply_to_id.in_(message_ids)).values(in_reply_to_id=None),
        delete(Message).where(theirs),
        delete(Membership).where(Membership.contact_id == contact_id),
        delete(ConsentEvent).where(ConsentEvent.contact_id == contact_id),
        delete(FlowSession).where(FlowSession.contact_id == contact_id),
        delete(ContactTag).where(ContactTag.contact_id == contact_id),
        delete(Address).where(Address.contact_id == contact_id),
        delete(Contact).where(Contact.id == contact_id),
    ):
        session.execute(statement, execution_options={"synchronize_session": False})
    session.expunge_all()
    suppressions.suppress(session, phone, key, now)


def _erase_media(session: Session, contact_id: int, config: Mapping[str, Any]) -> None:
    """Their reports' files, and any file they sent that is not filed under a report of
    theirs (an anonymous report's keeps no link to them: the link goes, the file stays)."""
    theirs = list(session.scalars(select(Report.id).where(Report.contact_id == contact_id)))
    report_media.delete_for_reports(
        session, storage.store_for(config), theirs, sender_from_config(config)
    )
    session.execute(
        update(ReportMedia)
        .where(ReportMedia.contact_id == contact_id)
        .values(contact_id=None, message_id=None),
        execution_options={"synchronize_session": False},
    )
    session.flush()


def summary(session: Session, contact: Contact, language: str, settings: Mapping[str, Any]) -> str:
    """MY DATA's answer for this contact, in ``language``."""
    return replies.text(
        replies.MY_DATA, language, settings, **_summary_values(session, contact, language, settings)
    )


def _summary_values(
    session: Session, contact: Contact, language: str, settings: Mapping[str, Any]
) -> dict[str, str]:
    def count(model: Any, *where: Any) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    def say(msgid: str, **values: Any) -> str:
        return gettext(language, msgid, **values)

    kinds = [say(replies.DATA_NUMBER), say(replies.DATA_LANGUAGE)]
    if contact.profile_name or contact.fields.get("name"):
        kinds.append(say(replies.DATA_NAME))
    if contact.fields:
        kinds.append(say(replies.DATA_ANSWERS, count=len(contact.fields)))
    if contact.tags:
        kinds.append(say(replies.DATA_TAGS, count=len(contact.tags)))
    if count(ConsentEvent, ConsentEvent.contact_id == contact.id):
        kinds.append(say(replies.DATA_CONSENT))
    partners = session.scalars(
        select(Organization)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.contact_id == contact.id, Membership.status == MEMBER)
        .order_by(Organization.id)
    ).all()
    organizations = [p.name(language) for p in partners]
    if consent.is_subscribed(contact):  # the coalition itself, first
        organizations.insert(0, settings["ORG_NAME"])
    return {
        "kinds": ", ".join(kinds),
        "messages": str(count(Message, Message.contact_id == contact.id)),
        "organizations": ", ".join(organizations) or say(replies.DATA_NOTHING),
        "signatures": str(count(Signature, Signature.contact_id == contact.id)),
        "reports": str(count(Report, Report.contact_id == contact.id)),
    }


# The confirming words say which language to confirm in; the requests say it too
# (bot.compliance.language guesses whole sentences, not one word).
_CONFIRM_LANGUAGES = {"borrar": "es", "eliminar": "es", "delete": "en", "erase": "en"}


def language_of(text: str) -> str | None:
    """The language an erase request, its confirmation or MY DATA is written in, if clear."""
    guessed = guess_language(text)
    if guessed is not None:
        return guessed
    words = [w for w in normalize(text).split() if w in _CONFIRM_LANGUAGES]
    return _CONFIRM_LANGUAGES[words[0]] if words else None
