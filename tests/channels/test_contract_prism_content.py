"""Contract test: the Content API calls of `bot.channels.twilio` against Twilio's spec.

Prism serves tests/contract/twilio_content_v1.yaml as tests/channels/test_contract_prism.py
serves the Messaging spec (same install, same skip rules): it answers 422 to a
request that breaks the spec (a null where a text is required, an unknown key in a
content type, a wrong path) and 401 without Basic auth.

Run only these:  .venv/bin/pytest -m prism
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.channels import twilio
from bot.flows.turn import LIST_PICKER, QUICK_REPLY, Interactive, Option
from tests.channels.test_contract_prism import prism_command, stop, wait_listening
from tests.channels.twilio_cases import ACCOUNT_SID
from tests.paths import CONTRACT
from tests.services import free_port

pytestmark = pytest.mark.prism

SPEC = CONTRACT / "twilio_content_v1.yaml"
HX = "HX" + "ab" * 16

RSVP = Interactive(
    QUICK_REPLY,
    "Will you come?",
    (Option("ask_rsvp/yes", "Yes"), Option("ask_rsvp/no", "No"), Option("ask_rsvp/maybe", "Maybe")),
)
TOPICS = Interactive(
    LIST_PICKER,
    "Choose a topic:",
    (Option("menu/door", "Agents at your door", "Immigration agents at your door"),
     Option("menu/work", "At work"), Option("menu/street", "On the street"),
     Option("menu/done", "Done")),
    "Choose",
)  # fmt: skip


@pytest.fixture(scope="module")
def prism_url() -> Iterator[str]:
    command = prism_command()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "prism.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [*command, "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                wait_listening(proc, port, log_path)
                yield f"http://127.0.0.1:{port}"
            finally:
                stop(proc)
                twilio.close_clients()


@pytest.fixture
def sender(prism_url: str) -> twilio.Sender:
    return twilio.Sender(ACCOUNT_SID, "prism-does-not-check-the-token", api_url=prism_url)


@pytest.mark.parametrize("form", [RSVP, TOPICS], ids=["quick_reply", "list_picker"])
def test_create_content_follows_the_spec(sender: twilio.Sender, form: Interactive) -> None:
    types = twilio.content_types(form, "Will you come?\n1. Yes\n2. No\n3. Maybe")
    sid = twilio.create_content(sender, "puente_question", "es", types)
    assert sid is not None  # Prism's example answer: a 422 would have been None


def test_fetch_content_follows_the_spec(sender: twilio.Sender) -> None:
    fetched = twilio.fetch_content(sender, HX)
    assert fetched is not None and fetched["sid"]


def test_prism_refuses_what_the_spec_refuses(prism_url: str) -> None:
    """The check is real: a null list row description (what twilio-python's own request
    model sends for a key left out) is a 422."""
    body = {
        "language": "en",
        "types": {
            "twilio/list-picker": {
                "body": "Pick",
                "button": "Choose",
                "items": [{"id": "a", "item": "A", "description": None}],
            }
        },
    }
    answer = requests.post(
        f"{prism_url}/v1/Content", json=body, auth=(ACCOUNT_SID, "x"), timeout=10
    )
    assert answer.status_code == 422, answer.text
