"""Audiences: which contacts a broadcast goes to, and on which channel.

Filters narrow the contacts (language, tags, channel, country, state/region,
join date, last activity, an event's RSVPs, none of some broadcasts' recipients, who
clicked a broadcast's links).
Whatever the filters say, only subscribed contacts are in an audience: active and opted in
(``consent.is_subscribed``); the opted-out, the invalid and those with no
opt-in on record are counted in the preview and never receive a broadcast.

One partner's audience, narrowed at most by language, country or channel,
is counted from its memberships alone: each carries a copy of what the count
reads, kept by database triggers (`bot.partners.models.Membership`), so the
count reads the partner's range of one index instead of probing contacts
spread over the whole coalition. Any other filter takes the plain query; both
give the same numbers (tests/broadcasts/test_partner_counts.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from bot.broadcasts.models import DELIVERY_SENT, RSVP_MAYBE, RSVP_YES, Audience, Delivery, Rsvp
from bot.contacts.models import CHANNELS, STATUS_ACTIVE, Address, Contact, ContactTag
from bot.links.models import BroadcastLink, LinkClick
from bot.partners.models import MEMBER, Membership

STREAM_PAGE = 2000  # contacts read per query when streaming an audience
WHATSAPP_WINDOW = dt.timedelta(hours=24)  # free-form WhatsApp within this of their last message


@dataclass(frozen=True)
class Filters:
    """An audience definition; every list means "any of these" and empty means "all"."""

    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()  # has an address on one of them
    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    joined_after: dt.datetime | None = None  # opted in at or after
    joined_before: dt.datetime | None = None
    active_after: dt.datetime | None = None  # last wrote to us at or after
    active_before: dt.datetime | None = None
    event_id: int | None = None  # RSVP'd yes to this event
    partners: tuple[int, ...] = ()  # members of any of these partners (organization ids)
    # Not any contact these broadcasts were addressed to (a winner: not its A/B test's group).
    exclude_broadcasts: tuple[int, ...] = ()
    clicked: int | None = None  # clicked a link in this broadcast
    not_clicked: int | None = None  # was sent this broadcast and clicked none of its links
    extra: Mapping[str, Any] = field(default_factory=dict)

    def scoped(self, organization_id: int | None) -> Filters:
        """The filters as a partner may use them: its own members only, whatever was asked.

        ``None`` (the coalition) keeps the filters as given: every partner, or
        the partners chosen.
        """
        if organization_id is None:
            return self
        return replace(self, partners=(organization_id,))

    def to_dict(self) -> dict[str, Any]:
        """JSON for the database (datetimes as ISO 8601, empty values left out)."""
        data = {}
        for key, value in asdict(self).items():
            if isinstance(value, dt.datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            if value not in (None, [], {}):
                data[key] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Filters:
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key.endswith(("_after", "_before")) and value is not None:
                value = _aware(dt.datetime.fromisoformat(value))
            elif isinstance(value, list):
                value = tuple(value)
            values[key] = value
        return cls(**values)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def subscribed() -> ColumnElement[bool]:
    """SQL for consent.is_subscribed: active and opted in."""
    return and_(Contact.status == STATUS_ACTIVE, Contact.opted_in_at.is_not(None))


def _has_tag(tags: Sequence[str]) -> ColumnElement[bool]:
    return exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag.in_(tags))


def matching(filters: Filters, after_id: int = 0) -> list[ColumnElement[bool]]:
    """WHERE clauses for the filters (consent is added separately).

    ``after_id``: the caller reads only contacts with ids above it (a keyset
    page); the membership test is bounded by it too (see `targets`).
    """
    clauses: list[ColumnElement[bool]] = []
    if filters.languages:
        clauses.append(Contact.language.in_(filters.languages))
    if filters.tags:
        clauses.append(_has_tag(filters.tags))
    if filters.exclude_tags:
        clauses.append(~_has_tag(filters.exclude_tags))
    if filters.countries:
        clauses.append(Contact.country.in_(filters.countries))
    if filters.regions:
        clauses.append(Contact.region.in_(region_codes(filters.regions)))
    clauses += _dates(filters)
    if filters.partners:
        member = exists().where(
            Membership.contact_id == Contact.id,
            Membership.organization_id.in_(filters.partners),
            Membership.status == MEMBER,
        )
        if after_id:
            member = member.where(Membership.contact_id > after_id)
        clauses.append(member)
    if filters.exclude_broadcasts:
        clauses.append(
            ~exists().where(
                Delivery.contact_id == Contact.id,
                Delivery.broadcast_id.in_(filters.exclude_broadcasts),
            )
        )
    if filters.event_id is not None:
        clauses.append(
            exists().where(
                Rsvp.contact_id == Contact.id,
                Rsvp.event_id == filters.event_id,
                Rsvp.answer.in_((RSVP_YES, RSVP_MAYBE)),
            )
        )
    return clauses + _clicks(filters)


def _clicks(filters: Filters) -> list[ColumnElement[bool]]:
    """Who clicked a link of a broadcast (their first click is kept), or who did not."""
    clauses = []
    if filters.clicked is not None:
        clauses.append(_clicked(filters.clicked))
    if filters.not_clicked is not None:
        sent = exists().where(
            Delivery.contact_id == Contact.id,
            Delivery.broadcast_id == filters.not_clicked,
            Delivery.status == DELIVERY_SENT,
        )
        clauses += [sent, ~_clicked(filters.not_clicked)]
    return clauses


def _clicked(broadcast_id: int) -> ColumnElement[bool]:
    return exists().where(
        LinkClick.contact_id == Contact.id,
        LinkClick.link_id == BroadcastLink.id,
        BroadcastLink.broadcast_id == broadcast_id,
    )


def _dates(filters: Filters) -> list[ColumnElement[bool]]:
    clauses = []
    if filters.joined_after is not None:
        clauses.append(Contact.opted_in_at >= filters.joined_after)
    if filters.joined_before is not None:
        clauses.append(Contact.opted_in_at < filters.joined_before)
    if filters.active_after is not None:
        clauses.append(Contact.last_seen_at >= filters.active_after)
    if filters.active_before is not None:
        clauses.append(Contact.last_seen_at < filters.active_before)
    return clauses


def channel_order(filters: Filters, channels: Sequence[str]) -> tuple[str, ...]:
    """The channels to use, in order of preference, narrowed by the filters."""
    wanted = tuple(c for c in (channels or CHANNELS) if c in CHANNELS)
    if filters.channels:
        wanted = tuple(c for c in wanted if c in filters.channels)
    return wanted


def targets(
    filters: Filters, channels: Sequence[str], now: dt.datetime, after_id: int = 0
) -> tuple[Select[Any], ColumnElement[str], ColumnElement[bool]]:
    """(query over contacts with an address on a wanted channel, chosen channel, in window).

    The chosen channel is the first of ``channels`` the contact has an address
    on; "in window" tells whether that is WhatsApp inside its 24-hour window.
    ``after_id``: the caller reads only contacts with ids above it (a keyset
    page): the address joins and the membership test are bounded by it too.
    Without that, PostgreSQL read each page's addresses and members from the
    first id on, so a page cost more the further it was (docs/performance.md).
    """
    order = channel_order(filters, channels)
    joined = {name: aliased(Address, name=f"address_{name}") for name in order}
    query = select(Contact)
    for name, address in joined.items():
        on = [address.contact_id == Contact.id, address.channel == name]
        if after_id:  # the same rows; the index scan starts at the page, not at the first id
            on.append(address.contact_id > after_id)
        query = query.outerjoin(address, and_(*on))
    if not order:
        return query.where(false()), func.coalesce(None, ""), false()
    chosen = case(*[(a.id.is_not(None), name) for name, a in joined.items()], else_="")
    window_start = now - WHATSAPP_WINDOW
    wa = joined.get("whatsapp")
    in_window = (
        and_(wa.id.is_not(None), wa.last_inbound_at >= window_start) if wa is not None else false()
    )
    query = query.where(
        or_(*[a.id.is_not(None) for a in joined.values()]), *matching(filters, after_id)
    )
    return query, chosen, in_window


def page(
    session: Session,
    filters: Filters,
    channels: Sequence[str],
    now: dt.datetime,
    after_id: int = 0,
    limit: int = STREAM_PAGE,
) -> list[tuple[int, str]]:
    """(contact id, channel) of up to ``limit`` subscribed contacts with ids above ``after_id``.

    Keyset pages (id > last id) keep memory flat however large the audience,
    and hold no cursor open between pages, so the caller may write and commit
    between them on any database.
    """
    query, chosen, _ = targets(filters, channels, now, after_id)
    query = query.with_only_columns(Contact.id, chosen).where(subscribed(), Contact.id > after_id)
    rows = session.execute(query.order_by(Contact.id).limit(limit)).all()
    return [(row[0], row[1]) for row in rows]


def size(session: Session, filters: Filters, channels: Sequence[str], now: dt.datetime) -> int:
    """How many contacts the audience has now."""
    if from_memberships(filters):
        return _member_size(session, filters, channels)
    query, _, _ = targets(filters, channels, now)
    return session.scalar(query.with_only_columns(func.count(Contact.id)).where(subscribed())) or 0


@dataclass
class Breakdown:
    """How many contacts an audience has, by language, channel and country."""

    total: int = 0
    by_language: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_country: dict[str, int] = field(default_factory=dict)
    whatsapp_outside_window: int = 0
    groups: list[tuple[str, str, str | None, bool, int]] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)  # opted_out, invalid, no_consent


def breakdown(
    session: Session, filters: Filters, channels: Sequence[str], now: dt.datetime
) -> Breakdown:
    """Count the audience without reading it contact by contact."""
    if from_memberships(filters):
        return _member_breakdown(session, filters, channels, now)
    query, chosen, in_window = targets(filters, channels, now)
    columns = [Contact.language, chosen, Contact.country]
    if "whatsapp" in channel_order(filters, channels):
        columns.append(in_window)  # a constant must not be grouped by: SQLite reads a position
    rows = session.execute(
        query.with_only_columns(*columns, func.count(Contact.id))
        .where(subscribed())
        .group_by(*columns)
    ).all()
    if len(columns) == 3:
        rows = [(lang, channel, country, False, count) for lang, channel, country, count in rows]
    result = _tally(rows)
    result.excluded = _excluded(session, query)
    return result


def _tally(rows: Sequence[Sequence[Any]]) -> Breakdown:
    """A breakdown of (language, channel, country, in window, count) groups."""
    result = Breakdown()
    for language, channel, country, window, count in rows:
        result.groups.append((language, channel, country, bool(window), count))
        result.total += count
        _add(result.by_language, language, count)
        _add(result.by_channel, channel, count)
        _add(result.by_country, country or "?", count)
        if channel == "whatsapp" and not window:
            result.whatsapp_outside_window += count
    return result


def _excluded(session: Session, query: Select[Any]) -> dict[str, int]:
    """Contacts the filters match who will not receive it, and why."""
    reason = case(
        (Contact.status != STATUS_ACTIVE, Contact.status),
        else_="no_consent",
    )
    rows = session.execute(
        query.with_only_columns(reason, func.count(Contact.id))
        .where(~subscribed())
        .group_by(reason)
    ).all()
    return {str(why): count for why, count in rows}


# Filters a count from memberships can apply: they read only the copies there.
MEMBERSHIP_FILTERS = frozenset({"partners", "languages", "countries", "channels"})
HAS_CHANNEL = {"sms": Membership.has_sms, "whatsapp": Membership.has_whatsapp}


def from_memberships(filters: Filters) -> bool:
    """Whether the audience can be counted from one partner's memberships alone."""
    asked = {key for key, value in asdict(filters).items() if value not in (None, (), {})}
    return len(filters.partners) == 1 and asked <= MEMBERSHIP_FILTERS


def _member_where(filters: Filters, channels: Sequence[str]) -> list[ColumnElement[bool]]:
    """The plain query's WHERE (but consent), on one partner's memberships."""
    order = channel_order(filters, channels)
    if not order:
        return [false()]
    clauses = [
        Membership.organization_id == filters.partners[0],
        Membership.status == MEMBER,
        or_(*[HAS_CHANNEL[name].is_(True) for name in order]),
    ]
    if filters.languages:
        clauses.append(Membership.contact_language.in_(filters.languages))
    if filters.countries:
        clauses.append(Membership.contact_country.in_(filters.countries))
    return clauses


def _member_subscribed() -> ColumnElement[bool]:
    """`subscribed`, on the membership's copies."""
    return and_(Membership.contact_status == STATUS_ACTIVE, Membership.contact_opted_in.is_(True))


def _member_size(session: Session, filters: Filters, channels: Sequence[str]) -> int:
    query = select(func.count()).select_from(Membership)
    where = _member_where(filters, channels)
    return session.scalar(query.where(*where, _member_subscribed())) or 0


def _member_breakdown(
    session: Session, filters: Filters, channels: Sequence[str], now: dt.datetime
) -> Breakdown:
    """`breakdown` from memberships: the groups, then who of them is inside the window."""
    order = channel_order(filters, channels)
    if not order:
        return Breakdown()
    where = [*_member_where(filters, channels), _member_subscribed()]
    chosen = case(*[(HAS_CHANNEL[name].is_(True), name) for name in order], else_="")
    columns = [Membership.contact_language, chosen, Membership.contact_country]
    groups = session.execute(select(*columns, func.count()).where(*where).group_by(*columns)).all()
    inside: dict[tuple[Any, ...], int] = {}
    if "whatsapp" in order:  # few write in a day: read them from the addresses' index
        window = select(*columns, func.count()).join(
            Address,
            and_(
                Address.contact_id == Membership.contact_id,
                Address.channel == "whatsapp",
                Address.last_inbound_at >= now - WHATSAPP_WINDOW,
            ),
        )
        inside_where = [*where, Membership.has_whatsapp.is_(True)]  # the same rows, fewer read
        for *key, count in session.execute(window.where(*inside_where).group_by(*columns)):
            inside[tuple(key)] = count
    rows = []
    for language, channel, country, count in groups:
        within = inside.get((language, channel, country), 0)
        rows += [(language, channel, country, False, count - within)] if count > within else []
        rows += [(language, channel, country, True, within)] if within else []
    result = _tally(rows)
    reason = case(
        (Membership.contact_status != STATUS_ACTIVE, Membership.contact_status),
        else_="no_consent",
    )
    excluded = session.execute(
        select(reason, func.count())
        .where(*_member_where(filters, channels), ~_member_subscribed())
        .group_by(reason)
    ).all()
    result.excluded = {str(why): count for why, count in excluded}
    return result


def _add(counter: dict[str, int], key: str, count: int) -> None:
    counter[key] = counter.get(key, 0) + count


def save(session: Session, name: str, filters: Filters) -> Audience:
    """Save (or replace) a named audience."""
    audience = session.scalar(select(Audience).where(Audience.name == name))
    if audience is None:
        audience = Audience(name=name, filters=filters.to_dict())
        session.add(audience)
    else:
        audience.filters = filters.to_dict()
    session.flush()
    return audience


def load(session: Session, name: str) -> Filters:
    """The filters of a saved audience; LookupError when there is none by that name."""
    audience = session.scalar(select(Audience).where(Audience.name == name))
    if audience is None:
        raise LookupError(f"no audience named {name!r}")
    return Filters.from_dict(audience.filters)


def region_codes(regions: tuple[str, ...]) -> list[str]:
    """States as stored (ISO 3166-2): "US-CA" as given; a bare "CA" or "JAL" as US- or MX-."""
    codes: list[str] = []
    for region in regions:
        code = region.strip().upper()
        codes += [code] if "-" in code else [f"US-{code}", f"MX-{code}"]
    return codes
