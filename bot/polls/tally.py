"""A poll's tally: each choice's answers (the latest per person), by language, channel and
the partner who brought the person, in one GROUP BY query."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from bot.broadcasts import results
from bot.broadcasts.models import Delivery
from bot.partners.models import Organization
from bot.polls.models import Poll, PollAnswer

DIRECT = "direct"  # answers of people no partner brought: "Coalition (direct)"


@dataclass
class ChoiceTally:
    value: str
    es: str
    en: str
    number: int  # 1..n, as a reply may give it
    total: int = 0
    changed: int = 0  # of these, answers changed to this choice from another
    by_language: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    by_partner: Counter[str] = field(default_factory=Counter)  # slug, or DIRECT

    def label(self, language: str) -> str:
        return self.es if language == "es" else self.en


@dataclass
class Tally:
    poll_id: int
    choices: list[ChoiceTally]
    partners: dict[str, dict[str, str]]  # slug -> names per language (DIRECT not included)

    @property
    def total(self) -> int:
        return sum(c.total for c in self.choices)

    @property
    def changed(self) -> int:
        return sum(c.changed for c in self.choices)

    def keys(self, dimension: str) -> list[str]:
        """Every language, channel or partner that has an answer, sorted."""
        found: set[str] = set()
        for choice in self.choices:
            found |= set(getattr(choice, f"by_{dimension}"))
        return sorted(found, key=lambda k: (k == DIRECT, k))


def tally(session: Session, poll: Poll, organization_ids: set[int] | None = None) -> Tally:
    """The poll's answers per choice; ``organization_ids``: only people those partners
    brought (a partner's view of a coalition poll), None for everyone."""
    choices = [ChoiceTally(c["value"], c["es"], c["en"], n) for n, c in enumerate(poll.choices, 1)]
    by_value = {c.value: c for c in choices}
    query = (
        select(
            PollAnswer.choice,
            PollAnswer.language,
            PollAnswer.channel,
            Organization.slug,
            PollAnswer.changed_from.is_not(None),
            func.count(),
        )
        .outerjoin(Organization, Organization.id == PollAnswer.organization_id)
        .where(PollAnswer.poll_id == poll.id)
        .group_by(
            PollAnswer.choice,
            PollAnswer.language,
            PollAnswer.channel,
            Organization.slug,
            PollAnswer.changed_from.is_not(None),
        )
    )
    if organization_ids is not None:
        query = query.where(PollAnswer.organization_id.in_(organization_ids))
    for value, language, channel, slug, changed, count in session.execute(query):
        choice = by_value.get(value)
        if choice is None:
            continue  # a choice no longer in the poll (never: choices do not change)
        choice.total += count
        choice.changed += count if changed else 0
        choice.by_language[language] += count
        choice.by_channel[channel or "sms"] += count
        choice.by_partner[slug or DIRECT] += count
    slugs = {k for c in choices for k in c.by_partner if k != DIRECT}
    partners = {
        slug: {"es": name_es, "en": name_en}
        for slug, name_es, name_en in session.execute(
            select(Organization.slug, Organization.name_es, Organization.name_en).where(
                Organization.slug.in_(slugs)
            )
        )
    }
    return Tally(poll.id, choices, partners)


def broadcast_results(session: Session, broadcast_id: int) -> results.Results:
    """A broadcast's results (``bot.broadcasts.results``) with its poll's answers, when it
    carries a poll: each recipient's latest answer, per choice, split like every figure."""
    found = results.results(session, broadcast_id)
    poll_id = session.scalar(select(Poll.id).where(Poll.broadcast_id == broadcast_id))
    if poll_id is None:
        return found
    query = (
        results.recipients(broadcast_id)
        .add_columns(*results.SPLIT, PollAnswer.choice, func.count())
        .join(
            PollAnswer,
            and_(PollAnswer.poll_id == poll_id, PollAnswer.contact_id == Delivery.contact_id),
        )
        .group_by(*results.SPLIT, PollAnswer.choice)
    )
    rows = [
        results.Row(results.ANSWERED, choice, lang, channel, partner, count, variant)
        for lang, channel, partner, variant, choice, count in session.execute(query)
    ]
    return results.with_rows(found, results.ANSWERED, rows)
