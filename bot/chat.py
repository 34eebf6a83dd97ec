"""`puente chat`: a conversation in the terminal, through the same path as the webhook.

Each line typed becomes an inbound message (with its own MessageSid) handled by
`bot.inbound.receive` on the configured database and flows; the replies are
printed as a phone would show them.
"""

from __future__ import annotations

import secrets

import click
from flask import current_app
from flask.cli import with_appcontext

from bot.db import get_db, upgrade, utcnow
from bot.inbound import Inbound, receive
from bot.msgs.replies import take_back


def say(phone: str, channel: str, text: str) -> list[str]:
    """Send ``text`` as if from ``phone`` on ``channel``; return the reply bodies."""
    sender = f"whatsapp:{phone}" if channel == "whatsapp" else phone
    inbound = Inbound(
        sid="SM" + secrets.token_hex(16),
        sender=sender,
        recipient=current_app.config["TWILIO_SMS_FROM"] or "",
        body=text,
    )
    flows = current_app.extensions.get("puente.flows")
    replies = receive(get_db(), inbound, current_app.config, utcnow(), flows)
    if any(r.queued for r in replies):  # WhatsApp buttons: a terminal shows the numbered text
        pairs = take_back(get_db(), inbound.sid)
        return [body + "".join(f"\n📎 {url}" for url in urls) for body, urls in pairs]
    return [r.body + "".join(f"\n📎 {url}" for url in r.media_urls) for r in replies]


@click.command("chat")
@with_appcontext
@click.option("--phone", default="+12135550123", show_default=True, help="the made-up number")
@click.option("--channel", type=click.Choice(["sms", "whatsapp"]), default="sms", show_default=True)
@click.option(
    "--language",
    type=click.Choice(["es", "en"]),
    default=None,
    help="start by choosing this language (texts ESPAÑOL or ENGLISH first)",
)
def chat_command(phone: str, channel: str, language: str | None) -> None:
    """Text the bot from the terminal. An empty line or Ctrl-D ends."""
    if not current_app.config["PRODUCTION"]:
        upgrade(current_app.config["DATABASE_URL"])  # a fresh checkout just works
    click.echo(f"Texting as {phone} by {channel}. Empty line to quit.")
    if language:
        for body in say(phone, channel, "ESPAÑOL" if language == "es" else "ENGLISH"):
            click.secho(f"  bot> {body}", fg="green")
    while True:
        try:
            text = click.prompt("  you", default="", show_default=False)
        except (EOFError, click.Abort):
            break
        if not text.strip():
            break
        replies = say(phone, channel, text)
        for body in replies or ["(no reply)"]:
            click.secho(f"  bot> {body}", fg="green")
