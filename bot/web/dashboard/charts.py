"""Charts drawn on the server as inline SVG: no JavaScript library, no CDN.

These functions only compute geometry; ``templates/dashboard/_charts.html``
draws it, with a title, a legend and the numbers as a table for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 34  # room for the axes' labels


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class Line:
    css: str  # "s0", "s1"… picks the colour
    label: str
    points: str  # "x,y x,y …" for <polyline>
    area: str  # the closed path under the line


@dataclass(frozen=True)
class Bar:
    css: str
    x: float
    y: float
    width: float
    height: float
    title: str  # read out by screen readers and shown on hover


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    x_labels: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    lines: tuple[Line, ...] = ()
    bars: tuple[Bar, ...] = ()
    labels: tuple[str, ...] = ()  # the x-axis labels in order, for the data table
    series: tuple[Series, ...] = ()


def nice_ceiling(value: float) -> int:
    """The round number at or above ``value`` for the top of an axis: 1, 2, 5 × 10^k."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return int(step * power) if step * power >= 1 else 1
    return int(10 * power)


def _scale(top: int) -> tuple[float, float, float]:
    plot_h = HEIGHT - TOP - BOTTOM
    return plot_h, TOP + plot_h, plot_h / top


def _intervals(top: int) -> int:
    """How many gridline steps divide ``top`` into round numbers (1, 2, 5 × 10^k)."""
    if top < 5:
        return top
    leading = top // 10 ** math.floor(math.log10(top))
    return 4 if leading == 2 else 5


def _y_ticks(top: int) -> tuple[tuple[float, str], ...]:
    plot_h, base, _ = _scale(top)
    steps = _intervals(top)
    return tuple((base - plot_h * i / steps, f"{top * i // steps:,}") for i in range(steps + 1))


def _x_positions(count: int) -> list[float]:
    plot_w = WIDTH - LEFT - RIGHT
    if count == 1:
        return [LEFT + plot_w / 2]
    return [LEFT + plot_w * i / (count - 1) for i in range(count)]


def _every(labels: Sequence[str], positions: Sequence[float]) -> tuple[tuple[float, str], ...]:
    """At most 7 axis labels, so they never overlap on a phone."""
    step = max(1, math.ceil(len(labels) / 7))
    return tuple((positions[i], labels[i]) for i in range(0, len(labels), step))


def line_chart(labels: Sequence[str], series: Sequence[Series]) -> Chart:
    """Lines over time (one point per label)."""
    top = nice_ceiling(max((max(s.values, default=0) for s in series), default=0))
    _, base, per_unit = _scale(top)
    xs = _x_positions(len(labels))
    lines = []
    for index, one in enumerate(series):
        coords = [(x, base - v * per_unit) for x, v in zip(xs, one.values, strict=True)]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        area = f"M{xs[0]:.1f},{base:.1f} L" + " L".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        lines.append(Line(f"s{index}", one.label, points, area + f" L{xs[-1]:.1f},{base:.1f} Z"))
    return Chart(
        WIDTH, HEIGHT, _every(labels, xs), _y_ticks(top), tuple(lines),
        labels=tuple(labels), series=tuple(series),
    )  # fmt: skip


def bar_chart(labels: Sequence[str], series: Sequence[Series]) -> Chart:
    """Grouped bars: for each label, one bar per series side by side."""
    top = nice_ceiling(max((max(s.values, default=0) for s in series), default=0))
    _, base, per_unit = _scale(top)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    bar_w = slot * 0.8 / max(1, len(series))
    bars = []
    centers = []
    for i, name in enumerate(labels):
        start = LEFT + slot * i + slot * 0.1
        centers.append(start + slot * 0.4)
        for j, one in enumerate(series):
            value = one.values[i]
            height = value * per_unit
            bars.append(
                Bar(f"s{j}", start + j * bar_w, base - height, bar_w - 1, height,
                    f"{name} · {one.label}: {value:,}")
            )  # fmt: skip
    return Chart(
        WIDTH, HEIGHT, _every(labels, centers), _y_ticks(top), bars=tuple(bars),
        labels=tuple(labels), series=tuple(series),
    )  # fmt: skip
