"""Forgiving matching of what a contact texts back to a question.

Case, accents, punctuation and small typos do not matter; numbers may be digits or
words in Spanish or English; yes and no have many spellings.  Every parser returns
None when it cannot tell, and the question is asked again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bot.flows import postal
from bot.flows.postal import PostalCode
from bot.text import normalize

NUMBER_WORDS = {
    # cardinal and ordinal, Spanish and English, accents already stripped
    **dict.fromkeys(["cero", "zero"], 0),
    **dict.fromkeys(
        ["uno", "una", "un", "one", "primero", "primera", "first", "1st", "1ro", "1o"], 1
    ),
    **dict.fromkeys(["dos", "two", "segundo", "segunda", "second", "2nd", "2do", "2o"], 2),
    **dict.fromkeys(["tres", "three", "tercero", "tercera", "tercer", "third", "3rd", "3ro"], 3),
    **dict.fromkeys(["cuatro", "four", "cuarto", "cuarta", "fourth", "4th", "4to"], 4),
    **dict.fromkeys(["cinco", "five", "quinto", "quinta", "fifth", "5th", "5to"], 5),
    **dict.fromkeys(["seis", "six", "sexto", "sexta", "sixth", "6th", "6to"], 6),
    **dict.fromkeys(["siete", "seven", "septimo", "septima", "seventh", "7th", "7mo"], 7),
    **dict.fromkeys(["ocho", "eight", "octavo", "octava", "eighth", "8th", "8vo"], 8),
    **dict.fromkeys(["nueve", "nine", "noveno", "novena", "ninth", "9th", "9no"], 9),
    **dict.fromkeys(["diez", "ten", "decimo", "decima", "tenth", "10th", "10mo"], 10),
    **dict.fromkeys(["once", "eleven"], 11),
    **dict.fromkeys(["doce", "twelve"], 12),
    **dict.fromkeys(["trece", "thirteen"], 13),
    **dict.fromkeys(["catorce", "fourteen"], 14),
    **dict.fromkeys(["quince", "fifteen"], 15),
    **dict.fromkeys(["dieciseis", "sixteen"], 16),
    **dict.fromkeys(["diecisiete", "seventeen"], 17),
    **dict.fromkeys(["dieciocho", "eighteen"], 18),
    **dict.fromkeys(["diecinueve", "nineteen"], 19),
    **dict.fromkeys(["veinte", "twenty"], 20),
}

YES = {
    "si", "yes", "y", "s", "sip", "yeah", "yep", "yup", "ok", "okay", "claro", "simon",
    "sale", "dale", "va", "correcto", "afirmativo", "sure", "of course", "por supuesto",
    "de acuerdo", "claro que si", "si claro", "si por favor", "yes please", "esta bien",
}  # fmt: skip
NO = {
    "no", "n", "nop", "nope", "nel", "nah", "negativo", "no gracias", "no thanks",
    "para nada", "de ninguna manera", "no way", "no por favor",
}  # fmt: skip
UNSURE = {
    "no se", "no lo se", "nose", "quien sabe", "tal vez", "quizas", "quiza", "a lo mejor",
    "maybe", "not sure", "i dont know", "dont know", "idk", "depende", "perhaps",
}  # fmt: skip
SKIP = {
    "skip", "saltar", "omitir", "paso", "pass", "prefiero no decir", "prefiero no decirlo",
    "prefer not to say", "prefiero no contestar", "prefiero no responder",
}  # fmt: skip
ZERO = {
    "nadie", "ninguno", "ninguna", "solo yo", "nomas yo", "just me", "only me", "nobody",
    "none", "no one",
}  # fmt: skip
ALL = {"todos", "todas", "todo", "all", "all of them", "todas las anteriores", "everything"}
# words between the numbers of a multiple answer: "1 y 3", "1, 3", "uno and three"
CONNECTORS = {"y", "e", "and", "o", "or", "con", "with", "tambien", "also", "mas", "plus"}
FILLER = {"el", "la", "los", "las", "the", "numero", "num", "number", "opcion", "option"}

MONTHS = {
    "enero": 1, "ene": 1, "january": 1, "jan": 1,
    "febrero": 2, "feb": 2, "february": 2,
    "marzo": 3, "mar": 3, "march": 3,
    "abril": 4, "abr": 4, "april": 4, "apr": 4,
    "mayo": 5, "may": 5,
    "junio": 6, "jun": 6, "june": 6,
    "julio": 7, "jul": 7, "july": 7,
    "agosto": 8, "ago": 8, "august": 8, "aug": 8,
    "septiembre": 9, "setiembre": 9, "sep": 9, "sept": 9, "september": 9,
    "octubre": 10, "oct": 10, "october": 10,
    "noviembre": 11, "nov": 11, "november": 11,
    "diciembre": 12, "dic": 12, "december": 12, "dec": 12,
}  # fmt: skip
WEEKDAYS = {
    "lunes": 0, "monday": 0, "martes": 1, "tuesday": 1, "miercoles": 2, "wednesday": 2,
    "jueves": 3, "thursday": 3, "viernes": 4, "friday": 4, "sabado": 5, "saturday": 5,
    "domingo": 6, "sunday": 6,
}  # fmt: skip
RELATIVE_DAYS = [  # longest first: "pasado mañana" before "mañana"
    ("pasado manana", 2), ("day after tomorrow", 2), ("day before yesterday", -2),
    ("anteayer", -2), ("antier", -2), ("antes de ayer", -2), ("yesterday", -1), ("ayer", -1),
    ("today", 0), ("tonight", 0), ("hoy", 0), ("tomorrow", 1), ("manana", 1),
]  # fmt: skip
PAST_WORDS = {"pasado", "pasada", "last", "ago"}

_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)? (?:de )?({_MONTH_RE})\b(?: (?:de |del )?(\d{{4}}))?"
)
_MONTH_DAY = re.compile(rf"\b({_MONTH_RE}) (\d{{1,2}})(?:st|nd|rd|th)?\b(?: (\d{{4}}))?")
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?\b")
_FIVE_DIGITS = re.compile(r"(?<!\d)(\d{5})(?!\d)")
_MX_HINT = re.compile(r"\b(c ?p|mx|mex|mexico|codigo postal mexicano)\b")
_US_HINT = re.compile(r"\b(zip|zipcode|usa|eeuu|ee uu|estados unidos)\b")


@dataclass(frozen=True)
class Choice:
    """An option of a question as the matcher sees it."""

    value: str  # stored when chosen: "human_rights"
    number: int | None  # its number in the listed menu; None when hidden
    phrases: tuple[str, ...]  # normalized label (every language), value and synonyms


def distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance (a swap of two letters counts once)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, previous2[j - 2] + 1)
            current.append(best)
        previous2, previous = previous, current
    return previous[-1]


def similar(word: str, target: str) -> bool:
    """Same word, allowing one typo in words of 4-7 letters and two from 8 letters.

    Short words must match exactly: "no" is not "nos", "uno" is not "una".
    """
    if word == target:
        return True
    if len(target) < 4 or len(word) < 4 or not word.isalpha():
        return False
    limit = 1 if len(target) <= 7 else 2
    return distance(word, target, limit) <= limit


def _in_set(text: str, words: set[str], typos: bool = True) -> bool:
    if text in words:
        return True
    return typos and any(" " not in w and len(w) >= 4 and similar(text, w) for w in words)


def number_of(word: str, typos: bool = True) -> int | None:
    """A single token as a number: "3", "tres", "three", "tercero", "3rd" (or "cautro")."""
    if word.isdigit():
        return int(word)
    if word in NUMBER_WORDS:
        return NUMBER_WORDS[word]
    if not typos:
        return None
    close = {n for w, n in NUMBER_WORDS.items() if similar(word, w)}
    return close.pop() if len(close) == 1 else None


def parse_number(text: str) -> int | None:
    """The one number in the answer: "3", "tres", "somos 4"; None if none or several.

    Digits win over words, so "somos un grupo de 5" is 5.
    """
    if normalize(text) in ZERO:  # "how many come with you?" "solo yo"
        return 0
    words = normalize(text).split()
    digits = [int(w) for w in words if w.isdigit()]
    if digits:
        return digits[0] if len(digits) == 1 else None
    found = [n for w in words if (n := number_of(w)) is not None]
    return found[0] if len(set(found)) == 1 else None


def parse_yes_no(text: str) -> bool | None:
    """True for "sí", "si", "yes", "claro"...; False for "no", "nop"...; None otherwise.

    "no sé" (don't know) is neither. Exact words win over typo matches, so "nope"
    is no and not a misspelled "nose".
    """
    words = normalize(text)
    if not words:
        return None
    first = words.split()[0]  # "si, pueden llamarme"
    for typos in (False, True):
        for candidate in (words, first, _squeeze(words), _squeeze(first)):
            if _in_set(words, UNSURE, typos) or _starts_unsure(words):
                return None
            if _in_set(candidate, YES, typos):
                return True
            if _in_set(candidate, NO, typos):
                return False
    return None


def _squeeze(word: str) -> str:
    """ "siii" -> "si", "yesss" -> "yes", "noooo" -> "no"."""
    return re.sub(r"(.)\1+", r"\1", word)


def _starts_unsure(words: str) -> bool:
    return any(words == u or words.startswith(u + " ") for u in UNSURE if " " in u)


def is_skip(text: str) -> bool:
    """The contact prefers not to answer an optional question."""
    return _in_set(normalize(text), SKIP)


def _phrase_spans(words: list[str], phrase: str) -> list[tuple[int, int]]:
    """Where ``phrase`` (already normalized) occurs in ``words``, allowing typos."""
    parts = phrase.split()
    spans = []
    for start in range(len(words) - len(parts) + 1):
        window = words[start : start + len(parts)]
        if all(similar(w, p) for w, p in zip(window, parts, strict=True)):
            spans.append((start, start + len(parts)))
    return spans


def _by_numbers(words: list[str], choices: Sequence[Choice], typos: bool) -> list[Choice] | None:
    """ "1 3", "1 y 3", "uno y tres", "la 2": every meaningful word is a listed number."""
    tokens = [w for w in words if w not in CONNECTORS and w not in FILLER]
    numbers = [number_of(w, typos) for w in tokens]
    if not tokens or any(n is None for n in numbers):
        return None
    numbered = {c.number: c for c in choices if c.number is not None}
    if any(n not in numbered for n in numbers):
        return []  # a number that is not on the menu: wrong, not "no match"
    return [numbered[n] for n in dict.fromkeys(numbers)]


def _by_phrases(words: list[str], choices: Sequence[Choice]) -> list[Choice]:
    """Choices named in the text, the longest phrase winning where two overlap."""
    hits = [
        (start, end, choice)
        for choice in choices
        for phrase in choice.phrases
        for start, end in _phrase_spans(words, phrase)
    ]
    kept = [
        hit
        for hit in hits
        if not any(
            o[0] <= hit[0] and hit[1] <= o[1] and o[1] - o[0] > hit[1] - hit[0] for o in hits
        )
    ]
    kept.sort(key=lambda hit: hit[0])
    return list(dict.fromkeys(choice for _, _, choice in kept))


def match_choices(text: str, choices: Sequence[Choice], multiple: bool = False) -> list[str] | None:
    """The values of the chosen options, in the order given, or None when unclear.

    Accepts numbers ("2", "dos", "second"), labels and synonyms in any language with
    small typos, and for ``multiple`` several at once ("1 3", "1 y 3", "clima, armas")
    or "todos"/"all".
    """
    words = normalize(text).split()
    if not words:
        return None
    whole = " ".join(words)
    if multiple and _in_set(whole, ALL):
        return [c.value for c in choices if c.number is not None]
    # exact words first, so "done" is a choice and not "doce" misspelled
    picked = [c for c in choices if whole in c.phrases][:1] or _by_numbers(words, choices, False)
    if picked is None:
        picked = _by_phrases(words, choices) or _by_numbers(words, choices, True)
    if not picked or (not multiple and len(picked) > 1):
        return None
    return [c.value for c in picked]


def parse_postal_code(text: str, country: str | None = None) -> PostalCode | None:
    """A five-digit US ZIP or Mexican código postal, with its state.

    The two overlap, so the country comes from the text ("C.P. 06700", "ZIP 78701"),
    else from the contact's country, else the US is tried first.
    """
    words = normalize(text)
    found = _FIVE_DIGITS.search(words)
    if not found:
        return None
    if _MX_HINT.search(words):
        prefer = "MX"
    elif _US_HINT.search(words):
        prefer = "US"
    else:
        prefer = country if country in ("US", "MX") else "US"
    return postal.lookup(found.group(1), prefer)


def _nearest_year(month: int, day: int, today: date, direction: str) -> date | None:
    """Place a day-month without a year: the next one, the last one, or the closest."""
    candidates = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    if direction == "future":
        candidates = [d for d in candidates if d >= today]
    elif direction == "past":
        candidates = [d for d in candidates if d <= today]
    return min(candidates, key=lambda d: abs(d - today), default=None)


def _make_date(year: str | None, month: int, day: int, today: date, direction: str) -> date | None:
    if not year:
        return _nearest_year(month, day, today, direction)
    full = int(year) + (2000 if len(year) == 2 else 0)
    try:
        return date(full, month, day)
    except ValueError:
        return None


def _weekday(words: str, today: date, direction: str) -> date | None:
    for name, weekday in WEEKDAYS.items():
        if re.search(rf"\b{name}\b", words):
            past = direction == "past" or any(w in words.split() for w in PAST_WORDS)
            ahead = (weekday - today.weekday()) % 7
            return today - timedelta(days=(7 - ahead) % 7) if past else today + timedelta(ahead)
    return None


def parse_date(text: str, today: date, lang: str = "es", direction: str = "any") -> date | None:
    """A day from "hoy", "mañana", "ayer", "el viernes", "12/05", "5 de junio", "June 5".

    Numeric dates are day/month in Spanish and month/day in English (a first number
    over 12 can only be a day).  ``direction`` ("future", "past" or "any") picks the
    year when none is given.
    """
    raw = (text or "").strip().lower()
    words = normalize(text)
    if found := _ISO.search(raw):
        return _make_date(
            found.group(1), int(found.group(2)), int(found.group(3)), today, direction
        )
    if found := _NUMERIC.search(raw):
        first, second, year = int(found.group(1)), int(found.group(2)), found.group(3)
        day, month = (first, second) if lang == "es" else (second, first)
        if month > 12 >= day:
            day, month = month, day
        return _make_date(year, month, day, today, direction)
    if found := _DAY_MONTH.search(words):
        day, month, year = int(found.group(1)), MONTHS[found.group(2)], found.group(3)
        return _make_date(year, month, day, today, direction)
    if found := _MONTH_DAY.search(words):
        month, day, year = MONTHS[found.group(1)], int(found.group(2)), found.group(3)
        return _make_date(year, month, day, today, direction)
    for phrase, offset in RELATIVE_DAYS:
        # "en la mañana" is "in the morning", not tomorrow
        if re.search(rf"(?<!la )\b{phrase}\b", words):
            return today + timedelta(days=offset)
    return _weekday(words, today, direction)
