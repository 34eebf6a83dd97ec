"""Text places and pins resolve to a state and municipality with shipped data only."""

from __future__ import annotations

import pytest

from bot.reports import places
from bot.reports.places import Place

TEXTS = [
    ("Av. Juárez, Tijuana, B.C.", "MX-BCN", "Tijuana"),  # a street named after a city
    ("Juárez, Chihuahua", "MX-CHH", "Juárez"),  # the state's name is also a city's
    ("cerca del puente en Ciudad Juárez", "MX-CHH", "Juárez"),
    ("Nogales", None, None),  # two states have a Nogales: not guessed
    ("Nogales, Sonora", "MX-SON", "Nogales"),
    ("Nogales, AZ", "US-AZ", "Santa Cruz County"),
    ("calle Morelos, Tijuana", "MX-BCN", "Tijuana"),  # a state's name as a street's
    ("Chihuahua", "MX-CHH", None),  # a state alone gives the state only
    ("Vivo en CDMX", "MX-CMX", None),
    ("El Paso, TX", "US-TX", "El Paso County"),
    ("en el retén de Sonoyta, Sonora", "MX-SON", None),  # a town not in the list
    ("Puerto Peñasco", "MX-SON", "Puerto Peñasco"),
    ("PUERTO PENASCO", "MX-SON", "Puerto Peñasco"),  # no accents, capitals
    ("Nuevo Laredo", "MX-TAM", "Nuevo Laredo"),  # not Laredo, Texas
    ("Laredo", "US-TX", "Webb County"),
    ("son las 8 en Laredo", "US-TX", "Webb County"),  # "son" is not Sonora
    ("Cancún", "MX-ROO", "Benito Juárez"),  # the city's municipality
    ("Camp near the river", None, None),  # "camp" is not Campeche
    ("Km 40 carretera", None, None),
    ("", None, None),
]


@pytest.mark.parametrize(("text", "adm1", "adm2"), TEXTS)
def test_a_text_place_resolves_as_far_as_it_is_clear(text, adm1, adm2):
    assert places.from_text(text) == Place(adm1, adm2)


def test_a_pin_goes_to_the_nearest_known_place():
    assert places.from_pin(32.52, -117.02) == Place("MX-BCN", "Tijuana")
    assert places.from_pin(31.77, -106.47) == Place("US-TX", "El Paso County")


def test_a_pin_far_from_any_known_municipality_keeps_only_its_state():
    # Sonoyta, Sonora: 150 km from Puerto Peñasco, more from anything else listed.
    assert places.from_pin(31.86, -112.85) == Place("MX-SON", None)


def test_a_pin_abroad_is_kept_and_flagged():
    assert places.from_pin(14.63, -90.51).outside_area  # Guatemala City
    assert places.from_pin(48.85, 2.35).outside_area  # Paris: outside every box
    assert places.from_pin(95.0, 0.0).outside_area  # not a place on Earth


def test_every_state_has_a_name_and_every_place_a_listed_state():
    codes = set(places.state_codes())
    assert len([c for c in codes if c.startswith("MX-")]) == 32
    assert len([c for c in codes if c.startswith("US-")]) == 51  # with DC
    data = places._data()
    assert all(p.adm1 in codes for p in data.places if not p.abroad)
