"""What one broadcast achieved: its results, split by language, channel and partner.

Four GROUP BY queries at most, whatever the audience's size:

1. the deliveries with their messages' statuses: sent (Twilio accepted it),
   delivered, failed by reason (the error code's meaning, from
   ``bot.channels.errors``) and skipped by reason;
2. what the recipients did within ``WINDOW`` after their broadcast message:
   replied (an inbound message), opted out (attributed to the last broadcast
   they were sent before opting out, so a later broadcast takes it), signed the
   petition the broadcast carries;
3. RSVPs (only for an RSVP flow's broadcast or an event's reminder);
4. unique clicks per tracked link (``bot.links``: each person's first click;
   only for a broadcast whose links are tracked). The reason is the link's
   position in the texts ("1" is the first URL); ``Results.links`` has its URL.

Every count is of distinct contacts. The language is the one the contact was
sent (theirs when the broadcast has a text in it, else the broadcast's
default); the channel is the delivery's; the partner is the one who brought
the contact (``Contact.joined_via_id``; None: the coalition directly); the
variant is the delivery's, in an A/B test ("A" or "B"; None otherwise), and
``comparison`` sets the two side by side.

Poll answers are not in these results yet (``bot.polls.tally`` has them):
``NOT_TRACKED`` names them so the pages can say so, and no number is made up.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Interval,
    Select,
    and_,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from bot.broadcasts.comparison import Comparison, compare
from bot.broadcasts.models import (
    DELIVERY_BLOCKED,
    DELIVERY_FAILED,
    DELIVERY_SENT,
    DELIVERY_SKIPPED_CANCELED,
    DELIVERY_SKIPPED_EXPIRED,
    DELIVERY_SKIPPED_NO_CONSENT,
    DELIVERY_SKIPPED_OPTED_OUT,
    DELIVERY_SKIPPED_WINDOW,
    Broadcast,
    Delivery,
    Reminder,
    Rsvp,
)
from bot.broadcasts.variants import VARIANT_A, VARIANT_B
from bot.channels.errors import classify_error
from bot.contacts.models import CONSENT_OPT_OUT, ConsentEvent, Contact
from bot.links import clicks, codes
from bot.links.models import BroadcastLink, LinkClick
from bot.msgs.models import DIRECTION_IN, Message
from bot.petitions.models import Signature

WINDOW = dt.timedelta(hours=72)

# The figures, in the order they are shown.
SENT = "sent"
DELIVERED = "delivered"
FAILED = "failed"
SKIPPED = "skipped"
REPLIED = "replied"
OPTED_OUT = "opted_out"
SIGNED = "signed"
RSVPS = "rsvps"
CLICKED = "clicked"  # unique clicks, per link (the reason: the link's position)
# The poll's answers, each recipient's latest (the reason: the choice's value); added by
# bot.polls.tally.broadcast_results, which callers use for a broadcast with a poll.
ANSWERED = "answered"
# An A/B test's: the contacts who clicked any of its links (not a figure of its own page).
CLICKED_ANY = "clicked_any"
FIGURES = (SENT, DELIVERED, FAILED, SKIPPED, REPLIED, OPTED_OUT, SIGNED, RSVPS, ANSWERED, CLICKED)
# Figures the results do not hold yet: shown as "not tracked yet", never a number.
NOT_TRACKED: tuple[str, ...] = ()

DELIVERED_STATUSES = ("delivered", "read")
FAILED_STATUSES = ("failed", "undelivered")
# Delivery status -> why it was skipped.
SKIP_REASONS = {
    DELIVERY_SKIPPED_OPTED_OUT: "opted_out",
    DELIVERY_BLOCKED: "opted_out",  # refused at the last moment: opted out or invalid
    DELIVERY_SKIPPED_NO_CONSENT: "no_consent",
    DELIVERY_SKIPPED_WINDOW: "whatsapp_window",
    DELIVERY_SKIPPED_EXPIRED: "expired",
    DELIVERY_SKIPPED_CANCELED: "canceled",
}
UNKNOWN_REASON = "unknown"  # a failure without an error code


def failure_reason(code: int | None) -> str:
    """A short reason for a Twilio error code: what ``bot.channels.errors`` says it means."""
    if code is None:
        return UNKNOWN_REASON
    consequence, _retryable = classify_error(code)
    return consequence.value


def is_rsvp_broadcast(item: Broadcast) -> bool:
    """Whether RSVPs count for it: an event's reminder, or replies go to an RSVP flow."""
    return item.reminder_id is not None or "rsvp" in (item.flow_id or "")


@dataclass(frozen=True)
class Row:
    figure: str
    reason: str | None  # failed / skipped: why; rsvps: the answer; else None
    language: str
    channel: str
    partner_id: int | None  # who brought the contact; None: the coalition directly
    count: int
    variant: str | None = None  # an A/B test's "A" or "B"


@dataclass(frozen=True)
class Results:
    broadcast_id: int
    rows: tuple[Row, ...]
    tracked: tuple[str, ...]  # the figures that apply to this broadcast
    ab_test: bool = False  # its audience is split between variants A and B
    links: dict[str, str] = field(default_factory=dict)  # clicked's reason (position) -> URL
    _index: dict[str, list[Row]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for row in self.rows:
            self._index.setdefault(row.figure, []).append(row)

    def of(self, figure: str) -> list[Row]:
        return self._index.get(figure, [])

    def total(self, figure: str, reason: str | None = None) -> int:
        return sum(r.count for r in self.of(figure) if reason is None or r.reason == reason)

    def by(self, figure: str, dimension: str) -> dict[object, int]:
        """``dimension`` ("language", "channel", "partner_id", "reason", "variant") -> count."""
        counts: dict[object, int] = defaultdict(int)
        for row in self.of(figure):
            counts[getattr(row, dimension)] += row.count
        return dict(counts)

    def values(self, dimension: str) -> list[object]:
        """Every value of ``dimension`` that has a row, sorted (None last)."""
        found = {getattr(r, dimension) for r in self.rows}
        return sorted(found, key=lambda v: (v is None, str(v)))


def _after(session: Session, column: ColumnElement[dt.datetime]) -> ColumnElement:
    """``column`` + WINDOW, in the database's own date arithmetic."""
    hours = int(WINDOW.total_seconds() // 3600)
    if session.get_bind().dialect.name == "sqlite":
        # Stored as "YYYY-MM-DD HH:MM:SS.ffffff"; strftime's %f has milliseconds only,
        # so three zeros make the two comparable as strings (72 h sharp is inside).
        return func.strftime("%Y-%m-%d %H:%M:%f000", column, f"+{hours} hours")
    return column + literal_column(f"interval '{hours} hours'", Interval)


# What every figure is split by: the contact's language, the channel, who brought them,
# the A/B variant (the order of the leading columns of each query's rows).
SPLIT = (Contact.language, Delivery.channel, Contact.joined_via_id, Delivery.variant)


def recipients(broadcast_id: int) -> Select[Any]:
    """The broadcast's deliveries with their contacts, for a query to add its columns to."""
    return (
        select()
        .select_from(Delivery)
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(Delivery.broadcast_id == broadcast_id)
    )


def with_rows(found: Results, figure: str, rows: Iterable[Row]) -> Results:
    """``found`` with one more figure (a domain above this one adds its own)."""
    return Results(
        found.broadcast_id,
        (*found.rows, *rows),
        (*found.tracked, figure),
        found.ab_test,
        found.links,
    )


def results(session: Session, broadcast_id: int) -> Results:
    """The results of one broadcast (which must exist)."""
    item = session.get_one(Broadcast, broadcast_id)
    split = SPLIT
    sent = aliased(Message)
    base = recipients(broadcast_id)
    found: list[Row] = []
    found += _deliveries(session, base, split, sent)
    found += _actions(session, item, base, split, sent)
    tracked = [SENT, DELIVERED, FAILED, SKIPPED, REPLIED, OPTED_OUT]
    if item.petition_id is not None:
        tracked.append(SIGNED)
    if is_rsvp_broadcast(item):
        tracked.append(RSVPS)
        found += _rsvps(session, item, base, split, sent)
    ab_test = bool(item.variant_texts) and item.split_seed is not None
    links = {}
    texts = [*item.texts.values(), *(item.variant_texts or {}).values()]
    if item.track_links and codes.tracked_urls(texts):  # no query if there is no link
        links = {str(link.position): link.url for link in clicks.links_of(session, item.id)}
        tracked.append(CLICKED)
        found += _clicks(session, base, split)
        if ab_test:
            found += _clicked_any(session, base, split)
    return Results(broadcast_id, _sent_language(item, found), tuple(tracked), ab_test, links)


def _sent_language(item: Broadcast, found: list[Row]) -> tuple[Row, ...]:
    """Rows keyed by the language each contact was sent: theirs if it has a text, else the
    default (merged in Python: a CASE in GROUP BY does not survive bound parameters)."""
    totals: dict[tuple[str, str | None, str, str, int | None, str | None], int] = defaultdict(int)
    for row in found:
        language = row.language if row.language in item.texts else item.default_language
        key = (row.figure, row.reason, language, row.channel, row.partner_id, row.variant)
        totals[key] += row.count
    return tuple(Row(*key[:5], count, key[5]) for key, count in totals.items())


def _deliveries(session: Session, base, split, sent) -> Iterable[Row]:  # type: ignore[no-untyped-def]
    """Query 1: each delivery's state and its message's status, counted."""
    query = (
        base.add_columns(
            *split,
            Delivery.status,
            sent.status,
            func.coalesce(sent.error_code, Delivery.error_code),
            func.count(Delivery.contact_id.distinct()),
        )
        .outerjoin(sent, sent.id == Delivery.message_id)
        .group_by(*split, Delivery.status, sent.status, sent.error_code, Delivery.error_code)
    )
    totals: dict[tuple[str, str | None, str, str, int | None, str | None], int] = defaultdict(int)
    for lang, channel, partner, variant, state, message_status, code, count in session.execute(
        query
    ):
        where = (lang, channel, partner, variant)
        if state == DELIVERY_SENT:
            totals[(SENT, None, *where)] += count
            if message_status in DELIVERED_STATUSES:
                totals[(DELIVERED, None, *where)] += count
            elif message_status in FAILED_STATUSES:
                totals[(FAILED, failure_reason(code), *where)] += count
        elif state == DELIVERY_FAILED:
            totals[(FAILED, failure_reason(code), *where)] += count
        elif state in SKIP_REASONS:
            totals[(SKIPPED, SKIP_REASONS[state], *where)] += count
        # pending, queued, sending, unknown: not settled yet, in no figure
    return [Row(*key[:5], count, key[5]) for key, count in totals.items()]


def _actions(session: Session, item: Broadcast, base, split, sent) -> Iterable[Row]:  # type: ignore[no-untyped-def]
    """Query 2: replies, opt-outs and signatures within WINDOW of each broadcast message."""
    window_end = _after(session, sent.created_at)
    reply = aliased(Message)
    replied = exists().where(
        reply.contact_id == Delivery.contact_id,
        reply.direction == DIRECTION_IN,
        reply.created_at > sent.created_at,
        reply.created_at <= window_end,
    )
    stop = aliased(ConsentEvent)
    later = aliased(Delivery)
    later_message = aliased(Message)
    whose = [stop.organization_id.is_(None)]  # a full STOP
    if item.organization_id is not None:  # or leaving the partner whose broadcast it is
        whose.append(stop.organization_id == item.organization_id)
    received_later = (
        exists()
        .where(  # another broadcast reached them before they stopped
            later.contact_id == Delivery.contact_id,
            later.broadcast_id != Delivery.broadcast_id,
            later.status == DELIVERY_SENT,
            later_message.id == later.message_id,
            later_message.created_at > sent.created_at,
            later_message.created_at < stop.created_at,
        )
        .correlate_except(later, later_message)
    )  # two levels up too
    opted_out = exists().where(
        stop.contact_id == Delivery.contact_id,
        stop.kind == CONSENT_OPT_OUT,
        or_(*whose),
        stop.created_at > sent.created_at,
        stop.created_at <= window_end,
        ~received_later,
    )
    columns = [
        func.count(case((replied, Delivery.contact_id)).distinct()),
        func.count(case((opted_out, Delivery.contact_id)).distinct()),
    ]
    if item.petition_id is not None:
        signed = exists().where(
            Signature.contact_id == Delivery.contact_id,
            Signature.petition_id == item.petition_id,
            Signature.created_at >= sent.created_at,
            Signature.created_at <= window_end,
        )
        columns.append(func.count(case((signed, Delivery.contact_id)).distinct()))
    query = (
        base.add_columns(*split, *columns)
        .join(sent, sent.id == Delivery.message_id)
        .where(Delivery.status == DELIVERY_SENT)
        .group_by(*split)
    )
    figures = (REPLIED, OPTED_OUT, SIGNED)
    out = []
    for lang, channel, partner, variant, *counts in session.execute(query):
        for figure, count in zip(figures, counts, strict=False):
            if count:
                out.append(Row(figure, None, lang, channel, partner, count, variant))
    return out


def _rsvps(session: Session, item: Broadcast, base, split, sent) -> Iterable[Row]:  # type: ignore[no-untyped-def]
    """Query 3: recipients' RSVPs recorded within WINDOW after their message, by answer."""
    conditions = [
        Rsvp.contact_id == Delivery.contact_id,
        Rsvp.updated_at >= sent.created_at,
        Rsvp.updated_at <= _after(session, sent.created_at),
    ]
    if item.reminder_id is not None:  # a reminder: its event's RSVPs only
        event_id = select(Reminder.event_id).where(Reminder.id == item.reminder_id)
        conditions.append(Rsvp.event_id == event_id.scalar_subquery())
    query = (
        base.add_columns(*split, Rsvp.answer, func.count(Delivery.contact_id.distinct()))
        .join(sent, sent.id == Delivery.message_id)
        .join(Rsvp, and_(*conditions))
        .where(Delivery.status == DELIVERY_SENT)
        .group_by(*split, Rsvp.answer)
    )
    return [
        Row(RSVPS, answer, lang, channel, partner, count, variant)
        for lang, channel, partner, variant, answer, count in session.execute(query)
    ]


def _clicks(session: Session, base, split) -> Iterable[Row]:  # type: ignore[no-untyped-def]
    """Query 4: the recipients who clicked each link (their first click), per link."""
    query = (
        base.add_columns(
            *split, BroadcastLink.position, func.count(LinkClick.contact_id.distinct())
        )
        .join(BroadcastLink, BroadcastLink.broadcast_id == Delivery.broadcast_id)
        .join(
            LinkClick,
            and_(
                LinkClick.link_id == BroadcastLink.id, LinkClick.contact_id == Delivery.contact_id
            ),
        )
        .group_by(*split, BroadcastLink.position)
    )
    return [
        Row(CLICKED, str(position), lang, channel, partner, count, variant)
        for lang, channel, partner, variant, position, count in session.execute(query)
    ]


def _clicked_any(session: Session, base, split) -> Iterable[Row]:  # type: ignore[no-untyped-def]
    """Query 5, for an A/B test: the recipients who clicked any of its links."""
    query = (
        base.add_columns(*split, func.count(LinkClick.contact_id.distinct()))
        .join(BroadcastLink, BroadcastLink.broadcast_id == Delivery.broadcast_id)
        .join(
            LinkClick,
            and_(
                LinkClick.link_id == BroadcastLink.id, LinkClick.contact_id == Delivery.contact_id
            ),
        )
        .group_by(*split)
    )
    return [
        Row(CLICKED_ANY, None, lang, channel, partner, count, variant)
        for lang, channel, partner, variant, count in session.execute(query)
    ]


def has_variants(found: Results) -> bool:
    """Whether the results are an A/B test's (their rows carry a variant)."""
    return found.ab_test or any(r.variant for r in found.rows)


def csv_header(found: Results) -> tuple[str, ...]:
    """The CSV's columns; an A/B test's have a last one, the variant."""
    header = ("figure", "language", "channel", "partner", "count")
    return (*header, "variant") if has_variants(found) else header


def csv_rows(found: Results, partner_slugs: dict[int, str]) -> list[tuple[Any, ...]]:
    """(figure, language, channel, partner, count[, variant]) rows (see ``csv_header``);
    a reason joins the figure with a dot."""
    variants = has_variants(found)
    out: list[tuple[Any, ...]] = []
    for figure in FIGURES:
        for row in sorted(
            found.of(figure),
            key=lambda r: (
                r.reason or "", r.language, r.channel, r.partner_id or 0, r.variant or ""
            ),
        ):  # fmt: skip
            name = f"{figure}.{row.reason}" if row.reason else figure
            partner = partner_slugs.get(row.partner_id, "") if row.partner_id else "coalition"
            line = (name, row.language, row.channel, partner, row.count)
            out.append((*line, row.variant or "") if variants else line)
    return out


# The figures an A/B comparison sets side by side (each when the broadcast tracks it).
COMPARED = (REPLIED, CLICKED_ANY, SIGNED)


def comparison(found: Results) -> Comparison:
    """Variant A against variant B: of the contacts each was sent, how many replied,
    clicked (with tracked links) and signed (with a petition); see
    ``bot.broadcasts.comparison``."""
    sent = found.by(SENT, "variant")
    counts = {}
    for figure in COMPARED:
        if figure in found.tracked or (figure == CLICKED_ANY and CLICKED in found.tracked):
            done = found.by(figure, "variant")
            counts[figure] = (done.get(VARIANT_A, 0), done.get(VARIANT_B, 0))
    return compare((sent.get(VARIANT_A, 0), sent.get(VARIANT_B, 0)), counts)
