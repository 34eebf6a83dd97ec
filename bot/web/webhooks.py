"""Twilio's webhooks: inbound messages and status callbacks.

Both check X-Twilio-Signature against the URL Twilio called, rebuilt from
PUBLIC_URL (behind a TLS-terminating proxy, request.url is not that URL).
"""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, current_app, request

from bot import queue
from bot.channels.twilio import twiml_reply, validate_signature
from bot.db import get_db, utcnow
from bot.exceptions import InvalidWebhook
from bot.inbound import MAX_SID, SID, Inbound, clean, number, receive
from bot.msgs.models import STATUS_ORDER
from bot.msgs.replies import SEND_REPLIES_JOB, take_back
from bot.msgs.sending import apply_status_callback
from bot.sending.process import redis_url

log = logging.getLogger(__name__)
bp = Blueprint("twilio", __name__, url_prefix="/twilio")


def public_url_of_request() -> str:
    """The URL Twilio signed: PUBLIC_URL plus the path and query it called."""
    query = request.query_string.decode()
    return current_app.config["PUBLIC_URL"] + request.path + (f"?{query}" if query else "")


def signed(view: Any) -> Any:
    """Refuse (403) any request without a valid Twilio signature."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        params = request.form.to_dict()  # reading the form enforces MAX_CONTENT_LENGTH (413)
        if current_app.config["TWILIO_VALIDATE_SIGNATURE"]:
            signature = request.headers.get("X-Twilio-Signature", "")
            token = current_app.config["TWILIO_AUTH_TOKEN"]
            if not validate_signature(token, public_url_of_request(), params, signature):
                log.warning("refused a request with a bad Twilio signature on %s", request.path)
                abort(403)
        return view(params, *args, **kwargs)

    return checked


@bp.post("/messages")
@signed
def messages(params: dict[str, str]) -> Response:
    """An inbound SMS or WhatsApp message; replies go back as TwiML."""
    try:
        inbound = Inbound.from_params(params)
    except InvalidWebhook:
        abort(400)
    flows = current_app.extensions.get("puente.flows")
    replies = receive(get_db(), inbound, current_app.config, utcnow(), flows)
    if any(r.queued for r in replies):  # WhatsApp buttons or a list: sent by the REST API
        if _queue_replies(inbound.sid):
            return Response(twiml_reply([]), mimetype="application/xml")
        xml = twiml_reply(take_back(get_db(), inbound.sid))  # no queue: as numbered text
        return Response(xml, mimetype="application/xml")
    xml = twiml_reply([(r.body, list(r.media_urls)) for r in replies])
    return Response(xml, mimetype="application/xml")


def _queue_replies(inbound_sid: str) -> bool:
    """Queue the job that sends this turn's replies; False when there is no queue."""
    url = redis_url(current_app.config)
    if not url:
        return False
    connection = current_app.extensions.get("puente.replies_queue")
    if connection is None:
        connection = current_app.extensions["puente.replies_queue"] = queue.connect(url)
    return queue.try_enqueue(
        connection, queue.QUEUE_HIGH, SEND_REPLIES_JOB, inbound_sid, job_id=f"replies-{inbound_sid}"
    )


@bp.post("/status")
@signed
def status(params: dict[str, str]) -> Response:
    """A status callback for a message we sent (an unknown status or SID gets 400)."""
    sid = clean(params.get("MessageSid") or params.get("SmsSid"), MAX_SID + 1)
    new_status = clean(params.get("MessageStatus") or params.get("SmsStatus"), 32).lower()
    if not SID.fullmatch(sid) or new_status not in STATUS_ORDER:
        abort(400)
    error = number(params.get("ErrorCode"))
    apply_status_callback(get_db(), sid, new_status, error, utcnow())
    return Response("", status=204)
