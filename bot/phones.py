"""Phone numbers: the one place that imports phonenumbers.

Numbers are stored in E.164. WhatsApp still sends Mexican mobiles as
``+521`` + 10 digits, which phonenumbers calls invalid; we map them to
``+52`` + 10 digits so SMS and WhatsApp land on the same contact.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import geocoder, timezone

from bot.exceptions import PuenteError

WHATSAPP_PREFIX = "whatsapp:"
_MX_WHATSAPP_MOBILE = re.compile(r"^\+521(\d{10})$")
_US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "Washington D.C.": "DC", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip


class InvalidNumber(PuenteError, ValueError):
    """Not a phone number we can message."""


@dataclass(frozen=True)
class ParsedAddress:
    channel: str  # "sms" or "whatsapp"
    phone: str  # E.164, the contact's identity
    address: str  # as Twilio sends it; what we send back to


@dataclass(frozen=True)
class NumberFacts:
    country: str | None  # ISO 3166 code: "US", "MX"
    region: str | None  # ISO 3166-2 state ("US-CA"), when the number tells
    timezone: str | None  # only when the number has exactly one


def normalize_phone(raw: str, default_region: str = "US") -> str:
    """E.164 for ``raw`` (any common format); raises InvalidNumber."""
    text = raw.strip()
    match = _MX_WHATSAPP_MOBILE.match(re.sub(r"[\s().-]", "", text))
    if match:
        return "+52" + match.group(1)
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)  # the same people text again and again; parsing costs
def parse_address(raw: str) -> ParsedAddress:
    """Split a Twilio ``From``/``To`` into channel, E.164 phone and address.

    The address keeps the number as Twilio wrote it (WhatsApp's ``+521``),
    without any spaces or punctuation around the digits.
    """
    whatsapp = raw.startswith(WHATSAPP_PREFIX)
    number = raw[len(WHATSAPP_PREFIX) :] if whatsapp else raw
    phone = normalize_phone(number)
    compact = "+" + re.sub(r"\D", "", number)
    if whatsapp:
        return ParsedAddress("whatsapp", phone, WHATSAPP_PREFIX + compact)
    return ParsedAddress("sms", phone, compact)


def address_for(channel: str, phone: str) -> str:
    """The address to send to on ``channel`` for an E.164 ``phone``."""
    return WHATSAPP_PREFIX + phone if channel == "whatsapp" else phone


def facts(phone: str) -> NumberFacts:
    """Country, region and time zone that the number itself tells."""
    number = phonenumbers.parse(phone)
    country = phonenumbers.region_code_for_number(number)
    zones = [z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    place = geocoder.description_for_number(number, "en") or None
    return NumberFacts(country, _region(country, place), zones[0] if len(zones) == 1 else None)


def _region(country: str | None, place: str | None) -> str | None:
    if not place:
        return None
    if country != "US":
        return None  # Mexican numbers do not tell the state reliably; the join flow asks
    code = place[-2:] if re.search(r", [A-Z]{2}$", place) else _US_STATES.get(place)
    return f"US-{code}" if code else None  # ISO 3166-2, as the join flow stores it


def mask(address: str) -> str:
    """A number safe for logs: the channel and the last four digits only."""
    prefix = WHATSAPP_PREFIX if address.startswith(WHATSAPP_PREFIX) else ""
    digits = re.sub(r"\D", "", address)
    return f"{prefix}…{digits[-4:]}" if digits else "…"
