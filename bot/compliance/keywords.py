"""Compliance keywords: does an inbound message ask to stop, start, get help
or change language?

`classify` is pure and runs before any conversation flow. The words and
phrases live in ``bot/compliance/data/*.yaml`` (their format is described at
the top of each file); a deployer adds more in the directory named by the
``PUENTE_KEYWORDS_DIR`` environment variable. Three kinds of rule:

* keywords: the whole message is a keyword, with filler ("STOP", "stop
  please", "¡¡AYUDA!!", "baja por favor");
* sentence keywords: one sentence of the message is such a keyword
  ("STOP. Who is this?");
* patterns: regular expressions for sentences that clearly ask to stop
  ("please stop texting me", "ya no me manden mensajes"), as FCC order 24-18
  requires, without matching "para mi familia" or "stop gun trafficking".
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from bot.text import normalize

ENV_DIR = "PUENTE_KEYWORDS_DIR"
DATA_DIR = Path(__file__).parent / "data"

_RULE_KEYS = ("keywords", "sentence_keywords", "patterns", "exceptions")
_SHARED_KEYS = ("filler", "terms")
_TERM = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_SENTENCE_END = re.compile(r"[.!?¡¿;:,\n]+")
_MAX_KEYWORD_WORDS = 12  # a keyword message is short; bounds the regex work


class Intent(StrEnum):
    """What a message asks for, as far as compliance is concerned."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    LANGUAGE_ES = "language_es"
    LANGUAGE_EN = "language_en"
    LANGUAGE_ASK = "language_ask"
    NONE = "none"


# First match wins: stopping beats everything.
ORDER = (
    Intent.OPT_OUT,
    Intent.OPT_IN,
    Intent.HELP,
    Intent.LANGUAGE_ES,
    Intent.LANGUAGE_EN,
    Intent.LANGUAGE_ASK,
)


class KeywordDataError(ValueError):
    """A keyword data file is malformed."""


@dataclass(frozen=True)
class IntentRules:
    """The compiled rules for one intent."""

    whole: re.Pattern[str] | None
    sentence: re.Pattern[str] | None
    patterns: tuple[re.Pattern[str], ...]
    exceptions: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Rules:
    """All compiled rules: filler stripping and each intent's rules."""

    strip: re.Pattern[str]
    intents: tuple[tuple[Intent, IntentRules], ...]


def classify(text: str, extra_dir: str | os.PathLike[str] | None = None) -> Intent:
    """The compliance intent of an inbound message, or ``Intent.NONE``.

    ``extra_dir`` (default: ``$PUENTE_KEYWORDS_DIR``) holds more keyword files.
    """
    rules = load_rules(extra_dir)
    norm = normalize(text)
    if not norm:
        return Intent.NONE
    core = _strip_filler(rules.strip, norm)
    sentences = [normalize(s) for s in _SENTENCE_END.split(text or "")]
    for intent, intent_rules in rules.intents:
        if _matches(intent_rules, norm, core, sentences):
            return intent
    return Intent.NONE


def load_rules(extra_dir: str | os.PathLike[str] | None = None) -> Rules:
    """Read and compile the keyword data once (cached per directory).

    Call it at start-up to fail early on a bad deployer file.
    """
    if extra_dir is None:
        extra_dir = os.environ.get(ENV_DIR) or None
    return _load(os.fspath(extra_dir) if extra_dir is not None else None)


@functools.cache
def _load(extra_dir: str | None) -> Rules:
    files = _yaml_files(DATA_DIR)
    if extra_dir is not None:
        path = Path(extra_dir)
        if not path.is_dir():
            raise KeywordDataError(f"{ENV_DIR}: {extra_dir} is not a directory")
        files += _yaml_files(path)
    filler: list[str] = []
    terms: dict[str, str] = {}
    raw: dict[Intent, dict[str, list[str]]] = {i: {k: [] for k in _RULE_KEYS} for i in ORDER}
    for path, data in _read(files):
        _merge(path, data, filler, terms, raw)
    return Rules(
        strip=_strip_pattern(filler),
        intents=tuple((i, _compile(i, raw[i], filler, terms)) for i in ORDER),
    )


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def _read(files: Iterable[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise KeywordDataError(f"{path}: expected a mapping at the top level")
        yield path, data


def _merge(
    path: Path,
    data: dict[str, Any],
    filler: list[str],
    terms: dict[str, str],
    raw: dict[Intent, dict[str, list[str]]],
) -> None:
    """Add one file's entries to the lists being built."""
    for key, value in data.items():
        if key == "filler":
            filler += _strings(path, key, value)
        elif key == "terms":
            _merge_terms(path, value, terms)
        elif key in raw:
            _merge_intent(path, key, value, raw[Intent(key)])
        else:
            known = ", ".join([*_SHARED_KEYS, *(i.value for i in ORDER)])
            raise KeywordDataError(f"{path}: unknown section {key!r} (known: {known})")


def _merge_terms(path: Path, value: Any, terms: dict[str, str]) -> None:
    if not isinstance(value, dict):
        raise KeywordDataError(f"{path}: terms must be a mapping of name to regex")
    for name, fragment in value.items():
        if name in terms:
            raise KeywordDataError(f"{path}: term {name!r} is already defined")
        if not isinstance(fragment, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", str(name)):
            raise KeywordDataError(f"{path}: term {name!r} must be a lower_case name and a string")
        terms[name] = fragment


def _merge_intent(path: Path, key: str, value: Any, lists: dict[str, list[str]]) -> None:
    if not isinstance(value, dict):
        raise KeywordDataError(f"{path}: {key} must be a mapping")
    for rule_key, entries in value.items():
        if rule_key not in lists:
            raise KeywordDataError(
                f"{path}: {key}.{rule_key} is unknown (known: {', '.join(_RULE_KEYS)})"
            )
        lists[rule_key] += _strings(path, f"{key}.{rule_key}", entries)


def _strings(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KeywordDataError(f"{path}: {where} must be a list of strings")
    return value


def _compile(
    intent: Intent, lists: dict[str, list[str]], filler: list[str], terms: dict[str, str]
) -> IntentRules:
    sentence_words = lists["sentence_keywords"]
    return IntentRules(
        whole=_keyword_pattern([*lists["keywords"], *sentence_words], filler),
        sentence=_keyword_pattern(sentence_words, filler),
        patterns=tuple(_regex(intent, p, terms) for p in lists["patterns"]),
        exceptions=tuple(_regex(intent, p, terms) for p in lists["exceptions"]),
    )


def _phrases(words: Iterable[str]) -> str:
    """An alternation of normalized phrases, longest first."""
    normalized = {normalize(w) for w in words} - {""}
    ordered = sorted(normalized, key=lambda w: (-len(w), w))
    return "|".join(re.escape(w) for w in ordered)


def _keyword_pattern(words: list[str], filler: list[str]) -> re.Pattern[str] | None:
    """Keywords, repeated or not, with filler anywhere: at least one keyword."""
    keys = _phrases(words)
    if not keys:
        return None
    fill = _phrases(filler)
    item = f"(?:{keys}|{fill})" if fill else f"(?:{keys})"
    return re.compile(f"(?:{item} )*(?:{keys})(?: {item})*")


def _strip_pattern(filler: list[str]) -> re.Pattern[str]:
    fill = _phrases(filler)
    if not fill:
        return re.compile(r"(.*)")
    return re.compile(f"(?:(?:{fill}) )*(.*?)(?: (?:{fill}))*")


def _strip_filler(strip: re.Pattern[str], norm: str) -> str:
    match = strip.fullmatch(norm)
    return match.group(1) if match else norm


def _regex(intent: Intent, pattern: str, terms: dict[str, str]) -> re.Pattern[str]:
    """Compile a data pattern after replacing each {term}."""

    def term(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in terms:
            raise KeywordDataError(f"{intent.value}: unknown term {{{name}}} in {pattern!r}")
        return f"(?:{terms[name]})"

    try:
        return re.compile(_TERM.sub(term, pattern))
    except re.error as exc:
        raise KeywordDataError(f"{intent.value}: bad pattern {pattern!r}: {exc}") from exc


def _matches(rules: IntentRules, norm: str, core: str, sentences: list[str]) -> bool:
    """Whether a message matches one intent's rules."""
    if rules.whole is not None and _is_keyword(rules.whole, norm):
        return True
    found = any(p.search(core) for p in rules.patterns) or (
        rules.sentence is not None and any(_is_keyword(rules.sentence, s) for s in sentences)
    )
    return found and not any(e.search(core) for e in rules.exceptions)


def _is_keyword(pattern: re.Pattern[str], norm: str) -> bool:
    if not norm or norm.count(" ") >= _MAX_KEYWORD_WORDS:
        return False
    return pattern.fullmatch(norm) is not None
