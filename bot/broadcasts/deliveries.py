"""Sending a batch of deliveries: rules, quiet hours, throttle, the send, the record.

One delivery goes through these states (bot.broadcasts.models):

    pending/queued --claim--> sending --Twilio--> sent | failed | blocked | unknown
                                              \\-> queued again (429/5xx backoff,
                                                   WhatsApp rate limit pause)

The claim is a conditional UPDATE (only from pending/queued), committed before
the API call: two jobs on the same batch never send one delivery twice, and a
process that dies leaves "sending", which reconcile settles by asking Twilio
before anything is sent again. Sends run in a thread pool, each waiting for its
slot in the sender's shared throttle right before the API call.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update

from bot import i18n
from bot.broadcasts import quiet_hours
from bot.broadcasts.models import (
    ACTIVE_BROADCAST_STATUSES,
    DELIVERY_BLOCKED,
    DELIVERY_FAILED,
    DELIVERY_QUEUED,
    DELIVERY_SENDING,
    DELIVERY_SENT,
    DELIVERY_SKIPPED_EXPIRED,
    DELIVERY_SKIPPED_NO_CONSENT,
    DELIVERY_SKIPPED_OPTED_OUT,
    DELIVERY_SKIPPED_WINDOW,
    DELIVERY_UNKNOWN,
    OPEN_DELIVERY_STATUSES,
    Broadcast,
    Delivery,
    Event,
    Reminder,
)
from bot.broadcasts.runtime import Runtime
from bot.channels import twilio
from bot.channels.errors import Effect, retry_limit
from bot.contacts.models import CHANNEL_SMS, CHANNEL_WHATSAPP, STATUS_ACTIVE, Contact, FlowSession
from bot.db import utcnow
from bot.msgs.models import STATUS_BLOCKED
from bot.msgs.sending import STATUS_SKIPPED_WINDOW, Outcome, in_whatsapp_window, send_to_contact
from bot.text import sms_segments

log = logging.getLogger(__name__)

SLICE_S = 10.0  # a send job stops claiming after this long and queues itself again
MAX_ATTEMPTS = 5  # 429 / 5xx retries before a delivery fails
MAX_BACKOFF_S = 300
STATUS_CHECK_S = 1.0  # how often a running job re-reads pause/cancel


@dataclass(frozen=True)
class Plan:
    """What every delivery of a broadcast shares, read once per job."""

    broadcast_id: int
    texts: Mapping[str, str]
    default_language: str
    media_urls: tuple[str, ...]
    content_sid: str | None
    content_variables: Mapping[str, str]
    flow_id: str | None
    expires_at: dt.datetime | None
    event: Event | None = None
    org_name: str = ""

    def text(self, language: str) -> str:
        return self.texts.get(language) or self.texts[self.default_language]


@dataclass
class BatchResult:
    """What one job did with its batch."""

    statuses: dict[str, int] = field(default_factory=dict)
    next_at: dt.datetime | None = None  # earliest time something left must be tried again
    left: int = 0  # not tried: out of time, or the broadcast was paused

    def add(self, status: str, when: dt.datetime | None = None) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if when is not None and (self.next_at is None or when < self.next_at):
            self.next_at = when


class Liveness:
    """Whether the broadcast is still sending, re-read at most once a second."""

    def __init__(
        self,
        runtime: Runtime,
        broadcast_id: int,
        deadline: float,
        heartbeat: Callable[[], None] = lambda: None,
    ) -> None:
        self.runtime = runtime
        self.heartbeat = heartbeat
        self.broadcast_id = broadcast_id
        self.deadline = deadline
        self.lock = threading.Lock()
        self.checked_at = 0.0
        self.active = True

    def go_on(self) -> bool:
        """True while there is time left and the broadcast is not paused or canceled."""
        if time.monotonic() > self.deadline:
            return False
        with self.lock:
            if time.monotonic() - self.checked_at > STATUS_CHECK_S:
                with self.runtime.db.session() as session:
                    status = session.scalar(
                        select(Broadcast.status).where(Broadcast.id == self.broadcast_id)
                    )
                self.active = status in ACTIVE_BROADCAST_STATUSES
                self.checked_at = time.monotonic()
                self.heartbeat()
            return self.active


def load_plan(runtime: Runtime, broadcast_id: int) -> Plan | None:
    """The broadcast's plan, or None when it is not sending."""
    with runtime.db.session() as session:
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.status not in ACTIVE_BROADCAST_STATUSES:
            return None
        event = None
        if broadcast.reminder_id is not None:
            reminder = session.get(Reminder, broadcast.reminder_id)
            if reminder is not None and reminder.event_id is not None:
                event = session.get(Event, reminder.event_id)
        return Plan(
            broadcast.id,
            dict(broadcast.texts),
            broadcast.default_language,
            tuple(broadcast.media_urls),
            broadcast.content_sid,
            dict(broadcast.content_variables),
            broadcast.flow_id,
            broadcast.expires_at,
            event,
            runtime.config.get("ORG_NAME", ""),
        )


def send_batch(
    runtime: Runtime,
    broadcast_id: int,
    batch: int,
    slice_s: float = SLICE_S,
    heartbeat: Callable[[], None] = lambda: None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> BatchResult:
    """Send what is due in one batch, until it is done or ``slice_s`` has passed.

    ``heartbeat`` is called about once a second while the job goes on;
    ``clock`` is "now" for quiet hours and the WhatsApp window (tests freeze it).
    """
    result = BatchResult()
    plan = load_plan(runtime, broadcast_id)
    if plan is None:
        return result
    now = clock()
    with runtime.db.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.contact_id, Delivery.channel, Delivery.send_after)
            .where(
                Delivery.broadcast_id == broadcast_id,
                Delivery.batch == batch,
                Delivery.status.in_(OPEN_DELIVERY_STATUSES),
            )
            .order_by(Delivery.id)
        ).all()
        due = [r for r in rows if r.send_after is None or r.send_after <= now]
        for r in rows:
            if r.send_after is not None and r.send_after > now:
                result.add(DELIVERY_QUEUED, r.send_after)
        contacts = _contacts(session, [r.contact_id for r in due])
    liveness = Liveness(runtime, broadcast_id, time.monotonic() + slice_s, heartbeat)
    threads = send_threads(runtime, len(due))
    warm_up(runtime, threads)
    lock = threading.Lock()

    def one(row: Any) -> None:
        status, when = deliver(
            runtime, plan, row.id, contacts[row.contact_id], row.channel, liveness
        )
        with lock:
            if status is None:
                result.left += 1
            else:
                result.add(status, when)

    if due:
        with ThreadPoolExecutor(threads, thread_name_prefix="send") as pool:
            list(pool.map(one, due))
    return result


def send_threads(runtime: Runtime, due: int) -> int:
    """Enough threads for the senders' rates (calls in flight: rate x ~0.3 s), no more.

    Idle threads are not free: each one woken for its slot competes for the GIL.
    """
    rate = max(runtime.limit(CHANNEL_SMS).rate_per_s, runtime.limit(CHANNEL_WHATSAPP).rate_per_s)
    wanted = max(2, math.ceil(rate * 0.3))
    return max(1, min(int(runtime.config.get("SEND_THREADS", 256)), wanted, due))


def warm_up(runtime: Runtime, threads: int) -> None:
    """Build the Twilio client with a connection per sending thread, before any slot."""
    twilio.size_pool(runtime.sender, threads)


def _contacts(session: Any, ids: list[int]) -> dict[int, Contact]:
    contacts: dict[int, Contact] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for contact in session.scalars(select(Contact).where(Contact.id.in_(chunk))):
            contacts[contact.id] = contact
    session.expunge_all()
    return contacts


def deliver(
    runtime: Runtime,
    plan: Plan,
    delivery_id: int,
    contact: Contact,
    channel: str,
    liveness: Liveness,
    clock: Callable[[], dt.datetime] = utcnow,
) -> tuple[str | None, dt.datetime | None]:
    """Try one delivery; returns (its new status, when to try again) or (None, None) if left."""
    if not liveness.go_on():
        return None, None
    now = clock()
    skip = _skip_reason(contact)
    if skip:
        return _settle(runtime, delivery_id, skip, now), None
    wait_until = _wait_until(runtime, plan, contact, channel, now)
    if wait_until is not None:
        if plan.expires_at is not None and wait_until >= plan.expires_at:
            return _settle(runtime, delivery_id, DELIVERY_SKIPPED_EXPIRED, now), None
        _requeue(runtime, delivery_id, wait_until, now)
        return DELIVERY_QUEUED, wait_until
    template = channel == CHANNEL_WHATSAPP and not in_whatsapp_window(contact, now)
    if template and not plan.content_sid:
        return _settle(runtime, delivery_id, DELIVERY_SKIPPED_WINDOW, now), None
    if not claim(runtime, delivery_id, now):
        return None, None  # another job has it
    return _send(runtime, plan, delivery_id, contact, channel, template, now)


def _skip_reason(contact: Contact) -> str | None:
    if contact.status != STATUS_ACTIVE:
        return DELIVERY_SKIPPED_OPTED_OUT
    if contact.opted_in_at is None:
        return DELIVERY_SKIPPED_NO_CONSENT
    return None


def _wait_until(
    runtime: Runtime, plan: Plan, contact: Contact, channel: str, now: dt.datetime
) -> dt.datetime | None:
    """When the contact's quiet hours or the sender's pause end; None to send now."""
    allowed = quiet_hours.next_allowed(now, contact.timezone, contact.country, runtime.window)
    if allowed > now:
        return allowed
    paused = runtime.throttle.paused_for(runtime.limit(channel).sender)
    if paused > 0:
        return now + dt.timedelta(seconds=paused)
    return None


def claim(runtime: Runtime, delivery_id: int, now: dt.datetime) -> bool:
    """Take the delivery for sending (committed before the API call); False if taken."""
    with runtime.db.session() as session:
        taken = session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.status.in_(OPEN_DELIVERY_STATUSES),
                or_(Delivery.send_after.is_(None), Delivery.send_after <= now),
            )
            .values(
                status=DELIVERY_SENDING,
                claimed_at=now,
                attempts=Delivery.attempts + 1,
                updated_at=now,
            )
        )
        return taken.rowcount == 1


def _settle(
    runtime: Runtime,
    delivery_id: int,
    status: str,
    now: dt.datetime,
    message_id: int | None = None,
    error_code: int | None = None,
) -> str:
    """Give a delivery its final (or unknown) state."""
    with runtime.db.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=status, message_id=message_id, error_code=error_code, updated_at=now)
        )
    return status


def _requeue(
    runtime: Runtime,
    delivery_id: int,
    when: dt.datetime,
    now: dt.datetime,
    error_code: int | None = None,
) -> None:
    with runtime.db.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=DELIVERY_QUEUED, send_after=when, error_code=error_code, updated_at=now)
        )


def body_for(plan: Plan, contact: Contact) -> str:
    """The text in the contact's language, with an event's {name} {place} {when} filled in."""
    text = plan.text(contact.language)
    if plan.event is None:
        return text
    values = event_values(plan.event, contact.language, contact.timezone)
    return fill(text, {"org_name": plan.org_name, **values})


class _KeepUnknown(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(text: str, values: Mapping[str, str]) -> str:
    """Fill the {placeholders} we know; an organizer's stray brace never breaks a send."""
    try:
        return text.format_map(_KeepUnknown(values))
    except (ValueError, IndexError):
        return text


def event_values(event: Event, language: str, timezone: str | None) -> dict[str, str]:
    """An event's name, place and time as this contact reads them."""

    def pick(values: Mapping[str, str]) -> str:
        return values.get(language) or next(iter(values.values()), "")

    return {
        "name": pick(event.names),
        "place": pick(event.places),
        "when": i18n.format_datetime(event.starts_at, language, timezone or event.timezone),
    }


def _send(
    runtime: Runtime,
    plan: Plan,
    delivery_id: int,
    contact: Contact,
    channel: str,
    template: bool,
    now: dt.datetime,
) -> tuple[str, dt.datetime | None]:
    """Send a claimed delivery and record what Twilio said."""
    body = body_for(plan, contact)
    limit = runtime.limit(channel)
    weight = sms_segments(body).segments if channel == CHANNEL_SMS else 1

    def wait_for_slot() -> None:
        runtime.throttle.acquire(limit, max(weight, 1), bulk=True)

    variables = _variables(plan, contact) if template else None
    outcome = send_to_contact(
        runtime.db,
        runtime.sender,
        contact.id,
        channel,
        None if template else body,
        media_urls=() if template else plan.media_urls,
        content_sid=plan.content_sid if template else None,
        content_variables=variables,
        extra={"broadcast_id": plan.broadcast_id, "delivery_id": delivery_id},
        now=now,
        before_api_call=wait_for_slot,
    )
    if outcome.effect is Effect.OUTSIDE_WHATSAPP_WINDOW and not template and plan.content_sid:
        return _send(runtime, plan, delivery_id, contact, channel, True, now)
    return record(runtime, plan, delivery_id, contact, channel, outcome)


def _variables(plan: Plan, contact: Contact) -> dict[str, str]:
    if plan.event is None:
        return dict(plan.content_variables)
    values = event_values(plan.event, contact.language, contact.timezone)
    return {k: v.format(**values) for k, v in plan.content_variables.items()}


def record(
    runtime: Runtime,
    plan: Plan,
    delivery_id: int,
    contact: Contact,
    channel: str,
    outcome: Outcome,
) -> tuple[str, dt.datetime | None]:
    """What the sending module's outcome means for the delivery."""
    now = utcnow()
    if outcome.sid:
        _settle(runtime, delivery_id, DELIVERY_SENT, now, outcome.message_id)
        if plan.flow_id:
            start_flow(runtime, contact.id, plan.flow_id, now)
        return DELIVERY_SENT, None
    if outcome.status == STATUS_BLOCKED:
        return _settle(runtime, delivery_id, DELIVERY_BLOCKED, now, outcome.message_id), None
    if outcome.status == STATUS_SKIPPED_WINDOW or outcome.effect is Effect.OUTSIDE_WHATSAPP_WINDOW:
        status = DELIVERY_SKIPPED_WINDOW
        return _settle(
            runtime, delivery_id, status, now, outcome.message_id, outcome.error_code
        ), None
    if outcome.effect is Effect.UNKNOWN_FATE:
        status = DELIVERY_UNKNOWN  # reconcile asks Twilio before anything is sent again
        return _settle(runtime, delivery_id, status, now, outcome.message_id), None
    if outcome.effect is Effect.RATE_LIMITED_PAUSE_CHANNEL:
        pause_s = int(runtime.config.get("WHATSAPP_PAUSE_S", 600))
        runtime.throttle.pause(runtime.limit(channel).sender, pause_s)
        when = now + dt.timedelta(seconds=pause_s)
        _requeue(runtime, delivery_id, when, now, outcome.error_code)
        return DELIVERY_QUEUED, when
    if outcome.retryable and _attempts(runtime, delivery_id) < _max_attempts(outcome.error_code):
        when = now + backoff(_attempts(runtime, delivery_id))
        _requeue(runtime, delivery_id, when, now, outcome.error_code)
        return DELIVERY_QUEUED, when
    status = DELIVERY_FAILED
    return _settle(runtime, delivery_id, status, now, outcome.message_id, outcome.error_code), None


def _attempts(runtime: Runtime, delivery_id: int) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(Delivery.attempts).where(Delivery.id == delivery_id)) or 0


def _max_attempts(error_code: int | None) -> int:
    return retry_limit(error_code) or MAX_ATTEMPTS


def backoff(attempts: int) -> dt.timedelta:
    """Exponential backoff with jitter: about 1 s, 2 s, 4 s… up to five minutes."""
    seconds = min(2 ** max(attempts - 1, 0), MAX_BACKOFF_S)
    return dt.timedelta(seconds=seconds * (1 + random.random() * 0.25))


def start_flow(runtime: Runtime, contact_id: int, flow_id: str, now: dt.datetime) -> None:
    """Route the contact's replies to ``flow_id``: a session waiting at its first step.

    The broadcast's text stands in for what the flow would have said first
    (the poll's or the RSVP's question), so its answer goes to that step.
    """
    from bot.flows.engine import Session

    expires = now + dt.timedelta(hours=23)
    first_step = flow_id
    flows = _flows(runtime)
    flow = flows.get(flow_id) if flows is not None else None
    if flow is not None and flow.first_step is not None:
        first_step = flow.first_step.id
        expires = now + flow.expire_after
    data = Session(flow_id, first_step, True, 0, now, expires, {}).to_dict()
    data["started_by"] = "broadcast"
    with runtime.db.session() as session:
        existing = session.get(FlowSession, contact_id)
        if existing is None:
            session.add(
                FlowSession(
                    contact_id=contact_id,
                    flow_id=flow_id,
                    expires_at=expires,
                    data=data,
                    updated_at=now,
                )
            )
        else:
            existing.flow_id, existing.expires_at, existing.data = flow_id, expires, data
            existing.updated_at = now


_loaded_flows: dict[str, Any] = {}


def _flows(runtime: Runtime) -> Any:
    """The FlowSet from FLOWS_DIR (loaded once per process), or None."""
    from bot.conversations import FLOWS_DIR

    directory = runtime.config.get("FLOWS_DIR") or FLOWS_DIR
    if directory not in _loaded_flows:
        try:
            from bot.flows.loader import load_flows

            _loaded_flows[directory] = load_flows(directory)
        except Exception:  # noqa: BLE001 - a broken flow folder must not stop a broadcast
            log.exception("could not load flows from %s", directory)
            _loaded_flows[directory] = None
    return _loaded_flows[directory]
