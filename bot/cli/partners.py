"""`puente partners create|list|update|archive`: the coalition's partner organizations."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app

from bot.accounts import audit
from bot.db import get_db, utcnow
from bot.flows.model import FlowSet
from bot.partners import organizations
from bot.partners.organizations import PartnerError, PartnerFields

partners_group = click.Group("partners", help="Partner organizations of the coalition.")


def _flows() -> FlowSet | None:
    loaded = current_app.extensions.get("puente.flows")
    return loaded.flowset if loaded is not None else None


def _split(values: tuple[str, ...]) -> list[str]:
    """--keyword-es A --keyword-es "B C" or --keyword-es "A,B" -> ["A", "B C"]."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _fields(options: dict[str, Any], *, creating: bool) -> PartnerFields:
    keywords = {
        lang: _split(options[f"keyword_{lang}"])
        for lang in ("es", "en")
        if options[f"keyword_{lang}"]
    }
    regions = _split(options["region"]) if options["region"] else None
    return PartnerFields(
        name_es=options["name_es"],
        name_en=options["name_en"],
        country=options["country"],
        regions=regions if regions is not None or not creating else [],
        keywords=keywords or ({} if creating else None),
        sender=options["sender"],
        messaging_service_sid=options["messaging_service"],
        help_contact=options["help_contact"],
        legal_help=options["legal_help"],
    )


def _partner_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--name-es", help="Its name in Spanish."),
            click.option("--name-en", help="Its name in English."),
            click.option("--country", help="US or MX."),
            click.option("--region", multiple=True, help="A state or region it serves: MX-BCN."),
            click.option("--keyword-es", multiple=True, help="A join keyword in Spanish."),
            click.option("--keyword-en", multiple=True, help="A join keyword in English."),
            click.option("--sender", help="Its own Twilio number, E.164 ('' clears it)."),
            click.option("--messaging-service", help="Its own Messaging Service SID (MG…)."),
            click.option("--help-contact", help="Who to reach for help, in its HELP reply."),
            click.option("--legal-help", help="Its legal-help contact, for the rights flows."),
        ]
    ):
        command = option(command)
    return command


def _fail(error: PartnerError) -> None:
    raise click.ClickException(str(error))


@partners_group.command("create")
@click.option("--slug", required=True, help="Lower-case, in its join link: /j/<slug>.")
@_partner_options
def create(slug: str, **options: Any) -> None:
    """Add a partner: names in both languages and at least one join keyword."""
    try:
        with get_db().session() as session:
            partner = organizations.create(
                session, slug, _fields(options, creating=True), _flows(), utcnow()
            )
            audit.record(
                session, None, "partner.create", f"partner:{partner.id}", via="cli",
                organization_id=partner.id,
            )  # fmt: skip
            click.echo(f"created partner {partner.slug}: " + _keywords(partner))
    except PartnerError as error:
        _fail(error)


@partners_group.command("update")
@click.argument("slug")
@_partner_options
def update(slug: str, **options: Any) -> None:
    """Change a partner; a keyword list given replaces that language's keywords."""
    try:
        with get_db().session() as session:
            partner = organizations.by_slug(session, slug)
            if partner is None:
                raise click.ClickException(f"no partner {slug}")
            fields = _fields(options, creating=False)
            if fields.keywords is not None:  # one language given: keep the other's
                merged = {lang: partner.keywords_for(lang) for lang in ("es", "en")}
                fields = PartnerFields(
                    **{**fields.__dict__, "keywords": {**merged, **fields.keywords}}
                )
            organizations.update(session, partner, fields, _flows())
            audit.record(
                session, None, "partner.update", f"partner:{partner.id}", via="cli",
                organization_id=partner.id,
            )  # fmt: skip
            click.echo(f"updated partner {partner.slug}: " + _keywords(partner))
    except PartnerError as error:
        _fail(error)


@partners_group.command("archive")
@click.argument("slug")
def archive(slug: str) -> None:
    """Stop a partner's keywords and hide it; its members and history are kept."""
    try:
        with get_db().session() as session:
            partner = organizations.by_slug(session, slug)
            if partner is None:
                raise click.ClickException(f"no partner {slug}")
            organizations.archive(partner, utcnow())
            audit.record(
                session, None, "partner.archive", f"partner:{partner.id}", via="cli",
                organization_id=partner.id,
            )  # fmt: skip
            click.echo(f"archived partner {partner.slug}")
    except PartnerError as error:
        _fail(error)


@partners_group.command("list")
@click.option("--archived", is_flag=True, help="Include archived partners.")
def list_partners(archived: bool) -> None:
    """Every partner: slug, names, country, regions, keywords, sender."""
    with get_db().session() as session:
        for partner in organizations.partners(session, archived=archived):
            sender = partner.sender or partner.messaging_service_sid or "coalition's sender"
            state = "\tarchived" if partner.archived_at else ""
            click.echo(
                f"{partner.slug}\t{partner.name_es} / {partner.name_en}\t"
                f"{partner.country or '-'} {','.join(partner.regions) or '-'}\t"
                f"{_keywords(partner)}\t{sender}{state}"
            )


def _keywords(partner: Any) -> str:
    return " ".join(
        f"{lang}:{','.join(partner.keywords_for(lang))}"
        for lang in ("es", "en")
        if partner.keywords_for(lang)
    )
