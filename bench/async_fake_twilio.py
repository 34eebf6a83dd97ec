"""A fake of Twilio's Messages API on one asyncio event loop, for send-rate benchmarks.

    .venv/bin/python bench/async_fake_twilio.py --port 5001 --latency 0.2 --rate 1000

The werkzeug fake (bot.channels.fake_twilio) spends a thread per request: at
1,000 requests/s with 200 ms latency that is ~200 sleeping threads plus
Flask's per-request work on a 2-core machine. This one answers from a single
event loop (asyncio.Protocol, no dependencies), so hundreds of requests can
wait out their latency at once for almost no CPU. It reuses the real fake's
message shape (``resource``) so twilio-python parses its 201 answers, and its
error JSON for 429 / 20429.

What it speaks (HTTP/1.1, keep-alive, Basic auth with the account SID):

    POST /2010-04-01/Accounts/<sid>/Messages.json        201 + Message JSON, or 429
    GET  /2010-04-01/Accounts/<sid>/Messages.json?To=…   a page (reconcile's lookups)
    GET  /2010-04-01/Accounts/<sid>/Messages/<Sid>.json  one message

Controls (JSON):

    POST /_fake/reset   {"rate_per_s": 1000 | null, "latency_s": 0.2}: forget everything
    GET  /_fake/stats   per sender: count, busiest one-second window; 429s; loop lag
    GET  /_fake/times   receive timestamps (time.monotonic) of accepted and refused sends

Timestamps are taken when the whole request has been read, before the
latency: that is the moment Twilio would count the message against the
sender's rate. The per-sender limit is the real fake's: a sliding window of
one second holding at most ``rate_per_s`` accepted messages; one more is
refused with 429 / 20429 (and still counted in "all requests").
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import gc
import json
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.channels.fake_twilio import (  # noqa: E402
    API_VERSION,
    ERROR_MESSAGES,
    _new_message,
    resource,
)

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
}
_PREFIX = f"/{API_VERSION}/Accounts/"


class State:
    """Everything the fake knows; touched only from the event loop (no locks)."""

    def __init__(self, rate_per_s: int | None, latency_s: float) -> None:
        self.reset(rate_per_s, latency_s)

    def reset(self, rate_per_s: int | None, latency_s: float) -> None:
        self.rate_per_s = rate_per_s
        self.latency_s = latency_s
        self.windows: dict[str, collections.deque[float]] = {}  # last second, per sender
        self.times: dict[str, list[float]] = {}  # accepted, per sender
        self.refused: dict[str, list[float]] = {}  # 429s, per sender
        self.max_per_second: dict[str, int] = {}
        self.throttled = 0
        self.messages: dict[str, dict[str, Any]] = {}  # by SID
        self.by_to: dict[str, list[str]] = {}
        self.lag_max = 0.0
        self.lag_samples: list[float] = []

    def admit(self, sender: str, now: float) -> bool:
        """Count a send against the sender's last second; False (429) when it is full."""
        window = self.windows.setdefault(sender, collections.deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if self.rate_per_s and len(window) >= self.rate_per_s:
            self.throttled += 1
            self.refused.setdefault(sender, []).append(now)
            return False
        window.append(now)
        self.times.setdefault(sender, []).append(now)
        if len(window) > self.max_per_second.get(sender, 0):
            self.max_per_second[sender] = len(window)
        return True

    def stats(self) -> dict[str, Any]:
        lags = sorted(self.lag_samples)
        return {
            "total": len(self.messages),
            "senders": {
                s: {"count": len(t), "max_per_second": self.max_per_second.get(s, 0)}
                for s, t in self.times.items()
            },
            "throttled": self.throttled,
            "rate_per_s": self.rate_per_s,
            "latency_s": self.latency_s,
            "loop_lag_ms": {
                "max": round(self.lag_max * 1000, 1),
                "p99": round(lags[int(len(lags) * 0.99)] * 1000, 1) if lags else 0.0,
            },
        }


def _error(code: int, status: int) -> tuple[int, dict[str, Any]]:
    return status, {
        "code": code,
        "message": ERROR_MESSAGES.get(code, f"Error {code}"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class Handler(asyncio.Protocol):
    """One keep-alive connection: read a request, answer it after the latency, repeat."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.buffer = bytearray()
        self.busy = False  # an answer is waiting out its latency
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        """Handle the next complete request in the buffer, if there is one."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        method, target, _version = head[0].split(" ", 2)
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        now = time.monotonic()
        status, payload, delay = self.route(method, target, headers, body, now)
        close = headers.get("connection", "").lower() == "close"
        self.busy = True
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._answer, status, payload, close)
        else:
            self._answer(status, payload, close)

    def _answer(self, status: int, payload: Any, close: bool) -> None:
        self.busy = False
        if self.transport is None:
            return
        data = b"" if payload is None else json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        self.transport.write(head.encode() + data)
        if close:
            self.transport.close()
            return
        if self.buffer:
            self._next()

    def route(
        self, method: str, target: str, headers: dict[str, str], body: bytes, now: float
    ) -> tuple[int, Any, float]:
        """(HTTP status, JSON payload, seconds to wait before answering)."""
        state = self.state
        path, _, query = target.partition("?")
        if path.startswith("/_fake/"):
            return self.control(method, path, body)
        if not path.startswith(_PREFIX):
            return (*_error(20404, 404), 0.0)
        account, _, rest = path[len(_PREFIX) :].partition("/")
        if not _authorized(headers.get("authorization", ""), account):
            return (*_error(20003, 401), state.latency_s)
        if method == "POST" and rest == "Messages.json":
            form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
            params = {
                "to": _one(form, "To"),
                "from": _one(form, "From") or None,
                "messaging_service_sid": _one(form, "MessagingServiceSid") or None,
                "body": _one(form, "Body"),
                "media_urls": form.get("MediaUrl", []),
                "content_sid": _one(form, "ContentSid") or None,
                "content_variables": _one(form, "ContentVariables") or None,
                "status_callback": _one(form, "StatusCallback") or None,
            }
            if not params["to"]:
                return (*_error(21604, 400), state.latency_s)
            sender = params["from"] or params["messaging_service_sid"]
            if not sender:
                return (*_error(21603, 400), state.latency_s)
            if not state.admit(sender, now):
                return (*_error(20429, 429), state.latency_s)
            message = _new_message(account, params)
            state.messages[message["sid"]] = message
            state.by_to.setdefault(params["to"], []).append(message["sid"])
            return 201, resource(message), state.latency_s
        if method == "GET" and rest == "Messages.json":
            to = _one(urllib.parse.parse_qs(query), "To")
            sids = state.by_to.get(to, []) if to else list(state.messages)
            page = [resource(state.messages[s]) for s in reversed(sids[-50:])]
            uri = f"{_PREFIX}{account}/Messages.json"
            return (
                200,
                {
                    "messages": page,
                    "end": max(len(page) - 1, 0),
                    "page": 0,
                    "page_size": 50,
                    "start": 0,
                    "first_page_uri": uri,
                    "uri": uri,
                    "next_page_uri": None,
                    "previous_page_uri": None,
                },
                state.latency_s,
            )
        if method == "GET" and rest.startswith("Messages/") and rest.endswith(".json"):
            message = state.messages.get(rest[len("Messages/") : -len(".json")])
            if message is None or message["account_sid"] != account:
                return (*_error(20404, 404), state.latency_s)
            return 200, resource(message), state.latency_s
        return (*_error(20404, 404), 0.0)

    def control(self, method: str, path: str, body: bytes) -> tuple[int, Any, float]:
        state = self.state
        if method == "POST" and path == "/_fake/reset":
            options = json.loads(body or b"{}")
            state.reset(options.get("rate_per_s"), float(options.get("latency_s", state.latency_s)))
            return 200, state.stats(), 0.0
        if method == "GET" and path == "/_fake/stats":
            return 200, state.stats(), 0.0
        if method == "GET" and path == "/_fake/times":
            return 200, {"accepted": state.times, "refused": state.refused}, 0.0
        return (*_error(20404, 404), 0.0)


def _one(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def _authorized(header: str, account: str) -> bool:
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    return user == account and bool(password)


async def _watch_lag(state: State, every_s: float = 0.01) -> None:
    """How late the loop wakes up: the fake's own clock error under load."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + every_s
        await asyncio.sleep(every_s)
        lag = max(loop.time() - due, 0.0)
        state.lag_max = max(state.lag_max, lag)
        state.lag_samples.append(lag)
        if len(state.lag_samples) > 200_000:
            del state.lag_samples[:100_000]


async def serve(host: str, port: int, state: State) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Handler(state), host, port, backlog=4096)
    watcher = asyncio.create_task(_watch_lag(state))
    print(f"async fake Twilio on http://{host}:{port}", flush=True)
    try:
        async with server:
            await server.serve_forever()
    finally:
        watcher.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per API request")
    parser.add_argument("--rate", type=int, default=None, help="messages/s per sender")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        # Its timestamps are the measurement: a garbage collection pass over the
        # tens of thousands of messages it keeps stalled it for ~70 ms, and the
        # requests read after the stall were stamped together, as if sent so.
        gc.disable()
        asyncio.run(serve(args.host, args.port, State(args.rate, args.latency)))


if __name__ == "__main__":
    main()
