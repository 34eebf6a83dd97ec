"""Overview: how the movement's list grows, who joins and leaves, what gets delivered."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from bot.contacts.models import (
    CONSENT_OPT_IN,
    CONSENT_OPT_OUT,
    CONSENT_RE_OPT_IN,
    STATUS_ACTIVE,
    ConsentEvent,
    Contact,
)
from bot.db import get_session, utcnow
from bot.msgs.models import DIRECTION_IN, DIRECTION_OUT, Message
from bot.web.dashboard import scope
from bot.web.dashboard.charts import Series, bar_chart, line_chart
from bot.web.dashboard.language import _, format_day

bp = Blueprint("overview", __name__)

WEEKS = 12
RECENT = dt.timedelta(days=30)  # the window of the "by language / by channel" breakdowns
NOT_SENT = ("pending", "blocked", "skipped_window")  # recorded, never handed to Twilio
DELIVERED = ("delivered", "read")
FAILED = ("failed", "undelivered")


def week_starts(today: dt.date, weeks: int = WEEKS) -> list[dt.date]:
    """The Mondays of the last ``weeks`` weeks, oldest first (this week last)."""
    monday = today - dt.timedelta(days=today.weekday())
    return [monday - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def per_week(days: Iterable[tuple[dt.date | str, int]], starts: Sequence[dt.date]) -> list[int]:
    """Counts per day folded into the weeks that start at ``starts``."""
    totals = [0] * len(starts)
    for day, count in days:
        day = dt.date.fromisoformat(day) if isinstance(day, str) else day
        index = (day - starts[0]).days // 7
        if 0 <= index < len(starts):
            totals[index] += count
    return totals


def _count_by_day(
    session: Session, column: ColumnElement[dt.datetime], since: dt.datetime, *where: Any
) -> list[tuple[dt.date | str, int]]:
    """Rows per day (SQLite gives the day as text, PostgreSQL as a date)."""
    day = func.date(column)
    query = select(day, func.count()).where(column >= since, *where).group_by(day)
    return [(row[0], row[1]) for row in session.execute(query)]


def growth(session: Session, starts: Sequence[dt.date]) -> tuple[list[int], list[int], list[int]]:
    """Contacts at the end of each week, joins per week, opt-outs per week (the scope's)."""
    since = dt.datetime.combine(starts[0], dt.time(), dt.UTC)
    mine = scope.contacts_clause()
    before = session.scalar(select(func.count(Contact.id)).where(Contact.created_at < since, mine))
    new = per_week(_count_by_day(session, Contact.created_at, since, mine), starts)
    totals, running = [], before or 0
    for count in new:
        running += count
        totals.append(running)
    joins = per_week(
        _count_by_day(
            session, ConsentEvent.created_at, since,
            ConsentEvent.kind.in_((CONSENT_OPT_IN, CONSENT_RE_OPT_IN)), _joins_mine(),
        ),
        starts,
    )  # fmt: skip
    opt_outs = per_week(
        _count_by_day(
            session,
            ConsentEvent.created_at,
            since,
            ConsentEvent.kind == CONSENT_OPT_OUT,
            _leaves_mine(),
        ),
        starts,
    )
    return totals, joins, opt_outs


def _joins_mine() -> ColumnElement[bool]:
    """Joins are the organization's own consent lines (a keyword join logs one per organization).

    The coalition counts its own lines (NULL), so a join through a partner is
    counted once; a partner counts its own.
    """
    if scope.current().sees_everything:
        return ConsentEvent.organization_id.is_(None)
    return scope.owned_clause(ConsentEvent.organization_id)


def _leaves_mine() -> ColumnElement[bool]:
    """Opt-outs: the coalition's are STOPs (NULL); a partner's are its people's STOPs and
    those who left it (its own lines), never another partner's."""
    if scope.current().sees_everything:
        return ConsentEvent.organization_id.is_(None)
    stops = and_(
        ConsentEvent.organization_id.is_(None),
        ConsentEvent.contact_id.in_(scope.visible_contact_ids()),
    )
    return or_(stops, scope.owned_clause(ConsentEvent.organization_id))


def messages_per_week(session: Session, starts: Sequence[dt.date]) -> tuple[list[int], list[int]]:
    """Outbound messages handed to Twilio, and those confirmed delivered, per week."""
    since = dt.datetime.combine(starts[0], dt.time(), dt.UTC)
    outbound = (
        Message.direction == DIRECTION_OUT,
        Message.status.not_in(NOT_SENT),
        scope.messages_clause(),
    )
    sent = _count_by_day(session, Message.created_at, since, *outbound)
    delivered = _count_by_day(
        session, Message.created_at, since, *outbound, Message.status.in_(DELIVERED)
    )
    return per_week(sent, starts), per_week(delivered, starts)


def breakdown(session: Session, group: ColumnElement[str], since: dt.datetime) -> list[dict]:
    """Outbound messages since ``since`` by ``group``: sent, delivered, failed."""
    rows = session.execute(
        select(group, Message.status, func.count())
        .select_from(Message)
        .outerjoin(Contact, Contact.id == Message.contact_id)
        .where(Message.direction == DIRECTION_OUT, Message.created_at >= since)
        .where(Message.status.not_in(NOT_SENT), scope.messages_clause())
        .group_by(group, Message.status)
    )
    table: dict[str, Counter[str]] = {}
    for key, status, count in rows:
        counts = table.setdefault(key or "?", Counter())
        counts["sent"] += count
        counts["delivered"] += count if status in DELIVERED else 0
        counts["failed"] += count if status in FAILED else 0
    return [{"key": key, **counts} for key, counts in sorted(table.items())]


def tiles(session: Session, now: dt.datetime) -> dict[str, int]:
    """The headline numbers."""
    week_ago = now - dt.timedelta(days=7)

    def count(*where: Any) -> int:
        query = select(func.count()).select_from(Contact).where(scope.contacts_clause(), *where)
        return session.scalar(query) or 0

    def events(kinds: tuple[str, ...], mine: ColumnElement[bool]) -> int:
        query = select(func.count()).where(
            ConsentEvent.kind.in_(kinds), ConsentEvent.created_at >= week_ago, mine
        )
        return session.scalar(query) or 0

    waiting = select(func.count()).where(
        Message.direction == DIRECTION_IN, Message.handled_by.is_(None), scope.messages_clause()
    )
    return {
        "active": count(Contact.status == STATUS_ACTIVE, Contact.opted_in_at.is_not(None)),
        "joined_week": events((CONSENT_OPT_IN, CONSENT_RE_OPT_IN), _joins_mine()),
        "opted_out_week": events((CONSENT_OPT_OUT,), _leaves_mine()),
        "inbox": session.scalar(waiting) or 0,
    }


def contacts_by_language(session: Session) -> list[tuple[str, int]]:
    """Subscribed contacts per language, Spanish first."""
    rows = session.execute(
        select(Contact.language, func.count())
        .where(
            Contact.status == STATUS_ACTIVE,
            Contact.opted_in_at.is_not(None),
            scope.contacts_clause(),
        )  # fmt: skip
        .group_by(Contact.language)
        .order_by(Contact.language.desc())
    )
    return [(lang, count) for lang, count in rows]


@bp.get("/")
def page() -> str:
    """The overview page."""
    session = get_session()
    now = utcnow()
    starts = week_starts(now.date())
    labels = [format_day(day) for day in starts]
    totals, joins, opt_outs = growth(session, starts)
    sent, delivered = messages_per_week(session, starts)
    since = now - RECENT
    return render_template(
        "dashboard/overview.html",
        tiles=tiles(session, now),
        contacts_chart=line_chart(labels, [Series(_("Contacts"), tuple(totals))]),
        consent_chart=bar_chart(
            labels, [Series(_("Joined"), tuple(joins)), Series(_("Opt-outs"), tuple(opt_outs))]
        ),
        messages_chart=line_chart(
            labels, [Series(_("Sent"), tuple(sent)), Series(_("Delivered"), tuple(delivered))]
        ),
        by_language=breakdown(session, Contact.language, since),
        by_channel=breakdown(session, Message.channel, since),
        contact_languages=contacts_by_language(session),
    )
