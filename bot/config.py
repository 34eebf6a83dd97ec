"""Settings from the environment (secrets never live in the repository).

Development (the default) runs on embedded parts: SQLite, an in-process queue
and the local fake Twilio API. Production (`PUENTE_ENV=production`) requires
real settings and stops start-up naming any that is missing or malformed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from bot import defaults
from bot.exceptions import ConfigError

REQUIRED_IN_PRODUCTION = (
    "DATABASE_URL",
    "REDIS_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "PUBLIC_URL",
    "SECRET_KEY",
    "ORG_NAME",
    "ORG_SUPPORT_CONTACT",
)
_PATTERNS = {
    "TWILIO_ACCOUNT_SID": r"AC[0-9a-fA-F]{32}",
    "TWILIO_MESSAGING_SERVICE_SID": r"MG[0-9a-fA-F]{32}",
    "TWILIO_SMS_FROM": r"\+[1-9]\d{6,14}",
    "TWILIO_WHATSAPP_FROM": r"whatsapp:\+[1-9]\d{6,14}",
    "PUBLIC_URL": r"https?://[^\s/]+(/[^\s]*)?",
    "DATABASE_URL": r"(sqlite|postgresql)(\+\w+)?://.*",
    "REDIS_URL": r"rediss?://.*",
}


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    env = os.environ if environ is None else environ
    production = env.get("PUENTE_ENV", "development") == "production"
    config: dict[str, Any] = {
        "PRODUCTION": production,
        "DATABASE_URL": env.get("DATABASE_URL", defaults.DEFAULT_DATABASE_URL),
        "REDIS_URL": env.get("REDIS_URL", ""),  # empty = embedded queue
        "PUBLIC_URL": env.get("PUBLIC_URL", defaults.DEFAULT_PUBLIC_URL).rstrip("/"),
        "SECRET_KEY": env.get("SECRET_KEY", "dev-only-not-secret"),
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", defaults.DEFAULT_DEV_ACCOUNT_SID),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", defaults.DEFAULT_DEV_AUTH_TOKEN),
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        "TWILIO_SMS_FROM": env.get("TWILIO_SMS_FROM", defaults.DEFAULT_DEV_SMS_FROM),
        "TWILIO_WHATSAPP_FROM": env.get("TWILIO_WHATSAPP_FROM", defaults.DEFAULT_DEV_WHATSAPP_FROM),
        # Empty = real Twilio in production, the mounted fake in development.
        "TWILIO_API_URL": env.get("TWILIO_API_URL", ""),
        # Only for local development behind no tunnel; refused in production.
        "TWILIO_VALIDATE_SIGNATURE": env.get("TWILIO_VALIDATE_SIGNATURE", "true") != "false",
        "ORG_NAME": env.get("ORG_NAME", defaults.DEFAULT_ORG_NAME),
        "ORG_SUPPORT_CONTACT": env.get("ORG_SUPPORT_CONTACT", "support@example.org"),
        "LEGAL_HELP": env.get("LEGAL_HELP", ""),
        "MESSAGE_FREQUENCY": env.get("MESSAGE_FREQUENCY", ""),
        "DEFAULT_LANGUAGE": env.get("DEFAULT_LANGUAGE", defaults.DEFAULT_LANGUAGE),
        "FLOWS_DIR": env.get("FLOWS_DIR", ""),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_WEBHOOK_BYTES", defaults.DEFAULT_MAX_WEBHOOK_BYTES)),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        **_broadcast_settings(env),
    }
    # Flow placeholders: EVENT_NAME, EVENT_DATE_ES, KYR_MEDIA_DOOR… (and EVENT_ID,
    # the event whose reminders the RSVP flow's answers sign people up for).
    for name in ("EVENT_NAME", "EVENT_PLACE", "EVENT_DATE", "EVENT_ID", "KYR_MEDIA_URL"):
        config[name] = env.get(name, "")
    for name, value in env.items():
        if name.startswith(("EVENT_", "KYR_MEDIA_")):
            config[name] = value
    if production:
        validate_production(env, config)
    return config


def _broadcast_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Quiet hours, sender rates and queue timing for bot.broadcasts."""
    sms_type = env.get("SMS_SENDER_TYPE", defaults.DEFAULT_SMS_SENDER_TYPE)
    return {
        "QUIET_HOURS_START": int(env.get("QUIET_HOURS_START", defaults.DEFAULT_QUIET_HOURS_START)),
        "QUIET_HOURS_END": int(env.get("QUIET_HOURS_END", defaults.DEFAULT_QUIET_HOURS_END)),
        "QUIET_HOURS_START_MX": int(
            env.get("QUIET_HOURS_START_MX", defaults.DEFAULT_QUIET_HOURS_START_MX)
        ),
        "SMS_SENDER_TYPE": sms_type,
        "SMS_RATE_PER_S": float(
            env.get("SMS_RATE_PER_S") or defaults.SENDER_RATES_PER_S.get(sms_type, 1)
        ),
        "WHATSAPP_RATE_PER_S": float(
            env.get("WHATSAPP_RATE_PER_S", defaults.DEFAULT_WHATSAPP_RATE_PER_S)
        ),
        "THROTTLE_MARGIN_MS": int(
            env.get("THROTTLE_MARGIN_MS", defaults.DEFAULT_THROTTLE_MARGIN_MS)
        ),
        "BROADCAST_BATCH_SIZE": int(
            env.get("BROADCAST_BATCH_SIZE", defaults.DEFAULT_BROADCAST_BATCH_SIZE)
        ),
        "SEND_CONNECTIONS": int(env.get("SEND_CONNECTIONS", defaults.DEFAULT_SEND_CONNECTIONS)),
        "RECONCILE_INTERVAL_S": int(
            env.get("RECONCILE_INTERVAL_S", defaults.DEFAULT_RECONCILE_INTERVAL_S)
        ),
        "WHATSAPP_PAUSE_S": int(env.get("WHATSAPP_PAUSE_S", defaults.DEFAULT_WHATSAPP_PAUSE_S)),
        "SETTLE_AFTER_S": int(env.get("SETTLE_AFTER_S", defaults.DEFAULT_SETTLE_AFTER_S)),
        "SMS_SEGMENT_COST_US": float(
            env.get("SMS_SEGMENT_COST_US", defaults.DEFAULT_SMS_SEGMENT_COST_US)
        ),
        "SMS_SEGMENT_COST_MX": float(
            env.get("SMS_SEGMENT_COST_MX", defaults.DEFAULT_SMS_SEGMENT_COST_MX)
        ),
        "WHATSAPP_MESSAGE_COST": float(
            env.get("WHATSAPP_MESSAGE_COST", defaults.DEFAULT_WHATSAPP_MESSAGE_COST)
        ),
    }


def validate_production(env: Mapping[str, str], config: Mapping[str, Any]) -> None:
    """Raise ConfigError naming every missing or malformed production setting."""
    problems = [f"{name} is required" for name in REQUIRED_IN_PRODUCTION if not env.get(name)]
    for name, pattern in _PATTERNS.items():
        value = env.get(name)
        if value and not re.fullmatch(pattern, value):
            problems.append(f"{name} is malformed (expected {pattern})")
    if not (
        env.get("TWILIO_MESSAGING_SERVICE_SID")
        or env.get("TWILIO_SMS_FROM")
        or env.get("TWILIO_WHATSAPP_FROM")
    ):
        problems.append(
            "a sender is required: TWILIO_MESSAGING_SERVICE_SID, "
            "or TWILIO_SMS_FROM / TWILIO_WHATSAPP_FROM"
        )
    if not config["TWILIO_VALIDATE_SIGNATURE"]:
        problems.append("TWILIO_VALIDATE_SIGNATURE=false is allowed only in development")
    if env.get("SECRET_KEY") and len(env["SECRET_KEY"]) < 16:
        problems.append("SECRET_KEY is too short (at least 16 characters)")
    if problems:
        raise ConfigError("Puente cannot start: " + "; ".join(problems))
