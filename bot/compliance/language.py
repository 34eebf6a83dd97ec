"""A small guess at whether a message is Spanish or English.

Counts common words of each language (stop-word style) and Spanish-only
marks (ñ, á, ¿, ¡...). Words that are common in both languages ("no", "me",
"a") count for neither. Good enough to pick the language of a first reply;
when the evidence is missing or even, the answer is None and the caller
falls back (country of the number, default language, or asks).

`clear_switch` is the much stricter test for changing the language of a
contact we already write to: several distinct words of one language and
almost none of the other. Accents, proper names (capitalised words after
the first) and the particles of names and places ("de la", "los") never
count, so "José Martínez", "Peñasco" or "María de los Ángeles" cannot flip
an English conversation to Spanish.
"""

from __future__ import annotations

from bot.text import normalize

_SPANISH_WORDS = """
    hola buenas buenos dias tardes noches gracias si claro vale adios
    que de la el los las lo le les y o en es un una unos unas por para con sin
    del al mi mis tu tus su sus yo usted ustedes nosotros nosotras ellos ellas
    este esta esto estos estas ese esa eso aqui alli ahi
    como donde cuando quien quienes cual porque pero tambien muy mas menos
    bien mal bueno buena nada algo todo todos siempre nunca ahora hoy manana
    soy eres somos son estoy estas estamos estan tengo tiene tenemos tienen
    hay puedo puede podemos quiero quiere queremos necesito necesita
    voy vamos van hacer hago sabe se ser estar unirme unir ayudar saber
    informacion marcha reunion familia trabajo derechos ayuda baja espanol
"""

_ENGLISH_WORDS = """
    hi hello hey thanks thank yes yeah yep bye please
    the of and or to in on at is are was were be been an it its this that these
    those i you he she we they my your his her our their us them him
    what where when who why how which but also very more less not
    good bad nothing something all always never now today tomorrow
    am do does did have has had can could will would should want need know
    join help go going get got like just with without for from about
    meeting family work rights march english
"""

SPANISH = frozenset(_SPANISH_WORDS.split())
ENGLISH = frozenset(_ENGLISH_WORDS.split())
_SPANISH_MARKS = frozenset("ñÑáíóúÁÍÓÚ¿¡")
# Words that are common inside names of people and places: never evidence of a switch.
_NAME_PARTICLES = frozenset(
    ["de", "del", "la", "las", "los", "el", "y", "san", "santa", "the", "of", "and"]
)
SWITCH_MIN_WORDS = 3  # distinct words of the new language a switch needs
SWITCH_DOMINANCE = 3  # ... and at least this many times the other language's words


def guess_language(text: str) -> str | None:
    """``"es"``, ``"en"``, or None when the text gives no clear answer."""
    spanish, english = _scores(text)
    if spanish > english:
        return "es"
    if english > spanish:
        return "en"
    return None


def _scores(text: str) -> tuple[int, int]:
    """(Spanish, English) evidence: one point a known word, one for Spanish marks."""
    words = normalize(text).split()
    spanish = sum(1 for w in words if w in SPANISH and w not in ENGLISH)
    english = sum(1 for w in words if w in ENGLISH and w not in SPANISH)
    if any(c in _SPANISH_MARKS for c in text or ""):
        spanish += 1
    return spanish, english


def clear_switch(text: str, current: str) -> str | None:
    """The other language when ``text`` is clearly written in it, else None.

    Clear means at least SWITCH_MIN_WORDS distinct common words of that
    language, not names or name particles, and SWITCH_DOMINANCE times more
    than of ``current``.
    """
    words = _plain_words(text)
    spanish = {w for w in words if w in SPANISH and w not in ENGLISH}
    english = {w for w in words if w in ENGLISH and w not in SPANISH}
    other, same = (english, spanish) if current == "es" else (spanish, english)
    if len(other) >= SWITCH_MIN_WORDS and len(other) >= SWITCH_DOMINANCE * len(same):
        return "en" if current == "es" else "es"
    return None


def _plain_words(text: str) -> list[str]:
    """Normalized words, without proper names or name particles.

    A proper name is a capitalised word that does not start a sentence
    (English "I" is not a name).
    """
    kept, sentence_start = [], True
    for word in (text or "").split():
        bare = word.lstrip("¿¡\"'(")
        if sentence_start or not bare[:1].isupper() or bare.rstrip(".,!?;:'") in ("I", "I'm"):
            kept.append(word)
        sentence_start = word.endswith((".", "!", "?"))
    return [w for w in normalize(" ".join(kept)).split() if w not in _NAME_PARTICLES]
