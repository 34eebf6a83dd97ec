"""A flow drawn as a diagram: its steps top to bottom, arrows where each may go next.

Pure geometry for ``templates/dashboard/flows/_diagram.html``: steps are boxes in
the order they are written; an arrow to the step just below is straight, any
other jump is drawn as a curve in its own lane on the right, labelled with the
key that makes it (``empty``, ``default``, ``on_fail``, a branch case…).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.flows.model import Flow, Step

BOX_W, BOX_H, GAP = 250, 48, 34
LEFT, TOP = 16, 16
LANE = 16  # horizontal space between two jump lanes


@dataclass(frozen=True)
class Node:
    step_id: str
    kind: str
    summary: str
    x: int
    y: int
    problem: str  # "", "warning" or "error"


@dataclass(frozen=True)
class Edge:
    path: str
    label: str
    label_x: int
    label_y: int


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def _summary(step: Step) -> str:
    text = step.config.get("text") or step.config.get("flow") or step.config.get("on") or ""
    text = " ".join(str(text).split())
    return text if len(text) <= 34 else text[:33] + "…"


def _label(step: Step, target: str) -> str:
    """The config key that names ``target`` (a branch case, ``on_fail``…), if any."""
    for key, value in step.config.items():
        if value == target:
            return str(key)
        if isinstance(value, dict):
            for case, case_target in value.items():
                if case_target == target:
                    return str(case)
    return ""


def layout(
    flow: Flow,
    successors: Callable[[Flow, Step], Sequence[str]],
    problems: Mapping[str, str] | None = None,
) -> Diagram:
    """Boxes and arrows for ``flow``; ``successors`` is ``bot.flows.loader.successors``.

    ``problems`` maps a step id to its worst problem ("warning" or "error").
    """
    problems = problems or {}
    rows = {step.id: i for i, step in enumerate(flow.steps)}
    nodes = tuple(
        Node(s.id, s.type, _summary(s), LEFT, TOP + i * (BOX_H + GAP), problems.get(s.id, ""))
        for i, s in enumerate(flow.steps)
    )
    edges, lane = [], 0
    for step in flow.steps:
        jumps = 0
        for target in successors(flow, step):
            if target not in rows:
                continue
            source_row, target_row = rows[step.id], rows[target]
            if target_row == source_row + 1 and not _label(step, target):
                edges.append(_straight(source_row))
            else:
                lane += 1
                jumps += 1
                label = _label(step, target)
                edges.append(_jump(source_row, target_row, lane, label, jumps))
    width = LEFT + BOX_W + LANE * (lane + 1) + 60
    height = TOP + len(flow.steps) * (BOX_H + GAP)
    return Diagram(width, max(height, BOX_H + 2 * TOP), nodes, tuple(edges))


def _straight(row: int) -> Edge:
    x = LEFT + BOX_W // 2
    y1 = TOP + row * (BOX_H + GAP) + BOX_H
    return Edge(f"M{x},{y1} V{y1 + GAP - 2}", "", 0, 0)


def _jump(source_row: int, target_row: int, lane: int, label: str, nth: int) -> Edge:
    """A curve out of the box's right side, down (or up) its lane, into the target."""
    right = LEFT + BOX_W
    x = right + LANE * lane
    y1 = TOP + source_row * (BOX_H + GAP) + 10 + 12 * ((nth - 1) % 3)
    y2 = TOP + target_row * (BOX_H + GAP) + BOX_H // 2 - 6
    path = f"M{right},{y1} H{x - 6} Q{x},{y1} {x},{y1 + (6 if y2 > y1 else -6)} "
    path += f"V{y2 + (-6 if y2 > y1 else 6)} Q{x},{y2} {x - 6},{y2} H{right + 2}"
    return Edge(path, label, x + 4, y1 + 4)
