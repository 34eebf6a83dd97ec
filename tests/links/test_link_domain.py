"""LINK_DOMAIN: where short links live; checked like PUBLIC_URL; used by the sending engine."""

from __future__ import annotations

import pytest

from bot.config import from_environ
from bot.exceptions import ConfigError
from bot.links import clicks
from tests.test_config import GOOD


def test_short_links_live_on_link_domain_else_public_url():
    assert clicks.base_of(from_environ(GOOD)) == "https://puente.example.org/l/"
    chosen = from_environ({**GOOD, "LINK_DOMAIN": "https://go.example.org/"})
    assert clicks.base_of(chosen) == "https://go.example.org/l/"


def test_a_malformed_link_domain_stops_production_start_up():
    with pytest.raises(ConfigError) as raised:
        from_environ({**GOOD, "LINK_DOMAIN": "go.example.org"})
    assert any("LINK_DOMAIN is malformed" in p for p in raised.value.problems)
