"""The pure part of tracked links: finding URLs, rewriting a text, the signed codes, previews."""

from __future__ import annotations

import random
import re

import pytest

from bot.links import codes
from bot.text import sms_segments

KEY = codes.keys("test-secret-key-0123456789")
BASE = "https://puente.example.org/l/"
SHORT = re.compile(re.escape(BASE) + r"[A-Za-z0-9_-]{20}")


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("Marcha: https://x.org/marcha.", ["https://x.org/marcha"]),
        ("¿Vienes? https://x.org/a?b=1&c=2!", ["https://x.org/a?b=1&c=2"]),
        ("(see https://x.org/a) and http://y.org/b, ok", ["https://x.org/a", "http://y.org/b"]),
        ("wiki https://x.org/a_(b) here", ["https://x.org/a_(b)"]),
        ("«https://x.org/c»", ["https://x.org/c"]),
        ("HTTPS://X.ORG/Up;", ["HTTPS://X.ORG/Up"]),
        ("mail me@x.org, no link", []),
        ("www.x.org and ftp://f.org/file", []),
    ],
)
def test_tracked_urls_leave_trailing_punctuation_outside(text, urls):
    assert codes.tracked_urls([text]) == urls


def test_links_that_are_not_http_are_named_for_the_preview_warning():
    text = "Ver www.x.org, ftp://f.org/a y https://ok.org"
    assert codes.untracked_urls([text]) == ["www.x.org", "ftp://f.org/a"]


def test_rewriting_replaces_every_tracked_url_and_nothing_else():
    """Random texts of words, punctuation and links: every http(s) URL becomes a short
    link; the rest of the text, and each non-http link, stays exactly as written."""
    rng = random.Random(12)
    pieces = ["Marcha", "el", "sábado", "¡ven!", "(hoy)", ",", ".", "www.x.org", "ftp://f.org/a"]
    urls = ["https://x.org/a", "http://y.org/b?c=1", "https://z.org/p/q"]
    tracker = codes.Tracker(BASE, {u: n for n, u in enumerate(urls, 1)}, KEY)
    for _ in range(200):
        words = [rng.choice(pieces + urls) for _ in range(rng.randint(1, 12))]
        ends = [rng.choice(["", ".", ",", "!", "?", ")"]) if w in urls else "" for w in words]
        text = " ".join(w + e for w, e in zip(words, ends, strict=True))
        out = tracker.rewrite(text, rng.randint(1, 10**9))
        assert not any(u in out for u in urls)
        assert len(SHORT.findall(out)) == sum(w in urls for w in words)
        assert SHORT.sub("URL", out) == " ".join(
            ("URL" if w in urls else w) + e for w, e in zip(words, ends, strict=True)
        )


def test_each_contact_gets_its_own_code_and_it_comes_back():
    tracker = codes.Tracker(BASE, {"https://x.org/a": 7}, KEY)
    one = tracker.rewrite("Ven: https://x.org/a", 101)
    two = tracker.rewrite("Ven: https://x.org/a", 102)
    assert one != two
    code = one.removeprefix("Ven: " + BASE)
    assert len(code) == codes.CODE_LENGTH >= 8
    assert codes.decode(code, KEY) == (7, 101)


@pytest.mark.parametrize(("link_id", "contact_id"), [(1, 1), (2**32 - 1, 2**40 - 1), (9, 123456)])
def test_codes_round_trip(link_id, contact_id):
    code = codes.encode(link_id, contact_id, KEY)
    assert len(code) == codes.CODE_LENGTH
    assert codes.decode(code, KEY) == (link_id, contact_id)


def test_a_forged_or_altered_code_is_unknown():
    code = codes.encode(3, 55, KEY)
    for at in range(len(code)):  # any one character changed
        swapped = "A" if code[at] != "A" else "B"
        assert codes.decode(code[:at] + swapped + code[at + 1 :], KEY) is None
    assert codes.decode(code, codes.keys("another-deployments-secret")) is None
    for junk in ("", "abc", code + "x", code[:-1], "!" * 20, "a/b" * 7):
        assert codes.decode(junk, KEY) is None


def test_a_code_does_not_show_the_ids():
    """Two contacts side by side share no visible part of the code (the ids are hidden)."""
    first, second = codes.encode(1, 1000, KEY), codes.encode(1, 1001, KEY)
    assert sum(a == b for a, b in zip(first, second, strict=True)) < 8


def test_tracking_off_leaves_the_text_as_written():
    text = "Firma: https://x.org/firma."
    assert codes.untracked().rewrite(text, 5) == text


def test_the_preview_counts_segments_with_the_short_links_length():
    long_url = "https://example.org/" + "a" * 200
    text = f"Marcha el sábado: {long_url}"
    tracker = codes.Tracker(BASE, {long_url: 1}, KEY)
    sent = tracker.rewrite(text, 77)
    assert len(codes.shortened(text, BASE)) == len(sent)
    assert sms_segments(codes.shortened(text, BASE)) == sms_segments(sent)
    assert sms_segments(sent).segments == 1 < sms_segments(text).segments


def test_masking_the_codes_keeps_length_and_encoding():
    tracker = codes.Tracker(BASE, {"https://x.org/a": 1}, KEY)
    sent = tracker.rewrite("Ven ñ: https://x.org/a", 4242)
    assert codes.masked(sent) == codes.shortened("Ven ñ: https://x.org/a", BASE)
    assert codes.masked(tracker.rewrite("Ven ñ: https://x.org/a", 1)) == codes.masked(sent)


@pytest.mark.parametrize(
    ("method", "agent", "headers"),
    [
        ("HEAD", "Mozilla/5.0 (iPhone) Safari/604.1", {}),
        ("GET", "WhatsApp/2.23.20.0 A", {}),
        ("GET", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", {}),
        (
            "GET",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like "
            "Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
            {},
        ),  # iMessage's preview
        ("GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", {}),
        ("GET", "TelegramBot (like TwitterBot)", {}),
        ("GET", "Twitterbot/1.0", {}),
        ("GET", "Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile", {"Purpose": "prefetch"}),
        ("GET", "Mozilla/5.0 (Linux; Android 14) Chrome/120.0", {"Sec-Purpose": "prefetch"}),
    ],
)
def test_previews_are_not_clicks(method, agent, headers):
    assert codes.is_preview(method, agent, headers)


def test_a_phone_browser_is_a_click():
    agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Version/17.1 Safari/604.1"
    assert not codes.is_preview("GET", agent, {"Accept": "text/html"})
