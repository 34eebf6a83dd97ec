"""Photos, audio and video in reports: from Twilio into Puente's own storage, then gone there.

A file a reporter sends during the report flow stays at Twilio (behind the
account's credentials) only until the worker's reconcile pass fetches it:
``attach`` makes it the report's, pending, when the report is filed;
``fetch_due`` downloads it (capped in size and type), keeps it in the store,
deletes it from Twilio and forgets Twilio's URL in the message. A refused file
is deleted from Twilio too and the reporter is told why, in their language. A
fetch that fails is retried a minute later, ``MAX_ATTEMPTS`` times in all; then
the report is kept without it. ``delete_for_reports`` removes every stored file
of some reports (retention, a person's erasure).

A photo can identify the reporter or others: only admins and verifiers see the
files (``bot.web.dashboard.reports``), and every view is audited.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.channels import twilio
from bot.contacts.models import Contact
from bot.db import Database
from bot.i18n import N_, gettext
from bot.msgs import sending
from bot.msgs.models import DIRECTION_IN, Message
from bot.reports.models import (
    MEDIA_FAILED,
    MEDIA_PENDING,
    MEDIA_REFUSED,
    MEDIA_STORED,
    Report,
    ReportMedia,
)
from bot.reports.storage import LocalStore

log = logging.getLogger(__name__)

# What WhatsApp and MMS deliver of photos, voice notes, audio and video.
ALLOWED_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "audio/ogg",
        "audio/mpeg",
        "audio/amr",
        "audio/mp4",
        "video/mp4",
        "video/3gpp",
    }
)
MAX_ATTEMPTS = 3
RETRY_AFTER = dt.timedelta(minutes=1)
BATCH = 10  # files per reconcile pass: the pass must stay short

TOO_LARGE = N_("We could not keep your file: it is larger than {mb} MB. Your report was kept.")
WRONG_TYPE = N_(
    "We could not keep your file: we keep only photos, audio and video. Your report was kept."
)
NOT_FETCHED = N_("We could not keep your file: it could not be downloaded. Your report was kept.")


def attach(session: Session, report: Report, contact_id: int, since: dt.datetime) -> int:
    """The media the reporter sent since the flow started become the report's, pending.

    Returns how many files it got (the report is flushed for its id only then).
    """
    rows = session.execute(
        select(Message.id, Message.media).where(
            Message.contact_id == contact_id,
            Message.direction == DIRECTION_IN,
            Message.created_at >= since,
        )
    ).all()
    found = [
        (message_id, item)
        for message_id, items in rows
        for item in items or []
        if isinstance(item, dict) and item.get("url")
    ]
    if found:
        session.flush()  # the report's id
    for message_id, item in found:
        session.add(
            ReportMedia(
                report_id=report.id,
                message_id=message_id,
                contact_id=contact_id,
                twilio_url=item["url"],
                content_type=str(item.get("type") or "").lower()[:128],
                status=MEDIA_PENDING,
                attempts=0,
                created_at=report.created_at,
            )
        )
    return len(found)


def fetch_due(
    db: Database, sender: twilio.Sender, store: LocalStore, max_bytes: int, now: dt.datetime
) -> int:
    """Fetch pending files (new ones now, failed ones a minute later); returns how many."""
    retry_before = now - RETRY_AFTER
    with db.session() as session:
        due = session.scalars(
            select(ReportMedia.id)
            .where(
                or_(
                    and_(
                        ReportMedia.status == MEDIA_PENDING,
                        or_(ReportMedia.attempts == 0, ReportMedia.attempted_at < retry_before),
                    ),
                    # handled, but Twilio's copy could not be deleted: try again
                    and_(
                        ReportMedia.status != MEDIA_PENDING,
                        ReportMedia.twilio_url.is_not(None),
                        ReportMedia.attempted_at < retry_before,
                    ),
                )
            )
            .order_by(ReportMedia.id)
            .limit(BATCH)
        ).all()
    for media_id in due:
        try:
            fetch_one(db, sender, store, max_bytes, media_id, now)
        except Exception:  # noqa: BLE001 - one bad file must not stop reconcile
            log.exception("report media %s: could not be handled", media_id)
    return len(due)


def fetch_one(
    db: Database,
    sender: twilio.Sender,
    store: LocalStore,
    max_bytes: int,
    media_id: int,
    now: dt.datetime,
) -> str:
    """Fetch, keep or refuse one file; returns its status."""
    with db.session() as session:
        media = session.get_one(ReportMedia, media_id)
        url, declared, status, attempts = (
            media.twilio_url or "",
            media.content_type,
            media.status,
            media.attempts,
        )
    values: dict[str, Any] = {"attempted_at": now}
    refusal = None
    if status == MEDIA_PENDING:
        values["attempts"] = attempts + 1
        values.update(_fetched(sender, store, max_bytes, url, declared, attempts + 1))
        status = values["status"]
        refusal = values.pop("refusal", None)
    handled = status != MEDIA_PENDING
    foreign = twilio.media_ids(sender, url) is None  # not this account's: nothing to delete
    if handled and (foreign or twilio.delete_media(sender, url)):
        values["twilio_url"] = None
    with db.session() as session:
        media = session.get_one(ReportMedia, media_id)
        for key, value in values.items():
            setattr(media, key, value)
        contact_id, channel = media.contact_id, "whatsapp"
        if handled:
            message = session.get(Message, media.message_id) if media.message_id else None
            if message is not None:
                channel = message.channel
                _forget_url(message, url)
            media.message_id = media.contact_id = None  # no link to the reporter is kept
    log.info("report media %s: %s", media_id, status)
    if refusal is not None and contact_id is not None:
        _tell_reporter(db, sender, contact_id, channel, refusal, max_bytes, now)
    return status


def _fetched(
    sender: twilio.Sender,
    store: LocalStore,
    max_bytes: int,
    url: str,
    declared: str,
    attempt: int,
) -> dict[str, Any]:
    """The row's new values after one try: stored, refused (and why), failed or still pending."""
    if declared and declared not in ALLOWED_TYPES:
        return {"status": MEDIA_REFUSED, "error": f"type {declared[:60]}", "refusal": WRONG_TYPE}
    got = twilio.fetch_media(sender, url, max_bytes)
    if got.too_large:
        return {"status": MEDIA_REFUSED, "error": "too large", "refusal": TOO_LARGE}
    if got.content is None:
        return _not_fetched(got.error or "failed", retryable=got.retryable, attempt=attempt)
    actual = got.content_type or declared
    if actual not in ALLOWED_TYPES:
        return {"status": MEDIA_REFUSED, "error": f"type {actual[:60]}", "refusal": WRONG_TYPE}
    try:
        key = store.put(got.content)
    except OSError as exc:  # a full or missing disk: like a failed fetch, tried again
        log.error("report media: the store could not keep a file (%s)", type(exc).__name__)
        return _not_fetched(type(exc).__name__, retryable=True, attempt=attempt)
    return {
        "status": MEDIA_STORED,
        "key": key,
        "size": len(got.content),
        "content_type": actual,
        "error": None,
    }


def _not_fetched(error: str, *, retryable: bool, attempt: int) -> dict[str, Any]:
    """Pending again (retried a minute later) or, after the last attempt, failed and told."""
    if retryable and attempt < MAX_ATTEMPTS:
        return {"status": MEDIA_PENDING, "error": error[:200]}
    return {"status": MEDIA_FAILED, "error": error[:200], "refusal": NOT_FETCHED}


def _forget_url(message: Message, url: str) -> None:
    """The message keeps what it carried (the type) but not Twilio's URL, nor which report."""
    message.media = [
        {"type": item.get("type", ""), "kept": True}
        if isinstance(item, dict) and item.get("url") == url
        else item
        for item in message.media or []
    ]


def _tell_reporter(
    db: Database,
    sender: twilio.Sender,
    contact_id: int,
    channel: str,
    msgid: str,
    max_bytes: int,
    now: dt.datetime,
) -> None:
    with db.session() as session:
        contact = session.get(Contact, contact_id)
        language = contact.language if contact is not None else "es"
    text = gettext(language, msgid, mb=max_bytes // (1024 * 1024))
    sending.send_to_contact(db, sender, contact_id, channel, text, now=now)


def for_report(session: Session, report_id: int) -> list[ReportMedia]:
    """The report's files, oldest first."""
    return list(
        session.scalars(
            select(ReportMedia).where(ReportMedia.report_id == report_id).order_by(ReportMedia.id)
        )
    )


def delete_for_reports(
    session: Session,
    store: LocalStore,
    report_ids: Iterable[int],
    sender: twilio.Sender | None = None,
) -> int:
    """Delete every file of these reports: in the store, at Twilio if still there, and the rows.

    For retention and a person's erasure. Returns how many files there were.
    """
    ids = list(report_ids)
    if not ids:
        return 0
    rows = list(session.scalars(select(ReportMedia).where(ReportMedia.report_id.in_(ids))))
    for media in rows:
        if media.key:
            store.delete(media.key)
        if media.twilio_url and sender is not None:
            twilio.delete_media(sender, media.twilio_url)
        message = session.get(Message, media.message_id) if media.message_id else None
        if message is not None and media.twilio_url:
            _forget_url(message, media.twilio_url)
        session.delete(media)
    return len(rows)
