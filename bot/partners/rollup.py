"""The coalition's roll-up of its partners' members: a few GROUP BY queries, no Flask.

For each partner, and for the coalition's own "direct" joins (contacts whose
``joined_via_id`` is NULL): members now, joins, leaves and opt-outs per week
and by language and country, and who brought whom. Every number is an SQL
aggregate; Python only folds per-day rows into weeks and sums small tables, so
the statements per call are a constant (`STATEMENTS`) whatever the number of
partners or contacts.

What each number means:

- **members now**: a partner's `Membership` rows with status ``member``; for
  *direct*, subscribed contacts (active, opted in) who came to no partner first.
- **joins**: a partner's memberships by ``joined_at`` (a member who left and
  came back keeps their first ``joined_at``); for *direct*, the first opt-in
  (kind ``opt_in``) of the contacts who came direct.
- **leaves**: memberships by ``left_at`` (LEAVE <KEYWORD>); *direct* has none:
  leaving the coalition is opting out.
- **opt-outs**: coalition opt-outs (STOP, 21610) of contacts who were members
  of the partner when they opted out, counted once per contact and day; for
  *direct*, those of contacts who came direct.
- **brought**: contacts who opted in at some time and first came through the
  partner (``Contact.joined_via_id``), whatever their status now.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Select, and_, cast, func, null, or_, select, union_all
from sqlalchemy.orm import Session

from bot.contacts.models import (
    CONSENT_OPT_IN,
    CONSENT_OPT_OUT,
    STATUS_ACTIVE,
    ConsentEvent,
    Contact,
)
from bot.partners.models import MEMBER, Membership, Organization

DIRECT = None  # the key of the coalition's own row: contacts who came through no partner
METRICS = ("joins", "leaves", "opt_outs")
STATEMENTS = 10  # what `rollup` runs, whatever the data


@dataclass(frozen=True)
class Partner:
    id: int
    slug: str
    name_es: str
    name_en: str
    archived: bool

    def name(self, language: str) -> str:
        return self.name_es if language == "es" else self.name_en


@dataclass
class Counts:
    """One row of the roll-up: a partner (or direct), or one language or country of it."""

    members: int = 0
    joins: int = 0
    leaves: int = 0
    opt_outs: int = 0


@dataclass
class Rollup:
    starts: list[dt.date]  # the Mondays of the weeks, oldest first
    partners: list[Partner]  # by slug; archived ones too
    totals: dict[int | None, Counts]  # organization id (None: direct) -> the period's counts
    weekly: dict[str, dict[int | None, list[int]]]  # metric -> organization -> per week
    by_language: dict[int | None, dict[str, Counts]]
    by_country: dict[int | None, dict[str | None, Counts]]
    # organization -> where its members now first came through (None: direct) -> members
    came_through: dict[int | None, dict[int | None, int]]
    brought: dict[int | None, int] = field(default_factory=dict)


def week_starts(today: dt.date, weeks: int) -> list[dt.date]:
    """The Mondays of the last ``weeks`` weeks, oldest first (this week last)."""
    monday = today - dt.timedelta(days=today.weekday())
    return [monday - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def week_index(day: dt.date | str, starts: Sequence[dt.date]) -> int | None:
    """Which of the weeks ``day`` falls in (SQLite gives a day as text), or None."""
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    index = (day - starts[0]).days // 7
    return index if 0 <= index < len(starts) else None


def rollup(session: Session, starts: Sequence[dt.date]) -> Rollup:
    """Every partner's numbers for the weeks that start at ``starts``."""
    since = dt.datetime.combine(starts[0], dt.time(), dt.UTC)
    partners = [
        Partner(row.id, row.slug, row.name_es, row.name_en, row.archived_at is not None)
        for row in session.execute(
            select(
                Organization.id, Organization.slug, Organization.name_es,
                Organization.name_en, Organization.archived_at,
            )
            .where(Organization.parent_id.is_not(None))
            .order_by(Organization.slug)
        )
    ]  # fmt: skip
    result = Rollup(
        starts=list(starts),
        partners=partners,
        totals=defaultdict(Counts),
        weekly={metric: defaultdict(lambda: [0] * len(starts)) for metric in METRICS},
        by_language=defaultdict(lambda: defaultdict(Counts)),
        by_country=defaultdict(lambda: defaultdict(Counts)),
        came_through=defaultdict(lambda: defaultdict(int)),
    )
    for org, language, country, count in _grouped(session, _members_now()):
        _add(result, org, language, country, "members", count)
    for metric, source in (
        ("joins", _joins(since)), ("leaves", _leaves(since)), ("opt_outs", _opt_outs(since)),
    ):  # fmt: skip
        for org, language, country, count in _grouped(session, source):
            _add(result, org, language, country, metric, count)
        for org, day, count in _per_day(session, source):
            index = week_index(day, starts)
            if index is not None:
                result.weekly[metric][org][index] += count
    members = _members_now().subquery()
    for org, via, count in session.execute(
        select(members.c.org, members.c.via, func.count())
        .where(members.c.org.is_not(None))
        .group_by(members.c.org, members.c.via)
    ):
        result.came_through[org][via] = count
    result.brought = dict(
        session.execute(  # type: ignore[arg-type]
            select(Contact.joined_via_id, func.count())
            .where(Contact.opted_in_at.is_not(None))
            .group_by(Contact.joined_via_id)
        ).all()
    )
    return result


def _add(
    result: Rollup, org: int | None, language: str, country: str | None, metric: str, count: int
) -> None:
    for counts in (
        result.totals[org],
        result.by_language[org][language],
        result.by_country[org][country],
    ):
        setattr(counts, metric, getattr(counts, metric) + count)


# --- the sources: one row per (organization, contact, when), partners and direct together ----


def _columns(org: Any, contact: Any, at: Any) -> tuple[Any, ...]:
    return (
        org.label("org"),
        contact.label("contact"),
        at.label("at"),
        Contact.language.label("language"),
        Contact.country.label("country"),
        Contact.joined_via_id.label("via"),
    )


def _direct() -> Any:
    return cast(null(), Integer)


def _members_now() -> Select[Any]:
    partners = (
        select(*_columns(Membership.organization_id, Membership.contact_id, Membership.joined_at))
        .join(Contact, Contact.id == Membership.contact_id)
        .where(Membership.status == MEMBER)
    )
    direct = select(*_columns(_direct(), Contact.id, Contact.opted_in_at)).where(
        Contact.joined_via_id.is_(None),
        Contact.status == STATUS_ACTIVE,
        Contact.opted_in_at.is_not(None),
    )
    return union_all(partners, direct)  # type: ignore[return-value]


def _joins(since: dt.datetime) -> Select[Any]:
    partners = (
        select(*_columns(Membership.organization_id, Membership.contact_id, Membership.joined_at))
        .join(Contact, Contact.id == Membership.contact_id)
        .where(Membership.joined_at >= since)
    )
    direct = (
        select(*_columns(_direct(), ConsentEvent.contact_id, ConsentEvent.created_at))
        .join(Contact, Contact.id == ConsentEvent.contact_id)
        .where(
            ConsentEvent.kind == CONSENT_OPT_IN,
            ConsentEvent.organization_id.is_(None),
            ConsentEvent.created_at >= since,
            Contact.joined_via_id.is_(None),
        )
    )
    return union_all(partners, direct)  # type: ignore[return-value]


def _leaves(since: dt.datetime) -> Select[Any]:
    return (
        select(*_columns(Membership.organization_id, Membership.contact_id, Membership.left_at))
        .join(Contact, Contact.id == Membership.contact_id)
        .where(Membership.left_at >= since)
    )


def _opt_outs(since: dt.datetime) -> Select[Any]:
    coalition_opt_out = and_(
        ConsentEvent.kind == CONSENT_OPT_OUT,
        ConsentEvent.organization_id.is_(None),  # a partner's opt_out line is a LEAVE
        ConsentEvent.created_at >= since,
    )
    member_then = _columns(
        Membership.organization_id, ConsentEvent.contact_id, ConsentEvent.created_at
    )
    partners = (
        select(*member_then)
        .join(Membership, Membership.contact_id == ConsentEvent.contact_id)
        .join(Contact, Contact.id == ConsentEvent.contact_id)
        .where(
            coalition_opt_out,
            Membership.joined_at <= ConsentEvent.created_at,
            or_(Membership.left_at.is_(None), Membership.left_at >= ConsentEvent.created_at),
        )
    )
    direct = (
        select(*_columns(_direct(), ConsentEvent.contact_id, ConsentEvent.created_at))
        .join(Contact, Contact.id == ConsentEvent.contact_id)
        .where(coalition_opt_out, Contact.joined_via_id.is_(None))
    )
    return union_all(partners, direct)  # type: ignore[return-value]


# --- the aggregates ----------------------------------------------------------------------


def _grouped(session: Session, source: Any) -> Iterable[tuple[Any, ...]]:
    """(org, language, country, contacts) over ``source``: distinct contacts per group."""
    rows = source.subquery()
    keys = (rows.c.org, rows.c.language, rows.c.country)
    return session.execute(select(*keys, func.count(rows.c.contact.distinct())).group_by(*keys))


def _per_day(session: Session, source: Any) -> Iterable[tuple[Any, ...]]:
    """(org, day, contacts) over ``source``: distinct contacts per day."""
    rows = source.subquery()
    day = func.date(rows.c.at)
    return session.execute(
        select(rows.c.org, day, func.count(rows.c.contact.distinct())).group_by(rows.c.org, day)
    )
