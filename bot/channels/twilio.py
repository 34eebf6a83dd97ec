"""Twilio: sending messages, checking webhook signatures, building TwiML.

This is the only module in Puente that imports `twilio`. It uses the real
twilio-python client; in development and tests that client is pointed at
`bot.channels.fake_twilio` (or at Prism) through `Sender.api_url`.

Phone numbers and message bodies are personal data: this module logs only
masked addresses (`bot.phones.mask`) and never a body.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator, add_port, remove_port
from twilio.rest import Client
from twilio.rest.api.v2010.account.message import MessageList  # noqa: F401 - see below
from twilio.twiml.messaging_response import Message, MessagingResponse
from urllib3.exceptions import NewConnectionError

from bot.channels.errors import Consequence, classify_error
from bot.exceptions import PuenteError
from bot.flows.turn import LIST_PICKER, Interactive
from bot.phones import mask

log = logging.getLogger(__name__)
# twilio-python imports its API modules on first use (~0.1 s of imports): the
# MessageList import above does it when this module loads, so an RQ work horse
# (a fork) has them already instead of stalling its first sends.
# twilio-python logs each request at INFO, query parameters included: a message
# list filtered by To= would put a full number in the logs.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

WHATSAPP_PREFIX = "whatsapp:"
MAX_MEDIA = 10


@dataclass(frozen=True)
class Sender:
    """One Twilio account and the addresses Puente sends from.

    `api_url` is None for the real Twilio; otherwise it replaces
    https://api.twilio.com, e.g. "http://127.0.0.1:5001" for the fake.
    When `messaging_service_sid` is set it takes precedence over the From numbers.
    """

    account_sid: str
    auth_token: str
    api_url: str | None = None
    messaging_service_sid: str | None = None
    sms_from: str | None = None
    whatsapp_from: str | None = None  # e.g. "whatsapp:+14155238886"
    # WhatsApp through this Messaging Service when there is neither of the above
    # (a partner's own SMS number, beside the coalition's WhatsApp service).
    whatsapp_service_sid: str | None = None
    status_callback_url: str | None = None
    timeout_s: float = 15.0


@dataclass(frozen=True)
class SendResult:
    """The outcome of one `send`: Twilio's answer, or what went wrong and what to do."""

    sid: str | None
    status: str | None
    error_code: int | None
    error_message: str | None
    consequence: Consequence
    retryable: bool
    http_status: int | None

    @property
    def ok(self) -> bool:
        """True when Twilio accepted the message."""
        return self.consequence is Consequence.NONE


_clients: dict[tuple[int, str, str, str | None, float], Client] = {}
_clients_lock = threading.Lock()


def make_client(sender: Sender) -> Client:
    """Return the twilio Client for `sender`, pointed at `sender.api_url` when set.

    One client (and so one pooled HTTP session) is kept per sender and process;
    a forked child (an RQ work horse) builds its own instead of sharing sockets.
    """
    key = (os.getpid(), sender.account_sid, sender.auth_token, sender.api_url, sender.timeout_s)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            http_client = TwilioHttpClient(timeout=sender.timeout_s)
            client = Client(sender.account_sid, sender.auth_token, http_client=http_client)
            if sender.api_url:
                # The "api" domain builds every 2010-04-01 URL from base_url, so this
                # sends Messages to {api_url}/2010-04-01/Accounts/{sid}/Messages.json.
                client.api.base_url = sender.api_url.rstrip("/")
                # The Content API's own host (content.twilio.com): {api_url}/v1/Content.
                client.content.base_url = sender.api_url.rstrip("/")
            _clients[key] = client
        return client


def close_clients() -> None:
    """Close and forget every cached client (tests, and worker shutdown)."""
    with _clients_lock:
        for client in _clients.values():
            session = getattr(client.http_client, "session", None)
            if session is not None:
                session.close()
        _clients.clear()


def is_whatsapp(address: str) -> bool:
    """True for a WhatsApp address such as "whatsapp:+5215512345678"."""
    return address.startswith(WHATSAPP_PREFIX)


def message_params(
    sender: Sender,
    to: str,
    body: str | None = None,
    media_urls: Sequence[str] = (),
    content_sid: str | None = None,
    content_variables: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Build the keyword arguments for `client.messages.create`.

    Enforces Twilio's conditional rules, which its OpenAPI spec cannot express:
    From or MessagingServiceSid; Body, MediaUrl or ContentSid. Raises ValueError.
    """
    if not to:
        raise ValueError("'to' is required")
    if not (body or media_urls or content_sid):
        raise ValueError("a message needs a body, media_urls or content_sid")
    if content_variables and not content_sid:
        raise ValueError("content_variables need a content_sid")
    if len(media_urls) > MAX_MEDIA:
        raise ValueError(f"Twilio accepts at most {MAX_MEDIA} media URLs per message")
    if not sender.status_callback_url:
        raise ValueError("Sender.status_callback_url is required (status callbacks track delivery)")

    params: dict[str, object] = {"to": to, "status_callback": sender.status_callback_url}
    params.update(_from_params(sender, to))
    if body:
        params["body"] = body
    if media_urls:
        params["media_url"] = list(media_urls)
    if content_sid:
        params["content_sid"] = content_sid
    if content_variables:
        params["content_variables"] = json.dumps(dict(content_variables), ensure_ascii=False)
    return params


def _from_params(sender: Sender, to: str) -> dict[str, str]:
    """Choose MessagingServiceSid, or the From that matches the channel of `to`."""
    if sender.messaging_service_sid:
        return {"messaging_service_sid": sender.messaging_service_sid}
    if is_whatsapp(to):
        if not sender.whatsapp_from and sender.whatsapp_service_sid:
            return {"messaging_service_sid": sender.whatsapp_service_sid}
        if not sender.whatsapp_from:
            raise ValueError("WhatsApp send needs Sender.whatsapp_from or messaging_service_sid")
        from_ = sender.whatsapp_from
        if not is_whatsapp(from_):
            from_ = WHATSAPP_PREFIX + from_
        return {"from_": from_}
    if not sender.sms_from:
        raise ValueError("SMS send needs Sender.sms_from or messaging_service_sid")
    return {"from_": sender.sms_from}


def send(
    sender: Sender,
    to: str,
    body: str | None = None,
    media_urls: Sequence[str] = (),
    content_sid: str | None = None,
    content_variables: Mapping[str, object] | None = None,
) -> SendResult:
    """Send one SMS or WhatsApp message through Twilio and classify the outcome.

    `to` is "+15551234567" (SMS) or "whatsapp:+5215512345678" (WhatsApp).
    Raises ValueError when the arguments break Twilio's rules; every failure
    after that is returned as a SendResult, never raised.
    """
    params = message_params(sender, to, body, media_urls, content_sid, content_variables)
    client = make_client(sender)
    try:
        message = client.api.v2010.accounts(sender.account_sid).messages.create(**params)
    except (TwilioRestException, TwilioServiceException) as exc:
        result = _api_error_result(exc)
    except requests.exceptions.RequestException as exc:
        result = _connection_error_result(exc)
    except ValueError:  # a 2xx answer that is not JSON: the message may exist
        result = _UNREADABLE
    else:
        result = _accepted(message.sid, message.status)
    _log_result(to, result)
    return result


_UNREADABLE = SendResult(
    None, None, None, "unreadable answer from Twilio", Consequence.UNKNOWN_FATE, False, None
)


def _accepted(sid: str | None, status: str | None) -> SendResult:
    return SendResult(sid, status, None, None, Consequence.NONE, False, 201)


_send_by: contextvars.ContextVar[float | None] = contextvars.ContextVar("send_by", default=None)


class SlotMissed(PuenteError):  # noqa: N818 - a signal, not an error
    """The send's throttle slot passed before its request could leave: nothing was sent."""


class _AiohttpClient(AsyncHttpClient):
    """twilio-python's async HTTP interface on one pooled aiohttp session.

    twilio-python's own AsyncTwilioHttpClient passes aiohttp a BasicAuth,
    which aiohttp deprecates; this sends the same Authorization header itself,
    and logs nothing (the form holds the number and the body).
    """

    def __init__(self, session: aiohttp.ClientSession) -> None:
        super().__init__(log, True, None)
        self.session = session

    async def request(
        self,
        method: str,
        uri: str,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        send_by = _send_by.get()
        if send_by is not None and asyncio.get_running_loop().time() > send_by:
            raise SlotMissed  # checked last thing before the request leaves
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(auth[0], auth[1])
        body = None
        if data is not None:  # the form as requests encodes it (a list: repeated fields)
            body = urllib.parse.urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with self.session.request(
            method.upper(),
            uri,
            params=params,
            data=body,
            headers=headers,
            allow_redirects=allow_redirects,
        ) as answer:
            return Response(answer.status, await answer.text(), answer.headers)


class AsyncClient:
    """twilio-python's asyncio client for one sender, with a pool of ``connections``.

    Broadcasts send through it: one event loop keeps hundreds of requests in
    flight for far less CPU than a thread each. Build it inside the running
    loop and ``await close()`` it before the loop ends.
    """

    def __init__(self, sender: Sender, connections: int) -> None:
        self.sender = sender
        # As `send` (requests): a connect timeout and a read timeout, not one total,
        # so a connection that never opened is told apart from an answer that never came.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max(connections, 1)),
            timeout=aiohttp.ClientTimeout(
                total=None, connect=sender.timeout_s, sock_read=sender.timeout_s
            ),
        )
        client = Client(
            sender.account_sid, sender.auth_token, http_client=_AiohttpClient(self.session)
        )
        if sender.api_url:
            client.api.base_url = sender.api_url.rstrip("/")
        self.messages = client.api.v2010.accounts(sender.account_sid).messages

    async def close(self) -> None:
        await self.session.close()


async def send_async(
    client: AsyncClient,
    to: str,
    body: str | None = None,
    media_urls: Sequence[str] = (),
    content_sid: str | None = None,
    content_variables: Mapping[str, object] | None = None,
    send_by: float | None = None,
) -> SendResult:
    """`send`, on the asyncio client: the same rules, the same classification.

    With ``send_by`` (a time on the running loop's clock) the request leaves
    only if it can before then; otherwise `SlotMissed` is raised and nothing
    was sent (the broadcast throttle books another slot).
    """
    params = message_params(client.sender, to, body, media_urls, content_sid, content_variables)
    token = _send_by.set(send_by)
    try:
        message = await client.messages.create_async(**params)
    except SlotMissed:
        raise
    except (TwilioRestException, TwilioServiceException) as exc:
        result = _api_error_result(exc)
    except (aiohttp.ClientError, TimeoutError) as exc:
        result = _async_connection_error_result(exc)
    except ValueError:
        result = _UNREADABLE
    else:
        result = _accepted(message.sid, message.status)
    finally:
        _send_by.reset(token)
    _log_result(to, result)
    return result


def _async_connection_error_result(exc: BaseException) -> SendResult:
    """No answer: retry if the connection was never made, else the fate is unknown."""
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
        consequence, retryable = Consequence.RETRY, True  # the request never left
    else:
        consequence, retryable = Consequence.UNKNOWN_FATE, False
    message = f"{type(exc).__name__}: no answer from Twilio"
    return SendResult(None, None, None, message, consequence, retryable, None)


def _api_error_result(exc: TwilioRestException | TwilioServiceException) -> SendResult:
    """Turn an error answer from Twilio into a SendResult."""
    status = int(exc.status)
    code = exc.code
    # twilio-python puts the HTTP status in `code` when the body had no Twilio code.
    if code == status:
        code = None
    consequence, retryable = classify_error(code, status)
    return SendResult(None, None, code, _error_message(exc), consequence, retryable, status)


def _error_message(exc: TwilioRestException | TwilioServiceException) -> str:
    """Twilio's own words for the error, without the client's prefix."""
    if isinstance(exc, TwilioServiceException):
        return exc.detail or exc.title
    return str(exc.msg).removeprefix("Unable to create record: ")


def _connection_error_result(exc: requests.exceptions.RequestException) -> SendResult:
    """No answer from Twilio: retry if the request never left, else the fate is unknown."""
    if _never_sent(exc):
        consequence, retryable = Consequence.RETRY, True
    else:
        consequence, retryable = Consequence.UNKNOWN_FATE, False
    message = f"{type(exc).__name__}: no answer from Twilio"
    return SendResult(None, None, None, message, consequence, retryable, None)


def _never_sent(exc: requests.exceptions.RequestException) -> bool:
    """True when the connection failed before any of the request could reach Twilio."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3 MaxRetryError wraps the cause
        return isinstance(reason, NewConnectionError)
    return False


def _log_result(to: str, result: SendResult) -> None:
    """Log one send without the full number or the body."""
    if result.ok:  # debug: a broadcast sends hundreds a second
        log.debug("twilio send to=%s sid=%s status=%s", mask(to), result.sid, result.status)
    else:
        log.warning(
            "twilio send failed to=%s http=%s code=%s consequence=%s retryable=%s",
            mask(to),
            result.http_status,
            result.error_code,
            result.consequence.value,
            result.retryable,
        )


# --- the Content API: WhatsApp buttons and lists -------------------------------------


class _ContentRequest:
    """The create request's JSON as written here: twilio-python's own model sends null for
    every key left out (a list row's description), which the Content API's schema refuses."""

    def __init__(self, body: dict[str, object]) -> None:
        self.body = body

    def to_dict(self) -> dict[str, object]:
        return self.body


def content_types(interactive: Interactive, text: str) -> dict[str, object]:
    """The content's types: the buttons or the list, and ``text`` (the numbered
    question) for a channel that shows neither."""
    if interactive.kind == LIST_PICKER:
        items = [
            {
                "id": o.id,
                "item": o.title,
                **({"description": o.description} if o.description else {}),
            }
            for o in interactive.options
        ]
        rich = {"twilio/list-picker": {"body": interactive.body, "button": interactive.button,
                                       "items": items}}  # fmt: skip
    else:
        actions = [{"id": o.id, "title": o.title} for o in interactive.options]
        rich = {"twilio/quick-reply": {"body": interactive.body, "actions": actions}}
    return {**rich, "twilio/text": {"body": text}}


def create_content(
    sender: Sender, friendly_name: str, language: str, types: Mapping[str, object]
) -> str | None:
    """Create a content (``POST /v1/Content``); its sid ``HX…``, or None when Twilio
    refused it or could not be reached (the caller sends the text instead)."""
    request = _ContentRequest(
        {"friendly_name": friendly_name, "language": language, "types": dict(types)}
    )
    try:
        content = make_client(sender).content.v1.contents.create(content_create_request=request)
    except (TwilioRestException, TwilioServiceException) as exc:
        log.warning("content API refused a content: http=%s code=%s", exc.status, exc.code)
        return None
    except (requests.exceptions.RequestException, ValueError) as exc:
        log.warning("content API unreachable: %s", type(exc).__name__)
        return None
    return content.sid


def fetch_content(sender: Sender, content_sid: str) -> dict[str, object] | None:
    """A content's language and types (``GET /v1/Content/{Sid}``); None when it is gone
    or Twilio cannot be reached."""
    try:
        content = make_client(sender).content.v1.contents(content_sid).fetch()
    except (TwilioRestException, TwilioServiceException) as exc:
        log.warning("content API fetch failed: http=%s code=%s", exc.status, exc.code)
        return None
    except (requests.exceptions.RequestException, ValueError) as exc:
        log.warning("content API unreachable: %s", type(exc).__name__)
        return None
    return {"sid": content.sid, "language": content.language, "types": content.types}


def validate_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Check X-Twilio-Signature for a webhook request.

    `url` must be the public URL Twilio called (scheme and host included), not
    the one seen behind a TLS-terminating proxy. `params` are the POST form
    fields (a dict or a werkzeug MultiDict).
    """
    if not signature or not auth_token:
        return False
    validator = RequestValidator(auth_token)
    parsed = urllib.parse.urlparse(url)
    # As twilio's RequestValidator.validate: the URL without its port, then with
    # it (Twilio signs either); but one HMAC when the first one matches.
    for candidate in (remove_port(parsed), add_port(parsed)):
        computed = validator.compute_signature(candidate, params)
        if hmac.compare_digest(computed.encode(), signature.encode()):
            return True
    return False


def compute_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Sign a webhook request as Twilio does (for the simulator and tests)."""
    return RequestValidator(auth_token).compute_signature(url, params)


def twiml_reply(messages: Sequence[tuple[str, Sequence[str]]]) -> str:
    """Build TwiML that replies with one <Message> per (body, media URLs) pair.

    An empty list gives an empty <Response/>: Twilio then sends nothing.
    """
    response = MessagingResponse()
    for body, media_urls in messages:
        message = Message()
        if body:
            message.body(body)
        for url in media_urls:
            message.media(url)
        response.append(message)
    return str(response)


def find_sent(
    sender: Sender,
    to: str,
    since: datetime,
    body: str | None,
    skip: Collection[str] = (),
) -> dict[str, str] | None:
    """A message Twilio has to ``to``, created since ``since`` (with this body, if known).

    Used to settle a send whose fate is unknown before anything is sent again.
    ``skip`` are SIDs already recorded for other messages: two broadcasts with the
    same text to one person must not take each other's message. Raises on API
    errors, so the caller leaves the question for later.
    """
    client = make_client(sender)
    messages = client.api.v2010.accounts(sender.account_sid).messages.list(
        to=to, date_sent_after=since - timedelta(days=1), limit=50
    )
    earliest = since - timedelta(seconds=60)  # clock skew between us and Twilio
    for found in messages:
        if found.date_created is not None and found.date_created < earliest:
            continue
        if body and found.body and found.body != body:
            continue
        if found.sid in skip:
            continue
        return {"sid": found.sid, "status": found.status}
    return None


# --- media a contact sent (MediaUrl{i}) ------------------------------------------

TWILIO_API = "https://api.twilio.com"
_MEDIA_PATH = re.compile(
    r"/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages/([SM]M[0-9a-fA-F]{32})"
    r"/Media/(ME[0-9a-fA-F]{32})"
)
_MEDIA_CHUNK = 64 * 1024


@dataclass(frozen=True)
class MediaFile:
    """What fetching one media URL gave: its bytes, or why not."""

    content: bytes | None
    content_type: str | None
    too_large: bool = False
    error: str | None = None  # why there is no content
    retryable: bool = False  # a failure worth trying again (HTTP 5xx or 429, connection)


def media_ids(sender: Sender, url: str) -> tuple[str, str, str] | None:
    """(account, message, media) SIDs of a media URL of this account at its API; else None.

    Puente's credentials go only to Twilio's own API (or the configured fake),
    never to whatever host a webhook names.
    """
    base = (sender.api_url or TWILIO_API).rstrip("/")
    if not url.startswith(base + "/"):
        return None
    match = _MEDIA_PATH.fullmatch(url[len(base) :])
    if match is None or match.group(1) != sender.account_sid:
        return None
    return match.group(1), match.group(2), match.group(3)


def fetch_media(sender: Sender, url: str, max_bytes: int) -> MediaFile:
    """Download a media file with the account's Basic auth, at most ``max_bytes``.

    Twilio answers with a redirect to its file store; requests follows it and
    drops the credentials for the other host. The body is streamed and reading
    stops past the cap.
    """
    if media_ids(sender, url) is None:
        return MediaFile(None, None, error="not a media URL of this Twilio account")
    auth = (sender.account_sid, sender.auth_token)
    try:
        with requests.get(url, auth=auth, stream=True, timeout=sender.timeout_s) as response:
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            code = response.status_code
            if code != 200:
                again = code >= 500 or code == 429
                return MediaFile(None, content_type, error=f"HTTP {code}", retryable=again)
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > max_bytes:
                return MediaFile(None, content_type, too_large=True)
            chunks, total = [], 0
            for chunk in response.iter_content(_MEDIA_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    return MediaFile(None, content_type, too_large=True)
                chunks.append(chunk)
    except requests.exceptions.RequestException as exc:
        return MediaFile(None, None, error=type(exc).__name__, retryable=True)
    return MediaFile(b"".join(chunks), content_type)


def delete_media(sender: Sender, url: str) -> bool:
    """Delete a media file from Twilio, so no copy stays there; True once it is gone."""
    ids = media_ids(sender, url)
    if ids is None:
        return False
    account, message, media = ids
    client = make_client(sender)
    try:
        client.api.v2010.accounts(account).messages(message).media(media).delete()
    except TwilioRestException as exc:
        if exc.status == 404:  # gone already
            return True
        log.warning("could not delete a media file from Twilio (HTTP %s)", exc.status)
        return False
    except requests.exceptions.RequestException as exc:
        log.warning("could not delete a media file from Twilio (%s)", type(exc).__name__)
        return False
    return True
