"""SMS encoding (GSM-7 or UCS-2) and segment counts, as Twilio's calculator counts them."""

from __future__ import annotations

import dataclasses

import pytest

from bot.text import SegmentInfo, is_gsm7, sms_segments

GSM = "GSM-7"
UCS = "UCS-2"


@pytest.mark.parametrize("char", list("éÉñÑ¿¡üÜàèìòùÇØøÅåÄÖäöÆæß@£$¥§¤_ΔΩ\n\r"))
def test_gsm7_basic_characters(char: str) -> None:
    assert is_gsm7(char)
    assert sms_segments(char * 160) == SegmentInfo(GSM, 160, 160, 1)


@pytest.mark.parametrize("char", list("€[]{}~^|\\\f"))
def test_gsm7_extension_characters_count_two(char: str) -> None:
    assert is_gsm7(char)
    assert sms_segments(char * 80) == SegmentInfo(GSM, 80, 160, 1)
    assert sms_segments(char * 80 + "a").segments == 2


@pytest.mark.parametrize("char", list("áíóúÁÍÓÚçÈÌÒÙ`\t“”’—…😀"))
def test_characters_that_force_ucs2(char: str) -> None:
    assert not is_gsm7(char)
    assert not is_gsm7("Hola " + char)
    info = sms_segments("Hola " + char)
    assert info.encoding == UCS
    assert info.ucs2_chars == (char,)


@pytest.mark.parametrize(
    ("text", "encoding", "characters", "units", "segments"),
    [
        ("", GSM, 0, 0, 0),
        ("a", GSM, 1, 1, 1),
        # GSM-7: 160 in one segment, then 153 a part.
        ("a" * 160, GSM, 160, 160, 1),
        ("a" * 161, GSM, 161, 161, 2),
        ("a" * 153 * 2, GSM, 306, 306, 2),
        ("a" * (153 * 2 + 1), GSM, 307, 307, 3),
        ("a" * 153 * 3, GSM, 459, 459, 3),
        ("a" * (153 * 3 + 1), GSM, 460, 460, 4),
        # € counts two septets.
        ("a" * 158 + "€", GSM, 159, 160, 1),
        ("a" * 159 + "€", GSM, 160, 161, 2),
        # Twilio's own examples: "{" + 159 characters is 161 septets.
        ("{" + "2" * 158, GSM, 159, 160, 1),
        ("{" + "2" * 159, GSM, 160, 161, 2),
        # An escape is never split between parts: 306 septets but 3 segments
        # (TwilioDevEd/message-segment-calculator#39, confirmed by sending).
        ("]" * 153, GSM, 153, 306, 3),
        ("a" * 152 + "€" + "a" * 152, GSM, 305, 306, 3),
        ("a" * 153 + "€" + "a" * 151, GSM, 305, 306, 2),
        # UCS-2: 70 in one segment, then 67 a part.
        ("á" + "a" * 69, UCS, 70, 70, 1),
        ("á" + "a" * 70, UCS, 71, 71, 2),
        ("á" + "a" * (67 * 2 - 1), UCS, 134, 134, 2),
        ("á" + "a" * (67 * 2), UCS, 135, 135, 3),
        # An emoji is two UTF-16 units (Twilio's "😜" + 69 digits is 2 segments).
        ("😜" + "2" * 68, UCS, 69, 70, 1),
        ("😜" + "2" * 69, UCS, 70, 71, 2),
        # ...and is not split between parts either.
        ("á" + "a" * 65 + "😀" + "a" * 66, UCS, 133, 134, 3),
        ("á" + "a" * 66 + "😀" + "a" * 65, UCS, 133, 134, 2),
        # In UCS-2 an extension character is one unit, not two.
        ("€" * 69 + "á", UCS, 70, 70, 1),
        # CR LF is two GSM-7 characters.
        ("a\r\nb", GSM, 4, 4, 1),
    ],
)
def test_segments(text: str, encoding: str, characters: int, units: int, segments: int) -> None:
    info = sms_segments(text)
    assert (info.encoding, info.characters, info.units, info.segments) == (
        encoding,
        characters,
        units,
        segments,
    )


def test_one_accent_turns_a_spanish_message_into_ucs2() -> None:
    gsm = "Mañana a las 5 pm marchamos por los derechos de los migrantes. ¡Te esperamos! "
    gsm = (gsm * 2)[:150]
    assert sms_segments(gsm) == SegmentInfo(GSM, 150, 150, 1)
    with_accent = gsm[:-1] + "á"
    assert sms_segments(with_accent) == SegmentInfo(UCS, 150, 150, 3, ("á",))


def test_ucs2_chars_once_each_in_order() -> None:
    info = sms_segments("Reunión informativa: sábado, así que venid todos. ¿Sí? Sí.")
    assert info.ucs2_chars == ("ó", "á", "í")


@pytest.mark.parametrize(
    ("text", "characters", "units"),
    [
        ("👨\u200d👩\u200d👧", 1, 8),  # family: joined by zero-width joiners
        ("🇲🇽🇺🇸", 2, 8),  # two flags
        ("👍🏽", 1, 4),  # skin tone
        ("❤️", 1, 2),  # variation selector
        ("e\u0301", 1, 2),  # e + combining acute: not the GSM-7 "é"
    ],
)
def test_emoji_and_combining_sequences(text: str, characters: int, units: int) -> None:
    info = sms_segments(text)
    assert (info.encoding, info.characters, info.units) == (UCS, characters, units)
    assert "".join(info.ucs2_chars) == text


def test_decomposed_accent_is_reported_whole() -> None:
    assert sms_segments("cafe\u0301").ucs2_chars == ("e\u0301",)
    assert sms_segments("café").encoding == GSM  # é precomposed is GSM-7


@pytest.mark.parametrize(
    ("text", "per_segment"),
    [("a", 160), ("a" * 161, 153), ("á", 70), ("á" * 71, 67)],
)
def test_units_per_segment(text: str, per_segment: int) -> None:
    assert sms_segments(text).units_per_segment == per_segment


def test_segment_info_is_frozen() -> None:
    info = sms_segments("hola")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.segments = 0  # type: ignore[misc]
