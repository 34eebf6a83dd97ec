"""``puente flows check``: everything that can be wrong with the flows, before anyone texts.

Structure (schema, step types, dangling and unreachable steps, loops, duplicate
keywords, placeholders) comes from the loader; this module adds the catalogs (every
text of every step has its own entry, by msgctxt, translated in every language with
its placeholders kept; an entry no step has any more is a warning) and SMS cost (segments per
language, with a warning when an accent such as á turns a message into UCS-2 and
makes it cost more; counted without WhatsApp's formatting marks, as SMS gets them),
WhatsApp's limits on buttons and lists (an error per language: WhatsApp would refuse
the message), unclosed formatting marks, and configuration variables.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot import formatting
from bot.compliance.keywords import Intent, classify
from bot.flows.extract import flow_contexts, po_path, read_catalog
from bot.flows.interactive import limit_problems
from bot.flows.loader import read_flows
from bot.flows.model import Flow, FlowSet, Step
from bot.flows.problems import FlowError, Problem, display_path
from bot.flows.steps import REGISTRY
from bot.flows.steps.ask import BUILTIN_TEXTS
from bot.flows.turn import PLACEHOLDER, ContactView, FlowRun, Translate
from bot.i18n import LANGUAGES, MESSAGES_DIR
from bot.text import UCS2, normalize, sms_segments, strip_accents

__all__ = [
    "SegmentCount",
    "check_flows",
    "load_checked_flows",
    "main",
    "missing_variables",
    "segment_counts",
]

_TEXT_KEYS = {"re-ask": "reask"}  # where a preview's text is written (default: text)


@dataclass(frozen=True)
class SegmentCount:
    """What one message costs as an SMS in one language."""

    flow_id: str
    step_id: str
    what: str  # "message", "question", "re-ask"
    lang: str
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    ucs2_chars: tuple[str, ...]
    gsm7_segments: int  # the same text with the accents that forced UCS-2 removed
    file: str
    line: int


def check_flows(
    directory: str | os.PathLike[str] = "flows",
    languages: Iterable[str] = LANGUAGES,
    *,
    variables: Mapping[str, str] | None = None,
    messages_dir: str | os.PathLike[str] = MESSAGES_DIR,
) -> list[Problem]:
    """Every problem with the flows in ``directory``: errors first, then warnings.

    Pass ``variables`` (the deployment's configuration) to also check that every
    required variable is set and to count segments with the real values.
    """
    languages = tuple(languages)
    flowset, problems = read_flows(directory)
    broken = {p.file for p in problems if p.severity == "error"}
    flowset = FlowSet({f.id: f for f in flowset if f.file not in broken})  # the rest: as written
    catalogs = _catalogs(languages, Path(messages_dir))
    problems += _catalog_problems(flowset, catalogs, Path(messages_dir))
    problems += _segment_warnings(segment_counts(flowset, languages, variables, catalogs))
    problems += _interactive_errors(flowset, languages, variables, catalogs)
    problems += _mark_warnings(flowset, languages, variables, catalogs)
    problems += _synonym_warnings(flowset)
    if variables is not None:
        problems += _missing_variables(flowset, variables)
    return sorted(problems, key=lambda p: (p.severity != "error", p.file, p.line))


def load_checked_flows(
    directory: str | os.PathLike[str] = "flows",
    languages: Iterable[str] = LANGUAGES,
    *,
    variables: Mapping[str, str] | None = None,
) -> FlowSet:
    """The flows, or ``FlowError`` naming the first error: what the app calls at start-up."""
    errors = [
        p for p in check_flows(directory, languages, variables=variables) if p.severity == "error"
    ]
    if errors:
        raise FlowError.from_problem(errors[0])
    flowset, _ = read_flows(directory)
    return flowset


# --- catalogs ----------------------------------------------------------------------------


Entry = tuple[str, bool, int]  # (msgstr, fuzzy, line in the .po file)
EntryKey = tuple[str | None, str]  # (msgctxt, msgid); no msgctxt: a built-in text


def _catalogs(
    languages: tuple[str, ...], messages_dir: Path
) -> dict[str, dict[EntryKey, Entry] | None]:
    """lang -> {(msgctxt, msgid): entry}, or None when the .po file is missing."""
    found = {}
    for lang in languages:
        catalog = read_catalog(lang, messages_dir)
        found[lang] = (
            None
            if catalog is None
            else {
                (m.context, m.id): (m.string or "", bool(m.fuzzy), m.lineno or 1)
                for m in catalog
                if isinstance(m.id, str) and m.id
            }
        )
    return found


def _translator(catalogs: Mapping[str, Mapping[EntryKey, Entry] | None]) -> Translate:
    def translate(lang: str, context: str | None, msgid: str) -> str:
        entry = (catalogs.get(lang) or {}).get((context, msgid))
        return entry[0] if entry and entry[0] and not entry[1] else msgid

    return translate


def _short(msgid: str) -> str:
    return repr(msgid if len(msgid) <= 60 else msgid[:57] + "...")


def _entry_problem(
    msgid: str, lang: str, entry: Entry | None, context: str | None = None
) -> str | None:
    """What is wrong with one catalog entry, or None."""
    where = [f'msgctxt "{context}"'] if context else []
    if entry is None:
        where.append("run python -m bot.flows.extract")
        return f"{lang}: {_short(msgid)} is missing from the catalog ({'; '.join(where)})"
    string, fuzzy, _ = entry
    if lang == "en" and not string:
        return None  # English msgids are the English text
    if not string or fuzzy:
        if fuzzy:
            where.append("check it, then remove the fuzzy flag")
        state = "fuzzy" if fuzzy else "not translated"
        return f"{lang}: {_short(msgid)} is {state}" + (f" ({'; '.join(where)})" if where else "")
    if set(PLACEHOLDER.findall(string)) != set(PLACEHOLDER.findall(msgid)):
        problem = f"{lang}: the translation of {_short(msgid)} must keep the same {{placeholders}}"
        return problem + (f" ({where[0]})" if where else "")
    return None


def _stale_entries(
    flowset: FlowSet, lang: str, catalog: Mapping[EntryKey, Entry], path: str
) -> list[Problem]:
    """Entries of a checked flow that no step has any more (renamed, removed, reworded).

    Only the flows checked here count: entries of flows in another folder are left alone.
    """
    used = {(context, text.msgid) for flow in flowset for context, _, text in flow_contexts(flow)}
    problems = []
    for (context, msgid), (_, _, line) in catalog.items():
        flow_id = (context or "").split("/")[0]
        if context is None or (context, msgid) in used or flowset.get(flow_id) is None:
            continue
        message = (
            f'{lang}: stale entry {_short(msgid)} (msgctxt "{context}"): no step of flow '
            f"{flow_id!r} has this text; run python -m bot.flows.extract to drop it"
        )
        problems.append(Problem("warning", path, line, None, message))
    return problems


def _catalog_problems(
    flowset: FlowSet, catalogs: Mapping[str, Mapping | None], messages_dir: Path
) -> list[Problem]:
    problems = []
    for lang, catalog in catalogs.items():
        if catalog is None:
            path = display_path(po_path(lang, messages_dir))
            problems.append(
                Problem(
                    "error", path, 1, None, f"no {lang} catalog: run python -m bot.flows.extract"
                )
            )
            continue
        for flow in flowset:
            for context, step, text in flow_contexts(flow):
                entry = catalog.get((context, text.msgid))
                if message := _entry_problem(text.msgid, lang, entry, context):
                    problems.append(Problem("error", flow.file, text.line, step.id, message))
        path = display_path(po_path(lang, messages_dir))
        for msgid in BUILTIN_TEXTS:
            if message := _entry_problem(msgid, lang, catalog.get((None, msgid))):
                problems.append(Problem("error", path, 1, None, f"built-in text: {message}"))
        problems += _stale_entries(flowset, lang, catalog, path)
    return problems


# --- what messages cost --------------------------------------------------------------------


def _preview_turn(flowset: FlowSet, flow: Flow, lang: str, variables, translate) -> FlowRun:
    """A turn to render messages: real variables when given, else each name stands in."""
    stand_ins = {name: name for other in flowset for name in other.variables}
    values = {**stand_ins, **(variables or {})}
    contact = ContactView(language=lang, channel="sms")
    return FlowRun(flowset, flow, contact, datetime(2000, 1, 1), values, translate)


def _previews(flowset: FlowSet, languages: Iterable[str], variables, translate: Translate):
    """(flow, step, lang, what, output) for every message of every flow."""
    for flow in flowset:
        for step in flow.steps:
            for lang in languages:
                turn = _preview_turn(flowset, flow, lang, variables, translate)
                for what, output in REGISTRY[step.type].previews(step, turn):
                    yield flow, step, lang, what, output


def _count(flow: Flow, step: Step, lang: str, what: str, text: str) -> SegmentCount:
    text = formatting.plain(text)  # SMS gets it without WhatsApp's *bold* and _italic_ marks
    info = sms_segments(text)
    plain = "".join(strip_accents(c) if c in info.ucs2_chars else c for c in text)
    return SegmentCount(
        flow.id, step.id, what, lang, info.encoding, info.segments, info.ucs2_chars,
        sms_segments(plain).segments, flow.file, step.line_of(_TEXT_KEYS.get(what, "text")),
    )  # fmt: skip


def segment_counts(
    flowset: FlowSet,
    languages: Iterable[str] = LANGUAGES,
    variables: Mapping[str, str] | None = None,
    catalogs: Mapping[str, Mapping | None] | None = None,
) -> list[SegmentCount]:
    """Encoding and segments of every message of every flow, per language, as SMS."""
    languages = tuple(languages)
    if catalogs is None:
        catalogs = _catalogs(languages, Path(MESSAGES_DIR))
    previews = _previews(flowset, languages, variables, _translator(catalogs))
    return [_count(flow, step, lang, what, out.text) for flow, step, lang, what, out in previews]


def _segment_warnings(counts: Iterable[SegmentCount]) -> list[Problem]:
    """UCS-2 only matters when it costs more segments than the same text without accents."""
    problems = []
    for count in counts:
        if count.encoding != UCS2 or count.segments <= count.gsm7_segments:
            continue
        chars = ", ".join(count.ucs2_chars)
        message = (
            f"{count.lang} {count.what} is UCS-2 because of {chars}: "
            f"{count.segments} SMS segments instead of {count.gsm7_segments}"
        )
        problems.append(Problem("warning", count.file, count.line, count.step_id, message))
    return problems


def _interactive_errors(flowset: FlowSet, languages, variables, catalogs) -> list[Problem]:
    """A button or list row over WhatsApp's limits, in any language: WhatsApp refuses it."""
    problems = set()
    previews = _previews(flowset, languages, variables, _translator(catalogs))
    for flow, step, lang, _, output in previews:
        if output.interactive is None:
            continue
        line = step.line_of("buttons" if "buttons" in step.config else "choices")
        for message in limit_problems(output.interactive):
            problems.add(Problem("error", flow.file, line, step.id, f"{lang} {message}"))
    return sorted(problems, key=lambda p: (p.file, p.line, p.message))


def _mark_warnings(flowset: FlowSet, languages, variables, catalogs) -> list[Problem]:
    """A *bold* or _italic_ mark that is never closed: WhatsApp shows it as typed."""
    problems = set()
    previews = _previews(flowset, languages, variables, _translator(catalogs))
    for flow, step, lang, what, output in previews:
        for mark in dict.fromkeys(formatting.unclosed(output.text)):
            style = formatting.MARKS[mark]
            message = f"{lang} {what} has an unclosed {mark} ({style}): it is shown as typed"
            line = step.line_of(_TEXT_KEYS.get(what, "text"))
            problems.add(Problem("warning", flow.file, line, step.id, message))
    return sorted(problems, key=lambda p: (p.file, p.line, p.message))


def _choice_words(step: Step) -> Iterable[str]:
    for choice in step.config.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        for key in ("label", "short"):  # a tapped row's title arrives as its Body
            if isinstance(choice.get(key), str):
                yield choice[key]
        for words in (choice.get("synonyms") or {}).values():
            yield from (str(w) for w in words if isinstance(words, list))


def _choice_word_problem(flowset: FlowSet, word: str) -> str | None:
    """Why a contact typing ``word`` would not reach the question, or None."""
    if (intent := classify(word)) != Intent.NONE:
        return f"choice word {word!r} never arrives: compliance takes it ({intent})"
    if (other := flowset.flow_for_keyword(normalize(word))) is not None:
        return f"choice word {word!r} starts flow {other.id!r} instead (a trigger keyword)"
    return None


def _synonym_warnings(flowset: FlowSet) -> list[Problem]:
    """Choice words that compliance ("salir" = opt-out) or another flow's keyword take."""
    problems = []
    for flow in flowset:
        for step in flow.steps:
            for word in dict.fromkeys(_choice_words(step)):
                if message := _choice_word_problem(flowset, word):
                    line = step.line_of("choices")
                    problems.append(Problem("warning", flow.file, line, step.id, message))
    return problems


def missing_variables(flow: Flow, variables: Mapping[str, str]) -> list[str]:
    """The variables ``flow`` requires that have no value: the app disables such a flow."""
    return [
        name for name, required in flow.variables.items() if required and not variables.get(name)
    ]


def _missing_variables(flowset: FlowSet, variables: Mapping[str, str]) -> list[Problem]:
    problems = []
    for flow in flowset:
        for name in missing_variables(flow, variables):
            message = f"variable {name!r} is required but not configured"
            line = flow.key_lines.get(f"variables.{name}", flow.line_of("variables"))
            problems.append(Problem("error", flow.file, line, None, message))
    return problems


# --- command line ------------------------------------------------------------------------------


def format_segments(counts: Iterable[SegmentCount]) -> str:
    """A table: flow, step, what, then segments per language ("es 2 UCS-2 (á)")."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    for c in counts:
        note = f" UCS-2 ({''.join(c.ucs2_chars)})" if c.encoding == UCS2 else ""
        rows.setdefault((c.flow_id, c.step_id, c.what), []).append(f"{c.lang} {c.segments}{note}")
    return "\n".join(f"{f}/{s} {w}: " + ", ".join(cells) for (f, s, w), cells in rows.items())


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.flows.check [flows] [--segments]``: exit 1 when any flow is broken."""
    parser = argparse.ArgumentParser(description="Check every flow: structure, catalogs, SMS cost")
    parser.add_argument("directory", nargs="?", default="flows")
    parser.add_argument("--segments", action="store_true", help="print every message's segments")
    args = parser.parse_args(argv)
    problems = check_flows(args.directory)
    for problem in problems:
        print(problem)
    if args.segments:
        flowset, _ = read_flows(args.directory)
        print(format_segments(segment_counts(flowset)))
    errors = sum(p.severity == "error" for p in problems)
    print(f"{errors} error(s), {len(problems) - errors} warning(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
