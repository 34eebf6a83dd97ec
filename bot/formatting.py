"""WhatsApp's formatting marks: *bold*, _italic_, ~strike~ and ```mono```.

A flow or a broadcast is written once for both channels. WhatsApp shows the
marks as formatting; a phone reading an SMS would show them as typed, so SMS
gets the text with the marks removed (`for_channel`), and its segments are
counted on that text. The simulator draws WhatsApp's formatting from `spans`,
and bot/web/static/formatting.js follows the same rules for the browser
(tests/browser/test_formatting.py checks that the two agree).

WhatsApp publishes no grammar; these are the rules its apps are seen to apply:

- a pair of the same mark around a run of text on one line: ``*hola*``,
  ``_dos palabras_``; the nearest closing mark closes;
- the opening mark begins the text or follows a character that is no letter or
  digit, and the character after it is no space; the closing mark follows a
  character that is no space, and ends the text or is followed by a character
  that is no letter or digit. So ``file_name_here``, ``2*3*4`` and a ``* item``
  list are no formatting;
- pairs nest (``*_both_*``), except in monospace, which shows its text as typed;
- a mark inside a web or e-mail address is part of the address;
- a mark without its pair is text.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

BOLD = "bold"
ITALIC = "italic"
STRIKE = "strike"
MONO = "mono"
MARKS = {"*": BOLD, "_": ITALIC, "~": STRIKE, "```": MONO}  # mark -> style
WHATSAPP = "whatsapp"  # the channel that shows the marks (bot.contacts.models.CHANNEL_WHATSAPP)

# Python's str.isspace() and JavaScript's \s disagree on a few characters: both
# sides name the same ones (Unicode's space separators, tab, line breaks).
SPACES = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(code) for code in range(0x2000, 0x200B)
)
LINE_BREAKS = frozenset("\n\r")
_SPACE_CLASS = "".join(re.escape(c) for c in sorted(SPACES))
# An address ends at its last character that is no mark or punctuation: the
# "*" of "*https://puente.example.org*" closes the bold.
_LINK = re.compile(
    rf"(?:[Hh][Tt][Tt][Pp][Ss]?://|[Ww][Ww][Ww]\.)[^{_SPACE_CLASS}]*"
    rf"[^{_SPACE_CLASS}*_~`.,;:!?)\]'\"]"
)
_EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


@dataclass(frozen=True)
class Span:
    """A run of text shown with the same styles (none: plain text)."""

    text: str
    styles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Pair:
    opens: int  # index of the opening mark
    closes: int  # index of the closing mark
    mark: str


def for_channel(text: str, channel: str) -> str:
    """``text`` as sent on ``channel``: WhatsApp keeps the marks, SMS gets them removed."""
    return text if channel == WHATSAPP else plain(text)


def plain(text: str) -> str:
    """``text`` without WhatsApp's formatting marks (what an SMS phone should show).

    What is left never reads as formatting either: in ``*a *b* c*`` WhatsApp
    bolds "a *b" and shows " c*" as typed, and SMS gets "a b c", not "a *b c*";
    SMS has no monospace, so ``` ```*x*``` ``` is "x". Removing twice changes nothing.
    """
    while any(c in text for c in "*_~`"):
        shown = "".join(span.text for span in spans(text))
        if shown == text:
            break
        text = shown  # each pass removes at least one pair: it ends
    return text


def spans(text: str) -> list[Span]:
    """``text`` as WhatsApp shows it: runs of text and their styles, marks removed."""
    parser = _Parser(text)
    pairs = parser.pairs(0, len(text))
    hidden = [False] * len(text)
    styles: list[set[str]] = [set() for _ in text]
    for pair in pairs:
        width = len(pair.mark)
        for index in range(width):
            hidden[pair.opens + index] = hidden[pair.closes + index] = True
        for index in range(pair.opens + width, pair.closes):
            styles[index].add(MARKS[pair.mark])
    shown = ((c, frozenset(s)) for c, gone, s in zip(text, hidden, styles, strict=True) if not gone)
    return [
        Span("".join(c for c, _ in run), style)
        for style, run in itertools.groupby(shown, key=lambda shown_char: shown_char[1])
    ]


def unclosed(text: str) -> list[str]:
    """Marks that open formatting and are never closed (shown as typed), in order."""
    parser = _Parser(text)
    parser.pairs(0, len(text))
    return [mark for _index, mark in sorted(parser.lonely)]


def _is_word(char: str) -> bool:
    """A letter, a digit or a combining mark (an accent typed as its own character)."""
    return unicodedata.category(char)[0] in "LNM"


class _Parser:
    """Finds the pairs of marks of one text (see the rules at the top)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.guarded = [False] * len(text)
        for pattern in (_LINK, _EMAIL):
            for match in pattern.finditer(text):
                for index in range(match.start(), match.end()):
                    self.guarded[index] = True
        self.breaks = [i for i, c in enumerate(text) if c in LINE_BREAKS]
        self.closers = {mark: self._closers(mark) for mark in MARKS}
        self.lonely: list[tuple[int, str]] = []

    def pairs(self, start: int, end: int) -> list[_Pair]:
        """The pairs within text[start:end], outermost first, inner ones after each."""
        text, found, index = self.text, [], start
        while index < end:
            mark = "```" if text.startswith("```", index) else text[index]
            if mark in MARKS and self._opens(index, mark):
                closes = self._closer(index + len(mark), end, mark)
                if closes is not None:
                    found.append(_Pair(index, closes, mark))
                    if mark != "```":  # monospace shows its text as typed
                        found += self.pairs(index + len(mark), closes)
                    index = closes + len(mark)
                    continue
                self.lonely.append((index, mark))
            index += 1
        return found

    def _opens(self, index: int, mark: str) -> bool:
        text, after = self.text, index + len(mark)
        return (
            not any(self.guarded[index:after])
            and (index == 0 or not _is_word(text[index - 1]))
            and after < len(text)
            and text[after] not in SPACES
        )

    def _closes(self, index: int, mark: str) -> bool:
        text, after = self.text, index + len(mark)
        return (
            index > 0
            and not any(self.guarded[index:after])
            and text[index - 1] not in SPACES
            and (after == len(text) or not _is_word(text[after]))
        )

    def _closers(self, mark: str) -> list[int]:
        """Every index where ``mark`` could close a pair, in order."""
        found, index = [], self.text.find(mark)
        while index != -1:
            if self._closes(index, mark):
                found.append(index)
            index = self.text.find(mark, index + 1)
        return found

    def _closer(self, content: int, end: int, mark: str) -> int | None:
        """The nearest closing mark after at least one character, on the same line."""
        candidates: Sequence[int] = self.closers[mark]
        at = bisect.bisect_left(candidates, content + 1)
        if at == len(candidates) or candidates[at] + len(mark) > end:
            return None
        closes = candidates[at]
        line_break = bisect.bisect_left(self.breaks, content)
        if line_break < len(self.breaks) and self.breaks[line_break] < closes:
            return None
        return closes
