"""The settings every test app runs on: a public URL, a Twilio account, two senders."""

from __future__ import annotations

import tempfile
from typing import Any

PUBLIC_URL = "https://puente.example.org"
AUTH_TOKEN = "test-auth-token"
ACCOUNT_SID = "AC" + "1" * 32
SMS_FROM = "+12135550100"
WHATSAPP_FROM = "whatsapp:+12135550100"


def settings_for(database_url: str, fake_url: str, **overrides: Any) -> dict[str, Any]:
    """The Flask app's config on this database, sending to the fake Twilio at ``fake_url``."""
    settings = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "PUBLIC_URL": PUBLIC_URL,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_FROM": SMS_FROM,
        "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "TWILIO_MESSAGING_SERVICE_SID": "",
        "TWILIO_API_URL": fake_url,
        "TWILIO_VALIDATE_SIGNATURE": True,
        "ORG_NAME": "Puente Test",
        "ORG_SUPPORT_CONTACT": "help@puente.example.org",
        "DEFAULT_LANGUAGE": "en",
        "SECRET_KEY": "test-secret-key-0123456789",
        # Reports' photos: a folder of this app's own, never the working tree's instance/.
        "MEDIA_DIR": tempfile.mkdtemp(prefix="puente-media-"),
    }
    settings.update(overrides)
    return settings
