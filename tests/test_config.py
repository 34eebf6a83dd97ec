"""Settings: embedded defaults in development; production stops on bad settings."""

from __future__ import annotations

import pytest

from bot.config import from_environ
from bot.exceptions import ConfigError

GOOD = {
    "PUENTE_ENV": "production",
    "DATABASE_URL": "postgresql://puente@db/puente",
    "REDIS_URL": "redis://cache:6379/0",
    "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_SMS_FROM": "+12135550100",
    "PUBLIC_URL": "https://puente.example.org",
    "SECRET_KEY": "s" * 32,
    "ORG_NAME": "Movimiento",
    "ORG_SUPPORT_CONTACT": "ayuda@example.org",
}


def test_good_production_settings_load():
    config = from_environ(GOOD)
    assert config["PRODUCTION"] and config["PUBLIC_URL"] == "https://puente.example.org"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"TWILIO_AUTH_TOKEN": None}, "TWILIO_AUTH_TOKEN is required"),
        ({"DATABASE_URL": None}, "DATABASE_URL is required"),
        ({"TWILIO_ACCOUNT_SID": "12345"}, "TWILIO_ACCOUNT_SID is malformed"),
        ({"PUBLIC_URL": "puente.example.org"}, "PUBLIC_URL is malformed"),
        ({"TWILIO_SMS_FROM": None}, "a sender is required"),
        ({"TWILIO_SMS_FROM": "2135550100"}, "TWILIO_SMS_FROM is malformed"),
        ({"TWILIO_MESSAGING_SERVICE_SID": "MGshort"}, "TWILIO_MESSAGING_SERVICE_SID is malformed"),
        ({"TWILIO_VALIDATE_SIGNATURE": "false"}, "only in development"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too short"),
    ],
)
def test_bad_production_settings_stop_startup_naming_them(change, named):
    env = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(ConfigError, match=named):
        from_environ(env)


def test_create_app_refuses_bad_production_config(monkeypatch):
    from bot import create_app

    for key in list(GOOD):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PUENTE_ENV", "production")
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN is required"):
        create_app()


def test_development_defaults_need_nothing():
    config = from_environ({})
    assert config["DATABASE_URL"].startswith("sqlite")
    assert not config["PRODUCTION"] and config["REDIS_URL"] == ""
