"""Compliance keywords: does an inbound message ask to stop, start, get help,
change language, or see or erase what Puente holds about the sender?

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

from bot.exceptions import PuenteError
from bot.text import normalize

ENV_DIR = "PUENTE_KEYWORDS_DIR"
DATA_DIR = Path(__file__).parent / "data"

_RULE_KEYS = ("keywords", "sentence_keywords", "patterns", "exceptions")
_SHARED_KEYS = ("filler", "terms")
_TERM = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_SENTENCE_END = re.compile(r"[.!?¡¿;:,\n]+")

Phrase = tuple[str, ...]  # a normalized keyword or filler, word by word


class Intent(StrEnum):
    """What a message asks for, as far as compliance is concerned."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    LANGUAGE_ES = "language_es"
    LANGUAGE_EN = "language_en"
    LANGUAGE_ASK = "language_ask"
    ERASE_REQUEST = "erase_request"  # "BORRAR MIS DATOS": explain, then wait for the word
    ERASE_CONFIRM = "erase_confirm"  # "BORRAR" alone: erases only right after a request
    MY_DATA = "my_data"  # "MIS DATOS": a summary of what is held
    NONE = "none"


# First match wins: stopping beats everything.
ORDER = (
    Intent.OPT_OUT,
    Intent.OPT_IN,
    Intent.HELP,
    Intent.LANGUAGE_ES,
    Intent.LANGUAGE_EN,
    Intent.LANGUAGE_ASK,
    Intent.ERASE_REQUEST,
    Intent.ERASE_CONFIRM,
    Intent.MY_DATA,
)


class KeywordDataError(PuenteError, ValueError):
    """A keyword data file is malformed."""


@dataclass(frozen=True)
class IntentRules:
    """The compiled rules for one intent."""

    keywords: frozenset[Phrase]  # includes the sentence keywords
    sentence_keywords: frozenset[Phrase]
    patterns: tuple[re.Pattern[str], ...]
    exceptions: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Rules:
    """All compiled rules: the filler and each intent's rules, in order."""

    filler: frozenset[Phrase]
    keywords: frozenset[Phrase]  # every intent's keywords
    longest: int  # words in the longest keyword or filler phrase
    intents: tuple[tuple[Intent, IntentRules], ...]

    def strip_filler(self, words: list[str]) -> list[str]:
        """``words`` without filler phrases at either end."""
        start, end = 0, len(words)
        while (size := self._filler_at(words, start, end, from_start=True)) > 0:
            start += size
        while (size := self._filler_at(words, start, end, from_start=False)) > 0:
            end -= size
        return words[start:end]

    def _filler_at(self, words: list[str], start: int, end: int, from_start: bool) -> int:
        """Length of the longest filler phrase at one end of words[start:end], or 0."""
        for size in range(min(self.longest, end - start), 0, -1):
            phrase = words[start : start + size] if from_start else words[end - size : end]
            if tuple(phrase) in self.filler:
                return size
        return 0

    def only_keywords(
        self, words: list[str], keys: frozenset[Phrase], also: frozenset[Phrase] = frozenset()
    ) -> bool:
        """True when ``words`` are ``keys`` and filler only, with one of ``keys`` at least.

        Phrases in ``also`` count as filler. Walks the words once: ``state[i]``
        is None when no parse reaches word ``i``, else whether a parse that
        reaches it has used one of ``keys``.
        """
        state: list[bool | None] = [None] * (len(words) + 1)
        state[0] = False
        for i in range(len(words)):
            if state[i] is None:
                continue
            for j in range(i + 1, min(len(words), i + self.longest) + 1):
                phrase = tuple(words[i:j])
                if phrase in keys:
                    state[j] = True
                elif phrase in self.filler or phrase in also:
                    state[j] = bool(state[j]) or bool(state[i])
        return bool(words) and state[-1] is True


def classify(text: str, extra_dir: str | os.PathLike[str] | None = None) -> Intent:
    """The compliance intent of an inbound message, or ``Intent.NONE``.

    ``extra_dir`` (default: ``$PUENTE_KEYWORDS_DIR``) holds more keyword files.
    """
    rules = load_rules(extra_dir)
    words = normalize(text).split()
    if not words:
        return Intent.NONE
    core = " ".join(rules.strip_filler(words))
    sentences = [normalize(s).split() for s in _SENTENCE_END.split(text or "")]
    for intent, intent_rules in rules.intents:
        if _matches(rules, intent_rules, words, core, sentences):
            return intent
    return Intent.NONE


def asks_erasure(text: str, extra_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether the message asks to erase the sender's data ("delete my information").

    Such a message may also be an opt-out ("delete my info" is one, and stopping
    beats everything in `classify`): the inbound path asks this of opt-outs too,
    and an erase request always stops messages as STOP does.
    """
    rules = load_rules(extra_dir)
    words = normalize(text).split()
    if not words:
        return False
    core = " ".join(rules.strip_filler(words))
    sentences = [normalize(s).split() for s in _SENTENCE_END.split(text or "")]
    erase = dict(rules.intents)[Intent.ERASE_REQUEST]
    return _matches(rules, erase, words, core, sentences)


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
    intents = tuple((i, _compile(i, raw[i], terms)) for i in ORDER)
    fill = _phrases(filler)
    keywords = frozenset[Phrase]().union(*(r.keywords for _, r in intents))
    return Rules(
        filler=fill,
        keywords=keywords,
        longest=max(map(len, fill | keywords), default=1),
        intents=intents,
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


def _compile(intent: Intent, lists: dict[str, list[str]], terms: dict[str, str]) -> IntentRules:
    sentence_keywords = _phrases(lists["sentence_keywords"])
    return IntentRules(
        keywords=_phrases(lists["keywords"]) | sentence_keywords,
        sentence_keywords=sentence_keywords,
        patterns=tuple(_regex(intent, p, terms) for p in lists["patterns"]),
        exceptions=tuple(_regex(intent, p, terms) for p in lists["exceptions"]),
    )


def _phrases(entries: Iterable[str]) -> frozenset[Phrase]:
    """Entries as written in the data ("NO MÁS") to normalized phrases (("no", "mas"))."""
    phrases = {e: tuple(normalize(e).split()) for e in entries}
    empty = [e for e, p in phrases.items() if not p]
    if empty:
        raise KeywordDataError(f"keywords without letters or digits never match: {empty}")
    return frozenset(phrases.values())


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


def _matches(
    rules: Rules, intent: IntentRules, words: list[str], core: str, sentences: list[list[str]]
) -> bool:
    """Whether a message matches one intent's rules.

    Sentence keywords win over other intents' keywords in the same message or
    sentence: "STOP HELP" and "START. STOP." are opt-outs.
    """
    if rules.only_keywords(words, intent.keywords):
        return True
    strong = intent.sentence_keywords
    found = any(p.search(core) for p in intent.patterns) or any(
        rules.only_keywords(s, strong, also=rules.keywords) for s in [words, *sentences]
    )
    return found and not any(e.search(core) for e in intent.exceptions)
