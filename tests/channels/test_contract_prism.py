"""Contract test: `bot.channels.twilio.send` (and `send_async`) against Twilio's OpenAPI spec.

Prism (@stoplight/prism-cli) serves tests/contract/twilio_api_v2010.yaml (a
copy of Twilio's spec from twilio/twilio-oai, MIT, see tests/contract/LICENSE)
and answers 422 when a request breaks the spec (a bad SID pattern, a wrong
type, a wrong path) and 401 without Basic auth. Twilio's conditional rules
(From or MessagingServiceSid; Body, MediaUrl or ContentSid) are not in the
spec: tests/channels/test_channel_twilio.py and the fake check those.

Install Prism once, outside the repo (CI runs this in .ci/run before pytest):

    npm install --no-save --no-audit --no-fund --prefix ~/.cache/puente-prism @stoplight/prism-cli@5

The test runs ~/.cache/puente-prism/node_modules/.bin/prism, or $PUENTE_PRISM_BIN
when set; without either it falls back to `npx --yes @stoplight/prism-cli@5`.
Without node/npx it is skipped, except when CI=true, where it fails.

Run only these:  .venv/bin/pytest -m prism
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.channels import twilio
from bot.channels.errors import Consequence
from tests.channels.twilio_cases import ACCOUNT_SID, HX_SID, MG_SID, MX_WA, US, run_async
from tests.paths import CONTRACT
from tests.services import free_port, unavailable, wait_for_port

pytestmark = pytest.mark.prism

SPEC = CONTRACT / "twilio_api_v2010.yaml"
PRISM_CACHE_BIN = Path.home() / ".cache" / "puente-prism" / "node_modules" / ".bin" / "prism"
START_TIMEOUT_S = 120  # npx may download Prism the first time


def prism_command() -> list[str]:
    """The command that starts Prism: the cached install, $PUENTE_PRISM_BIN or npx."""
    configured = os.environ.get("PUENTE_PRISM_BIN")
    if configured:
        return [configured]
    if PRISM_CACHE_BIN.exists() and shutil.which("node"):
        return [str(PRISM_CACHE_BIN)]
    if shutil.which("npx"):
        return ["npx", "--yes", "@stoplight/prism-cli@5"]
    unavailable("Prism not installed and npx not found (see this module's docstring)")
    raise AssertionError("unreachable")


def wait_listening(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Wait until Prism accepts connections; fail with its log if it dies or hangs."""
    try:
        wait_for_port(port, timeout=START_TIMEOUT_S, process=proc)
    except (RuntimeError, TimeoutError) as exc:
        pytest.fail(f"Prism {exc}:\n{log_path.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop Prism and anything it started (it runs in its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


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
    return twilio.Sender(
        account_sid=ACCOUNT_SID,
        auth_token="prism-does-not-check-the-token",
        api_url=prism_url,
        sms_from="+15125550100",
        whatsapp_from="whatsapp:+15125550101",
        status_callback_url="https://puente.example.org/twilio/status",
    )


def assert_accepted(result: twilio.SendResult) -> None:
    assert result.http_status == 201, result
    assert result.ok and result.sid


def test_sms_with_from(sender: twilio.Sender) -> None:
    assert_accepted(twilio.send(sender, US, "Hola, ¿cómo estás? Reunión mañana"))


def test_sms_with_messaging_service(sender: twilio.Sender) -> None:
    sender = dataclasses.replace(sender, messaging_service_sid=MG_SID)
    assert_accepted(twilio.send(sender, US, "Hola"))


def test_whatsapp(sender: twilio.Sender) -> None:
    assert_accepted(twilio.send(sender, MX_WA, "Hola"))


def test_whatsapp_with_messaging_service(sender: twilio.Sender) -> None:
    sender = dataclasses.replace(sender, messaging_service_sid=MG_SID)
    assert_accepted(twilio.send(sender, MX_WA, "Hola"))


def test_content_template(sender: twilio.Sender) -> None:
    variables = {"1": "Ana María", "2": "sábado"}
    result = twilio.send(sender, MX_WA, None, content_sid=HX_SID, content_variables=variables)
    assert_accepted(result)


def send_async(
    sender: twilio.Sender, to: str, body: str | None, **kwargs: Any
) -> twilio.SendResult:
    """`twilio.send_async` on an AsyncClient built and closed in its own event loop."""

    async def main() -> twilio.SendResult:
        client = twilio.AsyncClient(sender, connections=1)
        try:
            return await twilio.send_async(client, to, body, **kwargs)
        finally:
            await client.close()

    return run_async(main())


def test_async_sms_with_from(sender: twilio.Sender) -> None:
    assert_accepted(send_async(sender, US, "Hola, ¿cómo estás? Reunión mañana"))


def test_async_content_template(sender: twilio.Sender) -> None:
    variables = {"1": "Ana María", "2": "sábado"}
    result = send_async(sender, MX_WA, None, content_sid=HX_SID, content_variables=variables)
    assert_accepted(result)


def test_prism_rejects_what_breaks_the_spec_async(sender: twilio.Sender) -> None:
    """Control for the async tests: the same malformed MessagingServiceSid is refused."""
    result = send_async(dataclasses.replace(sender, messaging_service_sid="MG123"), US, "Hola")
    assert result.http_status == 422
    assert (result.consequence, result.retryable) == (Consequence.PERMANENT_FAILURE, False)


def test_media(sender: twilio.Sender) -> None:
    """Prism 5 reads a form field sent once as a string, so `MediaUrl` (an array in
    the spec) fails with "must be array" even though Twilio accepts it
    (stoplightio/prism#2473). Accept exactly that error and nothing else."""
    urls = ["https://puente.example.org/m/flyer.png"]
    result = twilio.send(sender, US, "Volante", media_urls=urls)
    if result.http_status == 201:
        return
    assert result.http_status == 422, result
    last = twilio.make_client(sender).http_client._test_only_last_response
    assert last is not None
    problems = json.loads(last.text).get("validation", [])
    assert problems, last.text
    for problem in problems:
        assert problem["location"] == ["body", "MediaUrl"], problem
        assert problem["code"] == "type", problem


def test_prism_rejects_what_breaks_the_spec(sender: twilio.Sender) -> None:
    """Control: a malformed MessagingServiceSid is refused, so the tests above mean something."""
    result = twilio.send(dataclasses.replace(sender, messaging_service_sid="MG123"), US, "Hola")
    assert result.http_status == 422
    assert (result.consequence, result.retryable) == (Consequence.PERMANENT_FAILURE, False)
