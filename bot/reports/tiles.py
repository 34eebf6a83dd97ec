"""A tile-grid map of US and Mexican states: one square per state, drawn by the page.

No tile server, no shapes: it works offline, in tests and on a slow phone, and
a small state weighs as much as a large one (counts, not areas, are the point).
"""

from __future__ import annotations

from dataclasses import dataclass

# code -> (column, row). The US grid, then Mexico's below it, roughly where each lies.
LAYOUT: dict[str, tuple[int, int]] = {
    "US-AK": (0, 0), "US-ME": (11, 0),
    "US-WI": (6, 1), "US-VT": (10, 1), "US-NH": (11, 1),
    "US-WA": (1, 2), "US-ID": (2, 2), "US-MT": (3, 2), "US-ND": (4, 2), "US-MN": (5, 2),
    "US-IL": (6, 2), "US-MI": (7, 2), "US-NY": (9, 2), "US-MA": (10, 2),
    "US-OR": (1, 3), "US-NV": (2, 3), "US-WY": (3, 3), "US-SD": (4, 3), "US-IA": (5, 3),
    "US-IN": (6, 3), "US-OH": (7, 3), "US-PA": (8, 3), "US-NJ": (9, 3), "US-CT": (10, 3),
    "US-RI": (11, 3),
    "US-CA": (1, 4), "US-UT": (2, 4), "US-CO": (3, 4), "US-NE": (4, 4), "US-MO": (5, 4),
    "US-KY": (6, 4), "US-WV": (7, 4), "US-VA": (8, 4), "US-MD": (9, 4), "US-DE": (10, 4),
    "US-AZ": (2, 5), "US-NM": (3, 5), "US-KS": (4, 5), "US-AR": (5, 5), "US-TN": (6, 5),
    "US-NC": (7, 5), "US-SC": (8, 5), "US-DC": (9, 5),
    "US-OK": (4, 6), "US-LA": (5, 6), "US-MS": (6, 6), "US-AL": (7, 6), "US-GA": (8, 6),
    "US-HI": (0, 7), "US-TX": (4, 7), "US-FL": (9, 7),
    "MX-BCN": (1, 9), "MX-SON": (2, 9), "MX-CHH": (3, 9), "MX-COA": (4, 9), "MX-NLE": (5, 9),
    "MX-TAM": (6, 9),
    "MX-BCS": (1, 10), "MX-SIN": (2, 10), "MX-DUR": (3, 10), "MX-ZAC": (4, 10),
    "MX-SLP": (5, 10), "MX-VER": (6, 10),
    "MX-NAY": (2, 11), "MX-AGU": (3, 11), "MX-GUA": (4, 11), "MX-QUE": (5, 11),
    "MX-HID": (6, 11), "MX-YUC": (9, 11),
    "MX-JAL": (2, 12), "MX-MIC": (3, 12), "MX-MEX": (4, 12), "MX-CMX": (5, 12),
    "MX-TLA": (6, 12), "MX-PUE": (7, 12), "MX-CAM": (8, 12), "MX-ROO": (9, 12),
    "MX-COL": (2, 13), "MX-GRO": (4, 13), "MX-MOR": (5, 13), "MX-OAX": (6, 13),
    "MX-TAB": (7, 13), "MX-CHP": (8, 13),
}  # fmt: skip
SHADES = 5  # 0 = none, 1..4 = quartiles of the largest count


@dataclass(frozen=True)
class Tile:
    code: str
    label: str  # the short code drawn on the tile: TX, BCN
    column: int
    row: int
    count: int
    shade: int


def tiles(counts: dict[str, int]) -> list[Tile]:
    """Every state's tile with its count and a shade from 0 (none) to SHADES - 1."""
    top = max(counts.values(), default=0)
    out = []
    for code, (column, row) in LAYOUT.items():
        count = counts.get(code, 0)
        shade = 0 if not count else min(SHADES - 1, 1 + (count * (SHADES - 1) - 1) // top)
        out.append(Tile(code, code.split("-")[1], column, row, count, shade))
    return out
