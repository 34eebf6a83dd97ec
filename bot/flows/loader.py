"""Read ``flows/*.yaml`` into a ``FlowSet``, finding every structural problem on the way.

``load_flows`` refuses a broken flow (``FlowError``: file, line, step, problem);
``read_flows`` returns what it could load together with every problem, for the checker.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.compliance.keywords import Intent, classify
from bot.defaults import DEFAULT_FLOW_EXPIRE_AFTER
from bot.flows import steps
from bot.flows.model import Flow, FlowSet, Step, parse_duration
from bot.flows.problems import FlowError, Problem, display_path
from bot.flows.steps.base import is_identifier
from bot.flows.turn import PLACEHOLDER
from bot.i18n import LANGUAGES
from bot.text import normalize

__all__ = ["FlowError", "load_flows", "parse_flow", "read_flows"]

SPEC_VERSION = 1  # the flow file format; bump with a migration when it changes
WHATSAPP_WINDOW_LIMIT = timedelta(hours=23, minutes=50)  # end before the 24 h window closes
FLOW_KEYS = {
    "flow", "name", "version", "base_language", "expire_after", "triggers", "variables",
    "steps",
}  # fmt: skip
# Contact fields the integrator may fill outside flows; usable as {placeholders}.
CONTACT_FIELDS = {"name", "zip", "state", "country"}


# --- YAML with line numbers ------------------------------------------------------


class LineDict(dict):
    """A YAML mapping that remembers where it and each of its keys were written."""

    line: int = 0
    key_lines: dict[str, int]


class LineLoader(yaml.SafeLoader):
    """SafeLoader that records lines and reads yes/no/on/off as text, not booleans.

    Flow writers use ``yes:`` and ``no:`` as branch cases and choice values; YAML 1.1
    would silently turn them into True and False.
    """


LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> Iterable[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    data.update(loader.construct_mapping(node))
    for key_node, _ in node.value:
        data.key_lines[str(key_node.value)] = key_node.start_mark.line + 1


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def load_yaml(text: str) -> Any:
    """Parse YAML text; mappings come back as ``LineDict``."""
    return yaml.load(text, Loader=LineLoader)  # noqa: S506 (a SafeLoader subclass)


def line_of(mapping: Any, key: str, default: int = 1) -> int:
    return getattr(mapping, "key_lines", {}).get(key, getattr(mapping, "line", default))


# --- one file ---------------------------------------------------------------------


@dataclass
class _Report:
    """Collects problems for one file."""

    file: str
    problems: list[Problem] = field(default_factory=list)

    def error(self, line: int, message: str, step_id: str | None = None) -> None:
        self.problems.append(Problem("error", self.file, line, step_id, message))

    def warning(self, line: int, message: str, step_id: str | None = None) -> None:
        self.problems.append(Problem("warning", self.file, line, step_id, message))


def _triggers(raw: Any, report: _Report, line: int) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        report.error(line, "'triggers' must map a language to a list of keywords")
        return {}
    triggers = {}
    for lang, words in raw.items():
        where = line_of(raw, lang, line)
        if lang not in LANGUAGES:
            report.error(where, f"triggers: unknown language {lang!r} ({', '.join(LANGUAGES)})")
            continue
        if not isinstance(words, list) or not all(isinstance(w, str | int) for w in words):
            report.error(where, f"triggers: {lang} must be a list of keywords")
            continue
        normalized = []
        for word in words:
            keyword = normalize(str(word))
            if not keyword:
                report.error(where, f"triggers: keyword {word!r} is empty once normalized")
            elif (intent := classify(keyword)) != Intent.NONE:
                # compliance answers it before any flow runs: the flow would never start
                report.error(
                    where, f"keyword {word!r} is taken by the compliance keywords ({intent})"
                )
            else:
                normalized.append(keyword)
        triggers[lang] = tuple(dict.fromkeys(normalized))
    return triggers


def _variables(raw: Any, report: _Report, line: int) -> dict[str, bool]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        raw = dict.fromkeys(raw, "required")
    if not isinstance(raw, dict):
        report.error(line, "'variables' must map names to 'required' or 'optional'")
        return {}
    variables = {}
    for name, need in raw.items():
        if not is_identifier(name) or need not in ("required", "optional"):
            report.error(
                line_of(raw, name, line),
                f"variable {name!r}: write  {name}: required  or  {name}: optional",
            )
            continue
        variables[name] = need == "required"
    return variables


def _step(raw: Any, position: int, report: _Report, default_line: int) -> Step | None:
    line = getattr(raw, "line", default_line)
    if not isinstance(raw, dict):
        report.error(line, f"step #{position} must be a mapping with 'id' and 'type'")
        return None
    step_id = raw.get("id")
    if not is_identifier(step_id):
        report.error(line, f"step #{position} needs an 'id' in lower_snake_case, not {step_id!r}")
        return None
    step_type = steps.get(raw.get("type"))
    if step_type is None:
        known = ", ".join(sorted(steps.REGISTRY))
        hint = _did_you_mean(raw.get("type"), steps.REGISTRY)
        message = f"unknown step type {raw.get('type')!r}{hint} (one of: {known})"
        report.error(line_of(raw, "type", line), message, step_id)
        return None
    config = {k: v for k, v in raw.items() if k not in ("id", "type", "next")}
    next_id = raw.get("next")
    step = Step(step_id, step_type.name, config, next_id, line, dict(raw.key_lines))
    for key in sorted(set(config) - step_type.keys):
        allowed = ", ".join(sorted(step_type.keys | {"next"}))
        allowed = f"{_did_you_mean(key, step_type.keys | {'next'})} (allowed: {allowed})"
        report.error(step.line_of(key), f"unknown key {key!r} for {step.type}{allowed}", step_id)
    for key in sorted(step_type.required - set(config)):
        report.error(line, f"{step.type} needs {key!r}", step_id)
    if next_id is not None and not isinstance(next_id, str):
        report.error(step.line_of("next"), "'next' must be a step id", step_id)
    if not step_type.required - set(config):
        for message in step_type.validate(step):
            report.error(line, message, step_id)
    return step


def _did_you_mean(word: Any, known: Iterable[str]) -> str:
    """ ", did you mean 'ask'?" for a near miss, else ''."""
    close = difflib.get_close_matches(str(word), sorted(known), n=1, cutoff=0.6)
    return f", did you mean {close[0]!r}?" if close else ""


def _flow_settings(doc: LineDict, path: Path, report: _Report) -> dict[str, Any]:
    for key in sorted(set(doc) - FLOW_KEYS):
        report.error(
            line_of(doc, key), f"unknown key {key!r} (allowed: {', '.join(sorted(FLOW_KEYS))})"
        )
    flow_id = doc.get("flow")
    if not is_identifier(flow_id):
        report.error(
            line_of(doc, "flow"), f"'flow' must be an id in lower_snake_case, not {flow_id!r}"
        )
        flow_id = path.stem
    if doc.get("version", SPEC_VERSION) != SPEC_VERSION:
        report.error(
            line_of(doc, "version"),
            f"unsupported version {doc['version']!r} (this bot reads {SPEC_VERSION})",
        )
    base = doc.get("base_language", "en")
    if base not in LANGUAGES:
        report.error(
            line_of(doc, "base_language"),
            f"base_language {base!r} is not one of {', '.join(LANGUAGES)}",
        )
    written = doc.get("expire_after")
    expire_after = DEFAULT_FLOW_EXPIRE_AFTER if written is None else parse_duration(written)
    if expire_after is None:
        report.error(
            line_of(doc, "expire_after"),
            f"'expire_after' {doc['expire_after']!r} is not a duration like 23h",
        )
    elif expire_after > WHATSAPP_WINDOW_LIMIT:
        report.warning(
            line_of(doc, "expire_after"),
            "on WhatsApp a wait ends after 23h50m, before the 24-hour window closes",
        )
    return {
        "id": flow_id,
        "name": str(doc.get("name") or flow_id),
        "base_language": base,
        "expire_after": expire_after or DEFAULT_FLOW_EXPIRE_AFTER,
        "triggers": _triggers(doc.get("triggers", {}), report, line_of(doc, "triggers")),
        "variables": _variables(doc.get("variables"), report, line_of(doc, "variables")),
        "line": doc.line,
        "key_lines": {**doc.key_lines, **_variable_lines(doc.get("variables"))},
    }


def _variable_lines(raw: Any) -> dict[str, int]:
    """ "variables.<name>" -> line, so a missing variable is reported where it is declared."""
    lines = getattr(raw, "key_lines", {})
    return {f"variables.{name}": line for name, line in lines.items()}


def _steps(raw: Any, report: _Report, line: int) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not raw:
        report.error(line, "'steps' must be a non-empty list")
        return ()
    found: list[Step] = []
    for position, item in enumerate(raw, 1):
        step = _step(item, position, report, line)
        if step is None:
            continue
        if any(s.id == step.id for s in found):
            report.error(step.line, f"duplicate step id {step.id!r}", step.id)
            continue
        found.append(step)
    return tuple(found)


def parse_flow(
    path: str | os.PathLike[str], text: str | None = None
) -> tuple[Flow | None, list[Problem]]:
    """One flow file: the flow (None if unusable) and every problem found in it alone."""
    path = Path(path)
    report = _Report(display_path(path))
    try:
        doc = load_yaml(path.read_text(encoding="utf-8") if text is None else text)
    except yaml.YAMLError as exc:
        report.error(*_yaml_problem(exc))
        return None, report.problems
    if not isinstance(doc, dict):
        report.error(1, "a flow file must be a mapping with 'flow', 'triggers' and 'steps'")
        return None, report.problems
    settings = _flow_settings(doc, path, report)
    flow_steps = _steps(doc.get("steps"), report, line_of(doc, "steps"))
    flow = Flow(file=report.file, steps=flow_steps, **settings)
    _check_graph(flow, report)
    return flow, report.problems


def _yaml_problem(exc: yaml.YAMLError) -> tuple[int, str]:
    """Line and message for a YAML syntax error, naming where the broken part began."""
    mark = getattr(exc, "problem_mark", None)
    message = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark:
        message += f" ({context} at line {context_mark.line + 1})"
    return (mark.line + 1 if mark else 1), message


# --- where steps lead -------------------------------------------------------------


def successors(flow: Flow, step: Step) -> list[str]:
    """Step ids this step may continue with (in this flow)."""
    step_type = steps.get(step.type)
    found = list(step_type.targets(step)) if step_type else []
    if step.next:
        found.append(step.next)
    elif step_type and step_type.falls_through and not _always_jumps(step):
        following = flow.following(step.id)
        if following:
            found.append(following.id)
    return list(dict.fromkeys(found))


def _always_jumps(step: Step) -> bool:
    """A branch with a default never falls through to the following step."""
    return step.type == "branch" and "default" in step.config


def _check_graph(flow: Flow, report: _Report) -> None:
    ids = {s.id for s in flow.steps}
    for step in flow.steps:
        for target in successors(flow, step):
            if target not in ids:
                report.error(
                    _target_line(step, target), f"goes to unknown step {target!r}", step.id
                )
    if not flow.steps:
        return
    reached, todo = set(), [flow.steps[0].id]
    while todo:
        current = todo.pop()
        if current in reached or current not in ids:
            continue
        reached.add(current)
        todo += successors(flow, flow.step(current))
    for step in flow.steps:
        if step.id not in reached:
            report.error(step.line, "unreachable: no step leads here", step.id)


def _target_line(step: Step, target: str) -> int:
    for key, value in step.config.items():
        if value == target:
            return step.line_of(key)
        if isinstance(value, dict) and target in value.values():
            key_of = next(k for k, v in value.items() if v == target)
            return line_of(value, str(key_of), step.line_of(key))
    return step.line_of("next")


# --- the whole set ----------------------------------------------------------------


def flow_files(directory: str | os.PathLike[str]) -> list[Path]:
    folder = Path(directory)
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def read_flows(directory: str | os.PathLike[str]) -> tuple[FlowSet, list[Problem]]:
    """Every flow in ``directory`` that could be read, and every structural problem."""
    problems: list[Problem] = []
    flows: dict[str, Flow] = {}
    for path in flow_files(directory):
        flow, found = parse_flow(path)
        problems += found
        if flow is None:
            continue
        if flow.id in flows:
            other = flows[flow.id]
            problems.append(
                Problem(
                    "error",
                    flow.file,
                    flow.line_of("flow"),
                    None,
                    f"flow id {flow.id!r} is already used by {other.file}",
                )
            )
            continue
        flows[flow.id] = flow
    flowset = FlowSet(flows)
    problems += _duplicate_keywords(flowset)
    problems += _unknown_flows(flowset)
    problems += _silent_loops(flowset)
    problems += _unknown_placeholders(flowset)
    return flowset, problems


def load_flows(directory: str | os.PathLike[str]) -> FlowSet:
    """All flows of ``directory``; raises ``FlowError`` for the first broken one."""
    flowset, problems = read_flows(directory)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FlowError.from_problem(errors[0])
    return flowset


def _duplicate_keywords(flowset: FlowSet) -> list[Problem]:
    problems = []
    for keyword, owners in flowset.keyword_index.items():
        if len(owners) < 2:
            continue
        first, *others = sorted(owners)
        for flow_id in others:
            flow = flowset.flows[flow_id]
            owner = flowset.flows[first]
            message = f"keyword {keyword.upper()!r} is also a trigger of {first!r} ({owner.file})"
            problems.append(Problem("error", flow.file, flow.line_of("triggers"), None, message))
    return problems


def _unknown_flows(flowset: FlowSet) -> list[Problem]:
    problems = []
    for flow in flowset:
        for step in flow.steps:
            for target in steps.get(step.type).flows_called(step):
                if target not in flowset.flows:
                    message = f"goes to unknown flow {target!r}"
                    problems.append(
                        Problem("error", flow.file, step.line_of("flow"), step.id, message)
                    )
    return problems


def _graph(flowset: FlowSet) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Steps that run without waiting, and which of those may run right after each."""
    graph: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for flow in flowset:
        for step in flow.steps:
            if steps.get(step.type).waits:
                continue
            after = [(flow.id, target) for target in successors(flow, step)]
            for target_flow in steps.get(step.type).flows_called(step):
                first = flowset.flows.get(target_flow)
                if first and first.first_step:
                    after.append((target_flow, first.first_step.id))
            graph[(flow.id, step.id)] = after
    return {node: [a for a in after if a in graph] for node, after in graph.items()}


def _silent_loops(flowset: FlowSet) -> list[Problem]:
    """Cycles with no question in them would run forever in one turn."""
    graph = _graph(flowset)
    state: dict[tuple[str, str], int] = {}  # 1 visiting, 2 done
    problems = []

    def visit(node: tuple[str, str], path: list[tuple[str, str]]) -> None:
        state[node] = 1
        for following in graph[node]:
            if state.get(following) == 1:
                loop = path[path.index(following) :] + [following]
                flow = flowset.flows[following[0]]
                step = flow.step(following[1])
                names = " -> ".join(s for _, s in loop)
                problems.append(
                    Problem(
                        "error",
                        flow.file,
                        step.line,
                        step.id,
                        f"loops without asking anything: {names}",
                    )
                )
            elif following not in state:
                visit(following, [*path, following])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    return problems


def _placeholder_sources(step: Step) -> list[tuple[str, int]]:
    """Every text of a step that may hold {placeholders}, with its line."""
    step_type = steps.get(step.type)
    found = [(t.msgid, t.line) for t in step_type.texts(step)]
    for key in ("media", "value"):
        if isinstance(step.config.get(key), str):
            found.append((step.config[key], step.line_of(key)))
    return found


def _unknown_placeholders(flowset: FlowSet) -> list[Problem]:
    fields = set(CONTACT_FIELDS)
    for flow in flowset:
        for step in flow.steps:
            fields.update(steps.get(step.type).provides(step))
    problems = []
    for flow in flowset:
        known = fields | set(flow.variables)
        for step in flow.steps:
            for text, line in _placeholder_sources(step):
                for name in sorted(set(PLACEHOLDER.findall(text)) - known):
                    message = (
                        f"unknown placeholder {{{name}}}: declare it under 'variables:' "
                        "or save it with save_as/field"
                    )
                    problems.append(Problem("error", flow.file, line, step.id, message))
    return problems
