"""`puente petitions create|list|close|signatures`: petitions signed by text."""

from __future__ import annotations

import csv
from typing import Any

import click
from flask import current_app
from sqlalchemy import select

from bot.accounts import audit
from bot.db import get_db, utcnow
from bot.flows.model import FlowSet
from bot.partners import organizations
from bot.partners.organizations import PartnerError
from bot.petitions import petitions
from bot.petitions.models import Petition, Signature
from bot.petitions.petitions import PetitionError

petitions_group = click.Group("petitions", help="Petitions and sign-on letters signed by text.")


def _flows() -> FlowSet | None:
    loaded = current_app.extensions.get("puente.flows")
    return loaded.flowset if loaded is not None else None


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@petitions_group.command("create")
@click.option("--slug", required=True, help="Lower-case; its public count: /p/<slug>.")
@click.option("--title-es", required=True)
@click.option("--title-en", required=True)
@click.option("--text-es", required=True, help="What it asks, in Spanish.")
@click.option("--text-en", required=True, help="What it asks, in English.")
@click.option("--target", required=True, help="Who it is addressed to.")
@click.option("--target-country", help="US or MX.")
@click.option("--goal", type=int, required=True, help="Signatures wanted.")
@click.option("--keyword-es", multiple=True, help="Signing keyword in Spanish: FIRMO.")
@click.option("--keyword-en", multiple=True, help="Signing keyword in English: SIGN.")
@click.option("--partner", help="A partner's petition (slug); default: the coalition's.")
def create(**kw: Any) -> None:
    """Open a petition: texting one of its keywords signs it."""
    try:
        with get_db().session() as session:
            owner = None
            if kw["partner"]:
                owner = organizations.by_slug(session, kw["partner"])
                if owner is None:
                    raise click.ClickException(f"no partner {kw['partner']}")
            petition = petitions.create(
                session,
                kw["slug"],
                titles={"es": kw["title_es"], "en": kw["title_en"]},
                texts={"es": kw["text_es"], "en": kw["text_en"]},
                target=kw["target"],
                target_country=kw["target_country"],
                goal=kw["goal"],
                keywords={"es": _split(kw["keyword_es"]), "en": _split(kw["keyword_en"])},
                flows=_flows(),
                organization_id=owner.id if owner else None,
                now=utcnow(),
            )
            audit.record(
                session, None, "petition.create", f"petition:{petition.id}", via="cli",
                organization_id=petition.organization_id,
            )  # fmt: skip
            click.echo(f"created petition {petition.slug}")
    except (PetitionError, PartnerError) as error:
        raise click.ClickException(str(error)) from None


@petitions_group.command("list")
def list_petitions() -> None:
    """Every petition: slug, status, signatures / goal, title."""
    with get_db().session() as session:
        for petition in session.scalars(select(Petition).order_by(Petition.slug)):
            signed = petitions.count(session, petition.id)
            click.echo(
                f"{petition.slug}\t{petition.status}\t{signed}/{petition.goal}\t"
                f"{petition.titles['es']} / {petition.titles['en']}"
            )


@petitions_group.command("close")
@click.argument("slug")
def close(slug: str) -> None:
    """Take no more signatures (its keywords say it is closed)."""
    with get_db().session() as session:
        petition = petitions.by_slug(session, slug)
        if petition is None:
            raise click.ClickException(f"no petition {slug}")
        petitions.close(petition, utcnow())
        audit.record(session, None, "petition.close", f"petition:{petition.id}", via="cli")
    click.echo(f"closed petition {slug}")


@petitions_group.command("signatures")
@click.argument("slug")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
def signatures(slug: str, file: Any) -> None:
    """Write the signatures for delivery: name, postal code, state, country, date.

    No phone numbers: a petition goes to its target with names and places only.
    """
    with get_db().session() as session:
        petition = petitions.by_slug(session, slug)
        if petition is None:
            raise click.ClickException(f"no petition {slug}")
        writer = csv.writer(file)
        writer.writerow(["name", "postal_code", "region", "country", "signed_at"])
        rows = session.execute(
            select(
                Signature.name, Signature.postal_code, Signature.region, Signature.country,
                Signature.created_at,
            ).where(Signature.petition_id == petition.id).order_by(Signature.id)
        )  # fmt: skip
        for name, postal_code, region, country, created_at in rows:
            writer.writerow(
                [_safe(name), _safe(postal_code), region or "", country or "",
                 created_at.date().isoformat()]
            )  # fmt: skip
        audit.record(session, None, "petition.export", f"petition:{petition.id}", via="cli")


def _safe(value: str | None) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
