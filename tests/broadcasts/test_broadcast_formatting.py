"""What a broadcast with WhatsApp's *bold* costs: its SMS segments are counted on the
text SMS gets (without the marks), in the preview, the CLI and the dashboard alike."""

from __future__ import annotations

import pytest

from bot.broadcasts import broadcast
from bot.db import utcnow
from tests.factories import create_broadcast, create_contact

# 162 characters as written (164 septets: "~" counts two), two segments;
# 156 without the marks, one segment.
WRITTEN = {
    "en": "*Rally* _today_ ~now~ " + "a" * 140,
    "es": "*Marcha* _hoy_ ~ya~ " + "ñ" * 142,
}
SENT = {"en": "Rally today now " + "a" * 140, "es": "Marcha hoy ya " + "ñ" * 142}


def test_the_preview_counts_the_segments_sms_gets(app, db):
    create_contact(db, "+12135550101", "en", ("sms",))
    create_contact(db, "+525555550101", "es", ("sms",))
    broadcast_id = create_broadcast(db, WRITTEN, send=False)
    with db.session() as session:
        preview = broadcast.preview(session, broadcast_id, app.config, utcnow())
    for lang in ("en", "es"):
        assert preview.segments[lang] == broadcast.sms_segments_of(WRITTEN[lang])
        assert (preview.segments[lang].segments, preview.segments[lang].characters) == (1, 156)
        assert len(SENT[lang]) == 156
    one_each = app.config["SMS_SEGMENT_COST_US"] + app.config["SMS_SEGMENT_COST_MX"]
    assert preview.estimated_cost == pytest.approx(one_each)


def test_the_cli_preview_counts_the_segments_sms_gets(app, db):
    create_contact(db, "+12135550101", "en", ("sms",))
    broadcast_id = create_broadcast(db, WRITTEN, send=False)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["broadcast", "preview", str(broadcast_id)])
    assert result.exit_code == 0, result.output
    assert "en: 1 SMS segment(s), GSM-7, 156 chars" in result.output
    assert "es: 1 SMS segment(s), GSM-7, 156 chars" in result.output


def test_the_dashboard_counts_the_segments_sms_gets(sign_in, db):
    create_contact(db, "+12135550101", "en", ("sms",))
    broadcast_id = create_broadcast(db, WRITTEN, send=False)
    page = sign_in("organizer").get(f"/dashboard/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert page.count("SMS segments: 1 · characters: 156 · GSM-7") == 2
    assert "SMS segments: 2" not in page
