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


def test_every_malformed_number_or_word_is_a_problem_not_a_traceback():
    env = {
        "QUIET_HOURS_START": "abc",
        "SMS_RATE_PER_S": "fast",
        "SEND_CONNECTIONS": "1.5",
        "LOG_LEVEL": "LOUD",
        "DEFAULT_LANGUAGE": "fr",
        "SMS_SENDER_TYPE": "shortcode",
        "FLOWS_DIR": "/no/such/folder",
    }
    with pytest.raises(ConfigError) as raised:
        from_environ(env)  # development too: a typo is never silently a default
    assert sorted(raised.value.problems) == [
        "DEFAULT_LANGUAGE must be one of es, en, not 'fr'",
        "FLOWS_DIR is not a folder: '/no/such/folder'",
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'",
        "QUIET_HOURS_START must be a whole number, not 'abc'",
        "SEND_CONNECTIONS must be a whole number, not '1.5'",
        "SMS_RATE_PER_S must be a number, not 'fast'",
        "SMS_SENDER_TYPE must be one of long_code, toll_free, short_code, not 'shortcode'",
    ]


def test_numbers_and_levels_that_are_fine():
    config = from_environ({"QUIET_HOURS_START": " 7 ", "SMS_RATE_PER_S": "", "LOG_LEVEL": "debug"})
    assert config["QUIET_HOURS_START"] == 7 and config["SMS_RATE_PER_S"] == 1.0
    assert config["LOG_LEVEL"] == "DEBUG"


def test_production_problems_come_one_per_line(capsys):
    from bot.config import exit_on_config_error

    env = {k: v for k, v in GOOD.items() if k not in ("ORG_NAME", "REDIS_URL")}
    with pytest.raises(ConfigError) as raised:
        from_environ({**env, "WHATSAPP_PAUSE_S": "soon"})
    with pytest.raises(SystemExit) as exited:
        exit_on_config_error(raised.value)
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "Puente cannot start: WHATSAPP_PAUSE_S must be a whole number, not 'soon'",
        "Puente cannot start: REDIS_URL is required",
        "Puente cannot start: ORG_NAME is required",
    ]
