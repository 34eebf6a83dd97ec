"""bot.channels.twilio.send_async: the asyncio client against the fake on a localhost port.

The same cases as test_channel_twilio.py (with the same fixtures, from this
folder's conftest.py), sent through `AsyncClient` and `send_async` instead of `send`: the
same parameters must reach Twilio and every outcome must be classified alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest

from bot.channels import twilio
from bot.channels.errors import Consequence
from bot.channels.fake_twilio import FakeTwilio, Rule
from tests.channels.twilio_cases import (
    ACCOUNT_SID,
    ERROR_CASES,
    HX_SID,
    MG_SID,
    MX_WA,
    SMS_FROM,
    STATUS_URL,
    US,
    WA_FROM,
    only_message,
    run_async,
)

T = TypeVar("T")


def run_with_client(sender: twilio.Sender, use: Callable[[twilio.AsyncClient], Awaitable[T]]) -> T:
    """Build an AsyncClient inside a fresh event loop, run ``use(client)``, close it."""

    async def main() -> T:
        client = twilio.AsyncClient(sender, connections=4)
        try:
            return await use(client)
        finally:
            await client.close()

    return run_async(main())


def send(
    sender: twilio.Sender, to: str, body: str | None = None, **kwargs: Any
) -> twilio.SendResult:
    """One `send_async` on its own client and loop: the async twin of `twilio.send`."""
    return run_with_client(sender, lambda client: twilio.send_async(client, to, body, **kwargs))


# -- sending ----------------------------------------------------------------


def test_sms_is_sent_from_the_sms_number(fake: FakeTwilio, sender: twilio.Sender) -> None:
    result = send(sender, US, "Hola, ¿cómo estás?")
    assert result.ok
    assert result.consequence is Consequence.NONE and not result.retryable
    assert result.sid and result.sid.startswith("SM") and len(result.sid) == 34
    assert result.status == "queued" and result.http_status == 201
    sent = only_message(fake)
    assert (sent["sid"], sent["to"], sent["from"]) == (result.sid, US, SMS_FROM)
    assert sent["body"] == "Hola, ¿cómo estás?"
    assert sent["messaging_service_sid"] is None


def test_whatsapp_is_sent_from_the_whatsapp_sender(fake: FakeTwilio, sender: twilio.Sender) -> None:
    assert send(sender, MX_WA, "Hola").ok
    sent = only_message(fake)
    assert (sent["to"], sent["from"]) == (MX_WA, WA_FROM)


def test_whatsapp_sender_without_prefix_gets_it(fake: FakeTwilio, sender: twilio.Sender) -> None:
    sender = dataclasses.replace(sender, whatsapp_from="+15125550101")
    assert send(sender, MX_WA, "Hola").ok
    assert only_message(fake)["from"] == WA_FROM


@pytest.mark.parametrize("to", [US, MX_WA])
def test_messaging_service_takes_precedence(
    fake: FakeTwilio, sender: twilio.Sender, to: str
) -> None:
    sender = dataclasses.replace(sender, messaging_service_sid=MG_SID)
    result = send(sender, to, "Hola")
    assert result.ok and result.status == "accepted"
    sent = only_message(fake)
    assert sent["messaging_service_sid"] == MG_SID
    assert sent["from"] is None


def test_media_urls(fake: FakeTwilio, sender: twilio.Sender) -> None:
    urls = ["https://puente.example.org/m/flyer.png", "https://puente.example.org/m/map.jpg"]
    assert send(sender, US, None, media_urls=urls).ok
    sent = only_message(fake)
    assert sent["media_urls"] == urls
    assert sent["body"] == "" and sent["num_media"] == "2"


def test_content_sid_and_variables_as_json(fake: FakeTwilio, sender: twilio.Sender) -> None:
    variables = {"1": "Ana María", "2": "sábado 10:00"}
    assert send(sender, MX_WA, None, content_sid=HX_SID, content_variables=variables).ok
    sent = only_message(fake)
    assert sent["content_sid"] == HX_SID
    assert sent["content_variables"] == variables


def test_status_callback_is_always_sent(fake: FakeTwilio, sender: twilio.Sender) -> None:
    send(sender, US, "uno")
    send(sender, MX_WA, "dos")
    send(dataclasses.replace(sender, messaging_service_sid=MG_SID), US, "tres")
    assert [m["status_callback"] for m in fake.outbox()] == [STATUS_URL] * 3


def test_one_client_sends_many_at_once(fake: FakeTwilio, sender: twilio.Sender) -> None:
    """More sends in flight than the pool has connections: each arrives once."""

    async def send_many(client: twilio.AsyncClient) -> list[twilio.SendResult]:
        sends = [twilio.send_async(client, US, f"mensaje {n}") for n in range(12)]
        return await asyncio.gather(*sends)

    results = run_with_client(sender, send_many)
    assert all(r.ok for r in results)
    assert len({r.sid for r in results}) == 12
    assert sorted(m["body"] for m in fake.outbox()) == sorted(f"mensaje {n}" for n in range(12))


def test_client_points_at_api_url_and_closes(sender: twilio.Sender) -> None:
    slash = dataclasses.replace(sender, api_url=sender.api_url + "/")

    async def check(client: twilio.AsyncClient) -> aiohttp.ClientSession:
        assert client.sender is slash
        assert client.messages._version.domain.base_url == sender.api_url
        assert not client.session.closed
        return client.session

    assert run_with_client(slash, check).closed


def test_conditional_rules_raise_value_error(fake: FakeTwilio, sender: twilio.Sender) -> None:
    """The same checks as `send` (message_params), before anything is sent."""
    with pytest.raises(ValueError, match="body, media_urls or content_sid"):
        send(sender, US, None)
    with pytest.raises(ValueError, match="whatsapp_from"):
        send(dataclasses.replace(sender, whatsapp_from=None), MX_WA, "Hola")
    assert fake.outbox() == []


# -- errors -----------------------------------------------------------------


@pytest.mark.parametrize(("code", "http_status", "consequence", "retryable"), ERROR_CASES)
def test_injected_error_maps_to_consequence(
    fake: FakeTwilio,
    sender: twilio.Sender,
    code: int,
    http_status: int,
    consequence: Consequence,
    retryable: bool,
) -> None:
    fake.add_rule(Rule(to=US, code=code, http_status=http_status, message=f"boom {code}"))
    result = send(sender, US, "Hola")
    assert (result.consequence, result.retryable) == (consequence, retryable)
    assert (result.error_code, result.http_status) == (code, http_status)
    assert result.error_message == f"boom {code}"
    assert result.sid is None and not result.ok
    assert fake.outbox() == []


def test_http_429_without_code_is_20429(fake: FakeTwilio, sender: twilio.Sender) -> None:
    fake.add_rule(Rule.from_json({"to": "*", "http_status": 429}))
    result = send(sender, MX_WA, "Hola")
    assert (result.error_code, result.http_status, result.consequence) == (
        20429,
        429,
        Consequence.RETRY,
    )
    assert result.retryable


def test_rule_for_another_number_does_not_apply(fake: FakeTwilio, sender: twilio.Sender) -> None:
    fake.add_rule(Rule(to="+15125550199", code=21610))
    assert send(sender, US, "Hola").ok


def test_wrong_token_is_a_permanent_failure(fake: FakeTwilio, sender: twilio.Sender) -> None:
    result = send(dataclasses.replace(sender, auth_token="wrong"), US, "Hola")
    assert (result.http_status, result.error_code) == (401, 20003)
    assert (result.consequence, result.retryable) == (Consequence.PERMANENT_FAILURE, False)
    assert fake.outbox() == []


def test_connection_refused_is_retryable(sender: twilio.Sender) -> None:
    with socket.socket() as held:  # bound, not listening: refused, and no one else can take it
        held.bind(("127.0.0.1", 0))
        closed = dataclasses.replace(sender, api_url=f"http://127.0.0.1:{held.getsockname()[1]}")
        result = send(closed, US, "Hola")
    assert (result.consequence, result.retryable, result.http_status) == (
        Consequence.RETRY,
        True,
        None,
    )
    assert result.sid is None and result.error_message


HANG = b"hang"  # the stub reads the request and never answers
DISCONNECT = b""  # the stub reads the request and closes the connection


def send_to_stub(
    sender: twilio.Sender, answer: bytes, timeout_s: float = 30.0
) -> tuple[twilio.SendResult, list[bytes]]:
    """`send_async` to a stub HTTP server that reads the whole request, then ``answer``s.

    Returns the result and the raw requests the stub received (so a test can
    check that the request did reach it before the answer went wrong). The stub
    answers at once, so the timeout only stops a hang; a HANG test passes its own.
    """
    received: list[bytes] = []
    handlers: list[asyncio.Task[None]] = []
    release = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            body = await reader.readexactly(int(length.group(1))) if length else b""
            received.append(head + body)
            if answer == HANG:
                await release.wait()
            elif answer:
                writer.write(answer)
                await writer.drain()
            writer.close()
            await writer.wait_closed()

    async def main() -> twilio.SendResult:
        stub = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = stub.sockets[0].getsockname()[1]
        target = dataclasses.replace(
            sender, api_url=f"http://127.0.0.1:{port}", timeout_s=timeout_s
        )
        client = twilio.AsyncClient(target, connections=1)
        try:
            return await twilio.send_async(client, US, "Hola")
        finally:
            await client.close()
            release.set()
            await asyncio.gather(*handlers, return_exceptions=True)
            stub.close()
            await stub.wait_closed()

    return run_async(main()), received


def assert_request_reached(received: list[bytes]) -> None:
    assert len(received) == 1
    assert received[0].startswith(f"POST /2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json".encode())
    assert b"To=%2B15125550142" in received[0]


def test_timeout_after_sending_is_unknown_fate(sender: twilio.Sender) -> None:
    # The stub never answers; 1 s is for connecting on a loaded machine (same timeout).
    result, received = send_to_stub(sender, HANG, timeout_s=1.0)
    assert_request_reached(received)
    assert (result.consequence, result.retryable) == (Consequence.UNKNOWN_FATE, False)
    assert result.sid is None and result.http_status is None and result.error_message


def test_disconnect_after_sending_is_unknown_fate(sender: twilio.Sender) -> None:
    result, received = send_to_stub(sender, DISCONNECT)
    assert_request_reached(received)
    assert (result.consequence, result.retryable) == (Consequence.UNKNOWN_FATE, False)
    assert result.sid is None and result.http_status is None


def http_answer(status: str, content_type: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def test_unreadable_success_is_unknown_fate(sender: twilio.Sender) -> None:
    answer = http_answer("201 Created", "text/html", b"<html>proxy page</html>")
    result, received = send_to_stub(sender, answer)
    assert_request_reached(received)
    assert (result.consequence, result.retryable, result.sid) == (
        Consequence.UNKNOWN_FATE,
        False,
        None,
    )


def test_proxy_error_page_is_retried_on_its_http_status(sender: twilio.Sender) -> None:
    """A 502 from a proxy has no Twilio code: the status decides, as in `send`."""
    answer = http_answer("502 Bad Gateway", "text/html", b"<html>bad gateway</html>")
    result, _ = send_to_stub(sender, answer)
    assert (result.http_status, result.error_code) == (502, None)
    assert (result.consequence, result.retryable) == (Consequence.RETRY, True)


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A port whose listen queue is full, so a new connection attempt hangs (Linux)."""
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
        except TimeoutError:
            yield port
        else:
            pytest.skip("this system does not leave a connection to a full queue hanging")
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_connect_timeout_is_retryable_as_in_send(sender: twilio.Sender) -> None:
    with unanswered_port() as port:
        target = dataclasses.replace(sender, api_url=f"http://127.0.0.1:{port}", timeout_s=0.3)
        try:
            sync = twilio.send(target, US, "Hola")
        finally:
            twilio.close_clients()
        assert (sync.consequence, sync.retryable) == (Consequence.RETRY, True)
        result = send(target, US, "Hola")
    assert (result.consequence, result.retryable) == (sync.consequence, sync.retryable)


# -- privacy ----------------------------------------------------------------


def test_logs_hide_number_and_body(
    fake: FakeTwilio, sender: twilio.Sender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.add_rule(Rule(to=MX_WA, code=63016))

    async def two_sends(client: twilio.AsyncClient) -> None:
        assert (await twilio.send_async(client, US, "Mensaje secreto")).ok
        failed = await twilio.send_async(client, MX_WA, "Otro mensaje secreto")
        assert failed.consequence is Consequence.OUTSIDE_WHATSAPP_WINDOW

    run_with_client(sender, two_sends)
    mine = [r for r in caplog.records if r.name == twilio.log.name]
    assert any("…0142" in r.getMessage() for r in mine)
    assert any("whatsapp:…5678" in r.getMessage() and r.levelno >= logging.WARNING for r in mine)
    text = caplog.text
    assert "5125550142" not in text and "5512345678" not in text
    assert "secreto" not in text


# -- the throttle's deadline --------------------------------------------------


def test_a_request_that_cannot_leave_by_its_deadline_is_not_sent(
    fake: FakeTwilio, sender: twilio.Sender
) -> None:
    """A broadcast send held up past its slot raises SlotMissed and reaches no one."""

    async def late(client: twilio.AsyncClient) -> None:
        deadline = asyncio.get_running_loop().time() - 0.001
        await twilio.send_async(client, US, "Hola", send_by=deadline)

    with pytest.raises(twilio.SlotMissed):
        run_with_client(sender, late)
    assert fake.outbox() == []


def test_a_request_within_its_deadline_is_sent(fake: FakeTwilio, sender: twilio.Sender) -> None:
    async def on_time(client: twilio.AsyncClient) -> twilio.SendResult:
        deadline = asyncio.get_running_loop().time() + 5
        return await twilio.send_async(client, US, "Hola", send_by=deadline)

    assert run_with_client(sender, on_time).ok
    assert [m["to"] for m in fake.outbox()] == [US]
