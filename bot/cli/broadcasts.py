"""Organizer commands: `puente contacts|audiences|broadcast|events …`.

Commands change the database; the worker picks the work up (at once when the
queue is reachable, else at its next reconcile).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import current_app

from bot.accounts import audit
from bot.broadcasts import audiences, broadcast, comparison, events, variants
from bot.broadcasts.audiences import Filters
from bot.broadcasts.broadcast import BroadcastError
from bot.broadcasts.models import Event
from bot.contacts import csv_lists, suppressions
from bot.contacts.identity import find_by_phone
from bot.db import Database, get_db, utcnow
from bot.i18n import gettext
from bot.msgs.sending import send_to_contact, sender_from_config
from bot.partners import membership, organizations
from bot.partners.models import Organization
from bot.petitions import petitions
from bot.polls import polls, tally
from bot.sending import process, queueing


def _db() -> Database:
    return get_db()


def _config() -> Mapping[str, Any]:
    return current_app.config


def _when(text: str, zone: str) -> dt.datetime:
    """ "2026-06-06 10:00" in ``zone`` -> an aware datetime."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def _texts(text_es: str | None, text_en: str | None) -> dict[str, str]:
    return {k: v for k, v in (("es", text_es), ("en", text_en)) if v}


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _partner(session: Any, slug: str | None) -> Organization | None:
    """The partner named by --partner (None when not given); an unknown slug stops the command."""
    if slug is None:
        return None
    partner = organizations.by_slug(session, slug)
    if partner is None:
        _fail(f"no partner {slug} (puente partners list)")
    return partner


# --- contacts ------------------------------------------------------------------------

contacts_group = click.Group("contacts", help="Import and export contacts (CSV).")


@contacts_group.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--region", default="US", show_default=True, help="For numbers without +code.")
@click.option("--partner", help="The partner (slug) whose list it is: each row joins it.")
def contacts_import(file: Any, region: str, partner: str | None) -> None:
    """Import FILE.csv: phone, channel, language, tags, consent_source, consent_date.

    With --partner, each row's consent is also that partner's: the contact
    becomes its member (one who left it stays out, as one who said STOP does).
    """
    lines = file.readlines()
    report = csv_lists.Report()
    now = utcnow()
    joined = 0
    key = suppressions.key_of(current_app.config)
    with (
        click.progressbar(list(csv_lists.read_rows(lines, region, now)), label="importing") as rows,
        _db().session() as session,
    ):
        owner = _partner(session, partner)
        for row in rows:
            if not isinstance(row, csv_lists.Row):
                report.problems.append(row)
                continue
            kept_out = len(report.kept_opted_out)
            contact = csv_lists.apply_row(session, row, now, report, key)
            if contact is None:  # an erased person's number: refused
                continue
            if owner is not None and len(report.kept_opted_out) == kept_out:
                added = membership.import_member(
                    session, contact, owner.id, row.consented_at, source=row.source,
                    channel=row.channel,
                )  # fmt: skip
                joined += added is not None
    click.echo(f"{report.created} new, {report.updated} updated, {len(report.problems)} bad rows")
    if owner is not None:
        click.echo(f"{joined} members of {owner.slug}")
    for line, phone in report.kept_opted_out:
        click.echo(f"line {line}: {phone} opted out earlier; kept opted out")
    for line, reason in report.problems:
        click.echo(f"line {line}: {reason}", err=True)


@contacts_group.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
def contacts_export(file: Any) -> None:
    """Write every contact to FILE (default: standard output)."""
    with _db().session() as session:
        csv_lists.write_csv(csv_lists.export_rows(session), file)


# --- audiences -----------------------------------------------------------------------


def filter_options(command: Any) -> Any:
    """The audience filter options shared by `audiences save` and `broadcast create`."""
    options = [
        click.option("--language", "languages", multiple=True, type=click.Choice(["es", "en"])),
        click.option("--tag", "tags", multiple=True, help="Has any of these tags."),
        click.option("--not-tag", "exclude_tags", multiple=True),
        click.option(
            "--channel", "channels", multiple=True, type=click.Choice(["sms", "whatsapp"])
        ),
        click.option("--country", "countries", multiple=True, help="US, MX…"),
        click.option(
            "--region",
            "regions",
            multiple=True,
            help="State (ISO 3166-2): CA or US-CA, JAL or MX-JAL…",
        ),
        click.option("--joined-after"),
        click.option("--joined-before"),
        click.option("--active-after"),
        click.option("--active-before"),
        click.option("--event", "event_id", type=int, help="RSVP'd yes to this event."),
        click.option("--clicked", type=int, help="Clicked a link in this broadcast (its id)."),
        click.option(
            "--not-clicked",
            "not_clicked",
            type=int,
            help="Was sent this broadcast (its id) and clicked none of its links.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def filters_from(options: Mapping[str, Any]) -> Filters:
    data = {k: v for k, v in options.items() if v not in (None, ())}
    return Filters.from_dict({k: list(v) if isinstance(v, tuple) else v for k, v in data.items()})


audiences_group = click.Group("audiences", help="Saved audiences.")


@audiences_group.command("save")
@click.argument("name")
@filter_options
def audiences_save(name: str, **options: Any) -> None:
    """Save the filters as NAME and show its size."""
    filters = filters_from(options)
    with _db().session() as session:
        audiences.save(session, name, filters)
        size = audiences.size(session, filters, (), utcnow())
    click.echo(f"audience {name!r}: {size} contacts")


@audiences_group.command("list")
def audiences_list() -> None:
    from sqlalchemy import select

    from bot.broadcasts.models import Audience

    with _db().session() as session:
        for audience in session.scalars(select(Audience).order_by(Audience.name)):
            size = audiences.size(session, Filters.from_dict(audience.filters), (), utcnow())
            click.echo(f"{audience.name}: {size} contacts {audience.filters}")


# --- broadcasts ----------------------------------------------------------------------

broadcast_group = click.Group("broadcast", help="Create, preview and send broadcasts.")


@broadcast_group.command("create")
@click.argument("name")
@click.option("--text-es", help="Spanish text.")
@click.option("--text-en", help="English text.")
@click.option("--default-language", type=click.Choice(["es", "en"]), default="en")
@click.option("--audience", "audience_name", help="A saved audience (else the filters).")
@click.option("--send-on", "send_channels", multiple=True, type=click.Choice(["whatsapp", "sms"]),
              help="Channels in order of preference (default: whatsapp, then sms).")  # fmt: skip
@click.option("--media", "media_urls", multiple=True)
@click.option("--template", "content_sid", help="Approved WhatsApp template (HX…).")
@click.option("--template-var", "variables", multiple=True, help="1=value")
@click.option("--flow", "flow_id", help="Route replies to this flow (poll, RSVP).")
@click.option("--partner", help="A partner's broadcast: its members, its sender, its name.")
@click.option("--petition", "petition_slug", help="Carry this petition: replying YES signs it.")
@click.option("--poll", "poll_spec", help='Up to 10 choices, es|en: "SÍ|YES,NO,TAL VEZ|MAYBE".')
@click.option("--to-partner", "to_partners", multiple=True,
              help="The coalition's broadcast to these partners' members only.")  # fmt: skip
@click.option("--variant-b-es", help="An A/B test: variant B's Spanish text.")
@click.option("--variant-b-en", help="An A/B test: variant B's English text.")
@click.option("--test-share", type=int, default=variants.FULL_SHARE, show_default=True,
              help="Percent of the audience tested, half A, half B; the rest waits for "
                   "the winner (send-winner).")  # fmt: skip
@click.option("--seed", type=int, help="The split's seed (default: a new one), to reproduce it.")
@click.option("--no-track-links", "no_track_links", is_flag=True,
              help="Send links as written: no per-person short links or clicks.")  # fmt: skip
@filter_options
def broadcast_create(name: str, text_es: str | None, text_en: str | None, **kw: Any) -> None:
    """Create a draft broadcast and show its preview.

    With --variant-b-es/--variant-b-en it is an A/B test: the --text-* are
    variant A, and --test-share percent of the audience is split between the
    two at random (from --seed, recorded).
    """
    variant_texts = _texts(kw.pop("variant_b_es"), kw.pop("variant_b_en"))
    test_share, seed = kw.pop("test_share"), kw.pop("seed")
    audience_name = kw.pop("audience_name")
    partner_slug, to_partners = kw.pop("partner"), kw.pop("to_partners")
    petition_slug, poll_spec = kw.pop("petition_slug"), kw.pop("poll_spec")
    track_links = not kw.pop("no_track_links")
    options = {k: kw.pop(k) for k in list(kw) if k not in _CREATE_KEYS}
    variables = dict(v.split("=", 1) for v in kw.pop("variables"))
    now = utcnow()
    try:
        choices = polls.parse_choices(poll_spec) if poll_spec is not None else None
        with _db().session() as session:
            owner = _partner(session, partner_slug)
            carried = petitions.by_slug(session, petition_slug) if petition_slug else None
            if petition_slug and carried is None:
                _fail(f"no petition {petition_slug} (puente petitions list)")
            filters = (
                audiences.load(session, audience_name) if audience_name else filters_from(options)
            )
            if to_partners:
                chosen = [_partner(session, slug) for slug in to_partners]
                filters = replace(filters, partners=tuple(p.id for p in chosen if p))
            created = broadcast.create(
                session,
                name,
                _texts(text_es, text_en),
                filters,
                default_language=kw["default_language"],
                channels=kw["send_channels"] or ("whatsapp", "sms"),
                media_urls=kw["media_urls"],
                content_sid=kw["content_sid"],
                content_variables=variables,
                flow_id=kw["flow_id"],
                organization_id=owner.id if owner else None,
                petition_id=carried.id if carried else None,
                variant_texts=variant_texts,
                test_share=test_share,
                seed=seed,
                track_links=track_links,
                now=now,
            )
            if choices is not None:
                polls.attach(session, created, choices)
            audit.record(
                session, None, "broadcast.create", f"broadcast:{created.id}", via="cli",
                organization_id=created.organization_id, languages=sorted(created.texts),
                **_split_details(created),
            )  # fmt: skip
            click.echo(f"broadcast {created.id} created (draft)")
            if broadcast.is_ab_test(created):
                click.echo(
                    f"A/B test on {created.test_share}% of the audience, seed {created.split_seed}"
                )
            _show_preview(broadcast.preview(session, created.id, _config(), now))
    except (BroadcastError, LookupError) as exc:
        _fail(str(exc))


_CREATE_KEYS = {"default_language", "send_channels", "media_urls", "content_sid", "variables",
                "flow_id"}  # fmt: skip


def _split_details(item: Any) -> dict[str, Any]:
    """What the audit log keeps of an A/B test's split (nothing for a plain broadcast)."""
    if not broadcast.is_ab_test(item):
        return {}
    return {"split": {"share": item.test_share, "seed": item.split_seed}}


def _show_preview(preview: broadcast.Preview) -> None:
    counts = preview.audience
    click.echo(f"audience: {counts.total} contacts")
    click.echo(f"  by language: {counts.by_language}")
    click.echo(f"  by channel: {counts.by_channel}")
    click.echo(f"  by country: {counts.by_country}")
    click.echo(f"  not included: {counts.excluded or 'none'}")
    if preview.whatsapp_template or preview.whatsapp_skipped:
        click.echo(
            f"  WhatsApp outside 24 h: {preview.whatsapp_template} get the template, "
            f"{preview.whatsapp_skipped} skipped"
        )
    for lang, info in preview.segments.items():
        click.echo(
            f"  {lang}: {info.segments} SMS segment(s), {info.encoding}, {info.characters} chars"
        )
    for lang, info in preview.variant_segments.items():
        click.echo(
            f"  {lang} (B): {info.segments} SMS segment(s), {info.encoding}, "
            f"{info.characters} chars"
        )
    if preview.split:
        split = preview.split
        click.echo(
            f"  A/B split (about): A {split['A']}, B {split['B']}, "
            f"waiting for the winner {split['rest']}"
        )
    click.echo(f"estimated cost: ${preview.estimated_cost:.2f}")
    for warning in preview.warnings:
        click.echo(f"warning: {warning}")


@broadcast_group.command("preview")
@click.argument("broadcast_id", type=int)
def broadcast_preview(broadcast_id: int) -> None:
    """Audience size, segments per language and estimated cost."""
    try:
        with _db().session() as session:
            _show_preview(broadcast.preview(session, broadcast_id, _config(), utcnow()))
    except BroadcastError as exc:
        _fail(str(exc))


def _kick(broadcast_id: int) -> None:
    url = process.redis_url(_config(), current_app.instance_path)
    from bot import queue

    started = queueing.kick(queue.connect(url) if url else None, broadcast_id)
    if not started:
        click.echo("the worker will start it within a few seconds (next reconcile)")


@broadcast_group.command("send")
@click.argument("broadcast_id", type=int)
@click.option("--test", "test_phone", help="Only send to this number (a contact), now.")
@click.option("--language", type=click.Choice(["es", "en"]), help="Language of the test.")
@click.option(
    "--variant", type=click.Choice(variants.VARIANTS), help="An A/B test's variant to test."
)
@click.option("--wait", is_flag=True, help="Show progress until it is done.")
def broadcast_send(
    broadcast_id: int, test_phone: str | None, language: str | None, variant: str | None,
    wait: bool,
) -> None:  # fmt: skip
    """Send now (or a test to one number)."""
    if test_phone:
        _test_send(broadcast_id, test_phone, language, variant)
        return
    try:
        with _db().session() as session:
            broadcast.send(session, broadcast_id, utcnow())
    except BroadcastError as exc:
        _fail(str(exc))
    _kick(broadcast_id)
    click.echo(f"broadcast {broadcast_id} is sending")
    if wait:
        _watch(broadcast_id)


def _test_send(broadcast_id: int, phone: str, language: str | None, variant: str | None) -> None:
    from bot import phones

    with _db().session() as session:
        found = broadcast.get(session, broadcast_id)
        contact = find_by_phone(session, phones.normalize_phone(phone))
        if contact is None:
            _fail("the test number must be a contact (text the bot from it first)")
        channel = next((c for c in found.channels if contact.address_for(c)), None)
        if channel is None:
            _fail(f"that contact has no address on {', '.join(found.channels)}")
        body = broadcast.text_for(found, language or contact.language, variant)
        contact_id, media = contact.id, list(found.media_urls)
    outcome = send_to_contact(
        _db(), sender_from_config(_config()), contact_id, channel, "[TEST] " + body,
        media_urls=media, extra={"broadcast_test": broadcast_id},
    )  # fmt: skip
    click.echo(f"test: {outcome.status} {outcome.sid or ''} {outcome.error_code or ''}".strip())


@broadcast_group.command("schedule")
@click.argument("broadcast_id", type=int)
@click.option("--at", "at_text", required=True, help='"2026-06-06 10:00"')
@click.option("--tz", default="America/Los_Angeles", show_default=True)
def broadcast_schedule(broadcast_id: int, at_text: str, tz: str) -> None:
    """Send at a time (the contacts' quiet hours still apply)."""
    try:
        with _db().session() as session:
            scheduled = broadcast.schedule(session, broadcast_id, _when(at_text, tz))
            click.echo(f"broadcast {broadcast_id} scheduled for {scheduled.send_at.isoformat()}")
    except (BroadcastError, ValueError) as exc:
        _fail(str(exc))


def _change(action: str, broadcast_id: int) -> None:
    try:
        with _db().session() as session:
            if action == "cancel":
                broadcast.cancel(session, broadcast_id, utcnow())
            else:
                getattr(broadcast, action)(session, broadcast_id)
    except BroadcastError as exc:
        _fail(str(exc))
    if action == "resume":
        _kick(broadcast_id)
    click.echo(f"broadcast {broadcast_id}: {action} done")


@broadcast_group.command("cancel")
@click.argument("broadcast_id", type=int)
def broadcast_cancel(broadcast_id: int) -> None:
    """Never send what is not sent yet."""
    _change("cancel", broadcast_id)


@broadcast_group.command("pause")
@click.argument("broadcast_id", type=int)
def broadcast_pause(broadcast_id: int) -> None:
    _change("pause", broadcast_id)


@broadcast_group.command("resume")
@click.argument("broadcast_id", type=int)
def broadcast_resume(broadcast_id: int) -> None:
    _change("resume", broadcast_id)


@broadcast_group.command("status")
@click.argument("broadcast_id", type=int)
@click.option("--watch", is_flag=True, help="A progress bar until it is done.")
def broadcast_status(broadcast_id: int, watch: bool) -> None:
    """Deliveries by state and what Twilio reported."""
    if watch:
        _watch(broadcast_id)
    try:
        with _db().session() as session:
            found = broadcast.status(session, broadcast_id)
    except BroadcastError as exc:
        _fail(str(exc))
    click.echo(f"broadcast {broadcast_id}: {found.status}, {found.settled}/{found.total} settled")
    click.echo(f"  deliveries: {found.deliveries}")
    click.echo(f"  messages: {found.messages}")


def _watch(broadcast_id: int, timeout_s: float = 24 * 3600) -> None:
    deadline = time.monotonic() + timeout_s
    with _db().session() as session:
        found = broadcast.status(session, broadcast_id)
    with click.progressbar(length=max(found.total, 1), label="sending", file=sys.stderr) as bar:
        done = 0
        while time.monotonic() < deadline:
            with _db().session() as session:
                found = broadcast.status(session, broadcast_id)
            bar.length = max(found.total, 1)
            bar.update(found.settled - done)
            done = found.settled
            if found.status in ("done", "canceled") or found.status == "paused":
                return
            time.sleep(1)


@broadcast_group.command("poll")
@click.argument("broadcast_id", type=int)
def broadcast_poll(broadcast_id: int) -> None:
    """A poll's answers per choice (the latest per person), by language, channel and partner."""
    with _db().session() as session:
        poll = polls.for_broadcast(session, broadcast_id)
        if poll is None:
            _fail(f"broadcast {broadcast_id} has no poll")
        found = tally.tally(session, poll)
    click.echo(f"broadcast {broadcast_id}: {found.total} answer(s), {found.changed} changed")
    width = max(len(f"{c.number}. {c.es} / {c.en}") for c in found.choices)
    for choice in found.choices:
        share = f"{100 * choice.total / found.total:.0f}%" if found.total else "-"
        label = f"{choice.number}. {choice.es} / {choice.en}".ljust(width)
        click.echo(f"  {label}  {choice.total:>6}  {share:>4}  changed to it: {choice.changed}")
    for dimension in ("language", "channel", "partner"):
        click.echo(f"by {dimension}:")
        for key in found.keys(dimension):
            counts = ", ".join(
                f"{c.es}/{c.en} {getattr(c, f'by_{dimension}')[key]}" for c in found.choices
            )
            name = "coalition (direct)" if key == tally.DIRECT else key
            click.echo(f"  {name}: {counts}")


@broadcast_group.command("results")
@click.argument("broadcast_id", type=int)
@click.option(
    "--csv",
    "as_csv",
    is_flag=True,
    help="CSV rows (figure, language, channel, partner, count[, variant]) on stdout.",
)
@click.option("--language", "shown_in", type=click.Choice(["es", "en"]), default="en",
              show_default=True, help="The language of an A/B test's verdicts.")  # fmt: skip
def broadcast_results(broadcast_id: int, as_csv: bool, shown_in: str) -> None:
    """What it achieved: sent, delivered, failed and skipped by reason, replies, opt-outs,
    signatures and RSVPs within 72 h, unique clicks per link, by language, channel and
    partner (and variant, with an A/B test's comparison)."""
    import csv
    import io

    from sqlalchemy import select

    from bot.broadcasts import results
    from bot.broadcasts.models import Broadcast

    with _db().session() as session:
        if session.get(Broadcast, broadcast_id) is None:
            _fail(f"no broadcast {broadcast_id}")
        found = tally.broadcast_results(session, broadcast_id)
        slugs = dict(session.execute(select(Organization.id, Organization.slug)).all())
    if as_csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(results.csv_header(found))
        writer.writerows(results.csv_rows(found, slugs))
        click.echo(out.getvalue(), nl=False)
        return
    click.echo(f"broadcast {broadcast_id}: results (replies, opt-outs, actions within 72 h)")
    for figure in found.tracked:
        click.echo(f"  {figure}: {found.total(figure)}")
        if figure in (
            results.FAILED,
            results.SKIPPED,
            results.RSVPS,
            results.ANSWERED,
            results.CLICKED,
        ):
            for reason, count in sorted(found.by(figure, "reason").items()):
                what = f"{reason} {found.links.get(reason, '')}".strip()
                click.echo(f"    {what}: {count}")
        for dimension, name in (("language", "language"), ("channel", "channel"),
                                ("partner_id", "partner"), ("variant", "variant")):  # fmt: skip
            split = {k: n for k, n in found.by(figure, dimension).items() if k is not None}
            if split:
                shown = ", ".join(
                    f"{slugs.get(k, 'coalition') if dimension == 'partner_id' else k}={n}"
                    for k, n in sorted(split.items(), key=lambda kv: str(kv[0]))
                )
                click.echo(f"    by {name}: {shown}")
    for figure in results.NOT_TRACKED:
        click.echo(f"  {figure}: not tracked yet")
    if results.has_variants(found):
        _show_comparison(results.comparison(found), shown_in)


def _show_comparison(compared: comparison.Comparison, language: str) -> None:
    """Variants A and B side by side: rates of the contacts sent each, and the verdicts."""
    from bot import i18n

    def said(msgid: str, **values: str) -> str:
        return i18n.gettext(language, msgid, "dashboard", **values)

    click.echo(f"A/B test: sent A {compared.a_sent}, B {compared.b_sent}")
    for figure in compared.figures:
        click.echo(
            f"  {figure.name}: A {figure.a_count} ({figure.a_rate:.1%}), "
            f"B {figure.b_count} ({figure.b_rate:.1%}), "
            f"difference {100 * figure.test.difference:+.1f} points"
        )
        msgid, values = comparison.verdict(figure)
        values["figure"] = said(values["figure"])
        click.echo(f"    {said(msgid, **values)}")


@broadcast_group.command("send-winner")
@click.argument("broadcast_id", type=int)
@click.option("--variant", required=True, type=click.Choice(variants.VARIANTS))
def broadcast_send_winner(broadcast_id: int, variant: str) -> None:
    """Send an A/B test's winning variant to the rest of its audience.

    A new broadcast, linked to BROADCAST_ID: the same audience minus everyone
    the test was addressed to. Refused when the test is not done or tested
    everyone (--test-share 100).
    """
    now = utcnow()
    try:
        with _db().session() as session:
            winner = broadcast.send_winner(session, broadcast_id, variant, now)
            _copy_poll(session, broadcast_id, winner)
            click.echo(f"broadcast {winner.id}: the winner ({variant}) of broadcast {broadcast_id}")
            _show_preview(broadcast.preview(session, winner.id, _config(), now))
            broadcast.send(session, winner.id, now)
            audit.record(
                session, None, "broadcast.send_winner", f"broadcast:{winner.id}", via="cli",
                organization_id=winner.organization_id, winner_of=broadcast_id, variant=variant,
            )  # fmt: skip
            winner_id = winner.id
    except BroadcastError as exc:
        _fail(str(exc))
    _kick(winner_id)
    click.echo(f"broadcast {winner_id} is sending")


def _copy_poll(session: Any, test_id: int, winner: Any) -> None:
    """The winner of a poll's test asks the same poll."""
    poll = polls.for_broadcast(session, test_id)
    if poll is not None:
        polls.attach(session, winner, list(poll.choices))


# --- events --------------------------------------------------------------------------

events_group = click.Group("events", help="Events, RSVPs and reminders.")


@events_group.command("create")
@click.option("--name-es", required=True)
@click.option("--name-en", required=True)
@click.option("--place-es", required=True)
@click.option("--place-en", required=True)
@click.option("--starts", required=True, help='"2026-06-06 10:00" in --tz')
@click.option("--tz", required=True, help="Where it happens: America/Los_Angeles…")
@click.option("--remind", multiple=True, help="Before the start: 1d, 2h, 30m.")
@click.option("--text-es", help="Reminder text; may use {name} {place} {when}.")
@click.option("--text-en")
@click.option("--keyword-es", multiple=True, help="RSVP keyword in Spanish: MARCHA.")
@click.option("--keyword-en", multiple=True, help="RSVP keyword in English: MARCH.")
@click.option("--partner", help="A partner's event (slug); default: the coalition's.")
def events_create(**kw: Any) -> None:
    """An event with reminders to those who RSVP yes; its keywords start its RSVP."""
    texts = _texts(kw["text_es"], kw["text_en"]) or None
    try:
        offsets = [events.parse_offset(o) for o in kw["remind"]]
        with _db().session() as session:
            partner = _partner(session, kw["partner"])
            event = events.create_event(
                session,
                {"es": kw["name_es"], "en": kw["name_en"]},
                {"es": kw["place_es"], "en": kw["place_en"]},
                _when(kw["starts"], kw["tz"]),
                kw["tz"],
                offsets,
                texts,
                keywords=_event_keywords(kw["keyword_es"], kw["keyword_en"]),
                flows=_flows(),
                organization_id=partner.id if partner else None,
            )
            click.echo(f"event {event.id} created with {len(offsets)} reminder(s)")
            late = [o for o in kw["remind"] if event.starts_at - events.parse_offset(o) <= utcnow()]
            if late:
                click.secho(
                    f"warning: already past, will not be sent: {', '.join(late)}", fg="yellow"
                )
    except ValueError as exc:
        _fail(str(exc))
    except (events.EventError, organizations.PartnerError) as exc:
        _fail(_both_languages(exc))


@events_group.command("keywords")
@click.argument("event_id", type=int)
@click.option("--keyword-es", multiple=True, help="RSVP keyword in Spanish: MARCHA.")
@click.option("--keyword-en", multiple=True, help="RSVP keyword in English: MARCH.")
def events_keywords(
    event_id: int, keyword_es: tuple[str, ...], keyword_en: tuple[str, ...]
) -> None:
    """Replace an event's RSVP keywords (none given: only RSVP reaches it)."""
    try:
        with _db().session() as session:
            event = session.get(Event, event_id)
            if event is None:
                _fail(f"no event {event_id}")
            events.set_keywords(session, event, _event_keywords(keyword_es, keyword_en), _flows())
    except (events.EventError, organizations.PartnerError) as exc:
        _fail(_both_languages(exc))
    click.echo(f"event {event_id}: keywords saved")


def _event_keywords(spanish: tuple[str, ...], english: tuple[str, ...]) -> dict[str, list[str]]:
    """--keyword-es MARCHA --keyword-en MARCH,MARCHING -> language -> keywords."""
    split = [
        [w.strip() for v in values for w in v.split(",") if w.strip()]
        for values in (spanish, english)
    ]
    return {"es": split[0], "en": split[1]}


def _flows() -> Any:
    loaded = current_app.extensions.get("puente.flows")
    return loaded.flowset if loaded is not None else None


def _both_languages(error: events.EventError | organizations.PartnerError) -> str:
    """Why it was refused, in English and in Spanish (the dashboard's catalog)."""
    said = []
    for lang in ("en", "es"):
        text = gettext(lang, error.msgid, "dashboard")
        said.append(text % error.values if error.values else text)
    return "\n".join(said)


@events_group.command("rsvp")
@click.argument("event_id", type=int)
@click.argument("phone")
@click.option("--no", "declined", is_flag=True)
def events_rsvp(event_id: int, phone: str, declined: bool) -> None:
    """Record a contact's RSVP (flows record theirs by text)."""
    from bot import phones

    with _db().session() as session:
        contact = find_by_phone(session, phones.normalize_phone(phone))
        if contact is None:
            _fail("no contact with that number")
        events.rsvp(session, event_id, contact.id, not declined, utcnow())
    click.echo("RSVP recorded")


@events_group.command("list")
def events_list() -> None:
    with _db().session() as session:
        for event in events.upcoming(session, utcnow()):
            click.echo(f"{event.id}: {event.names.get('en')} / {event.names.get('es')} "
                       f"{event.starts_at.astimezone(ZoneInfo(event.timezone)):%Y-%m-%d %H:%M} "
                       f"{event.timezone} {_keyword_list(session, event.id)}")  # fmt: skip


def _keyword_list(session: Any, event_id: int) -> str:
    keywords = events.keywords_of(session, event_id)
    return " ".join(f"{lang}:{','.join(words)}" for lang, words in sorted(keywords.items()))


@events_group.command("series")
@click.argument("name")
@click.option("--after", required=True, help="After each contact joins: 1d, 7d.")
@click.option("--text-es", required=True)
@click.option("--text-en", required=True)
@click.option("--tag", "tags", multiple=True, help="Only contacts with one of these tags.")
def events_series(name: str, after: str, text_es: str, text_en: str, tags: tuple[str, ...]) -> None:
    """A welcome-series step for contacts who join from now on."""
    try:
        with _db().session() as session:
            reminder = events.create_series_step(
                session,
                name,
                events.parse_offset(after),
                _texts(text_es, text_en),
                Filters(tags=tags),
            )
            click.echo(f"series step {reminder.id} created: {after} after joining")
    except (ValueError, BroadcastError) as exc:
        _fail(str(exc))


GROUPS = (contacts_group, audiences_group, broadcast_group, events_group)
