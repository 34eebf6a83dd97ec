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
