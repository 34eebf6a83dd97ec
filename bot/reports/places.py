"""Where a report happened: a text place or a pin, resolved with shipped data only.

No web service is ever asked (a geocoder would learn where witnesses are). The
list in ``data/places.yaml`` gives states (ISO 3166-2), municipalities or
counties with the names people write, and approximate centres:

- a text place ("Av. Juárez, Tijuana, B.C.") resolves to the last place it
  names, checked against the state it names; a name shared by two states
  (Nogales) needs the state, a state alone gives the state only;
- a pin resolves to the nearest listed place: its municipality within
  ``ADM2_RADIUS_KM``, its state within ``ADM1_RADIUS_KM``. A pin outside the
  coalition's countries (nearest to a place listed as abroad, or outside
  their bounding boxes) is kept and flagged.

Near a border the nearest place can be across it: the desk lets a verifier
correct the place, and the README says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from bot.text import normalize

DATA = Path(__file__).parent / "data" / "places.yaml"
ADM2_RADIUS_KM = 40.0
ADM1_RADIUS_KM = 250.0
# Rough boxes (south, west, north, east) of the coalition's countries.
COUNTRY_BOXES = {
    "MX": ((14.5, -118.5, 32.8, -86.7),),
    "US": ((24.4, -125.0, 49.4, -66.9), (51.0, -180.0, 71.5, -129.9), (18.9, -160.3, 22.3, -154.8)),
}
_STREET_WORDS = frozenset(
    [
        "calle",
        "av",
        "avenida",
        "blvd",
        "boulevard",
        "bulevar",
        "calzada",
        "col",
        "colonia",
        "street",
        "st",
        "ave",
        "avenue",
        "road",
        "rd",
    ]
)


@dataclass(frozen=True)
class Place:
    adm1: str | None  # ISO 3166-2: MX-BCN, US-TX
    adm2: str | None = None  # municipality (MX) or county (US)
    outside_area: bool = False

    @property
    def country(self) -> str | None:
        return self.adm1.split("-")[0] if self.adm1 else None


UNKNOWN = Place(None)


@dataclass(frozen=True)
class _Known:
    adm1: str | None
    adm2: str | None
    names: tuple[str, ...]  # normalized
    lat: float
    lon: float
    abroad: bool


@dataclass(frozen=True)
class _Data:
    state_names: dict[str, str]  # code -> its name (the first)
    state_words: dict[str, str]  # normalized full name -> code (matched anywhere)
    state_short: dict[str, str]  # normalized abbreviation -> code (a whole comma part only)
    places: tuple[_Known, ...]
    by_name: dict[str, tuple[_Known, ...]]


@cache
def _data(path: Path = DATA) -> _Data:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    state_names: dict[str, str] = {}
    words: dict[str, str] = {}
    short: dict[str, str] = {}
    for code, names in raw["states"].items():
        state_names[code] = names[0]
        for position, name in enumerate(names):
            key = normalize(name)
            if position == 0 or (len(key) >= 4 and "." not in name):
                words[key] = code
            else:
                short[key] = code
    places = []
    for row in raw["places"]:
        names = [row["adm2"]] if row.get("adm2") else []
        names += row.get("names", [])
        lat, lon = row["at"]
        places.append(
            _Known(
                row.get("adm1"),
                row.get("adm2"),
                tuple(normalize(n) for n in names),
                float(lat),
                float(lon),
                bool(row.get("abroad")),
            )
        )
    by_name: dict[str, list[_Known]] = {}
    for place in places:
        for name in place.names:
            if not place.abroad:
                by_name.setdefault(name, []).append(place)
    return _Data(
        state_names,
        words,
        short,
        tuple(places),
        {k: tuple(v) for k, v in by_name.items()},
    )


def state_name(code: str | None) -> str:
    """The state's name as the data file gives it ("Baja California"), or ""."""
    return _data().state_names.get(code or "", "") if code else ""


def state_codes() -> tuple[str, ...]:
    return tuple(_data().state_names)


def from_text(text: str | None) -> Place:
    """The state and municipality a text names, as far as they are clear."""
    if not text or not text.strip():
        return UNKNOWN
    data = _data()
    parts = [normalize(p) for p in re.split(r"[,;\n]", text)]
    states: list[str] = [data.state_short[p] for p in parts if p in data.state_short]
    joined = " ".join(p for p in parts if p)
    tokens = joined.split()
    states += _find_states(tokens, data)
    candidates = _find_places(tokens, data)
    wanted = set(states)
    # The last place named wins (addresses go from the street to the city): first
    # one in a state the text names, then one whose name no other place shares (a
    # state's name can be a street's: "calle Morelos, Tijuana").
    for fits in (lambda m: m.adm1 in wanted, lambda m: True):
        for _, matches in reversed(candidates):
            fitting = {(m.adm1, m.adm2) for m in matches if fits(m)}
            if len(fitting) == 1:
                adm1, adm2 = fitting.pop()
                return Place(adm1, adm2)
    if len(wanted) == 1:
        return Place(states[0])
    return UNKNOWN


def _find_states(tokens: list[str], data: _Data) -> list[str]:
    found = []
    for name, code in data.state_words.items():
        if _starts(tokens, name.split()):
            found.append(code)
    return found


def _starts(tokens: list[str], words: list[str]) -> bool:
    """Whether ``words`` occur in ``tokens``, not as a street's name ("calle Morelos")."""
    n = len(words)
    return any(
        tokens[i : i + n] == words and (i == 0 or tokens[i - 1] not in _STREET_WORDS)
        for i in range(len(tokens) - n + 1)
    )


def _find_places(tokens: list[str], data: _Data) -> list[tuple[int, tuple[_Known, ...]]]:
    """Places named in ``tokens`` (longest names first), with where each starts."""
    taken = [False] * len(tokens)
    found: list[tuple[int, tuple[_Known, ...]]] = []
    for name in sorted(data.by_name, key=lambda n: -len(n.split())):
        words = name.split()
        if name in data.state_words:
            continue  # "Chihuahua", "Durango": a state first (see from_text)
        n = len(words)
        for i in range(len(tokens) - n + 1):
            if tokens[i : i + n] != words or any(taken[i : i + n]):
                continue
            if i > 0 and tokens[i - 1] in _STREET_WORDS:
                continue  # "calle Juárez" is a street, not Ciudad Juárez
            taken[i : i + n] = [True] * n
            found.append((i, data.by_name[name]))
    return sorted(found, key=lambda item: item[0])


def from_pin(latitude: float, longitude: float) -> Place:
    """The nearest known place of a WhatsApp pin; flagged when abroad."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return Place(None, None, outside_area=True)
    nearest, distance = min(
        ((p, _km(latitude, longitude, p.lat, p.lon)) for p in _data().places),
        key=lambda item: item[1],
    )
    inside = any(
        south <= latitude <= north and west <= longitude <= east
        for boxes in COUNTRY_BOXES.values()
        for south, west, north, east in boxes
    )
    if nearest.abroad or not inside:
        return Place(None, None, outside_area=True)
    if distance > ADM1_RADIUS_KM:
        return UNKNOWN
    return Place(nearest.adm1, nearest.adm2 if distance <= ADM2_RADIUS_KM else None)


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))
