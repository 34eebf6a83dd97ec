"""Contact lists in and out as CSV.

Import columns: phone, channel (sms/whatsapp), language (es/en), tags
(separated by ";" or "|"), consent_source, consent_date (ISO date or datetime).
Every good row is kept; every bad row is reported with its line and reason.
No contact is created without a consent record, and an import never undoes
a STOP: an opted-out contact stays opted out (reported, not re-subscribed).
A number whose person was erased is refused (bot.contacts.suppressions): the
row is reported as one that may not be added, and the other rows are kept.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import phones
from bot.contacts import consent, suppressions
from bot.contacts.identity import find_by_phone
from bot.contacts.models import (
    CHANNELS,
    CONSENT_OPT_IN,
    STATUS_ACTIVE,
    STATUS_OPTED_OUT,
    Address,
    Contact,
    ContactTag,
)
from bot.i18n import LANGUAGES, N_

REQUIRED_COLUMNS = ("phone", "consent_source", "consent_date")
EXPORT_COLUMNS = ("phone", "channels", "language", "status", "tags", "opted_in_at", "country",
                  "region", "created_at")  # fmt: skip
_TAG_SPLIT = re.compile(r"[;|]")


@dataclass(frozen=True)
class Row:
    """One good row, ready to apply."""

    line: int
    phone: str
    channel: str
    address: str
    language: str
    tags: tuple[str, ...]
    source: str
    consented_at: dt.datetime


@dataclass
class Report:
    """What an import did."""

    created: int = 0
    updated: int = 0
    kept_opted_out: list[tuple[int, str]] = field(default_factory=list)  # (line, phone)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


class Reason(str):
    """Why a row was refused: English text that also knows its catalog msgid and values,
    so the dashboard can show it in the organizer's language."""

    msgid: str
    values: dict[str, str]

    def __new__(cls, msgid: str, **values: object) -> Reason:
        text = {k: str(v) for k, v in values.items()}
        reason = super().__new__(cls, msgid.format(**text))
        reason.msgid, reason.values = msgid, text
        return reason


def read_rows(
    lines: Iterable[str], default_region: str = "US", now: dt.datetime | None = None
) -> Iterator[Row | tuple[int, str]]:
    """Parse CSV text: a Row for each good line, (line, reason) for each bad one."""
    reader = csv.DictReader(lines)
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        yield 1, Reason(N_("missing column(s): {columns}"), columns=", ".join(missing))
        return
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        parsed = parse_row(line, record, default_region, now or dt.datetime.now(dt.UTC))
        if isinstance(parsed, Row):
            if parsed.phone in seen:
                parsed = (line, Reason(N_("same phone as line {line}"), line=seen[parsed.phone]))
            else:
                seen[parsed.phone] = line
        yield parsed


def parse_row(
    line: int, record: dict[str, str | None], default_region: str, now: dt.datetime
) -> Row | tuple[int, str]:
    """One CSV record: a Row, or (line, reason) when it cannot be used."""
    value = {k.strip().lower(): (v or "").strip() for k, v in record.items() if k}
    try:
        phone = phones.normalize_phone(value.get("phone", ""), default_region)
    except phones.InvalidNumber:
        return line, Reason(N_("phone '{phone}' is not a phone number"), phone=value.get("phone"))
    channel = (value.get("channel") or "sms").lower()
    if channel not in CHANNELS:
        return line, Reason(
            N_("channel '{value}' is not one of {choices}"),
            value=channel,
            choices=", ".join(CHANNELS),
        )
    language = (value.get("language") or "").lower()[:2]
    if language not in LANGUAGES:
        return line, Reason(
            N_("language '{value}' is not one of {choices}"),
            value=value.get("language"),
            choices=", ".join(LANGUAGES),
        )
    if not value.get("consent_source"):
        return line, Reason(N_("no consent_source: every contact needs a consent record"))
    consented_at = _date(value.get("consent_date", ""))
    if consented_at is None:
        return line, Reason(
            N_("consent_date '{value}' is not a date (YYYY-MM-DD)"), value=value.get("consent_date")
        )
    if consented_at > now:
        return line, Reason(N_("consent_date is in the future"))
    tags = tuple(t.strip().lower() for t in _TAG_SPLIT.split(value.get("tags", "")) if t.strip())
    address = phones.address_for(channel, phone)
    return Row(line, phone, channel, address, language, tags, value["consent_source"], consented_at)


def _date(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# Why an erased number's row is refused: no more than that it may not be added.
REFUSED = N_("this number may not be added to any list")


def apply_row(
    session: Session, row: Row, now: dt.datetime, report: Report, erasure_key: str | None = None
) -> Contact | None:
    """Create or update the contact, its address, tags and consent record; returns it.

    None when the number was erased (its hash under ``erasure_key`` is
    suppressed): the row is refused, in ``report.problems``.
    """
    contact = find_by_phone(session, row.phone)
    if (
        contact is None
        and erasure_key
        and suppressions.is_suppressed(session, row.phone, erasure_key)
    ):
        report.problems.append((row.line, Reason(REFUSED)))
        return None
    if contact is None:
        contact = _new_contact(session, row)
        report.created += 1
    else:
        report.updated += 1
    if contact.address_for(row.channel) is None and not _address_taken(session, row.address):
        contact.addresses.append(Address(channel=row.channel, address=row.address, created_at=now))
    for tag in row.tags:
        if tag not in contact.tag_names:
            contact.tags.append(ContactTag(tag=tag))
    if contact.status == STATUS_OPTED_OUT:
        report.kept_opted_out.append((row.line, row.phone))  # a list never undoes a STOP
        return contact
    if contact.opted_in_at is None and contact.status == STATUS_ACTIVE:
        contact.opted_in_at = row.consented_at
        session.flush()
        consent.log(
            session,
            contact,
            CONSENT_OPT_IN,
            row.consented_at,
            source=f"import:{row.source}"[:64],
            channel=row.channel,
            words=row.source[:500],
        )
    return contact


def _new_contact(session: Session, row: Row) -> Contact:
    facts = phones.facts(row.phone)
    contact = Contact(
        phone=row.phone,
        language=row.language,
        language_chosen=True,
        country=facts.country,
        region=facts.region,
        timezone=facts.timezone,
        fields={},
        created_at=row.consented_at,
    )
    session.add(contact)
    session.flush()
    return contact


def _address_taken(session: Session, address: str) -> bool:
    return session.scalar(select(Address.id).where(Address.address == address)) is not None


def export_rows(session: Session) -> Iterator[list[str]]:
    """Every contact as a CSV row (personal data: keep the file safe)."""
    yield list(EXPORT_COLUMNS)
    last_id = 0
    while True:
        contacts = session.scalars(
            select(Contact).where(Contact.id > last_id).order_by(Contact.id).limit(1000)
        ).all()
        if not contacts:
            return
        for c in contacts:
            yield [
                c.phone,
                ";".join(sorted(a.channel for a in c.addresses)),
                c.language,
                c.status,
                ";".join(sorted(c.tag_names)),
                c.opted_in_at.isoformat() if c.opted_in_at else "",
                c.country or "",
                c.region or "",
                c.created_at.isoformat(),
            ]
        last_id = contacts[-1].id
        session.expunge_all()


def write_csv(rows: Iterable[list[str]], out: IO[str]) -> None:
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(row)
