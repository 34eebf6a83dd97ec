"""The coalition's partners: create, update, archive, look up by keyword.

A join keyword is one word or phrase, unique across the coalition. It is
refused, with the reason, when it is another partner's, a flow's trigger, a
compliance word (STOP, AYUDA, ESPAÑOL…) or starts with a leave word
(LEAVE FRONTERA must leave, not join). Errors carry an English msgid, shown
translated (`PartnerError`).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from bot.compliance.keywords import Intent, classify
from bot.exceptions import PuenteError
from bot.flows.model import FlowSet
from bot.i18n import LANGUAGES, N_
from bot.partners.models import ROOT_SLUG, Organization, OrganizationKeyword
from bot.text import normalize

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
SENDER = re.compile(r"\+[1-9][0-9]{7,14}")
MESSAGING_SERVICE = re.compile(r"MG[0-9a-f]{32}")
REGION = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")  # ISO 3166-2
COUNTRIES = ("US", "MX")
# A leave word and then a partner's keyword leaves that partner: LEAVE BORDER, SALIR FRONTERA,
# "quiero salir de FRONTERA", "STOP BORDER" (STOP alone stops everything).
LEAVE_WORDS_ES = ("salir", "salirme", "sacame", "sacarme", "dejar", "baja", "cancelar")
LEAVE_WORDS_EN = ("leave", "quit", "stop", "unsubscribe", "remove", "cancel")
LEAVE_WORDS = LEAVE_WORDS_ES + LEAVE_WORDS_EN
_FILLER = ("de", "del", "a", "la", "from", "of", "me", "the", "please", "por", "favor")


class PartnerError(PuenteError):
    """A partner cannot be created or changed; ``str()`` is an English msgid.

    ``values`` fill its placeholders (``%(keyword)s``…) once translated.
    """

    def __init__(self, msgid: str, **values: str) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.values = values

    def __str__(self) -> str:
        return self.msgid % self.values if self.values else self.msgid


@dataclass(frozen=True)
class PartnerFields:
    """What an organizer gives for a partner (``None``: leave as it is, on update)."""

    name_es: str | None = None
    name_en: str | None = None
    country: str | None = None
    regions: Sequence[str] | None = None
    keywords: Mapping[str, Sequence[str]] | None = None  # language -> keywords
    sender: str | None = None  # "" clears it
    messaging_service_sid: str | None = None  # "" clears it
    help_contact: str | None = None
    legal_help: str | None = None


def keyword_form(word: str) -> str:
    """How a keyword is stored and matched: normalized (no accents, case, punctuation)."""
    return normalize(word).upper()


def root(session: Session) -> Organization:
    """The coalition (made by migration 0006)."""
    found = session.scalar(select(Organization).where(Organization.parent_id.is_(None)))
    if found is None:
        raise PartnerError(N_("The coalition is missing: run the database migrations."))
    return found


def by_slug(session: Session, slug: str, *, archived: bool = False) -> Organization | None:
    """The partner with this slug (not the coalition); archived ones only when asked."""
    query = select(Organization).where(
        Organization.slug == slug, Organization.parent_id.is_not(None)
    )
    if not archived:
        query = query.where(Organization.archived_at.is_(None))
    return session.scalar(query)


def partners(session: Session, *, archived: bool = False) -> list[Organization]:
    """Every partner, by slug (archived ones too when asked)."""
    query = select(Organization).where(Organization.parent_id.is_not(None))
    if not archived:
        query = query.where(Organization.archived_at.is_(None))
    return list(session.scalars(query.order_by(Organization.slug)))


KEYWORDS_TTL_S = 30.0  # a keyword made in another process works here within this time


@dataclass(frozen=True)
class KeywordOwner:
    """Whose keyword it is: a partner's join keyword, a petition's (``petition_id``) or an
    event's (``event_id``)."""

    organization_id: int
    language: str
    petition_id: int | None
    event_id: int | None = None


_keyword_cache: dict[str, tuple[float, dict[str, KeywordOwner]]] = {}


def forget_keywords() -> None:
    """Drop this process's copy of the keywords (done on every change made here)."""
    _keyword_cache.clear()


def keyword_index(session: Session) -> dict[str, KeywordOwner]:
    """Every partner, petition and event keyword -> its owner, read at most every 30 s.

    Most inbound messages are no partner keyword; this keeps them from costing
    a query each. An archived partner is caught when its row is read.
    """
    key = str(session.get_bind().engine.url)
    cached = _keyword_cache.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < KEYWORDS_TTL_S:
        return cached[1]
    rows = session.execute(
        select(
            OrganizationKeyword.keyword,
            OrganizationKeyword.organization_id,
            OrganizationKeyword.language,
            OrganizationKeyword.petition_id,
            OrganizationKeyword.event_id,
        )
    )
    index = {keyword: KeywordOwner(*owner) for keyword, *owner in rows}
    _keyword_cache[key] = (now, index)
    return index


def by_keyword(session: Session, text: str) -> tuple[Organization, str] | None:
    """(partner, keyword's language) when the whole message is an active partner's keyword."""
    form = keyword_form(text)
    if not form or len(form) > 40:
        return None
    found = keyword_index(session).get(form)
    if found is None or found.petition_id is not None or found.event_id is not None:
        return None
    partner = session.get(
        Organization, found.organization_id, options=[lazyload(Organization.keywords)]
    )
    if partner is None or partner.archived_at is not None or partner.is_root:
        return None
    return partner, found.language


def mentions_leaving(text: str) -> bool:
    """Whether the message has a leave word at all (the lookup is only tried then)."""
    return any(word in LEAVE_WORDS for word in normalize(text).split())


def leave_request(session: Session, text: str) -> tuple[Organization, str] | None:
    """(partner, language) when the message asks to leave one partner: LEAVE BORDER, SALIR FRONTERA.

    Also "quiero salir de FRONTERA", "please leave BORDER": a partner's keyword
    follows a leave word, with only filler between or after.
    """
    words = normalize(text).split()
    for n, word in enumerate(words):
        if word not in LEAVE_WORDS:
            continue
        rest = [w for w in words[n + 1 :] if w not in _FILLER]
        for end in range(len(rest), 0, -1):
            found = by_keyword(session, " ".join(rest[:end]))
            if found is not None and all(w in _FILLER for w in rest[end:]):
                return found[0], "es" if word in LEAVE_WORDS_ES else "en"
    return None


def by_sender(session: Session, number: str) -> Organization | None:
    """The active partner whose own Twilio number this is."""
    return session.scalar(
        select(Organization).where(
            Organization.sender == number,
            Organization.parent_id.is_not(None),
            Organization.archived_at.is_(None),
        )
    )


def keyword_problem(
    session: Session, keyword: str, flows: FlowSet | None, organization_id: int | None = None
) -> PartnerError | None:
    """Why ``keyword`` cannot be a join keyword of this organization, or None."""
    form = keyword_form(keyword)
    if not form:
        return PartnerError(N_("A keyword needs at least one letter or digit."))
    if len(form) > 40:
        return PartnerError(N_("A keyword has at most 40 characters."))
    if classify(form) is not Intent.NONE:
        return PartnerError(
            N_("%(keyword)s is a compliance word (such as STOP, HELP or a language): it cannot "
               "be a join keyword."),
            keyword=form,
        )  # fmt: skip
    if form.split()[0].lower() in LEAVE_WORDS:
        return PartnerError(
            N_("%(keyword)s starts with a word that leaves a partner."), keyword=form
        )
    if flows is not None and flows.keyword_languages(form):
        flow = flows.flow_for_keyword(form)
        return PartnerError(
            N_("%(keyword)s already starts the flow %(flow)s."),
            keyword=form,
            flow=flow.id if flow else "?",
        )
    taken = session.execute(
        select(Organization.slug, OrganizationKeyword.petition_id, OrganizationKeyword.event_id)
        .join(OrganizationKeyword, OrganizationKeyword.organization_id == Organization.id)
        .where(OrganizationKeyword.keyword == form)
    ).first()
    if taken is None:
        return None
    slug, petition_id, event_id = taken
    if petition_id is not None:
        return PartnerError(N_("%(keyword)s is already a petition's keyword."), keyword=form)
    if event_id is not None:
        return PartnerError(N_("%(keyword)s is already an event's keyword."), keyword=form)
    if organization_id is None or slug != _slug_of(session, organization_id):
        return PartnerError(
            N_("%(keyword)s is already the keyword of the partner %(partner)s."),
            keyword=form,
            partner=slug,
        )
    return None


def _slug_of(session: Session, organization_id: int) -> str | None:
    return session.scalar(select(Organization.slug).where(Organization.id == organization_id))


def create(
    session: Session, slug: str, fields: PartnerFields, flows: FlowSet | None, now: dt.datetime
) -> Organization:
    """A new partner of the coalition; raises PartnerError with the reason."""
    slug = slug.strip().lower()
    if not SLUG.fullmatch(slug) or slug == ROOT_SLUG:
        raise PartnerError(
            N_("A slug is 1 to 40 lower-case letters, digits and dashes (not %(slug)s)."),
            slug=ROOT_SLUG,
        )
    if session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise PartnerError(N_("A partner with the slug %(slug)s already exists."), slug=slug)
    if not (fields.name_es or "").strip() or not (fields.name_en or "").strip():
        raise PartnerError(N_("A partner needs a name in Spanish and in English."))
    if not any(fields.keywords.values() if fields.keywords else ()):
        raise PartnerError(N_("A partner needs at least one join keyword."))
    partner = Organization(
        slug=slug, parent_id=root(session).id, regions=[], created_at=now, name_es="", name_en=""
    )
    _apply(session, partner, fields, flows)
    session.add(partner)
    session.flush()
    forget_keywords()
    return partner


def update(
    session: Session, partner: Organization, fields: PartnerFields, flows: FlowSet | None
) -> Organization:
    """Change what is given in ``fields``; raises PartnerError with the reason."""
    if partner.is_root:
        raise PartnerError(N_("The coalition itself is configured by its settings."))
    _apply(session, partner, fields, flows)
    session.flush()
    forget_keywords()
    return partner


def archive(partner: Organization, now: dt.datetime) -> None:
    """Its keywords stop working and it leaves the lists; its members and history stay."""
    if partner.is_root:
        raise PartnerError(N_("The coalition itself cannot be archived."))
    partner.archived_at = partner.archived_at or now
    forget_keywords()


def _apply(
    session: Session, partner: Organization, fields: PartnerFields, flows: FlowSet | None
) -> None:
    if fields.name_es is not None:
        partner.name_es = _name(fields.name_es)
    if fields.name_en is not None:
        partner.name_en = _name(fields.name_en)
    if fields.country is not None:
        country = fields.country.strip().upper() or None
        if country is not None and country not in COUNTRIES:
            raise PartnerError(N_("The country is US or MX."))
        partner.country = country
    if fields.regions is not None:
        regions = [r.strip().upper() for r in fields.regions if r.strip()]
        bad = [r for r in regions if not REGION.fullmatch(r)]
        if bad:
            raise PartnerError(
                N_("%(region)s is not a state or region code such as MX-BCN or US-TX."),
                region=bad[0],
            )
        partner.regions = list(dict.fromkeys(regions))
    if fields.sender is not None:
        sender = fields.sender.strip() or None
        if sender is not None and not SENDER.fullmatch(sender):
            raise PartnerError(
                N_("The sender is a phone number in E.164 form, such as +15125550100.")
            )
        partner.sender = sender
    if fields.messaging_service_sid is not None:
        sid = fields.messaging_service_sid.strip() or None
        if sid is not None and not MESSAGING_SERVICE.fullmatch(sid):
            raise PartnerError(N_("A Messaging Service SID starts with MG and has 34 characters."))
        partner.messaging_service_sid = sid
    if fields.help_contact is not None:
        partner.help_contact = fields.help_contact.strip()[:500] or None
    if fields.legal_help is not None:
        partner.legal_help = fields.legal_help.strip()[:500] or None
    if fields.keywords is not None:
        _set_keywords(session, partner, fields.keywords, flows)


def _name(value: str) -> str:
    name = " ".join(value.split())[:128]
    if not name:
        raise PartnerError(N_("A partner needs a name in Spanish and in English."))
    return name


def _set_keywords(
    session: Session,
    partner: Organization,
    keywords: Mapping[str, Sequence[str]],
    flows: FlowSet | None,
) -> None:
    wanted: dict[str, str] = {}  # form -> language
    for language, words in keywords.items():
        if language not in LANGUAGES:
            raise PartnerError(N_("Keywords are in Spanish (es) or English (en)."))
        for word in words:
            problem = keyword_problem(session, word, flows, partner.id)
            if problem is not None:
                raise problem
            form = keyword_form(word)
            if wanted.setdefault(form, language) != language:
                raise PartnerError(N_("%(keyword)s is given for both languages."), keyword=form)
    if not wanted:
        raise PartnerError(N_("A partner needs at least one join keyword."))
    kept = {k.keyword: k for k in partner.keywords}
    partner.keywords = [
        kept.get(form) or OrganizationKeyword(keyword=form, language=language)
        for form, language in sorted(wanted.items())
    ]
    for form, language in wanted.items():
        kept_row = kept.get(form)
        if kept_row is not None:
            kept_row.language = language


def names(organizations: Iterable[Organization], language: str) -> str:
    """``"Frontera Unida, Border Rights"``: for lists in texts and pages."""
    return ", ".join(o.name(language) for o in organizations)


def serving(session: Session, region: str) -> list[int]:
    """The active partners that serve ``region`` (ISO 3166-2, "MX-BCN"), by id."""
    query = select(Organization).where(
        Organization.parent_id.is_not(None), Organization.archived_at.is_(None)
    )
    return [o.id for o in session.scalars(query.order_by(Organization.id)) if region in o.regions]
