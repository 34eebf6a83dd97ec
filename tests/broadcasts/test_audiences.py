"""Audience filters by state, as organizers type them."""

from __future__ import annotations

import pytest

from bot.broadcasts.audiences import region_codes


@pytest.mark.parametrize(
    ("typed", "codes"),
    [
        (("CA",), ["US-CA", "MX-CA"]),
        (("us-tx",), ["US-TX"]),
        (("JAL", " cmx "), ["US-JAL", "MX-JAL", "US-CMX", "MX-CMX"]),
        (("MX-CMX",), ["MX-CMX"]),
    ],
)
def test_region_filters_match_stored_iso_codes(typed, codes):
    assert region_codes(typed) == codes


def test_audience_by_state_and_tag_counts_only_opted_in_contacts(client, db):
    """Joined contacts in Texas and Mexico City; only the chosen state is counted."""
    from bot.broadcasts.audiences import Filters, size
    from bot.db import utcnow
    from tests.twilio_requests import text

    for phone, said in (
        ("+15125550142", ["JOIN", "Sam", "78701", "1"]),  # Texas, human rights
        ("+525512345678", ["UNIRME", "Ana", "06700", "1"]),  # CDMX, human rights
        ("+12135550123", ["Hello"]),  # wrote, never joined: never in an audience
    ):
        for body in said:
            text(client, phone, body)
    with db.session() as session:
        now = utcnow()
        assert size(session, Filters(regions=("TX",)), ("sms",), now) == 1
        assert size(session, Filters(regions=("MX-CMX",)), ("sms",), now) == 1
        assert size(session, Filters(tags=("human_rights",)), ("sms",), now) == 2
        assert size(session, Filters(), ("sms",), now) == 2
