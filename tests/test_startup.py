"""Production start-up a deployer understands.

A bad setting: one line per problem on stderr, exit status 2 (gunicorn: its
master stops), never a traceback, from every entry point in the Procfile. A
shipped flow whose settings are missing: disabled with one warning, its
keywords start nothing, and the dashboard says why, in both languages.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from bot import create_app
from bot.contacts.identity import find_by_phone
from bot.contacts.models import FlowSession
from bot.msgs.models import DIRECTION_IN, Message
from tests.dashboard_client import sign_in_client
from tests.paths import FLOWS, ROOT
from tests.settings import settings_for
from tests.twilio_requests import text

BIN = Path(sys.executable).parent

SECRET_TOKEN = "a-secret-auth-token-value"
PROBLEMS = [
    "Puente cannot start: ORG_NAME is required",
    "Puente cannot start: QUIET_HOURS_START must be a whole number, not 'abc'",
]


def production_env(tmp_path: Path) -> dict[str, str]:
    """Good production settings but ORG_NAME missing and QUIET_HOURS_START malformed."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),  # the code beside this test, whatever is installed
        "PUENTE_ENV": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'puente.db'}",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
        "TWILIO_AUTH_TOKEN": SECRET_TOKEN,
        "TWILIO_SMS_FROM": "+12135550100",
        "PUBLIC_URL": "https://puente.example.org",
        "SECRET_KEY": "s" * 32,
        "ORG_SUPPORT_CONTACT": "ayuda@example.org",
        "QUIET_HOURS_START": "abc",
    }


ENTRY_POINTS = {
    "puente db upgrade": [str(BIN / "puente"), "db", "upgrade"],
    "puente flows check --strict": [str(BIN / "puente"), "flows", "check", "--strict"],
    "python worker.py": [sys.executable, "worker.py"],
}


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_a_bad_setting_is_one_line_per_problem_and_exit_2(name, tmp_path):
    done = subprocess.run(
        ENTRY_POINTS[name],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert sorted(done.stderr.splitlines()) == sorted(PROBLEMS)
    assert SECRET_TOKEN not in done.stdout + done.stderr


def gunicorn(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """The Procfile's `web:` (two workers, no fixed port) with a bad setting."""
    command = [str(BIN / "gunicorn"), "--workers", "2", "--bind", "127.0.0.1:0"]
    command += ["--no-control-socket", *options, "app:app"]
    return subprocess.run(
        command, cwd=ROOT, env=production_env(tmp_path), capture_output=True, text=True, timeout=120
    )


def test_gunicorn_checks_the_settings_once_before_any_worker(tmp_path):
    done = gunicorn(tmp_path)  # reads gunicorn.conf.py from the working folder
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert sorted(lines[1:]) == sorted(PROBLEMS)  # after gunicorn's "Starting gunicorn"
    assert "Starting gunicorn" in lines[0] and "Traceback" not in done.stderr
    assert SECRET_TOKEN not in done.stdout + done.stderr


def test_without_its_config_file_gunicorn_still_stops_without_a_traceback(tmp_path):
    (tmp_path / "other.conf.py").write_text("")
    done = gunicorn(tmp_path, "--config", str(tmp_path / "other.conf.py"), "--workers", "1")
    assert done.returncode == 3  # app.py: gunicorn's "worker failed to boot", so it stops
    lines = done.stderr.splitlines()
    for problem in PROBLEMS:
        assert lines.count(problem) == 1, done.stderr
    assert "Worker failed to boot" in done.stderr and "Traceback" not in done.stderr


# --- flows whose settings are not configured ---------------------------------------------


@pytest.fixture
def production_app(database_url, fake_twilio_server, fake_twilio, caplog) -> Flask:
    """Production with only the required settings: no LEGAL_HELP, no event."""
    caplog.set_level(logging.WARNING, logger="bot.conversations")
    app = create_app(settings_for(database_url, fake_twilio_server[1], PRODUCTION=True))
    app.config["SESSION_COOKIE_SECURE"] = False  # the test client speaks plain HTTP
    yield app
    app.extensions["puente.db"].engine.dispose()


def test_unconfigured_flows_are_disabled_with_one_warning_each(production_app, caplog):
    flows = production_app.extensions["puente.flows"]
    assert dict(flows.disabled) == {
        "know_your_rights": ("LEGAL_HELP",),
        "report": ("LEGAL_HELP",),
    }  # the RSVP flow needs no setting: its events come from the database
    records = caplog.get_records("setup")  # create_app ran in the fixture
    warnings = sorted(r.getMessage() for r in records if r.levelno == logging.WARNING)
    assert warnings == [
        "flow know_your_rights is disabled: LEGAL_HELP not configured",
        "flow report is disabled: LEGAL_HELP not configured",
    ]
    assert {f.id for f in flows.flowset} == {"join", "petition", "poll", "summit_rsvp"}
    for keyword in ("derechos", "rights", "reportar"):
        assert flows.flowset.flow_for_keyword(keyword) is None, keyword


def handled_by(db, phone: str) -> list[str | None]:
    """How each of the contact's messages was handled (None: it waits in the inbox)."""
    with db.session() as session:
        contact = find_by_phone(session, phone)
        messages = session.scalars(
            select(Message)
            .where(Message.contact_id == contact.id, Message.direction == DIRECTION_IN)
            .order_by(Message.id)
        )
        assert session.get(FlowSession, contact.id) is None  # no flow waits for an answer
        return [m.handled_by for m in messages]


def test_a_disabled_flows_keyword_is_like_any_unknown_message(production_app):
    client = production_app.test_client()
    db = production_app.extensions["puente.db"]
    assert text(client, "+12135550199", "JOIN")  # the configured flow still runs
    phone = "+12135550123"
    assert text(client, phone, "hello")  # the welcome
    assert text(client, phone, "SUMMIT") == text(client, phone, "banana") == []
    assert text(client, phone, "DERECHOS") == []
    assert handled_by(db, phone) == ["welcome", None, None, None]


@pytest.mark.parametrize(
    ("language", "disabled", "reason", "notice"),
    [
        ("en", "Disabled", "Not configured: ", "This flow is disabled"),
        ("es", "Desactivado", "Sin configurar: ", "Este flujo está desactivado"),
    ],
)
def test_the_flows_page_shows_disabled_flows_and_why(
    production_app, language, disabled, reason, notice
):
    db = production_app.extensions["puente.db"]
    client = sign_in_client(production_app, db, "viewer", language)
    page = client.get("/dashboard/flows/").get_data(as_text=True)
    assert page.count(f'<span class="badge warning">{disabled}</span>') == 2
    assert page.count(reason + "LEGAL_HELP") == 2
    detail = client.get("/dashboard/flows/report").get_data(as_text=True)
    assert notice in detail and "LEGAL_HELP" in detail
    assert notice not in client.get("/dashboard/flows/summit_rsvp").get_data(as_text=True)
    join = client.get("/dashboard/flows/join").get_data(as_text=True)
    assert notice not in join


def test_a_flow_that_goes_to_a_disabled_flow_ends_there(
    tmp_path, database_url, fake_twilio_server, fake_twilio, caplog
):
    for path in FLOWS.glob("*.yaml"):
        shutil.copy(path, tmp_path)
    (tmp_path / "to_rsvp.yaml").write_text(
        "flow: to_rsvp\nversion: 1\nbase_language: en\ntriggers:\n  en: [GOSUMMIT]\n"
        "steps:\n  - id: go\n    type: goto\n    flow: report\n"
    )
    settings = settings_for(
        database_url, fake_twilio_server[1], PRODUCTION=True, FLOWS_DIR=str(tmp_path)
    )
    app = create_app(settings)
    try:
        client = app.test_client()
        text(client, "+12135550123", "hello")
        assert text(client, "+12135550123", "GOSUMMIT") == []
        assert "flow to_rsvp: goes to disabled flow report" in caplog.text
    finally:
        app.extensions["puente.db"].engine.dispose()


def test_development_keeps_the_visible_stand_ins(app, client):
    assert app.extensions["puente.flows"].disabled == {}
    replies = text(client, "+12135550123", "RIGHTS")
    assert "[LEGAL_HELP not configured]" in replies[0]
