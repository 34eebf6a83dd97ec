"""Inbox: what contacts wrote that no flow or keyword handled, answered by hand.

A reply goes through ``bot.msgs.sending.send_to_contact`` like every other
send, so its rules hold here too: nothing to an opted-out contact, no
free-form WhatsApp message outside the 24-hour window.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select, update

from bot.accounts.roles import EDIT, SEND
from bot.contacts.consent import can_receive
from bot.contacts.models import CHANNEL_WHATSAPP, Contact
from bot.db import get_db, get_session, utcnow
from bot.msgs.models import DIRECTION_IN, STATUS_BLOCKED, Message
from bot.msgs.sending import (
    STATUS_SKIPPED_WINDOW,
    in_whatsapp_window,
    send_to_contact,
    sender_from_config,
)
from bot.web.dashboard import scope
from bot.web.dashboard.auth import current_user, record, require
from bot.web.dashboard.language import _

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

PAGE_SIZE = 50
MAX_REPLY = 1600  # Twilio's limit for one message body
FAILED = ("failed", "undelivered")


def waiting() -> Any:
    """Inbound messages nobody has handled yet, of the contacts the scope sees."""
    return select(Message).where(
        Message.direction == DIRECTION_IN, Message.handled_by.is_(None), scope.messages_clause()
    )


@bp.before_request
def _in_scope_only() -> None:
    """A message of a contact the scope may not see is not there (404)."""
    message_id = (request.view_args or {}).get("message_id")
    if message_id is not None:  # a session of its own: the view's writes must not wait
        with get_db().session() as db_session:
            scope.message_or_404(db_session, message_id)


@bp.get("/")
def index() -> str:
    """Messages waiting for an answer, oldest first: first come, first answered."""
    session = get_session()
    rows = session.scalars(waiting().order_by(Message.id).limit(PAGE_SIZE)).all()
    total = session.scalar(select(func.count()).select_from(waiting().subquery())) or 0
    now = utcnow()
    items = []
    for message in rows:
        contact = session.get(Contact, message.contact_id) if message.contact_id else None
        items.append(
            {
                "message": message,
                "contact": contact,
                "can_receive": contact is not None and can_receive(contact),
                "unsupported": message.contact_id is None,  # a short code, messenger:…
                "window_closed": message.channel == CHANNEL_WHATSAPP
                and contact is not None
                and not in_whatsapp_window(contact, now),
            }
        )
    return render_template("dashboard/inbox.html", items=items, total=total, max_reply=MAX_REPLY)


@bp.post("/<int:message_id>/reply")
@require(SEND)
def reply(message_id: int) -> Any:
    """Answer one message through the sending module."""
    body = request.form.get("body", "").strip()
    if not body or len(body) > MAX_REPLY:
        flash(_("Write a reply of 1 to 1600 characters."), "error")
        return redirect(url_for(".index"))
    with get_db().session() as session:
        message = scope.message_or_404(session, message_id)
        if message.direction != DIRECTION_IN or message.contact_id is None:
            abort(404)
        contact_id, channel = message.contact_id, message.channel
    user = current_user()
    outcome = send_to_contact(
        get_db(),
        sender_from_config(current_app.config),
        contact_id,
        channel,
        body,
        extra={"reply_to": message_id, "by_user": user.id if user else None},
    )
    record(
        "inbox.reply", f"contact:{contact_id}",
        message=message_id, reply=outcome.message_id, status=outcome.status,
    )  # fmt: skip
    if _refused(outcome.status, outcome.error_code):
        return redirect(url_for(".index"))
    _mark_handled(contact_id, message_id, f"organizer:{user.id if user else 0}")
    flash(_("Reply sent."), "success")
    return redirect(url_for(".index"))


def _refused(status: str, error_code: int | None) -> bool:
    """Say why a reply did not go out; True when it did not."""
    if status == STATUS_BLOCKED:
        flash(_("Not sent: this contact opted out or their number is invalid."), "error")
    elif status == STATUS_SKIPPED_WINDOW:
        flash(
            _("Not sent: the WhatsApp 24-hour window is closed. Only templates can be sent."),
            "error",
        )
    elif status in FAILED:
        flash(_("Twilio did not accept the reply (error {code}).", code=error_code or "?"), "error")
    else:
        return False
    return True


def _mark_handled(contact_id: int, up_to_id: int, by: str) -> None:
    """An answer handles everything that contact wrote up to the message answered."""
    with get_db().session() as session:
        session.execute(
            update(Message)
            .where(
                Message.contact_id == contact_id,
                Message.direction == DIRECTION_IN,
                Message.handled_by.is_(None),
                Message.id <= up_to_id,
            )
            .values(handled_by=by)
        )


@bp.post("/<int:message_id>/done")
@require(EDIT)
def done(message_id: int) -> Any:
    """Take a message out of the inbox without answering (spam, a thank-you…)."""
    user = current_user()
    with get_db().session() as session:
        message = scope.message_or_404(session, message_id)
        if message.direction != DIRECTION_IN:
            abort(404)
        if message.handled_by is None:
            message.handled_by = f"dismissed:{user.id if user else 0}"
        contact_id = message.contact_id
    record("inbox.dismiss", f"contact:{contact_id}", message=message_id)
    flash(_("Marked as done."), "success")
    return redirect(url_for(".index"))
