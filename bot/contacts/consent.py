"""Consent: opt-in, opt-out, re-opt-in and help, each written to the consent log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.contacts.models import (
    CONSENT_HELP,
    CONSENT_OPT_IN,
    CONSENT_OPT_OUT,
    CONSENT_RE_OPT_IN,
    STATUS_ACTIVE,
    STATUS_INVALID,
    STATUS_OPTED_OUT,
    ConsentEvent,
    Contact,
    FlowSession,
)


def can_receive(contact: Contact) -> bool:
    """Whether anything at all may be sent to this contact now."""
    return status_can_receive(contact.status)


def status_can_receive(status: str) -> bool:
    """`can_receive` for a contact status read on its own (bulk sends re-read only it)."""
    return status == STATUS_ACTIVE


def is_subscribed(contact: Contact) -> bool:
    """Whether broadcasts may go to this contact (active and opted in)."""
    return contact.status == STATUS_ACTIVE and contact.opted_in_at is not None


def log(
    session: Session,
    contact: Contact,
    kind: str,
    now: dt.datetime,
    *,
    source: str,
    channel: str | None = None,
    words: str | None = None,
    message_sid: str | None = None,
) -> ConsentEvent:
    """Append one event to the contact's consent log."""
    event = ConsentEvent(
        contact_id=contact.id,
        kind=kind,
        channel=channel,
        words=words,
        message_sid=message_sid,
        source=source,
        created_at=now,
    )
    session.add(event)
    return event


def opt_out(session: Session, contact: Contact, now: dt.datetime, **how: str | None) -> None:
    """Stop everything for this contact and end any conversation in progress."""
    contact.status = STATUS_OPTED_OUT
    contact.opted_out_at = now
    session.query(FlowSession).filter_by(contact_id=contact.id).delete()
    log(session, contact, CONSENT_OPT_OUT, now, **how)  # type: ignore[arg-type]


def opt_in(session: Session, contact: Contact, now: dt.datetime, **how: str | None) -> str:
    """Record an opt-in (or a re-opt-in after STOP); returns the kind logged."""
    kind = CONSENT_RE_OPT_IN if contact.opted_out_at is not None else CONSENT_OPT_IN
    contact.status = STATUS_ACTIVE  # also clears "invalid": they just wrote from it
    contact.opted_in_at = now
    log(session, contact, kind, now, **how)  # type: ignore[arg-type]
    return kind


def help_requested(session: Session, contact: Contact, now: dt.datetime, **how: str | None) -> None:
    """Keep a HELP request in the consent log (part of the compliance record)."""
    log(session, contact, CONSENT_HELP, now, **how)  # type: ignore[arg-type]


def mark_invalid(contact: Contact) -> None:
    """The number cannot receive messages (21211, 21614, 30006)."""
    if contact.status == STATUS_ACTIVE:
        contact.status = STATUS_INVALID
