"""The compliance texts (CTIA), in the contact's language, from the catalogs.

Every text names the program; the organization's name and support contact
come from configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.i18n import N_, gettext

OPT_OUT_CONFIRMATION = N_(
    "{org_name}: You are unsubscribed and will receive no more messages. "
    "Reply START to subscribe again."
)
HELP = N_(
    "{org_name}: for help contact {support_contact}. Msg frequency varies. "
    "Msg & data rates may apply. Reply STOP to unsubscribe."
)
OPT_IN_CONFIRMATION = N_(
    "{org_name}: You are subscribed to alerts and calls to action. {frequency} "
    "Msg & data rates may apply. Reply HELP for help, STOP to unsubscribe."
)
FREQUENCY = N_("Msg frequency varies.")
LANGUAGE_SET = N_("OK, we will write to you in English. Para español, responde ESPAÑOL.")
LANGUAGE_SWITCHED = N_(
    "You wrote in English, so we will write to you in English from now on. "
    "Para seguir en español, responde ESPAÑOL."
)
LANGUAGE_ASK = N_(
    "{org_name}: Reply ESPAÑOL para recibir mensajes en español, "
    "or ENGLISH to receive messages in English."
)
WELCOME = N_(
    "Welcome to {org_name}! Reply JOIN to receive calls to action, RIGHTS for "
    "know-your-rights information, HELP for help. Reply STOP to opt out."
)
# A partner of the coalition ({partner}: its name in the contact's language).
PARTNER_AND_COALITION = N_("{partner} and {org_name}")  # who a partner's joiner joined
PARTNER_LEFT = N_(
    "{org_name}: You left {partner} and will get no more of its messages. You still get "
    "{org_name}'s messages; reply STOP to stop everything."
)
PARTNER_NOT_MEMBER = N_(
    "{org_name}: You are not a member of {partner}, so nothing changed. "
    "Reply STOP to stop all messages."
)
PARTNER_HELP = N_(
    "{partner} ({org_name}): for help contact {partner_contact}. Msg frequency varies. "
    "Msg & data rates may apply. Reply STOP to unsubscribe."
)
# The right to be erased and a copy of one's data (bot.erasure). The same texts
# whether or not the number is known: they tell nobody who is a contact.
ERASE_ASK = N_(
    "{org_name}: We will send you no more messages. To also erase your name, answers, "
    "messages, reports, signatures and memberships, reply DELETE within {minutes} minutes. "
    "We keep only a coded mark of your number so we never text you again. "
    "Any other reply keeps your data."
)
ERASED = N_(
    "{org_name}: Your data has been erased and we will not text you again. "
    "To join again one day, text JOIN."
)
MY_DATA = N_(
    "{org_name} holds: {kinds}. Messages: {messages}. Member of: {organizations}. "
    "Petitions signed: {signatures}. Reports sent: {reports}. "
    "To erase it all, reply DELETE MY DATA."
)
MY_DATA_NONE = N_("{org_name} holds no data for this number.")
# The kinds of data in MY_DATA, joined with ", ".
DATA_NUMBER = N_("your phone number")
DATA_LANGUAGE = N_("your language")
DATA_NAME = N_("your name")
DATA_ANSWERS = N_("your answers ({count})")
DATA_TAGS = N_("tags ({count})")
DATA_CONSENT = N_("your consent record")
DATA_NOTHING = N_("none")

ALL = (
    OPT_OUT_CONFIRMATION, HELP, OPT_IN_CONFIRMATION, FREQUENCY, LANGUAGE_SET, LANGUAGE_SWITCHED,
    WELCOME, PARTNER_AND_COALITION, PARTNER_LEFT, PARTNER_NOT_MEMBER, PARTNER_HELP,
)  # fmt: skip
ERASURE = (ERASE_ASK, ERASED, MY_DATA, MY_DATA_NONE)  # with their own {values}
DATA_KINDS = (DATA_NUMBER, DATA_LANGUAGE, DATA_NAME, DATA_ANSWERS, DATA_TAGS, DATA_CONSENT,
              DATA_NOTHING)  # fmt: skip


def text(msgid: str, lang: str, settings: Mapping[str, Any], **values: str) -> str:
    """``msgid`` in ``lang`` with the organization's details (and ``values``) filled in."""
    frequency = settings.get("MESSAGE_FREQUENCY") or gettext(lang, FREQUENCY)
    return gettext(
        lang,
        msgid,
        org_name=settings["ORG_NAME"],
        support_contact=settings["ORG_SUPPORT_CONTACT"],
        frequency=frequency,
        **values,
    )
