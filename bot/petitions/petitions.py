"""Petitions: create, close, look up by keyword, sign once per person, count.

A signature is unique per (petition, contact) in the database: a retried
message, or two messages at once, can never sign twice. The confirmation
gives the signature's number in the contact's language (Babel's format:
"Eres la firma número 1.234").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.contacts.models import Contact
from bot.exceptions import ExplainedError
from bot.flows.model import FlowSet
from bot.i18n import LANGUAGES, N_
from bot.partners import organizations
from bot.partners.models import OrganizationKeyword
from bot.petitions.models import PETITION_CLOSED, PETITION_OPEN, Petition, Signature

FLOW_ID = "petition"  # flows/petition.yaml: asks what is missing, then signs
KEYWORD_STEP = "known_name"  # where a keyword starts it (a broadcast's YES starts at confirm)
TARGET_COUNTRIES = ("US", "MX")

# What a signer is told ({number} in Babel's format for their language).
SIGNED = N_("Thank you for signing “{title}”! You are signature number {number}.")
ALREADY_SIGNED = N_("You already signed “{title}”: you are signature number {number}. Thank you!")
CLOSED = N_("“{title}” is closed and takes no more signatures. Thank you for caring!")
TEXTS = (SIGNED, ALREADY_SIGNED, CLOSED)


class PetitionError(ExplainedError):
    """A petition cannot be created or changed, and why."""


@dataclass(frozen=True)
class Signed:
    """What signing did: the signature's number, and whether it is new."""

    petition: Petition
    number: int
    new: bool


def create(
    session: Session,
    slug: str,
    *,
    titles: Mapping[str, str],
    texts: Mapping[str, str],
    target: str,
    goal: int,
    keywords: Mapping[str, Sequence[str]],
    flows: FlowSet | None,
    now: dt.datetime,
    target_country: str | None = None,
    organization_id: int | None = None,
) -> Petition:
    """A new open petition; raises PetitionError (or PartnerError for a keyword) with the reason."""
    slug = slug.strip().lower()
    if not organizations.SLUG.fullmatch(slug):
        raise PetitionError(N_("A slug is 1 to 40 lower-case letters, digits and dashes."))
    if session.scalar(select(Petition.id).where(Petition.slug == slug)) is not None:
        raise PetitionError(N_("A petition with the slug %(slug)s already exists."), slug=slug)
    titles = _both(titles, N_("A petition needs a title in Spanish and in English."))
    texts = _both(texts, N_("A petition needs its text in Spanish and in English."))
    if not target.strip():
        raise PetitionError(N_("A petition needs a target: who it is addressed to."))
    country = (target_country or "").strip().upper() or None
    if country is not None and country not in TARGET_COUNTRIES:
        raise PetitionError(N_("The target's country is US or MX."))
    if goal < 1:
        raise PetitionError(N_("The goal is a number of signatures, at least 1."))
    wanted = _keywords(session, keywords, flows)
    owner = organization_id if organization_id is not None else organizations.root(session).id
    petition = Petition(
        slug=slug, titles=titles, texts=texts, target=" ".join(target.split())[:256],
        target_country=country, goal=goal, status=PETITION_OPEN,
        organization_id=organization_id, created_at=now,
    )  # fmt: skip
    session.add(petition)
    session.flush()
    for form, language in wanted.items():
        session.add(
            OrganizationKeyword(
                keyword=form, organization_id=owner, language=language, petition_id=petition.id
            )
        )
    session.flush()
    organizations.forget_keywords()
    return petition


def _both(values: Mapping[str, str], problem: str) -> dict[str, str]:
    cleaned = {lang: " ".join((values.get(lang) or "").split()) for lang in LANGUAGES}
    if not all(cleaned.values()):
        raise PetitionError(problem)
    return cleaned


def _keywords(
    session: Session, keywords: Mapping[str, Sequence[str]], flows: FlowSet | None
) -> dict[str, str]:
    """normalized keyword -> language; a keyword taken anywhere is refused with the reason."""
    wanted: dict[str, str] = {}
    for language, words in keywords.items():
        if language not in LANGUAGES:
            raise PetitionError(N_("Keywords are in Spanish (es) or English (en)."))
        for word in words:
            problem = organizations.keyword_problem(session, word, flows)
            if problem is not None:
                raise problem
            wanted[organizations.keyword_form(word)] = language
    if not wanted:
        raise PetitionError(N_("A petition needs at least one keyword."))
    return wanted


def by_slug(session: Session, slug: str) -> Petition | None:
    return session.scalar(select(Petition).where(Petition.slug == slug))


def by_keyword(session: Session, text: str) -> tuple[Petition, str] | None:
    """(petition, keyword's language) when the whole message is a petition's keyword."""
    form = organizations.keyword_form(text)
    found = organizations.keyword_index(session).get(form) if form else None
    if found is None or found.petition_id is None:
        return None
    petition = session.get(Petition, found.petition_id)
    return (petition, found.language) if petition is not None else None


def close(petition: Petition, now: dt.datetime) -> None:
    """No more signatures: its keywords answer that it is closed."""
    petition.status, petition.closed_at = PETITION_CLOSED, petition.closed_at or now


def count(session: Session, petition_id: int) -> int:
    return session.scalar(select(func.count()).where(Signature.petition_id == petition_id)) or 0


def sign(
    session: Session,
    petition: Petition,
    contact: Contact,
    now: dt.datetime,
    *,
    source: str,
    channel: str | None = None,
    message_sid: str | None = None,
) -> Signed:
    """Sign once; signing again changes nothing and gives the first signature's number."""
    mine = session.scalar(
        select(Signature).where(
            Signature.petition_id == petition.id, Signature.contact_id == contact.id
        )
    )
    if mine is not None:
        return Signed(petition, _number(session, mine), new=False)
    fields = contact.fields or {}
    signature = Signature(
        petition_id=petition.id,
        contact_id=contact.id,
        name=(str(fields.get("name") or "").strip() or None),
        postal_code=(str(fields.get("zip") or "").strip() or None),
        country=contact.country,
        region=contact.region,
        organization_id=contact.joined_via_id,
        language=contact.language,
        channel=channel,
        source=source[:64],
        message_sid=message_sid,
        extra={},
        created_at=now,
    )
    session.add(signature)
    session.flush()  # the unique key: a concurrent copy fails here, and is handled again
    return Signed(petition, _number(session, signature), new=True)


def _number(session: Session, signature: Signature) -> int:
    """Its place among the petition's signatures (1 for the first)."""
    return (
        session.scalar(
            select(func.count()).where(
                Signature.petition_id == signature.petition_id, Signature.id <= signature.id
            )
        )
        or 0
    )
