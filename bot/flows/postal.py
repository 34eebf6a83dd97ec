"""US ZIP codes and Mexican códigos postales -> state, from a small prefix table.

Both are five digits and overlap (06700 is a ZIP in Connecticut and a C.P. in
Ciudad de México), so the caller says which country to try first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent / "data" / "postal_codes.yaml"


@dataclass(frozen=True)
class PostalCode:
    code: str  # the five digits as written: "06700"
    country: str  # "US" or "MX"
    state: str  # ISO 3166-2: "US-TX", "MX-CMX"


@cache
def _ranges() -> dict[str, list[tuple[int, int, str]]]:
    table = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return {
        country.upper(): [(int(low), int(high), state) for low, high, state in rows]
        for country, rows in table.items()
    }


def state_for(code: str, country: str) -> str | None:
    """The state of a five-digit code in ``country`` ("US" or "MX"), or None if unassigned."""
    if len(code) != 5 or not code.isdigit():
        return None
    prefix = int(code[:3]) if country == "US" else int(code[:2])
    for low, high, state in _ranges().get(country, []):
        if low <= prefix <= high:
            return state
    return None


def lookup(code: str, prefer: str = "US") -> PostalCode | None:
    """Try ``prefer`` first, then the other country; None when neither assigns the code."""
    other = "MX" if prefer == "US" else "US"
    for country in (prefer, other):
        state = state_for(code, country)
        if state:
            return PostalCode(code, country, state)
    return None
