"""A small guess at whether a message is Spanish or English.

Counts common words of each language (stop-word style) and Spanish-only
marks (ñ, á, ¿, ¡...). Words that are common in both languages ("no", "me",
"a") count for neither. Good enough to pick the language of a first reply;
when the evidence is missing or even, the answer is None and the caller
falls back (country of the number, default language, or asks).
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
