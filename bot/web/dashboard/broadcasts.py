"""Broadcasts: compose in both languages, pick an audience, test, send, watch it go.

The engine is ``bot.broadcasts`` (create, preview, send, schedule, pause,
resume, cancel, status); this module only turns forms into those calls. A
send sets the broadcast sending and kicks the queue; the workers do the rest,
and the progress panel polls ``status`` until it is done.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from bot.accounts.roles import EDIT, SEND
from bot.broadcasts import audiences, broadcast, variants
from bot.broadcasts.audiences import Filters
from bot.broadcasts.broadcast import BroadcastError
from bot.broadcasts.models import (
    BROADCAST_DONE,
    BROADCAST_DRAFT,
    BROADCAST_PAUSED,
    BROADCAST_SCHEDULED,
    BROADCAST_SENDING,
    Audience,
    Broadcast,
    Event,
)
from bot.contacts.identity import find_by_phone
from bot.contacts.models import CHANNEL_SMS, CHANNEL_WHATSAPP, Contact, ContactTag
from bot.db import get_db, get_session, utcnow
from bot.flows.loader import read_flows
from bot.i18n import LANGUAGES, N_
from bot.links import clicks, codes
from bot.links.models import BroadcastLink
from bot.msgs.sending import send_to_contact, sender_from_config
from bot.partners import organizations
from bot.polls import polls
from bot.sending import queueing
from bot.sending.process import redis_url
from bot.web.dashboard import broadcast_poll, broadcast_results, scope
from bot.web.dashboard.auth import current_user, record, require
from bot.web.dashboard.flows import flows_dir
from bot.web.dashboard.language import _, local, user_zone

log = logging.getLogger(__name__)
bp = Blueprint("broadcasts", __name__, url_prefix="/broadcasts")

PAGE_SIZE = 50
MAX_TEXT = 1600  # Twilio's limit for one message body
# Which channels, in order of preference: the first one a contact has is used.
CHANNEL_CHOICES = {
    "whatsapp_first": (CHANNEL_WHATSAPP, CHANNEL_SMS),
    "sms_first": (CHANNEL_SMS, CHANNEL_WHATSAPP),
    "sms_only": (CHANNEL_SMS,),
    "whatsapp_only": (CHANNEL_WHATSAPP,),
}
CHANNEL_LABELS = {
    "whatsapp_first": N_("WhatsApp first, else SMS"),
    "sms_first": N_("SMS first, else WhatsApp"),
    "sms_only": N_("SMS only"),
    "whatsapp_only": N_("WhatsApp only"),
}
AWAITING_RECEIPT = ("accepted", "queued", "sending", "sent")  # Twilio may still report
RECEIPTS_WINDOW = dt.timedelta(minutes=15)  # how long a done broadcast keeps polling
LIST_FILTERS = ("languages", "tags", "exclude_tags", "countries", "regions", "partners")
TEST_PREFIX = "[TEST] "  # as the CLI's test send marks it
TEST_PREFIX_B = "[TEST B] "  # an A/B test's variant B
LIVE = (BROADCAST_SENDING, BROADCAST_SCHEDULED, BROADCAST_PAUSED)  # the progress panel polls


# --- reading the form --------------------------------------------------------------------


def _day(value: str | None, end: bool = False) -> dt.datetime | None:
    """A date from a form, as the start (or end) of that day in the user's time zone."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    moment = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time())
    return moment.replace(tzinfo=user_zone()).astimezone(dt.UTC)


def filters_from(form: Any, session: Session) -> Filters:
    """The audience the form describes (a saved audience, or the filters picked).

    A partner's audience is its members only, whatever the form says; the
    coalition may pick partners. Saved audiences and events of another
    organization are ignored.
    """
    acting = scope.acting_organization()
    saved = saved_audience(session, form.get("audience", ""))
    if saved is not None:
        return Filters.from_dict(saved.filters).scoped(acting)
    event_id = form.get("event_id", type=int)
    if event_id and session.scalar(select(Event.id).where(_owned_event(event_id))) is None:
        event_id = None
    return Filters(
        languages=tuple(v for v in form.getlist("languages") if v in LANGUAGES),
        tags=tuple(form.getlist("tags")),
        exclude_tags=tuple(form.getlist("exclude_tags")),
        countries=tuple(v for v in form.getlist("countries") if v in ("US", "MX")),
        regions=tuple(form.getlist("regions")),
        joined_after=_day(form.get("joined_after")),
        joined_before=_day(form.get("joined_before"), end=True),
        event_id=event_id or None,
        partners=_partners_from(form, session),
        clicked=_owned_broadcast(session, form.get("clicked", type=int)),
        not_clicked=_owned_broadcast(session, form.get("not_clicked", type=int)),
    ).scoped(acting)


def saved_audience(session: Session, name: str) -> Audience | None:
    """The scope's saved audience with this name, if there is one."""
    if not name:
        return None
    return session.scalar(
        select(Audience).where(Audience.name == name, scope.owned_clause(Audience.organization_id))
    )


def _owned_broadcast(session: Session, broadcast_id: int | None) -> int | None:
    """The broadcast id, if the scope owns that broadcast (a filter on another's is ignored)."""
    if not broadcast_id:
        return None
    owned = (Broadcast.id == broadcast_id) & scope.owned_clause(Broadcast.organization_id)
    return session.scalar(select(Broadcast.id).where(owned))


def _owned_event(event_id: int) -> Any:
    return (Event.id == event_id) & scope.owned_clause(Event.organization_id)


def _partners_from(form: Any, session: Session) -> tuple[int, ...]:
    """The partners the coalition picked (active ones; a partner cannot pick)."""
    if not scope.current().sees_everything:
        return ()
    wanted = {int(v) for v in form.getlist("partners") if str(v).isdigit()}
    return tuple(p.id for p in organizations.partners(session) if p.id in wanted)


def channels_from(form: Any) -> tuple[str, ...]:
    """The channels, in order of preference, the form picked."""
    return CHANNEL_CHOICES.get(form.get("channel_order", ""), CHANNEL_CHOICES["whatsapp_first"])


def texts_from(form: Any, prefix: str = "text_") -> dict[str, str]:
    """The text in each language, with the browser's line ends made SMS ones.

    ``prefix``: "variant_b_" reads an A/B test's variant B.
    """
    return {
        lang: form.get(f"{prefix}{lang}", "").replace("\r\n", "\n").strip()[:MAX_TEXT]
        for lang in LANGUAGES
    }


def share_from(form: Any) -> int:
    """The A/B test's share of the audience, in percent (100 when not given)."""
    return form.get("test_share", type=int) or variants.FULL_SHARE


def _choices(session: Session) -> dict[str, Any]:
    """What the compose form offers: the scope's tags, states, saved audiences and events,
    the flows, and (for the coalition) its partners."""
    flowset, _problems = read_flows(flows_dir())
    regions = (
        select(Contact.region)
        .where(Contact.region.is_not(None), scope.contacts_clause())
        .distinct()
    )
    tags = (
        select(ContactTag.tag)
        .where(ContactTag.contact_id.in_(scope.visible_contact_ids()))
        .distinct()
        .order_by(ContactTag.tag)
    )
    saved = select(Audience).where(scope.owned_clause(Audience.organization_id))
    events = select(Event).where(scope.owned_clause(Event.organization_id))
    with_links = (
        select(Broadcast)
        .where(
            scope.owned_clause(Broadcast.organization_id),
            Broadcast.track_links,
            Broadcast.started_at.is_not(None),
            exists().where(BroadcastLink.broadcast_id == Broadcast.id),
        )
        .order_by(Broadcast.id.desc())
        .limit(20)
    )
    coalition = scope.current().sees_everything
    return {
        "tags": list(session.scalars(tags)),
        "regions": sorted(session.scalars(regions)),
        "audiences": list(session.scalars(saved.order_by(Audience.name))),
        "events": list(session.scalars(events.order_by(Event.starts_at.desc()).limit(20))),
        "partners": organizations.partners(session) if coalition else [],
        "link_broadcasts": list(session.scalars(with_links)),  # for clicked / did not click
        "flows": sorted(f.id for f in flowset if f.id != polls.FLOW_ID),  # a poll: its field
        "channel_choices": CHANNEL_LABELS,
        # The counters count each http(s) link at the length of its short link.
        "short_link_length": len(clicks.base_of(current_app.config)) + codes.CODE_LENGTH,
    }


def is_live(item: Broadcast, progress: broadcast.Status) -> bool:
    """Whether the progress panel should keep polling: sending, or receipts still due."""
    if item.status in LIVE:
        return True
    if item.status != BROADCAST_DONE or item.finished_at is None:
        return False
    waiting = sum(progress.messages.get(s, 0) for s in AWAITING_RECEIPT)
    return waiting > 0 and utcnow() - item.finished_at < RECEIPTS_WINDOW


def numbers(progress: broadcast.Status) -> dict[str, int]:
    """The progress panel's four numbers from the engine's counts."""
    sent = progress.deliveries.get("sent", 0)
    skipped = sum(n for state, n in progress.deliveries.items() if state.startswith("skipped"))
    return {
        "sent": sent,
        "delivered": progress.messages.get("delivered", 0) + progress.messages.get("read", 0),
        "failed": progress.messages.get("failed", 0) + progress.messages.get("undelivered", 0),
        "skipped": skipped + progress.deliveries.get("blocked", 0),
        "waiting": progress.total - progress.settled,
    }


# --- pages -------------------------------------------------------------------------------


@bp.before_request
def _owned_only() -> None:
    """A broadcast of another organization is not there (404), for every page and action."""
    broadcast_id = (request.view_args or {}).get("broadcast_id")
    if broadcast_id is not None:  # a session of its own: the view's writes must not wait
        with get_db().session() as db_session:
            scope.owned_or_404(db_session, Broadcast, broadcast_id)


@bp.get("/")
def index() -> str:
    """The scope's broadcasts, newest first, with where they stand."""
    session = get_session()
    rows = session.scalars(
        select(Broadcast)
        .where(Broadcast.reminder_id.is_(None), scope.owned_clause(Broadcast.organization_id))
        .order_by(Broadcast.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    return render_template(
        "dashboard/broadcasts/index.html",
        rows=[(b, broadcast.status(session, b.id)) for b in rows],
    )


@bp.get("/new")
@require(EDIT)
def new() -> str:
    """The compose form, empty or copied from another broadcast (?copy=<id>)."""
    session = get_session()
    draft: dict[str, Any] = {
        "texts": {},
        "variant_texts": {},
        "test_share": variants.FULL_SHARE,
        "channel_order": "whatsapp_first",
        "filters": {},
    }
    source = session.get(Broadcast, request.args.get("copy", type=int) or 0)
    if source is not None and scope.owns(source):
        draft = _as_form(source)
    elif request.args.get("event", type=int):
        draft["filters"] = {"event_id": request.args.get("event", type=int)}
    return render_template(
        "dashboard/broadcasts/new.html", draft=draft, max_text=MAX_TEXT, **_choices(session)
    )


def _as_form(source: Broadcast) -> dict[str, Any]:
    order = next(
        (k for k, v in CHANNEL_CHOICES.items() if list(v) == list(source.channels)),
        "whatsapp_first",
    )
    return {
        "name": source.name,
        "texts": source.texts,
        "variant_texts": source.variant_texts or {},
        "test_share": source.test_share or variants.FULL_SHARE,
        "default_language": source.default_language,
        "channel_order": order,
        "filters": source.filters,
        "media_url": (source.media_urls or [""])[0],
        "content_sid": source.content_sid or "",
        "flow_id": source.flow_id or "",
        "poll": _poll_spec(source),
        "links_as_written": not source.track_links,
    }


def _poll_spec(source: Broadcast) -> str:
    poll = polls.for_broadcast(get_session(), source.id)
    return broadcast_poll.spec_of(poll) if poll else ""


@bp.post("/")
@require(EDIT)
def create() -> Any:
    """Save the composed broadcast as a draft, then show its preview."""
    form = request.form
    texts = texts_from(form)
    b_texts = {lang: text for lang, text in texts_from(form, "variant_b_").items() if text}
    problem = _compose_problem(form, texts) or _variant_problem(form, texts, b_texts)
    if problem:
        flash(_(problem), "error")
        return _compose_again(form, texts), 400
    try:
        poll_spec = form.get("poll", "").strip()
        choices = polls.parse_choices(poll_spec) if poll_spec else None
        if choices and form.get("flow_id"):
            raise polls.PollError(polls.ONE_ROUTE)
    except polls.PollError as exc:
        flash(broadcast_poll.error_text(exc), "error")
        return _compose_again(form, texts), 400
    media = form.get("media_url", "").strip()
    with get_db().session() as session:
        filters = filters_from(form, session)
        saved_as = form.get("save_audience", "").strip()[:128]
        if saved_as and _name_taken(session, saved_as):
            flash(
                _("Another organization has an audience with this name. Choose another."), "error"
            )
            return _compose_again(form, texts), 400
        audience = audiences.save(session, saved_as, filters) if saved_as else None
        if audience is not None:
            audience.organization_id = scope.acting_organization()
        created = broadcast.create(
            session,
            form.get("name", "").strip()[:128] or _("Broadcast of {day}", day=_today()),
            texts,
            filters,
            default_language=_first_language(texts),
            channels=channels_from(form),
            media_urls=[media] if media else [],
            content_sid=form.get("content_sid", "").strip() or None,
            flow_id=form.get("flow_id") or None,
            audience_id=audience.id if audience else None,
            organization_id=scope.acting_organization(),
            variant_texts=b_texts,
            test_share=share_from(form),
            track_links=not form.get("links_as_written"),
            now=utcnow(),
        )
        if choices:
            polls.attach(session, created, choices)
        broadcast_id = created.id
        split = _split_details(created)
    languages = sorted(lang for lang, text in texts.items() if text)
    record("broadcast.create", f"broadcast:{broadcast_id}", languages=languages, **split)
    return redirect(url_for(".detail", broadcast_id=broadcast_id))


def _name_taken(session: Session, name: str) -> bool:
    """Whether a saved audience of another organization has this name (names are unique)."""
    found = session.scalar(select(Audience).where(Audience.name == name))
    return found is not None and found.organization_id != scope.acting_organization()


def _compose_problem(form: Any, texts: dict[str, str]) -> str | None:
    """What keeps the form from becoming a draft (an msgid), or None."""
    if not any(texts.values()):
        return N_("Write the message in at least one language.")
    media = form.get("media_url", "").strip()
    if media and not media.startswith("https://"):
        return N_("The media link must start with https://")
    if not re.fullmatch(r"(HX[0-9a-fA-F]{32})?", form.get("content_sid", "").strip()):
        return N_("A WhatsApp template id looks like HX followed by 32 letters and digits.")
    return None


def _variant_problem(form: Any, texts: dict[str, str], b_texts: dict[str, str]) -> str | None:
    """What keeps an A/B test from being set up (an msgid), or None (also: no variant B)."""
    if not b_texts:
        return None
    if set(b_texts) != {lang for lang, text in texts.items() if text}:
        return VARIANT_LANGUAGES
    share = form.get("test_share", type=int)
    if share is not None and not variants.MIN_SHARE <= share <= variants.FULL_SHARE:
        return VARIANT_SHARE
    return None


VARIANT_LANGUAGES = N_("Variant B needs a text in each language that variant A has, and no other.")
VARIANT_SHARE = N_("The test share is a percentage from 2 to 100.")


def _split_details(item: Broadcast) -> dict[str, Any]:
    """What the audit log keeps of an A/B test's split (nothing for a plain broadcast)."""
    if not broadcast.is_ab_test(item):
        return {}
    return {"split": {"share": item.test_share, "seed": item.split_seed}}


def _compose_again(form: Any, texts: dict[str, str]) -> str:
    """The compose form again, with everything the organizer typed."""
    draft = {
        "name": form.get("name", ""),
        "texts": texts,
        "variant_texts": texts_from(form, "variant_b_"),
        "test_share": form.get("test_share", variants.FULL_SHARE),
        "channel_order": form.get("channel_order", "whatsapp_first"),
        "filters": {key: form.getlist(key) for key in LIST_FILTERS}
        | {key: form.get(key, type=int) for key in ("event_id", "clicked", "not_clicked")},
        "media_url": form.get("media_url", ""),
        "content_sid": form.get("content_sid", ""),
        "flow_id": form.get("flow_id", ""),
        "poll": form.get("poll", ""),
        "links_as_written": bool(form.get("links_as_written")),
    }
    return render_template(
        "dashboard/broadcasts/new.html",
        draft=draft,
        max_text=MAX_TEXT,
        **_choices(get_session()),
    )


def _in_order(texts: dict[str, str]) -> list[str]:
    """The texts in the order of LANGUAGES (Spanish first), the empty ones left out."""
    return [texts[lang] for lang in LANGUAGES if texts.get(lang)]


def _first_language(texts: dict[str, str]) -> str:
    return next((lang for lang in LANGUAGES if texts.get(lang)), "es")


def _today() -> str:
    shown = local(utcnow())
    return shown.strftime("%Y-%m-%d") if shown else ""


@bp.get("/audience")
def audience() -> str:
    """The live count of the compose form: who the filters reach, by language and channel."""
    session = get_session()
    filters = filters_from(request.args, session)
    counts = audiences.breakdown(session, filters, channels_from(request.args), utcnow())
    return render_template("dashboard/broadcasts/_audience.html", counts=counts)


@bp.get("/<int:broadcast_id>")
def detail(broadcast_id: int) -> str:
    """A broadcast: its preview before sending, its progress after."""
    session = get_session()
    item = scope.owned_or_404(session, Broadcast, broadcast_id)
    progress = broadcast.status(session, item.id)
    preview = None
    if item.status in (BROADCAST_DRAFT, BROADCAST_SCHEDULED):
        preview = broadcast.preview(session, item.id, current_app.config, utcnow())
    return render_template(
        "dashboard/broadcasts/detail.html",
        item=item,
        preview=preview,
        warnings=_warnings(item, preview),
        progress=progress,
        numbers=numbers(progress),
        live=is_live(item, progress),
        segments=broadcast.segments_of(item, list(item.texts), current_app.config),
        variant_segments=broadcast.segments_of(
            item, list(item.variant_texts or {}), current_app.config, "B"
        )
        if item.variant_texts
        else {},
        poll=broadcast_poll.panel(session, item),
        winner_of=session.get(Broadcast, item.winner_of_id) if item.winner_of_id else None,
    )


@bp.get("/<int:broadcast_id>/poll")
def poll(broadcast_id: int) -> str:
    """The poll panel alone, fetched again by the page while answers come in."""
    session = get_session()
    item = scope.owned_or_404(session, Broadcast, broadcast_id)
    return render_template(
        "dashboard/broadcasts/_poll.html", item=item, poll=broadcast_poll.panel(session, item)
    )


def _warnings(item: Broadcast, preview: broadcast.Preview | None) -> list[str]:
    """What to check before sending, in the organizer's language."""
    if preview is None:
        return []
    warnings = []
    for lang, count in sorted(preview.audience.by_language.items()):
        if lang not in item.texts and count:
            language = _(_LANGUAGE_NAMES.get(lang, lang))
            warnings.append(_(NO_TEXT_WARNING, count=count, language=language))
    if preview.untracked_links:
        warnings.append(_(UNTRACKED_WARNING, links=", ".join(preview.untracked_links)))
    if preview.whatsapp_skipped:
        warnings.append(_(WINDOW_WARNING, count=preview.whatsapp_skipped))
    if preview.split and preview.whatsapp_template:
        warnings.append(_(TEMPLATE_IN_TEST_WARNING, count=preview.whatsapp_template))
    if preview.audience.total == 0:
        warnings.append(_("Nobody is in this audience yet."))
    return warnings


AUDIENCE_NAME_TAKEN = N_("Another organization has an audience with this name. Choose another.")
_LANGUAGE_NAMES = {"es": N_("Spanish"), "en": N_("English")}
NO_TEXT_WARNING = N_(
    "Contacts who speak {language}: {count}. There is no text in their language, "
    "so they get the other one."
)
TEMPLATE_IN_TEST_WARNING = N_(
    "WhatsApp contacts who have not written in 24 hours: {count}. They get the approved "
    "template whichever variant they are in, which makes the two variants look more alike."
)
UNTRACKED_WARNING = N_(
    "These links do not start with http:// or https://: they are sent as written and their "
    "clicks are not counted: {links}"
)
WINDOW_WARNING = N_(
    "WhatsApp contacts who have not written in 24 hours: {count}. "
    "Without an approved template they are skipped."
)


@bp.get("/<int:broadcast_id>/progress")
def progress(broadcast_id: int) -> str:
    """The progress panel alone, polled by the page while the broadcast is live."""
    session = get_session()
    item = scope.owned_or_404(session, Broadcast, broadcast_id)
    progress = broadcast.status(session, item.id)
    return render_template(
        "dashboard/broadcasts/_progress.html",
        item=item,
        progress=progress,
        numbers=numbers(progress),
        live=is_live(item, progress),
    )


@bp.get("/<int:broadcast_id>/results")
def results(broadcast_id: int) -> str:
    """What the broadcast achieved, by language, channel and partner (broadcast_results)."""
    session = get_session()
    item = scope.owned_or_404(session, Broadcast, broadcast_id)
    return render_template(
        "dashboard/broadcasts/results.html", **broadcast_results.page(session, item)
    )


@bp.post("/<int:broadcast_id>/send-winner")
@require(SEND)
def send_winner(broadcast_id: int) -> Any:
    """A draft of the A/B test's winner to the rest of its audience; its preview is next."""
    variant = request.form.get("variant", "")
    try:
        with get_db().session() as session:
            scope.owned_or_404(session, Broadcast, broadcast_id)
            winner = broadcast.send_winner(session, broadcast_id, variant, utcnow())
            poll = polls.for_broadcast(session, broadcast_id)
            if poll is not None:  # the winner of a poll's test asks the same poll
                polls.attach(session, winner, list(poll.choices))
            winner_id = winner.id
    except BroadcastError:
        flash(_("This test has no winner to send now. Reload to see where it is."), "error")
        return redirect(url_for(".results", broadcast_id=broadcast_id))
    record(
        "broadcast.send_winner", f"broadcast:{winner_id}", winner_of=broadcast_id, variant=variant
    )
    flash(_("The winner is ready. Check it and send it to the rest of the audience."), "success")
    return redirect(url_for(".detail", broadcast_id=winner_id))


@bp.get("/<int:broadcast_id>/results.csv")
def results_csv(broadcast_id: int) -> Response:
    """The results as CSV rows: figure, language, channel, partner, count."""
    session = get_session()
    item = scope.owned_or_404(session, Broadcast, broadcast_id)
    return Response(
        broadcast_results.csv_text(session, item),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="broadcast-{item.id}-results.csv"'},
    )


# --- actions -------------------------------------------------------------------------------


def _act(broadcast_id: int, action: str, change: Any, message: str) -> Any:
    """Run one state change of the engine, audit it, and say what happened."""
    try:
        with get_db().session() as session:
            scope.owned_or_404(session, Broadcast, broadcast_id)
            change(session)
    except BroadcastError:
        flash(_("This broadcast cannot do that any more. Reload to see where it is."), "error")
        return redirect(url_for(".detail", broadcast_id=broadcast_id))
    record(f"broadcast.{action}", f"broadcast:{broadcast_id}")
    flash(message, "success")
    return redirect(url_for(".detail", broadcast_id=broadcast_id))


def _kick(broadcast_id: int) -> None:
    """Start the workers at once (without a queue, their next check starts it)."""
    url = redis_url(current_app.config)
    if not url:
        return
    from bot import queue

    connection = queue.connect(url)
    try:
        queueing.kick(connection, broadcast_id)
    finally:
        connection.close()


@bp.post("/<int:broadcast_id>/send")
@require(SEND)
def send(broadcast_id: int) -> Any:
    """Send now."""
    if request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm you checked both texts and the audience."), "error")
        return redirect(url_for(".detail", broadcast_id=broadcast_id))
    response = _act(
        broadcast_id, "send", lambda s: broadcast.send(s, broadcast_id, utcnow()),
        _("Sending. You can watch it go out below."),
    )  # fmt: skip
    _kick(broadcast_id)
    return response


@bp.post("/<int:broadcast_id>/test")
@require(SEND)
def test(broadcast_id: int) -> Any:
    """Send each language's text, marked [TEST], to the user's own phone."""
    user = current_user()
    if user is None or not user.phone:
        flash(_("Add your own phone number on your profile first."), "error")
        return redirect(url_for(".detail", broadcast_id=broadcast_id))
    with get_db().session() as session:
        item = scope.owned_or_404(session, Broadcast, broadcast_id)
        me = find_by_phone(session, user.phone)
        channel = next((c for c in item.channels if me and me.address_for(c)), None)
        media = list(item.media_urls)
        texts = [(TEST_PREFIX, text) for text in _in_order(item.texts)]
        texts += [(TEST_PREFIX_B, text) for text in _in_order(item.variant_texts or {})]
        contact_id = me.id if me else None
    if contact_id is None or channel is None:
        flash(
            _("Text the bot once from your phone (any word) so it knows you, then try again."),
            "error",
        )
        return redirect(url_for(".detail", broadcast_id=broadcast_id))
    statuses = [
        send_to_contact(
            get_db(), sender_from_config(current_app.config), contact_id, channel,
            prefix + text, media_urls=media, extra={"broadcast_test": broadcast_id},
        ).status
        for prefix, text in texts
    ]  # fmt: skip
    record("broadcast.test", f"broadcast:{broadcast_id}", statuses=statuses)
    if any(s in ("blocked", "skipped_window", "failed", "undelivered") for s in statuses):
        flash(
            _("The test was not delivered to your phone ({status}).", status=", ".join(statuses)),
            "error",
        )
    else:
        flash(_("Test sent to your phone, one message per language."), "success")
    return redirect(url_for(".detail", broadcast_id=broadcast_id))


@bp.post("/<int:broadcast_id>/schedule")
@require(SEND)
def schedule(broadcast_id: int) -> Any:
    """Send at a date and time in the user's time zone."""
    try:
        at = dt.datetime.fromisoformat(request.form.get("send_at", ""))
    except ValueError:
        at = None
    if at is None or at.replace(tzinfo=user_zone()) <= local(utcnow()):
        flash(_("Pick a date and time in the future."), "error")
        return redirect(url_for(".detail", broadcast_id=broadcast_id))
    when = at.replace(tzinfo=user_zone()).astimezone(dt.UTC)
    return _act(
        broadcast_id, "schedule", lambda s: broadcast.schedule(s, broadcast_id, when),
        _("Scheduled."),
    )  # fmt: skip


@bp.post("/<int:broadcast_id>/pause")
@require(SEND)
def pause(broadcast_id: int) -> Any:
    """Stop sending for now."""
    return _act(
        broadcast_id, "pause", lambda s: broadcast.pause(s, broadcast_id),
        _("Paused. Messages already handed to Twilio still arrive."),
    )  # fmt: skip


@bp.post("/<int:broadcast_id>/resume")
@require(SEND)
def resume(broadcast_id: int) -> Any:
    """Go on sending what is left."""
    response = _act(
        broadcast_id, "resume", lambda s: broadcast.resume(s, broadcast_id), _("Sending again.")
    )
    _kick(broadcast_id)
    return response


@bp.post("/<int:broadcast_id>/cancel")
@require(EDIT)
def cancel(broadcast_id: int) -> Any:
    """Never send what is left (a draft: discard it)."""
    return _act(
        broadcast_id, "cancel", lambda s: broadcast.cancel(s, broadcast_id, utcnow()),
        _("Canceled. Nothing more will be sent."),
    )  # fmt: skip
