"""Settings from the environment (secrets never live in the repository).

Development (the default) runs on embedded parts: SQLite, an in-process queue
and the local fake Twilio API. Production (`PUENTE_ENV=production`) requires
real settings. A missing or malformed one stops start-up: `exit_on_config_error`
prints one line per problem on stderr and exits with status 2, no traceback.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from bot import defaults
from bot.contacts import suppressions
from bot.exceptions import ConfigError
from bot.i18n import LANGUAGES

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
    "LINK_DOMAIN": r"https?://[^\s/]+(/[^\s]*)?",
    "DATABASE_URL": r"(sqlite|postgresql)(\+\w+)?://.*",
    "REDIS_URL": r"rediss?://.*",
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
EXIT_CONFIG_ERROR = 2  # a usage error, like a bad command-line option


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    env = os.environ if environ is None else environ
    production = env.get("PUENTE_ENV", "development") == "production"
    problems: list[str] = []
    config: dict[str, Any] = {
        "PRODUCTION": production,
        "DATABASE_URL": env.get("DATABASE_URL", defaults.DEFAULT_DATABASE_URL),
        "REDIS_URL": env.get("REDIS_URL", ""),  # empty = embedded queue
        "PUBLIC_URL": env.get("PUBLIC_URL", defaults.DEFAULT_PUBLIC_URL).rstrip("/"),
        # Tracked links' own domain (https://go.example.org); empty: PUBLIC_URL's.
        "LINK_DOMAIN": env.get("LINK_DOMAIN", "").rstrip("/"),
        "SECRET_KEY": env.get("SECRET_KEY", defaults.DEFAULT_DEV_SECRET_KEY),
        # Keys the hashes of erased numbers (bot.contacts.suppressions): changing it
        # forgets every suppression, so production sets its own and keeps it.
        "ERASURE_KEY": erasure_key(env),
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
        "ORG_SUPPORT_CONTACT": env.get("ORG_SUPPORT_CONTACT", defaults.DEFAULT_ORG_SUPPORT_CONTACT),
        "LEGAL_HELP": env.get("LEGAL_HELP", ""),
        "MESSAGE_FREQUENCY": env.get("MESSAGE_FREQUENCY", ""),
        "DEFAULT_LANGUAGE": env.get("DEFAULT_LANGUAGE", defaults.DEFAULT_LANGUAGE),
        "FLOWS_DIR": flows_dir(env),
        "MAX_CONTENT_LENGTH": _number(
            env, "MAX_WEBHOOK_BYTES", defaults.DEFAULT_MAX_WEBHOOK_BYTES, problems
        ),
        "LOG_LEVEL": env.get("LOG_LEVEL", defaults.DEFAULT_LOG_LEVEL).upper(),
        # Reports keep personal data this long (0: until someone erases it by hand).
        "REPORT_RETENTION_DAYS": _number(
            env, "REPORT_RETENTION_DAYS", defaults.DEFAULT_REPORT_RETENTION_DAYS, problems
        ),
        # Photos, audio and video of reports: fetched from Twilio into this folder.
        "MEDIA_DIR": env.get("MEDIA_DIR") or defaults.DEFAULT_MEDIA_DIR,
        "MEDIA_MAX_BYTES": _number(
            env, "MEDIA_MAX_BYTES", defaults.DEFAULT_MEDIA_MAX_BYTES, problems
        ),
        **_broadcast_settings(env, problems),
    }
    # Flow placeholders: KYR_MEDIA_URL, KYR_MEDIA_DOOR… (events are data now: the
    # EVENT_* settings are retired, see the README's "Events and RSVPs").
    config["KYR_MEDIA_URL"] = env.get("KYR_MEDIA_URL", "")
    for name, value in env.items():
        if name.startswith("KYR_MEDIA_"):
            config[name] = value
    problems += _choice_problems(config)
    if config["FLOWS_DIR"] and not os.path.isdir(config["FLOWS_DIR"]):
        problems.append(f"FLOWS_DIR is not a folder: {config['FLOWS_DIR']!r}")
    if config["MEDIA_MAX_BYTES"] <= 0:
        problems.append("MEDIA_MAX_BYTES must be more than 0")
    if production:
        problems += production_problems(env, config)
    if problems:
        raise ConfigError(problems)
    return config


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    problems: list[str],
    kind: Callable[[Any], Any] = int,
) -> Any:
    """The setting as a number (unset or empty: ``default``); a bad one is a problem."""
    raw = env.get(name, "").strip()
    if not raw:
        return kind(default)
    try:
        return kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        problems.append(f"{name} must be {what}, not {raw[:40]!r}")
        return kind(default)


def _choice_problems(config: Mapping[str, Any]) -> list[str]:
    """Settings that must be one of a few words."""
    problems = []
    choices = {
        "LOG_LEVEL": LOG_LEVELS,
        "DEFAULT_LANGUAGE": LANGUAGES,
        "SMS_SENDER_TYPE": tuple(defaults.SENDER_RATES_PER_S),
    }
    for name, allowed in choices.items():
        if config[name] not in allowed:
            problems.append(f"{name} must be one of {', '.join(allowed)}, not {config[name]!r}")
    return problems


def flows_dir(env: Mapping[str, str]) -> str:
    """FLOWS_DIR, else the shipped flows/ folder: the one place that decides which."""
    return env.get("FLOWS_DIR") or str(defaults.DEFAULT_FLOWS_DIR)


def _broadcast_settings(env: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """Quiet hours, sender rates and queue timing for bot.broadcasts."""
    sms_type = env.get("SMS_SENDER_TYPE", defaults.DEFAULT_SMS_SENDER_TYPE)

    def number(name: str, default: float, kind: Callable[[Any], Any] = int) -> Any:
        return _number(env, name, default, problems, kind)

    return {
        "QUIET_HOURS_START": number("QUIET_HOURS_START", defaults.DEFAULT_QUIET_HOURS_START),
        "QUIET_HOURS_END": number("QUIET_HOURS_END", defaults.DEFAULT_QUIET_HOURS_END),
        "QUIET_HOURS_START_MX": number(
            "QUIET_HOURS_START_MX", defaults.DEFAULT_QUIET_HOURS_START_MX
        ),
        "SMS_SENDER_TYPE": sms_type,
        "SMS_RATE_PER_S": number(
            "SMS_RATE_PER_S", defaults.SENDER_RATES_PER_S.get(sms_type, 1), float
        ),
        "WHATSAPP_RATE_PER_S": number(
            "WHATSAPP_RATE_PER_S", defaults.DEFAULT_WHATSAPP_RATE_PER_S, float
        ),
        "THROTTLE_MARGIN_MS": number("THROTTLE_MARGIN_MS", defaults.DEFAULT_THROTTLE_MARGIN_MS),
        "BROADCAST_BATCH_SIZE": number(
            "BROADCAST_BATCH_SIZE", defaults.DEFAULT_BROADCAST_BATCH_SIZE
        ),
        "SEND_CONNECTIONS": number("SEND_CONNECTIONS", defaults.DEFAULT_SEND_CONNECTIONS),
        "RECONCILE_INTERVAL_S": number(
            "RECONCILE_INTERVAL_S", defaults.DEFAULT_RECONCILE_INTERVAL_S
        ),
        "WHATSAPP_PAUSE_S": number("WHATSAPP_PAUSE_S", defaults.DEFAULT_WHATSAPP_PAUSE_S),
        "SETTLE_AFTER_S": number("SETTLE_AFTER_S", defaults.DEFAULT_SETTLE_AFTER_S),
        "SMS_SEGMENT_COST_US": number(
            "SMS_SEGMENT_COST_US", defaults.DEFAULT_SMS_SEGMENT_COST_US, float
        ),
        "SMS_SEGMENT_COST_MX": number(
            "SMS_SEGMENT_COST_MX", defaults.DEFAULT_SMS_SEGMENT_COST_MX, float
        ),
        "WHATSAPP_MESSAGE_COST": number(
            "WHATSAPP_MESSAGE_COST", defaults.DEFAULT_WHATSAPP_MESSAGE_COST, float
        ),
    }


def erasure_key(env: Mapping[str, str]) -> str:
    """ERASURE_KEY, or a key derived from SECRET_KEY when it is not set."""
    return suppressions.key_of(env)


def production_problems(env: Mapping[str, str], config: Mapping[str, Any]) -> list[str]:
    """Every missing or malformed production setting, one sentence each."""
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
    if env.get("ERASURE_KEY") and len(env["ERASURE_KEY"]) < 16:
        problems.append("ERASURE_KEY is too short (at least 16 characters)")
    return problems


def print_config_error(error: ConfigError) -> None:
    """Tell the deployer what to fix: one line per problem on stderr."""
    for problem in error.problems:
        print(f"Puente cannot start: {problem}", file=sys.stderr)
    sys.stderr.flush()


def exit_on_config_error(error: ConfigError) -> NoReturn:
    """One line per problem on stderr, then exit with status 2 (no traceback)."""
    print_config_error(error)
    sys.exit(EXIT_CONFIG_ERROR)
