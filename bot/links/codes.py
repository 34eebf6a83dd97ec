"""Tracked links without a database: finding URLs, signed per-recipient codes, previewers.

A broadcast's distinct http(s) URLs are stored once (``bot.links.models``); each
recipient's short link ``{base}/l/<code>`` packs (link id, contact id) with a MAC,
so nothing is written per recipient when a broadcast is sent:

    code = base64url(mac || (link id, contact id) XOR pad)   20 characters, always
    mac  = HMAC-SHA256(mac key, link id (4 bytes) || contact id (5 bytes))[:6]
    pad  = HMAC-SHA256(pad key, mac)[:9]

A forged or altered code fails the MAC (1 chance in 2^48); the pad hides the ids,
so a code says nothing about the contact behind it. The keys come from SECRET_KEY.
Codes have one length, so the short link's length is known before sending: the
preview counts segments with it (`shortened`).

Carriers filter public link shorteners, so the links are always on the deployment's
own domain (LINK_DOMAIN, else PUBLIC_URL). Pure: no Flask, no database.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PATH = "/l/"  # the redirect endpoint (bot.web.links)
_ID_BYTES = 4  # link ids up to 4 billion
_CONTACT_BYTES = 5  # contact ids up to a trillion
_MAC_BYTES = 6
_PAYLOAD_BYTES = _ID_BYTES + _CONTACT_BYTES
CODE_LENGTH = (_MAC_BYTES + _PAYLOAD_BYTES) * 4 // 3  # 20: 15 bytes, no base64 padding
_CODE = re.compile(rf"[A-Za-z0-9_-]{{{CODE_LENGTH}}}")
_SHORT_LINK_CODE = re.compile(
    rf"(?<={re.escape(PATH)})[A-Za-z0-9_-]{{{CODE_LENGTH}}}(?![A-Za-z0-9_-])"
)
_MASK = "x" * CODE_LENGTH

# Anything that looks like a link: a scheme and "//", or a bare "www.".
_CANDIDATE = re.compile(r"(?<![\w@.])(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)[^\s<>\"]+")
_TRACKED_SCHEMES = ("http://", "https://")
_TRAILING = ".,;:!?'»”’*"  # sentence punctuation after a URL is not part of it
_CLOSERS = {")": "(", "]": "[", "}": "{"}

# Apps that fetch a link to draw its preview card: not a person clicking. iMessage
# says it is "facebookexternalhit/1.1 Facebot Twitterbot/1.0" on a Mac's Safari.
PREVIEWERS = re.compile(
    r"WhatsApp|facebookexternalhit|Facebot|meta-externalagent|Slackbot|Slack-ImgProxy|"
    r"TelegramBot|Twitterbot|Discordbot|LinkedInBot|SkypeUriPreview|Googlebot|bingbot|"
    r"Applebot|redditbot|Embedly|Iframely|Pinterest|vkShare|Viber|SignalBot",
    re.IGNORECASE,
)
_PREFETCH_HEADERS = ("Purpose", "Sec-Purpose", "X-Purpose", "X-Moz")  # "prefetch", "preview"


@dataclass(frozen=True)
class Found:
    """A URL in a text: where it is, and whether it is tracked (http or https)."""

    start: int
    end: int
    url: str

    @property
    def tracked(self) -> bool:
        return self.url.lower().startswith(_TRACKED_SCHEMES)


def find_urls(text: str) -> list[Found]:
    """Every URL-looking part of ``text``, trailing punctuation left outside it.

    "Ven: https://x.org/marcha." finds "https://x.org/marcha"; a closing
    bracket stays in the URL only when the URL opened it
    ("(https://x.org/a_(b))" finds "https://x.org/a_(b)").
    """
    found = []
    for match in _CANDIDATE.finditer(text):
        url = _trim(match.group())
        if "." in url or "://" in url:
            found.append(Found(match.start(), match.start() + len(url), url))
    return found


def _trim(url: str) -> str:
    while url:
        last = url[-1]
        if last in _TRAILING or last in _CLOSERS and url.count(_CLOSERS[last]) < url.count(last):
            url = url[:-1]
        else:
            return url
    return url


def tracked_urls(texts: Sequence[str]) -> list[str]:
    """The distinct http(s) URLs of ``texts``, in order of first appearance."""
    return list(dict.fromkeys(f.url for t in texts for f in find_urls(t) if f.tracked))


def untracked_urls(texts: Sequence[str]) -> list[str]:
    """Links that will be sent as written: not http(s) ("www.x.org", "ftp://…")."""
    return list(dict.fromkeys(f.url for t in texts for f in find_urls(t) if not f.tracked))


def base_url(link_domain: str, public_url: str) -> str:
    """Where short links live: ``{LINK_DOMAIN or PUBLIC_URL}/l/``."""
    return (link_domain or public_url).rstrip("/") + PATH


def keys(secret_key: str) -> tuple[bytes, bytes]:
    """(MAC key, pad key), derived from SECRET_KEY for this use only."""
    secret = secret_key.encode()
    return (
        hmac.digest(secret, b"puente tracked links: mac", "sha256"),
        hmac.digest(secret, b"puente tracked links: pad", "sha256"),
    )


def encode(link_id: int, contact_id: int, key: tuple[bytes, bytes]) -> str:
    """The 20-character code of one link for one contact."""
    payload = link_id.to_bytes(_ID_BYTES, "big") + contact_id.to_bytes(_CONTACT_BYTES, "big")
    mac = hmac.digest(key[0], payload, "sha256")[:_MAC_BYTES]
    pad = hmac.digest(key[1], mac, "sha256")[:_PAYLOAD_BYTES]
    hidden = (int.from_bytes(payload, "big") ^ int.from_bytes(pad, "big")).to_bytes(
        _PAYLOAD_BYTES, "big"
    )
    return base64.urlsafe_b64encode(mac + hidden).decode("ascii")


def decode(code: str, key: tuple[bytes, bytes]) -> tuple[int, int] | None:
    """(link id, contact id) of a genuine code; None for anything else."""
    if not _CODE.fullmatch(code):
        return None
    try:
        raw = base64.urlsafe_b64decode(code)
    except (binascii.Error, ValueError):
        return None
    mac, hidden = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    pad = hmac.digest(key[1], mac, "sha256")[:_PAYLOAD_BYTES]
    payload = (int.from_bytes(hidden, "big") ^ int.from_bytes(pad, "big")).to_bytes(
        _PAYLOAD_BYTES, "big"
    )
    if not hmac.compare_digest(hmac.digest(key[0], payload, "sha256")[:_MAC_BYTES], mac):
        return None
    return int.from_bytes(payload[:_ID_BYTES], "big"), int.from_bytes(payload[_ID_BYTES:], "big")


def shortened(text: str, base: str) -> str:
    """``text`` as a recipient gets it: each http(s) URL replaced by a short link of the
    same length as the real ones (for counting segments and cost before sending)."""
    placeholder = base + _MASK
    out, at = [], 0
    for found in find_urls(text):
        if found.tracked:
            out += [text[at : found.start], placeholder]
            at = found.end
    return "".join(out) + text[at:]


def masked(body: str) -> str:
    """``body`` with each short link's code as x's: bodies that differ only by their codes
    become one text, of the same length and encoding (a code's characters are each one
    GSM-7 septet), so their segment count is computed once (bot.sending.deliveries)."""
    return _SHORT_LINK_CODE.sub(_MASK, body) if PATH in body else body


@dataclass
class Tracker:
    """One broadcast's links: rewrites a text for one contact (cheap: string work only).

    ``links`` maps each stored URL to its link id; an empty map (tracking off,
    or no URL) leaves every text as written.
    """

    base: str
    links: Mapping[str, int]
    key: tuple[bytes, bytes]
    _parts: dict[str, list[str | int]] = field(default_factory=dict, repr=False)

    def rewrite(self, text: str, contact_id: int) -> str:
        """``text`` with each tracked URL replaced by this contact's short link."""
        if not self.links or not text:
            return text
        parts = self._parts.get(text)
        if parts is None:
            parts = self._parts[text] = self._split(text)
        return "".join(
            p if isinstance(p, str) else self.base + encode(p, contact_id, self.key) for p in parts
        )

    def _split(self, text: str) -> list[str | int]:
        """The text as plain pieces and link ids (once per text: a broadcast has a few)."""
        parts: list[str | int] = []
        at = 0
        for found in find_urls(text):
            link_id = self.links.get(found.url) if found.tracked else None
            if link_id is not None:
                parts += [text[at : found.start], link_id]
                at = found.end
        parts.append(text[at:])
        return parts


def untracked() -> Tracker:
    """A tracker that changes nothing (tracking off, or a broadcast without links)."""
    return Tracker("", {}, (b"", b""))


def is_preview(method: str, user_agent: str, headers: Mapping[str, str]) -> bool:
    """Whether a request for a short link is an app drawing a preview, not a person.

    HEAD requests, known preview fetchers' user agents, and prefetches
    (``Purpose: prefetch``, ``Sec-Purpose: prefetch;prerender``…) are not clicks.
    """
    if method != "GET":
        return True
    if PREVIEWERS.search(user_agent or ""):
        return True
    for name in _PREFETCH_HEADERS:
        value = (headers.get(name) or "").lower()
        if "prefetch" in value or "preview" in value or "prerender" in value:
            return True
    return False
