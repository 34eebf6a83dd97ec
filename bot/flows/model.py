"""A flow as loaded from its YAML file: structure only, no text in any language but the base.

The structure (step ids, types, where each step goes next) is written once; what a
contact reads is looked up in the ``flows`` Babel catalog by its place in the flow
(``text_context``: flow, step and role, as gettext's msgctxt) and its base-language text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from bot.defaults import DEFAULT_FLOW_EXPIRE_AFTER
from bot.text import normalize


@dataclass(frozen=True)
class Step:
    """One step of a flow. ``config`` holds the type's own keys exactly as written."""

    id: str
    type: str
    config: Mapping[str, Any]
    next: str | None = None  # None: fall through to the following step (or complete)
    line: int = 0  # 1-based line of the step in its file
    key_lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        """Line of one of the step's keys, for precise error messages."""
        return self.key_lines.get(key, self.line)


@dataclass(frozen=True)
class Flow:
    """One conversation: ``flows/<id>.yaml``."""

    id: str
    file: str
    steps: tuple[Step, ...]
    base_language: str = "en"
    expire_after: timedelta = DEFAULT_FLOW_EXPIRE_AFTER
    triggers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # lang -> normalized
    variables: Mapping[str, bool] = field(default_factory=dict)  # name -> required
    name: str = ""
    line: int = 1
    key_lines: Mapping[str, int] = field(default_factory=dict)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def first_step(self) -> Step | None:
        return self.steps[0] if self.steps else None

    def following(self, step_id: str) -> Step | None:
        """The step written after ``step_id``: where a step without ``next`` goes."""
        ids = [s.id for s in self.steps]
        position = ids.index(step_id) + 1
        return self.steps[position] if position < len(self.steps) else None

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


@dataclass(frozen=True)
class FlowSet:
    """Every flow the bot knows, and which keyword starts which flow."""

    flows: Mapping[str, Flow] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows.values())

    def __len__(self) -> int:
        return len(self.flows)

    def get(self, flow_id: str) -> Flow | None:
        return self.flows.get(flow_id)

    @cached_property
    def keyword_index(self) -> dict[str, dict[str, set[str]]]:
        """normalized keyword -> flow id -> languages it is a keyword in."""
        index: dict[str, dict[str, set[str]]] = {}
        for flow in self:
            for lang, words in flow.triggers.items():
                for word in words:
                    index.setdefault(word, {}).setdefault(flow.id, set()).add(lang)
        return index

    def flow_for_keyword(self, normalized_text: str, lang: str | None = None) -> Flow | None:
        """The flow whose trigger keyword is exactly this (normalized) message.

        The contact's language is tried first, then every other language, so a
        Spanish speaker texting JOIN still joins.
        """
        matches = self.keyword_index.get(normalize(normalized_text), {})
        if not matches:
            return None
        preferred = [fid for fid, langs in matches.items() if lang in langs]
        return self.flows[(preferred or sorted(matches))[0]]

    def keyword_languages(self, normalized_text: str) -> frozenset[str]:
        """Languages in which this message is a trigger keyword (empty if none)."""
        matches = self.keyword_index.get(normalize(normalized_text), {})
        return frozenset().union(*matches.values()) if matches else frozenset()

    def without(self, flow_ids: Iterable[str]) -> FlowSet:
        """The same flows but these (disabled ones): their keywords start nothing."""
        left_out = set(flow_ids)
        return FlowSet({fid: f for fid, f in self.flows.items() if fid not in left_out})

    def variables(self) -> dict[str, bool]:
        """Configuration variables the flows use: name -> required by at least one flow."""
        merged: dict[str, bool] = {}
        for flow in self:
            for name, required in flow.variables.items():
                merged[name] = merged.get(name, False) or required
        return merged


def text_context(flow_id: str, step_id: str, key: str) -> str:
    """The msgctxt of one text of a step: ``<flow>/<step>/<key>``.

    ``key`` says which of the step's texts it is, named after where it is written:
    ``text``, ``reask``, ``choice/<value>`` (a choice's label) or ``button/<n>``
    (the n-th of ``buttons``, from 1).  Step ids and choice values never change once
    a flow is live, so a translation stays with its step, as goflow keys
    translations by node id.
    """
    return f"{flow_id}/{step_id}/{key}"


_DURATION = re.compile(r"(\d+)\s*([dhm])")


def parse_duration(text: object) -> timedelta | None:
    """ "23h", "90m", "1d", "2h30m" -> timedelta; None when it is not a duration."""
    if not isinstance(text, str) or not text.strip():
        return None
    compact = text.replace(" ", "").lower()
    parts = _DURATION.findall(compact)
    if "".join(n + u for n, u in parts) != compact:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    return sum((timedelta(**{units[u]: int(n)}) for n, u in parts), timedelta())
