"""Plain-text handling shared by compliance, flows and broadcasts.

`normalize` makes matching forgiving: case, accents, punctuation and emoji
do not matter ("¡¡ALTO!!" and "alto" are the same word). `sms_segments` tells
how a text will be encoded (GSM-7 or UCS-2) and how many segments it costs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


def strip_accents(text: str) -> str:
    """Remove combining marks: "dónde" -> "donde", "ñ" -> "n"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(text: str) -> str:
    """Lower-case, drop accents, punctuation and emoji, collapse spaces."""
    text = strip_accents(text or "").lower()
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


# --- SMS encoding and segments ---------------------------------------------
#
# The reference is Twilio's segment calculator (TwilioDevEd/message-segment-
# calculator). A message is GSM-7 when every character is in the GSM 03.38
# basic set or its extension; anything else makes the whole message UCS-2.
# One segment carries 140 octets: 160 septets or 70 UTF-16 code units. A
# longer message is split, and each part loses 6 octets to the concatenation
# header: 153 septets or 67 code units. A character is never split between
# two parts, so an extension character (ESC + septet) or a surrogate pair
# that would straddle a boundary starts the next part: 153 "]" are 3 parts.

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")  # each is sent as ESC + one septet

GSM7 = "GSM-7"
UCS2 = "UCS-2"
_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}  # (one segment, each part of several)

_ZWJ = "\u200d"


@dataclass(frozen=True)
class SegmentInfo:
    """How an SMS body is encoded and how many segments (billed parts) it takes.

    ``characters`` counts what a reader sees (emoji sequences count once);
    ``units`` counts septets for GSM-7 (extension characters count two) or
    UTF-16 code units for UCS-2 (most emoji count two). ``ucs2_chars`` lists,
    once each and in order, the characters that forced UCS-2: replace them
    (for example "á" with "a") to get back to GSM-7.
    """

    encoding: str
    characters: int
    units: int
    segments: int
    ucs2_chars: tuple[str, ...] = ()

    @property
    def units_per_segment(self) -> int:
        """The capacity of each segment for this message's length and encoding."""
        single, multi = _LIMITS[self.encoding]
        return single if self.segments <= 1 else multi


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` can be sent in GSM-7."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def sms_segments(text: str) -> SegmentInfo:
    """Encoding, length and segment count of ``text`` sent as one SMS.

    An empty text is 0 segments (there is nothing to send).
    """
    clusters = _clusters(text)
    ucs2_chars = tuple(dict.fromkeys(c for c in clusters if not is_gsm7(c)))
    if ucs2_chars:
        encoding = UCS2
        sizes = [len(c.encode("utf-16-le")) // 2 for c in clusters]
    else:
        encoding = GSM7
        sizes = [2 if c in GSM7_EXTENSION else 1 for c in clusters]
    return SegmentInfo(
        encoding=encoding,
        characters=len(clusters),
        units=sum(sizes),
        segments=_count_segments(sizes, *_LIMITS[encoding]),
        ucs2_chars=ucs2_chars,
    )


def _count_segments(sizes: list[int], single: int, multi: int) -> int:
    """Fill parts of ``multi`` units in order, never splitting one character."""
    total = sum(sizes)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return segments


def _clusters(text: str) -> list[str]:
    """Split ``text`` into user-perceived characters (a close approximation).

    Combining marks, variation selectors, emoji skin tones, tags, a character
    after a zero-width joiner and the second flag letter stay with the
    character before them, as Twilio's calculator keeps graphemes whole.
    """
    clusters: list[str] = []
    for char in text:
        if clusters and _joins(clusters[-1], char):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _joins(previous: str, char: str) -> bool:
    """True when ``char`` belongs to the cluster ``previous``."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char == _ZWJ
        or previous.endswith(_ZWJ)
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tags (subdivision flags)
        or (_is_regional(char) and len(previous) == 1 and _is_regional(previous))
    )


def _is_regional(char: str) -> bool:
    """True for the regional indicator letters that pair up into flags."""
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def spreadsheet_safe(value: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula (``=``, ``+``, ``-``, ``@``…)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
