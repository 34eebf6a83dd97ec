"""What a user may see of a contact: full numbers and texts, or masked ones.

Views never hand a raw ``Contact.phone``, ``Address.address`` or message
body to a template or a JSON answer; they go through these functions, which
mask them for roles without the permission. As a second line of defence,
``redact_response`` scrubs any E.164 number left in a page or answer sent
to a role that may not see numbers, and logs it as a bug.
"""

from __future__ import annotations

import logging
import re

from flask import Response, g

from bot import phones
from bot.accounts.roles import SEE_PHONES, SEE_REPORTERS, SEE_TEXTS
from bot.web.dashboard import scope

log = logging.getLogger(__name__)

_E164 = re.compile(r"(?<![\w%])\+[1-9]\d{7,14}(?!\d)")
# What people type as a phone number: 7 to 15 digits, maybe spaced, dashed or bracketed.
_PHONE_LIKE = re.compile(r"(?<![\w])\+?\(?\d(?:[\s().-]{0,2}\d){6,14}(?![\w])")
_SCRUBBED_TYPES = ("text/html", "application/json", "text/csv", "text/plain")


def may(permission: str) -> bool:
    """Whether the signed-in user's role, in the organization they act for, has ``permission``."""
    return g.get("user") is not None and scope.may(permission)


def phone(value: str | None) -> str:
    """A phone number or address, masked to its last four digits unless allowed."""
    if not value:
        return ""
    return value if may(SEE_PHONES) else phones.mask(value)


def reporter_phone(value: str | None) -> str:
    """A report's reporter number: whole for the desk (admins, verifiers), else masked."""
    if not value:
        return ""
    return value if may(SEE_REPORTERS) else phones.mask(value)


def text(value: object) -> str | None:
    """What a contact wrote (or was sent), or None when the user may not read it.

    For a role that may read texts but not numbers, any number in the text is
    masked too: contacts write their own and others' numbers in messages.
    """
    if value is None or not may(SEE_TEXTS):
        return None
    value = str(value)
    return value if may(SEE_PHONES) else numbers_masked(value)


def numbers_masked(value: str) -> str:
    """``value`` with everything that looks like a phone number cut to its last 4 digits."""
    return _PHONE_LIKE.sub(lambda m: phones.mask(m.group(0)), value)


def contact_name(contact_id: int | None, profile_name: str | None) -> str:
    """The contact's WhatsApp name when allowed, else "#12"."""
    if profile_name and may(SEE_TEXTS):
        return profile_name
    return f"#{contact_id}" if contact_id else "—"


def redact_response(response: Response) -> Response:
    """Scrub full phone numbers from a response to a user who may not see them.

    A page that shows only the user's own data (their profile, with their own
    number) sets ``g.own_data_only`` and is left alone, as is a report's page
    showing its reporter (``g.reporter_shown``) to the desk.
    """
    if may(SEE_PHONES) or g.get("own_data_only") or response.is_streamed:
        return response
    if g.get("reporter_shown") and may(SEE_REPORTERS):
        return response
    if response.direct_passthrough:
        return response
    if not response.mimetype or not response.mimetype.startswith(_SCRUBBED_TYPES):
        return response
    body = response.get_data(as_text=True)
    scrubbed, count = _E164.subn(lambda m: phones.mask(m.group(0)), body)
    if count:
        log.error("masking: %d full phone number(s) scrubbed from a response", count)
        response.set_data(scrubbed)
    return response
