"""A broadcast's deliveries: rules, quiet hours, the claim, the record.

One delivery goes through these states (bot.broadcasts.models):

    pending/queued --claim--> sending --Twilio--> sent | failed | blocked | unknown
                                              \\-> queued again (429/5xx backoff,
                                                   WhatsApp rate limit pause)

The claim is a conditional UPDATE (only from pending/queued), committed with
the message rows before the API call: two jobs on the same batch never send
one delivery twice, and a process that dies leaves "sending", which reconcile
settles by asking Twilio before anything is sent again.

Inside a job a delivery takes three shapes, one per stage: a `DueDelivery`
(read from its batch: its time has come), a `SendableDelivery` (`triage` let
it through: rules, consent and quiet hours) and a `ClaimedDelivery` (`claim`
took it and wrote its message row: what the pacer sends).

The database work is done in chunks (one transaction claims a chunk and writes
its messages; one records a tenth of a second's answers); the sends themselves
are paced to the sender's throttle slots on an asyncio loop
(`bot.sending.pacing`), for one batch at a time (`bot.sending.batches`).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot import conversations, i18n
from bot.broadcasts.models import (
    ACTIVE_BROADCAST_STATUSES,
    DELIVERY_BLOCKED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
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
from bot.broadcasts.variants import VARIANT_B
from bot.channels import twilio
from bot.channels.errors import Consequence, retry_limit
from bot.contacts.models import (
    CHANNEL_SMS,
    CHANNEL_WHATSAPP,
    STATUS_ACTIVE,
    Contact,
    Recipient,
    recipients,
)
from bot.db import update_by_id, utcnow
from bot.links import clicks, codes
from bot.msgs import sending
from bot.msgs.models import STATUS_BLOCKED, STATUS_PENDING
from bot.msgs.sending import STATUS_SKIPPED_WINDOW, Draft, Outcome, in_whatsapp_window
from bot.partners.models import Organization
from bot.petitions.models import Petition
from bot.polls import polls
from bot.sending import quiet_hours
from bot.sending.process import Runtime
from bot.text import sms_segments

log = logging.getLogger(__name__)

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
    sender: twilio.Sender | None = None  # a partner's own number or service, else the runtime's
    flow_answers: Mapping[str, Any] = field(default_factory=dict)  # the petition, the poll
    variant_texts: Mapping[str, str] = field(default_factory=dict)  # an A/B test's B
    links: codes.Tracker = field(default_factory=codes.untracked)  # per-recipient short links

    def text(self, language: str, variant: str | None = None) -> str:
        """The text in the language (else the default one), of variant B when asked."""
        texts = self.variant_texts if variant == VARIANT_B and self.variant_texts else self.texts
        return texts.get(language) or texts[self.default_language]


class DueDelivery(NamedTuple):
    """A delivery whose time has come, not checked yet (plain data: it crosses to the
    bookkeeping process)."""

    id: int
    contact_id: int
    channel: str
    variant: str | None = None  # an A/B test's "A" or "B"


@dataclass
class BatchResult:
    """What one job did with its batch."""

    statuses: dict[str, int] = field(default_factory=dict)
    next_at: dt.datetime | None = None  # earliest time something left must be tried again
    left: int = 0  # not tried: out of time, or the broadcast was paused
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: str, when: dt.datetime | None = None) -> None:
        with self.lock:  # the claiming and the recording threads both add
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if when is not None and (self.next_at is None or when < self.next_at):
                self.next_at = when

    def merge(self, statuses: Mapping[str, int], next_at: dt.datetime | None) -> None:
        """Add what another process did with part of the batch."""
        with self.lock:
            for status, count in statuses.items():
                self.statuses[status] = self.statuses.get(status, 0) + count
            if next_at is not None and (self.next_at is None or next_at < self.next_at):
                self.next_at = next_at


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
            runtime.config["ORG_NAME"],
            _partner_sender(session, runtime.sender, broadcast.organization_id),
            _flow_answers(session, broadcast),
            dict(broadcast.variant_texts or {}),
            clicks.tracker(session, broadcast.id, broadcast.track_links, runtime.config),
        )


def _flow_answers(session: Session, broadcast: Broadcast) -> dict[str, Any]:
    """What the replies' flow knows already: the petition and the poll the broadcast carries."""
    known: dict[str, Any] = {}
    if broadcast.flow_id == polls.FLOW_ID:
        known.update(polls.flow_answers(session, broadcast.id))
    if broadcast.petition_id is not None:
        slug = session.scalar(select(Petition.slug).where(Petition.id == broadcast.petition_id))
        if slug:
            known["petition"] = slug
    return known


def _partner_sender(
    session: Session, coalition: twilio.Sender, organization_id: int | None
) -> twilio.Sender | None:
    """A partner's broadcast goes from the partner's own sender when it has one.

    Its own number sends its SMS; WhatsApp stays on the coalition's sender
    unless the partner has its own Messaging Service. Both must be in the
    coalition's Twilio account (status callbacks and reconcile use it).
    """
    if organization_id is None:
        return None
    partner = session.get(Organization, organization_id)
    if partner is None or not (partner.sender or partner.messaging_service_sid):
        return None
    return replace(
        coalition,
        messaging_service_sid=partner.messaging_service_sid,
        sms_from=partner.sender or coalition.sms_from,
        whatsapp_service_sid=None if coalition.whatsapp_from else coalition.messaging_service_sid,
    )


@dataclass(frozen=True)
class SendableDelivery:
    """A delivery that may be sent now: rules, consent and quiet hours checked, not claimed."""

    delivery_id: int
    contact: Contact | Recipient
    channel: str
    template: bool  # WhatsApp outside the 24-hour window: the approved template
    variant: str | None = None  # an A/B test's "A" or "B": whose text it gets


@dataclass(frozen=True)
class ClaimedDelivery:
    """A claimed delivery with its message row written: what the pacer sends.

    Plain data (no database object): it crosses from the process that claims
    to the one that sends.
    """

    delivery_id: int
    contact_id: int
    channel: str
    template: bool
    message_id: int
    address: str
    attempts: int
    draft: Draft
    weight: int  # throttle slots it takes (see `weight_of`)
    send_before: dt.datetime  # after this, reconcile may send it again: never send it late

    @classmethod
    def of(
        cls,
        runtime: Runtime,
        item: SendableDelivery,
        made: sending.Prepared,
        attempts: int,
        now: dt.datetime,
    ) -> ClaimedDelivery:
        return cls(
            item.delivery_id,
            item.contact.id,
            item.channel,
            item.template,
            made.message_id,
            made.address,
            attempts,
            made.draft,
            weight_of(made.draft),
            now + send_within(runtime),
        )


def send_within(runtime: Runtime) -> dt.timedelta:
    """How long after its claim a delivery may still be sent: half of SETTLE_AFTER_S.

    Reconcile settles a delivery left "sending" for SETTLE_AFTER_S by asking
    Twilio, and queues it again if Twilio does not have it. A send held up past
    this (a Redis outage stalls the loop) is dropped instead, so it can never
    reach Twilio after reconcile decided it never would.
    """
    return dt.timedelta(seconds=runtime.config["SETTLE_AFTER_S"] / 2)


def weight_of(draft: Draft) -> int:
    """Throttle slots a send takes: its SMS segments (Twilio counts each), 1 on WhatsApp."""
    if draft.channel != CHANNEL_SMS or not draft.body:
        return 1
    return _segments(codes.masked(draft.body))  # one count for all of a text's short links


@functools.lru_cache(maxsize=1024)
def _segments(body: str) -> int:
    """A broadcast has one text per language (a few more with event times): cache them."""
    return max(sms_segments(body).segments, 1)


def more_due(
    runtime: Runtime, broadcast_id: int, channel: str, now: dt.datetime, limit: int
) -> list[DueDelivery]:
    """Due deliveries of the broadcast on ``channel``, from any batch (lowest first).

    A job whose own batch is done keeps its sender busy with these until its
    slice ends, instead of stopping and starting a new job (a restart leaves
    the sender idle for a moment, and batches sent side by side end together).
    Claims are conditional, so two jobs on one batch still send each once.
    """
    with runtime.db.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.contact_id, Delivery.channel, Delivery.variant)
            .where(
                Delivery.broadcast_id == broadcast_id,
                Delivery.channel == channel,
                Delivery.status.in_(OPEN_DELIVERY_STATUSES),
                or_(Delivery.send_after.is_(None), Delivery.send_after <= now),
            )
            .order_by(Delivery.batch, Delivery.id)
            .limit(limit)
        ).all()
    return [DueDelivery(r.id, r.contact_id, r.channel, r.variant) for r in rows]


def take(
    runtime: Runtime, plan: Plan, rows: Sequence[DueDelivery], now: dt.datetime, result: BatchResult
) -> list[ClaimedDelivery]:
    """One chunk of due deliveries: read their contacts, settle or put off what must not
    go now (`triage`), and claim the rest (`claim`). Run in a thread beside the loop.
    """
    with runtime.db.session() as session:
        contacts = recipients(session, [r.contact_id for r in rows])
    return claim(runtime, plan, triage(runtime, plan, rows, contacts, now, result), now)


def triage(
    runtime: Runtime,
    plan: Plan,
    due: Sequence[Any],
    contacts: Mapping[int, Contact | Recipient],
    now: dt.datetime,
    result: BatchResult,
) -> list[SendableDelivery]:
    """Settle what must not be sent, put off what must wait, return what may go now.

    Skips and waits are written in one transaction; nothing here calls Twilio.
    """
    items: list[SendableDelivery] = []
    settle: list[dict[str, Any]] = []
    paused = {
        channel: runtime.throttle.paused_for(runtime.limit(channel).sender)
        for channel in {r.channel for r in due}
    }
    for row in due:
        contact = contacts[row.contact_id]
        status, when = _triage_one(runtime, plan, contact, row.channel, paused, now)
        if status is None:
            template = row.channel == CHANNEL_WHATSAPP and not in_whatsapp_window(contact, now)
            items.append(SendableDelivery(row.id, contact, row.channel, template, row.variant))
            continue
        settle.append(_values(row.id, status, now, send_after=when))
        result.add(status, when)
    if settle:
        with runtime.db.session() as session:
            # Only rows still open: another job reading the broadcast (more_due)
            # may have claimed, sent and recorded one since this job read it.
            still_open = or_(
                Delivery.status == DELIVERY_PENDING, Delivery.status == DELIVERY_QUEUED
            )
            update_by_id(session, Delivery, settle, only_if=still_open)
    return items


def _triage_one(
    runtime: Runtime,
    plan: Plan,
    contact: Contact | Recipient,
    channel: str,
    paused: Mapping[str, float],
    now: dt.datetime,
) -> tuple[str | None, dt.datetime | None]:
    """(status, when) for a delivery that is not sent now; (None, None) to send it."""
    skip = _skip_reason(contact)
    if skip:
        return skip, None
    wait_until = quiet_hours.next_allowed(now, contact.timezone, contact.country, runtime.window)
    if wait_until <= now and paused[channel] > 0:
        wait_until = now + dt.timedelta(seconds=paused[channel])
    if wait_until > now:
        if plan.expires_at is not None and wait_until >= plan.expires_at:
            return DELIVERY_SKIPPED_EXPIRED, None
        return DELIVERY_QUEUED, wait_until
    template = channel == CHANNEL_WHATSAPP and not in_whatsapp_window(contact, now)
    if template and not plan.content_sid:
        return DELIVERY_SKIPPED_WINDOW, None
    return None, None


def _skip_reason(contact: Contact | Recipient) -> str | None:
    if contact.status != STATUS_ACTIVE:
        return DELIVERY_SKIPPED_OPTED_OUT
    if contact.opted_in_at is None:
        return DELIVERY_SKIPPED_NO_CONSENT
    return None


def _values(
    delivery_id: int,
    status: str,
    now: dt.datetime,
    message_id: int | None = None,
    error_code: int | None = None,
    send_after: dt.datetime | None = None,
) -> dict[str, Any]:
    """One delivery's new state, for a bulk UPDATE by primary key (same keys in every row)."""
    return {
        "id": delivery_id,
        "status": status,
        "message_id": message_id,
        "error_code": error_code,
        "send_after": send_after,
        "updated_at": now,
    }


def claim(
    runtime: Runtime, plan: Plan, items: Sequence[SendableDelivery], now: dt.datetime
) -> list[ClaimedDelivery]:
    """Take deliveries for sending and write their messages, in one transaction.

    Only deliveries still open and due are taken (another job may have some);
    the sending module reads each contact again and refuses anyone who opted
    out since the batch was loaded (the delivery ends "blocked"). Committed
    before any API call.
    """
    if not items:
        return []
    with runtime.db.session() as session:
        taken = dict(
            session.execute(
                update(Delivery)
                .where(
                    Delivery.id.in_([i.delivery_id for i in items]),
                    Delivery.status.in_(OPEN_DELIVERY_STATUSES),
                    or_(Delivery.send_after.is_(None), Delivery.send_after <= now),
                )
                .values(
                    status=DELIVERY_SENDING,
                    claimed_at=now,
                    attempts=Delivery.attempts + 1,
                    updated_at=now,
                )
                .returning(Delivery.id, Delivery.attempts)
                .execution_options(synchronize_session=False)
            ).all()
        )
        mine = [i for i in items if i.delivery_id in taken]
        known = {i.contact.id: i.contact for i in mine}
        prepared = sending.prepare_many(session, [draft_for(plan, i) for i in mine], now, known)
        claimed, links = [], []
        for item, made in zip(mine, prepared, strict=True):
            if made.status == STATUS_PENDING:
                claimed.append(
                    ClaimedDelivery.of(runtime, item, made, taken[item.delivery_id], now)
                )
                links.append(_values(item.delivery_id, DELIVERY_SENDING, now, made.message_id))
            else:
                status = DELIVERY_BLOCKED if made.status == STATUS_BLOCKED else made.status
                links.append(_values(item.delivery_id, status, now, made.message_id))
        if links:
            update_by_id(session, Delivery, links)
    return claimed


def draft_for(plan: Plan, item: SendableDelivery) -> Draft:
    """The message for one delivery: the text in the contact's language, or the template."""
    extra = {"broadcast_id": plan.broadcast_id, "delivery_id": item.delivery_id}
    if item.template:
        variables = _variables(plan, item.contact)
        return Draft(
            item.contact.id,
            item.channel,
            None,
            content_sid=plan.content_sid,
            content_variables=variables,
            extra=extra,
        )
    body = plan.links.rewrite(body_for(plan, item.contact, item.variant), item.contact.id)
    return Draft(item.contact.id, item.channel, body, plan.media_urls, extra=extra)


def record(
    runtime: Runtime,
    plan: Plan,
    done: Sequence[tuple[ClaimedDelivery, twilio.SendResult]],
    result: BatchResult,
) -> None:
    """Store Twilio's answers and settle their deliveries, in one transaction."""
    if not done:
        return
    now = utcnow()
    with runtime.db.session() as session:
        outcomes = sending.record_many(
            session, [(r.message_id, r.contact_id, res) for r, res in done], now
        )
        values, sent = [], []
        for (claimed, _res), outcome in zip(done, outcomes, strict=True):
            status, when, error_code = decide(runtime, claimed, outcome, now)
            values.append(
                _values(claimed.delivery_id, status, now, outcome.message_id, error_code, when)
            )
            result.add(status, when)
            if status == DELIVERY_SENT:
                sent.append(claimed.contact_id)
        update_by_id(session, Delivery, values)
        if plan.flow_id and sent:
            conversations.start_flows(
                session, runtime.flows, sent, plan.flow_id, now, plan.flow_answers
            )


def decide(
    runtime: Runtime, claimed: ClaimedDelivery, outcome: Outcome, now: dt.datetime
) -> tuple[str, dt.datetime | None, int | None]:
    """What the sending module's outcome means for the delivery: (status, retry at, code)."""
    code = outcome.error_code
    if outcome.sid:
        return DELIVERY_SENT, None, None
    if outcome.status == STATUS_BLOCKED:
        return DELIVERY_BLOCKED, None, code
    if (
        outcome.status == STATUS_SKIPPED_WINDOW
        or outcome.consequence is Consequence.OUTSIDE_WHATSAPP_WINDOW
    ):
        return DELIVERY_SKIPPED_WINDOW, None, code
    if outcome.consequence is Consequence.UNKNOWN_FATE:
        return DELIVERY_UNKNOWN, None, code  # reconcile asks Twilio before sending again
    if outcome.consequence is Consequence.RATE_LIMITED_PAUSE_CHANNEL:
        pause_s = runtime.config["WHATSAPP_PAUSE_S"]
        runtime.throttle.pause(runtime.limit(claimed.channel).sender, pause_s)
        return DELIVERY_QUEUED, now + dt.timedelta(seconds=pause_s), code
    if outcome.retryable and claimed.attempts < _max_attempts(code):
        return DELIVERY_QUEUED, now + backoff(claimed.attempts), code
    return DELIVERY_FAILED, None, code


def retry_with_template(
    runtime: Runtime, plan: Plan, claimed: ClaimedDelivery, first: twilio.SendResult
) -> ClaimedDelivery | None:
    """Twilio said the contact is outside the WhatsApp window (63016): record that
    answer and write the template message instead (None when there is no template).
    """
    if claimed.template or not plan.content_sid:
        return None
    now = utcnow()
    with runtime.db.session() as session:
        contact = session.get_one(Contact, claimed.contact_id)
        item = SendableDelivery(claimed.delivery_id, contact, claimed.channel, True)
        sending.record_many(session, [(claimed.message_id, contact.id, first)], now)
        (made,) = sending.prepare_many(session, [draft_for(plan, item)], now)
        update_by_id(
            session, Delivery, [_values(item.delivery_id, DELIVERY_SENDING, now, made.message_id)]
        )
    if made.status != STATUS_PENDING:
        return None
    retry = ClaimedDelivery.of(runtime, item, made, claimed.attempts, now)
    return replace(retry, send_before=claimed.send_before)  # the time of the first claim


def body_for(plan: Plan, contact: Contact | Recipient, variant: str | None = None) -> str:
    """The text (of the delivery's variant) in the contact's language, with an event's
    {name} {place} {when} filled in."""
    text = plan.text(contact.language, variant)
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


def _variables(plan: Plan, contact: Contact | Recipient) -> dict[str, str]:
    if plan.event is None:
        return dict(plan.content_variables)
    values = event_values(plan.event, contact.language, contact.timezone)
    return {k: v.format(**values) for k, v in plan.content_variables.items()}


def _max_attempts(error_code: int | None) -> int:
    return retry_limit(error_code) or MAX_ATTEMPTS


def backoff(attempts: int) -> dt.timedelta:
    """Exponential backoff with jitter: about 1 s, 2 s, 4 s… up to five minutes."""
    seconds = min(2 ** max(attempts - 1, 0), MAX_BACKOFF_S)
    return dt.timedelta(seconds=seconds * (1 + random.random() * 0.25))
