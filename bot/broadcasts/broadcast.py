"""A broadcast's life: create, preview, test, send or schedule, pause, resume, cancel, status.

These functions only change the database; the worker's reconcile picks up
what is due within seconds, and ``queueing.kick`` (bot.sending.queueing)
starts it at once when the queue is reachable. This is the API for the CLI
and the dashboard:

    with db.session() as session:
        b = broadcast.create(session, "Marcha", {"es": "…", "en": "…"}, filters, now=now)
        p = broadcast.preview(session, b.id, config, now)
        broadcast.send(session, b.id, now)
    queueing.kick(connection, b.id)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot import formatting
from bot.broadcasts import audiences, variants
from bot.broadcasts.audiences import Breakdown, Filters
from bot.broadcasts.models import (
    BROADCAST_CANCELED,
    BROADCAST_DONE,
    BROADCAST_DRAFT,
    BROADCAST_PAUSED,
    BROADCAST_SCHEDULED,
    BROADCAST_SENDING,
    DELIVERY_SKIPPED_CANCELED,
    OPEN_DELIVERY_STATUSES,
    UNSETTLED_DELIVERY_STATUSES,
    Broadcast,
    Delivery,
)
from bot.channels.twilio import MAX_MEDIA
from bot.contacts.models import CHANNEL_SMS, CHANNEL_WHATSAPP, CHANNELS
from bot.exceptions import PuenteError
from bot.i18n import LANGUAGES
from bot.links import clicks, codes
from bot.msgs.models import Message
from bot.partners.models import Organization
from bot.text import SegmentInfo, sms_segments

PETITION_FLOW = "petition"  # flows/petition.yaml: its first step asks "sign?"


class BroadcastError(PuenteError, ValueError):
    """A broadcast that cannot be created or changed as asked (the message says why)."""


@dataclass
class Preview:
    """What the organizer sees before sending."""

    audience: Breakdown
    segments: dict[str, SegmentInfo]  # language -> encoding and segments of its text
    whatsapp_template: int = 0  # outside the 24 h window: they get the template
    whatsapp_skipped: int = 0  # outside the window and no template: skipped, counted
    estimated_cost: float = 0.0  # USD, from the SMS_* / WHATSAPP_* cost settings
    warnings: list[str] = field(default_factory=list)
    # An A/B test: variant B's segments per language, and about how many get each part.
    variant_segments: dict[str, SegmentInfo] = field(default_factory=dict)
    split: dict[str, int] = field(default_factory=dict)  # "A", "B", "rest" -> contacts (about)
    untracked_links: list[str] = field(default_factory=list)  # not http(s): sent as written


def sms_segments_of(text: str) -> SegmentInfo:
    """What ``text`` costs as an SMS: counted without WhatsApp's formatting marks, as sent."""
    return sms_segments(formatting.plain(text))


def texts_of(broadcast: Broadcast, variant: str | None = None) -> dict[str, str]:
    """The texts of one variant: B's for "B", else the broadcast's own (A)."""
    if variant == variants.VARIANT_B and broadcast.variant_texts:
        return dict(broadcast.variant_texts)
    return dict(broadcast.texts)


def text_for(broadcast: Broadcast, language: str, variant: str | None = None) -> str:
    """The text in the contact's language, else in the broadcast's default language."""
    texts = texts_of(broadcast, variant)
    return texts.get(language) or texts[broadcast.default_language]


def is_ab_test(broadcast: Broadcast) -> bool:
    """Whether the broadcast splits its audience between variants A and B."""
    return bool(broadcast.variant_texts) and broadcast.split_seed is not None


def create(
    session: Session,
    name: str,
    texts: Mapping[str, str],
    filters: Filters,
    *,
    default_language: str = "en",
    channels: Sequence[str] = (CHANNEL_WHATSAPP, CHANNEL_SMS),
    media_urls: Sequence[str] = (),
    content_sid: str | None = None,
    content_variables: Mapping[str, str] | None = None,
    flow_id: str | None = None,
    audience_id: int | None = None,
    expires_at: dt.datetime | None = None,
    reminder_id: int | None = None,
    organization_id: int | None = None,
    petition_id: int | None = None,
    variant_texts: Mapping[str, str] | None = None,
    test_share: int = variants.FULL_SHARE,
    seed: int | None = None,
    track_links: bool = True,
    now: dt.datetime,
) -> Broadcast:
    """A draft broadcast; raises BroadcastError when something is missing or wrong.

    ``organization_id``: a partner's broadcast goes to that partner's members
    only, whatever the filters say (`Filters.scoped`); None is the coalition's.
    ``petition_id``: it carries that petition, and a reply of YES / SÍ signs it.
    ``variant_texts``: an A/B test (bot.broadcasts.variants): ``texts`` is A, these
    are B, tested on ``test_share`` percent of the audience with a split from
    ``seed`` (a new one when None); the rest waits for the winner.
    ``track_links``: its http(s) URLs are stored and become per-recipient short
    links when it is sent (bot.links); False sends them as written.
    """
    texts = _stripped(texts)
    _check(texts, default_language, channels, media_urls, content_sid, content_variables)
    b_texts = _stripped(variant_texts or {})
    if b_texts:
        seed = variants.new_seed() if seed is None else seed
        try:
            variants.check(texts, b_texts, test_share, seed)
        except variants.VariantError as exc:
            raise BroadcastError(str(exc)) from None
    if organization_id is not None:
        texts = signed(session, texts, organization_id)
        b_texts = signed(session, b_texts, organization_id) if b_texts else {}
    broadcast = Broadcast(
        name=name,
        status=BROADCAST_DRAFT,
        filters=filters.scoped(organization_id).to_dict(),
        organization_id=organization_id,
        audience_id=audience_id,
        texts=texts,
        default_language=default_language,
        channels=list(channels),
        media_urls=list(media_urls),
        content_sid=content_sid or None,
        content_variables=dict(content_variables or {}),
        flow_id=PETITION_FLOW if petition_id is not None else flow_id or None,
        petition_id=petition_id,
        expires_at=expires_at,
        reminder_id=reminder_id,
        track_links=track_links,
        created_at=now,
        variant_texts=b_texts or None,
        test_share=test_share if b_texts else None,
        split_seed=seed if b_texts else None,
    )
    session.add(broadcast)
    session.flush()
    if track_links:  # B's links too: a URL only B has is tracked like A's
        clicks.store(session, broadcast.id, [*texts.values(), *b_texts.values()])
    return broadcast


def _stripped(texts: Mapping[str, str]) -> dict[str, str]:
    return {lang: text.strip() for lang, text in texts.items() if text and text.strip()}


def signed(session: Session, texts: Mapping[str, str], organization_id: int) -> dict[str, str]:
    """A partner's broadcast carries its name, in each language ("Frontera Unida: …").

    Carriers want every message to say who sends it; a text that already
    starts with the partner's name is left as it is.
    """
    partner = session.get(Organization, organization_id)
    if partner is None:
        raise BroadcastError(f"no organization {organization_id}")
    out = {}
    for language, text in texts.items():
        name = partner.name(language)
        out[language] = text if text.casefold().startswith(name.casefold()) else f"{name}: {text}"
    return out


def _check(
    texts: Mapping[str, str],
    default_language: str,
    channels: Sequence[str],
    media_urls: Sequence[str],
    content_sid: str | None,
    content_variables: Mapping[str, str] | None,
) -> None:
    if default_language not in texts:
        raise BroadcastError(f"a text in the default language ({default_language}) is required")
    unknown = sorted(set(texts) - set(LANGUAGES))
    if unknown:
        raise BroadcastError(f"unknown language(s): {', '.join(unknown)}")
    if not channels or set(channels) - set(CHANNELS):
        raise BroadcastError(f"channels must be some of {', '.join(CHANNELS)}")
    if len(media_urls) > MAX_MEDIA:
        raise BroadcastError(f"at most {MAX_MEDIA} media URLs")
    if content_variables and not content_sid:
        raise BroadcastError("template variables need a template (ContentSid)")


def get(session: Session, broadcast_id: int) -> Broadcast:
    """The broadcast, or BroadcastError."""
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastError(f"no broadcast {broadcast_id}")
    return broadcast


def filters_of(broadcast: Broadcast) -> Filters:
    """Its audience; a partner's broadcast can only reach that partner's members."""
    return Filters.from_dict(broadcast.filters).scoped(broadcast.organization_id)


def preview(
    session: Session, broadcast_id: int, config: Mapping[str, Any], now: dt.datetime
) -> Preview:
    """Audience size and make-up, segments per language and the estimated cost."""
    broadcast = get(session, broadcast_id)
    counts = audiences.breakdown(session, filters_of(broadcast), broadcast.channels, now)
    languages = sorted(set(broadcast.texts) | set(counts.by_language))
    segments = segments_of(broadcast, languages, config)
    result = Preview(counts, segments)
    result.untracked_links = codes.untracked_urls(
        [*broadcast.texts.values(), *(broadcast.variant_texts or {}).values()]
    )
    # Each variant's share of the audience: 1 without a test.
    shares = {variants.VARIANT_A: 1.0}
    if is_ab_test(broadcast):
        half = (broadcast.test_share or variants.FULL_SHARE) / 200
        shares = {variants.VARIANT_A: half, variants.VARIANT_B: half}
        result.variant_segments = segments_of(broadcast, languages, config, variants.VARIANT_B)
        result.split = _split(counts.total, broadcast.test_share or variants.FULL_SHARE)
    for language, channel, country, in_window, count in counts.groups:
        for variant, share in shares.items():
            info = result.variant_segments if variant == variants.VARIANT_B else segments
            result.estimated_cost += (
                share
                * count
                * _cost(broadcast, channel, country, in_window, info[language], config)
            )
        if channel == CHANNEL_WHATSAPP and not in_window:
            if broadcast.content_sid:
                result.whatsapp_template += count
            else:
                result.whatsapp_skipped += count
    result.warnings = _warnings(broadcast, result)
    return result


def _split(total: int, share: int) -> dict[str, int]:
    """About how many contacts get A, get B, and wait for the winner ("rest")."""
    tested = round(total * share / 100)
    a = tested // 2
    return {variants.VARIANT_A: a, variants.VARIANT_B: tested - a, "rest": total - tested}


def segments_of(
    broadcast: Broadcast,
    languages: Sequence[str],
    config: Mapping[str, Any],
    variant: str | None = None,
) -> dict[str, SegmentInfo]:
    """Segments of the SMS each language gets, as sent: its tracked links shortened and
    without WhatsApp's formatting marks."""
    base = clicks.base_of(config)
    out = {}
    for lang in languages:
        text = text_for(broadcast, lang, variant)
        out[lang] = sms_segments_of(codes.shortened(text, base) if broadcast.track_links else text)
    return out


def _cost(
    broadcast: Broadcast,
    channel: str,
    country: str | None,
    in_window: bool,
    segments: SegmentInfo,
    config: Mapping[str, Any],
) -> float:
    if channel == CHANNEL_WHATSAPP:
        sendable = in_window or broadcast.content_sid
        return config["WHATSAPP_MESSAGE_COST"] if sendable else 0.0
    key = "SMS_SEGMENT_COST_US" if country == "US" else "SMS_SEGMENT_COST_MX"
    return segments.segments * config[key]


def _warnings(broadcast: Broadcast, result: Preview) -> list[str]:
    warnings = []
    texts = [(lang, info) for lang, info in result.segments.items()]
    texts += [(f"{lang} (B)", info) for lang, info in result.variant_segments.items()]
    for shown, info in texts:
        if info.encoding == "UCS-2" and info.ucs2_chars:
            chars = " ".join(info.ucs2_chars)
            warnings.append(
                f"{shown}: {chars} make the SMS UCS-2 ({info.segments} segments); "
                "replacing them may lower the cost"
            )
    for lang in result.segments:
        if lang not in broadcast.texts:
            warnings.append(f"{lang}: no text, these contacts get {broadcast.default_language}")
    if result.split and result.whatsapp_template:
        warnings.append(
            f"{result.whatsapp_template} WhatsApp contacts are outside the 24-hour window: "
            "they get the template whatever their variant"
        )
    if result.untracked_links:
        warnings.append(
            f"not http(s), sent as written and not tracked: {', '.join(result.untracked_links)}"
        )
    if result.whatsapp_skipped:
        warnings.append(
            f"{result.whatsapp_skipped} WhatsApp contacts are outside the 24-hour window "
            "and will be skipped: add an approved template to reach them"
        )
    return warnings


def send(session: Session, broadcast_id: int, now: dt.datetime) -> Broadcast:
    """Start sending now (the worker fans it out and sends)."""
    broadcast = get(session, broadcast_id)
    _require(broadcast, BROADCAST_DRAFT, BROADCAST_SCHEDULED)
    broadcast.status = BROADCAST_SENDING
    broadcast.send_at = broadcast.send_at or now
    broadcast.started_at = now
    return broadcast


def schedule(session: Session, broadcast_id: int, at: dt.datetime) -> Broadcast:
    """Send at ``at`` (an aware datetime); the worker starts it then."""
    if at.tzinfo is None:
        raise BroadcastError("the send time needs a time zone")
    broadcast = get(session, broadcast_id)
    _require(broadcast, BROADCAST_DRAFT, BROADCAST_SCHEDULED)
    broadcast.status = BROADCAST_SCHEDULED
    broadcast.send_at = at
    return broadcast


def pause(session: Session, broadcast_id: int) -> Broadcast:
    """Stop sending; messages already handed to Twilio are not recalled."""
    broadcast = get(session, broadcast_id)
    _require(broadcast, BROADCAST_SENDING)
    broadcast.status = BROADCAST_PAUSED
    return broadcast


def resume(session: Session, broadcast_id: int) -> Broadcast:
    broadcast = get(session, broadcast_id)
    _require(broadcast, BROADCAST_PAUSED)
    broadcast.status = BROADCAST_SENDING
    return broadcast


def cancel(session: Session, broadcast_id: int, now: dt.datetime) -> Broadcast:
    """Never send what was not sent yet."""
    broadcast = get(session, broadcast_id)
    _require(broadcast, BROADCAST_DRAFT, BROADCAST_SCHEDULED, BROADCAST_SENDING, BROADCAST_PAUSED)
    broadcast.status = BROADCAST_CANCELED
    broadcast.finished_at = now
    session.execute(
        update(Delivery)
        .where(Delivery.broadcast_id == broadcast.id, Delivery.status.in_(OPEN_DELIVERY_STATUSES))
        .values(status=DELIVERY_SKIPPED_CANCELED, updated_at=now)
    )
    return broadcast


def _require(broadcast: Broadcast, *statuses: str) -> None:
    if broadcast.status not in statuses:
        raise BroadcastError(
            f"broadcast {broadcast.id} is {broadcast.status} (needs {' or '.join(statuses)})"
        )


@dataclass
class Status:
    """Where a broadcast is: deliveries by state, and Twilio's statuses of what was sent."""

    broadcast_id: int
    status: str
    deliveries: dict[str, int]
    messages: dict[str, int]  # queued, sent, delivered, read, failed, undelivered…
    fanned_out: bool

    @property
    def total(self) -> int:
        return sum(self.deliveries.values())

    @property
    def settled(self) -> int:
        return sum(n for s, n in self.deliveries.items() if s not in UNSETTLED_DELIVERY_STATUSES)


def status(session: Session, broadcast_id: int) -> Status:
    """Counts by delivery state; what Twilio reported comes from the messages."""
    broadcast = get(session, broadcast_id)
    by_state = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.broadcast_id == broadcast_id)
        .group_by(Delivery.status)
    ).all()
    by_message = session.execute(
        select(Message.status, func.count())
        .join(Delivery, Delivery.message_id == Message.id)
        .where(Delivery.broadcast_id == broadcast_id)
        .group_by(Message.status)
    ).all()
    return Status(
        broadcast.id,
        broadcast.status,
        {s: n for s, n in by_state},
        {s: n for s, n in by_message},
        broadcast.fanout_done_at is not None,
    )


def finish_if_settled(session: Session, broadcast: Broadcast, now: dt.datetime) -> bool:
    """Mark a fanned-out broadcast done when no delivery is left to send or settle."""
    if broadcast.status != BROADCAST_SENDING or broadcast.fanout_done_at is None:
        return False
    left = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.broadcast_id == broadcast.id,
            Delivery.status.in_(UNSETTLED_DELIVERY_STATUSES),
        )
    )
    if left:
        return False
    broadcast.status = BROADCAST_DONE
    broadcast.finished_at = now
    return True


def send_winner(session: Session, broadcast_id: int, variant: str, now: dt.datetime) -> Broadcast:
    """A draft of the A/B test's winning variant, to the rest of the test's audience.

    The same audience, channels, attachment, template, flow and petition, with
    the winner's texts, minus every contact the test (or an earlier winner of
    it) was addressed to: nobody gets it twice. Refused when the test is not
    done, tested everyone (100%), or already has a winner on its way.
    """
    test = get(session, broadcast_id)
    if not is_ab_test(test):
        raise BroadcastError(f"broadcast {test.id} is not an A/B test")
    if variant not in variants.VARIANTS:
        raise BroadcastError(f"the winner is {' or '.join(variants.VARIANTS)}")
    if (test.test_share or variants.FULL_SHARE) >= variants.FULL_SHARE:
        raise BroadcastError(f"broadcast {test.id} tested everyone: nobody is left for a winner")
    _require(test, BROADCAST_DONE)
    earlier = session.execute(
        select(Broadcast.id, Broadcast.status).where(Broadcast.winner_of_id == test.id)
    ).all()
    if any(status != BROADCAST_CANCELED for _id, status in earlier):
        raise BroadcastError(f"broadcast {test.id} already has its winner")
    filters = filters_of(test)
    filters = replace(
        filters,
        exclude_broadcasts=(*filters.exclude_broadcasts, test.id, *(i for i, _s in earlier)),
    )
    winner = create(
        session,
        f"{test.name} ({variant})"[:128],
        texts_of(test, variant),
        filters,
        default_language=test.default_language,
        channels=test.channels,
        media_urls=test.media_urls,
        content_sid=test.content_sid,
        content_variables=test.content_variables,
        flow_id=test.flow_id,
        audience_id=test.audience_id,
        expires_at=test.expires_at,
        organization_id=test.organization_id,
        petition_id=test.petition_id,
        now=now,
    )
    winner.winner_of_id = test.id
    winner.winner_variant = variant
    return winner
