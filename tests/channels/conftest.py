"""The channel tests' fake Twilio: one per module on a localhost port, emptied after
each test, and a Sender pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.channels import twilio
from bot.channels.fake_twilio import FakeTwilio, fake_state, run_fake_twilio, stop_fake_twilio
from tests.channels.twilio_cases import ACCOUNT_SID, SMS_FROM, STATUS_URL, TOKEN, WA_FROM


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeTwilio, str]]:
    srv, thread, base_url = run_fake_twilio(auth_token=TOKEN)
    yield fake_state(srv.app), base_url
    stop_fake_twilio(srv, thread)


@pytest.fixture
def fake(server: tuple[FakeTwilio, str]) -> Iterator[FakeTwilio]:
    state, _ = server
    yield state
    state.clear_outbox()
    state.clear_rules()
    state.clear_contents()
    twilio.close_clients()


@pytest.fixture
def sender(server: tuple[FakeTwilio, str]) -> twilio.Sender:
    return twilio.Sender(
        account_sid=ACCOUNT_SID,
        auth_token=TOKEN,
        api_url=server[1],
        sms_from=SMS_FROM,
        whatsapp_from=WA_FROM,
        status_callback_url=STATUS_URL,
    )
