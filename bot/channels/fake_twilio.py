"""A local fake of Twilio's Messages API and of the Content API's contents.

The real twilio-python client talks to it when `Sender.api_url` points here,
so development and tests exercise the same code path as production. It is:

- the developer's local outbox (the browser simulator reads GET /_fake/outbox);
- the tests' way to see what was sent, to inject errors and to count rates.

Twilio's API (form-encoded, HTTP Basic auth, Twilio-shaped JSON):

    POST /2010-04-01/Accounts/<AccountSid>/Messages.json
    GET  /2010-04-01/Accounts/<AccountSid>/Messages.json?To=...&PageSize=...
    GET  /2010-04-01/Accounts/<AccountSid>/Messages/<Sid>.json
    POST /v1/Content           (JSON) a content: WhatsApp buttons or a list, and its text
    GET  /v1/Content/<Sid>
    GET  /2010-04-01/Accounts/<AccountSid>/Messages/<Sid>/Media/<MediaSid>   (auth) a redirect
         to the file, as Twilio's to its file store
    DELETE /2010-04-01/Accounts/<AccountSid>/Messages/<Sid>/Media/<MediaSid>.json   (then 404)

Test and simulator controls (JSON, no auth):

    POST   /_fake/rules    {"to": "+15550001111" | "*", "code": 21610,
                            "http_status": 400, "times": 1 | null,
                            "stage": "api" | "delivery"}
    DELETE /_fake/rules
    GET    /_fake/outbox   sent messages, oldest first
    DELETE /_fake/outbox
    GET    /_fake/stats    per sender: count and most messages in one second; 429s
    POST   /_fake/callbacks/deliver   send queued status callbacks now

Media that inbound test messages point at are added with `FakeTwilio.add_media`
(their MediaUrl); `fail_media(times)` makes the next fetches answer 500.

A rule with stage "api" (the default) fails the API request itself; with
stage "delivery" the API accepts the message and the status callbacks report
the failure with ErrorCode, as Twilio does for carrier errors (30003, 30006).
A rule whose "to" is "content" fails the next content creations instead (a "*"
rule never does). A message sent with the ContentSid of a content made here
carries that content in the outbox (``content``), for the simulator.

Run it for the simulator:  python -m bot.channels.fake_twilio --port 5001
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bot.channels.twilio import compute_signature
from bot.exceptions import PuenteError
from bot.text import sms_segments

API_VERSION = "2010-04-01"
ACCOUNT_PATH = f"/{API_VERSION}/Accounts/<account_sid>"

_MG_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_HX_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")

# Error texts close to Twilio's; unknown codes get a generic one.
ERROR_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "The 'To' number is not a valid phone number.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages",
    21614: "'To' number is not a valid mobile number",
    21619: "A text message body, media URL or content SID is required.",
    21654: "A ContentSid must be specified if ContentVariables are provided.",
    21655: "The ContentSid is invalid.",
    21656: "The ContentVariables Parameter is invalid.",
    21705: "The Messaging Service is invalid.",
    21910: "Invalid From and To pair. From and To should be of the same channel.",
    30001: "Queue overflow",
    30003: "Unreachable destination handset",
    30006: "Landline or unreachable carrier",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
    63018: "Rate limit exceeded for Channel",
    63038: "Account exceeded the daily messages limit",
}


def count_segments(body: str) -> int:
    """SMS segments Twilio would report for `body` (at least 1, as for media only)."""
    return max(sms_segments(body).segments, 1)


@dataclass
class Rule:
    """An injected failure for sends to one number ("*" = every number)."""

    to: str
    code: int
    http_status: int = 400
    times: int | None = 1  # None = always
    stage: str = "api"  # "api": the request fails; "delivery": the callbacks report it
    status: str = "failed"  # final status for stage "delivery": failed or undelivered
    message: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rule:
        """Build a rule from the JSON body of POST /_fake/rules."""
        code = data.get("code")
        http_status = data.get("http_status")
        if code is None and http_status == 429:
            code = 20429
        if code is None:
            raise ValueError("a rule needs 'code' (or http_status 429)")
        if http_status is None:
            http_status = 429 if int(code) == 20429 else 400
        stage = data.get("stage", "api")
        if stage not in ("api", "delivery"):
            raise ValueError("'stage' must be 'api' or 'delivery'")
        times = data.get("times", 1)
        return cls(
            to=str(data.get("to", "*")),
            code=int(code),
            http_status=int(http_status),
            times=None if times is None else int(times),
            stage=stage,
            status=str(data.get("status", "failed")),
            message=data.get("message"),
        )

    def matches(self, to: str) -> bool:
        """True when this rule applies to a send to `to`."""
        return self.to in ("*", to) and (self.times is None or self.times > 0)


@dataclass
class Callback:
    """One status callback waiting to be POSTed."""

    url: str
    params: dict[str, str]
    auth_token: str


class ApiError(PuenteError):
    """A Twilio-shaped error answer."""

    def __init__(self, code: int, http_status: int = 400, message: str | None = None) -> None:
        super().__init__(code, http_status, message)
        self.code = code
        self.http_status = http_status
        self.message = message or ERROR_MESSAGES.get(code, f"Error {code}")

    def response(self) -> Response:
        """Return the error as Twilio's JSON body."""
        body = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.http_status,
        }
        resp = jsonify(body)
        resp.status_code = self.http_status
        if self.http_status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return resp


class FakeTwilio:
    """The fake's in-memory state; every public method is thread-safe."""

    def __init__(
        self,
        auth_token: str | None = None,
        latency_s: float = 0.0,
        rate_per_s: int | None = None,
        callbacks: bool = False,
    ) -> None:
        self.auth_token = auth_token  # None: any token is accepted (but one is required)
        self.latency_s = latency_s
        self.rate_per_s = rate_per_s
        self.callbacks = callbacks
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.rules: list[Rule] = []
        self.sent_times: dict[str, list[float]] = {}  # time.monotonic(), per sender
        self.throttled = 0  # answers with HTTP 429
        self.errors: Counter[int] = Counter()  # injected errors by code
        self.pending: queue.Queue[Callback] = queue.Queue()
        self.contents: dict[str, dict[str, Any]] = {}  # sid -> the Content resource
        self._stop = threading.Event()
        self.media: dict[tuple[str, str, str], tuple[str, bytes]] = {}  # (AC, MM, ME) → file
        self.media_failures = 0  # the next media fetches that answer 500

    # -- sending -----------------------------------------------------------

    def create_message(self, account_sid: str, auth_token: str, form: Any) -> dict[str, Any]:
        """Validate a CreateMessage form, apply limits and rules, store the message."""
        params = _read_form(form)
        _validate(params)
        sender = params["from"] or params["messaging_service_sid"]
        with self.lock:
            now = time.monotonic()
            if self._over_rate(sender, now):
                self.throttled += 1
                raise ApiError(20429, 429)
            rule = self._take_rule(params["to"])
            if rule is not None and rule.stage == "api":
                self.errors[rule.code] += 1
                if rule.http_status == 429:
                    self.throttled += 1
                raise ApiError(rule.code, rule.http_status, rule.message)
            message = _new_message(account_sid, params)
            known = self.contents.get(params["content_sid"] or "")
            message["content"] = known["types"] if known else None
            self.messages.append(message)
            self.sent_times.setdefault(sender, []).append(now)
            if rule is not None:
                self.errors[rule.code] += 1
                if not (self.callbacks and message["status_callback"]):
                    _fail(message, rule)  # no callbacks to carry the failure
        self._queue_callbacks(message, auth_token, rule)
        return dict(message)

    def create_content(self, account_sid: str, body: Any) -> dict[str, Any]:
        """Validate a content (its WhatsApp limits too) and keep it, or the injected failure."""
        with self.lock:
            rule = next((r for r in self.rules if r.to == "content" and r.matches("content")), None)
            if rule is not None:
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self.rules.remove(rule)
                self.errors[rule.code] += 1
                raise ApiError(rule.code, rule.http_status, rule.message)
        _validate_content(body)
        content = _new_content(account_sid, body)
        with self.lock:
            self.contents[content["sid"]] = content
        return dict(content)

    def find_content(self, sid: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.contents.get(sid)
            return dict(found) if found else None

    def _over_rate(self, sender: str, now: float) -> bool:
        """True when `sender` already sent rate_per_s messages in the last second."""
        if not self.rate_per_s:
            return False
        recent = [t for t in self.sent_times.get(sender, []) if now - t < 1.0]
        return len(recent) >= self.rate_per_s

    def _take_rule(self, to: str) -> Rule | None:
        """Find the first matching rule and use up one of its times."""
        for rule in self.rules:
            if rule.matches(to):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self.rules.remove(rule)
                return rule
        return None

    # -- status callbacks --------------------------------------------------

    def _queue_callbacks(self, message: dict[str, Any], auth_token: str, rule: Rule | None) -> None:
        """Queue sent/delivered (or the injected failure) for the message's StatusCallback."""
        url = message["status_callback"]
        if not (self.callbacks and url):
            return
        if rule is not None:  # a "delivery" rule
            statuses = ["sent", rule.status] if rule.status == "undelivered" else [rule.status]
        else:
            statuses = ["sent", "delivered"]
            if message["to"].startswith("whatsapp:"):
                statuses.append("read")
        for status in statuses:
            params = _callback_params(message, status, rule if status == statuses[-1] else None)
            self.pending.put(Callback(url, params, auth_token))

    def deliver_callbacks(self) -> list[tuple[str, int]]:
        """POST every queued callback now, in order; return (status, HTTP status) pairs."""
        delivered = []
        while True:
            try:
                callback = self.pending.get_nowait()
            except queue.Empty:
                return delivered
            delivered.append((callback.params["MessageStatus"], self._post_callback(callback)))

    def _post_callback(self, callback: Callback) -> int:
        """POST one signed callback and record the new status; return the HTTP status."""
        self._set_status(callback.params)
        signature = compute_signature(callback.auth_token, callback.url, callback.params)
        req = urllib.request.Request(
            callback.url,
            data=urllib.parse.urlencode(callback.params).encode(),
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1 (puente fake)",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code
        except OSError:
            return 0

    def _set_status(self, params: dict[str, str]) -> None:
        """Move the stored message to the status a callback reports."""
        with self.lock:
            for message in self.messages:
                if message["sid"] == params["MessageSid"]:
                    message["status"] = params["MessageStatus"]
                    message["date_updated"] = formatdate(usegmt=True)
                    if "ErrorCode" in params:
                        message["error_code"] = int(params["ErrorCode"])
                        message["error_message"] = ERROR_MESSAGES.get(message["error_code"])

    def start_callback_worker(self) -> threading.Thread:
        """Deliver queued callbacks from a daemon thread until `stop()`."""
        thread = threading.Thread(target=self._callback_loop, name="fake-twilio-callbacks")
        thread.daemon = True
        thread.start()
        return thread

    def _callback_loop(self) -> None:
        while not self._stop.is_set():
            try:
                callback = self.pending.get(timeout=0.1)
            except queue.Empty:
                continue
            self._post_callback(callback)

    def stop(self) -> None:
        """Stop the callback worker."""
        self._stop.set()

    # -- reading -----------------------------------------------------------

    def outbox(self) -> list[dict[str, Any]]:
        """Every accepted message, oldest first (copies)."""
        with self.lock:
            return [dict(m) for m in self.messages]

    def find(self, sid: str) -> dict[str, Any] | None:
        """The stored message with this SID, or None."""
        with self.lock:
            return next((dict(m) for m in self.messages if m["sid"] == sid), None)

    def stats(self) -> dict[str, Any]:
        """Count and busiest one-second window per sender, 429s and injected errors."""
        with self.lock:
            senders = {
                sender: {"count": len(times), "max_per_second": max_in_window(times, 1.0)}
                for sender, times in self.sent_times.items()
            }
            return {
                "total": len(self.messages),
                "senders": senders,
                "throttled": self.throttled,
                "errors": {str(code): n for code, n in self.errors.items()},
            }

    # -- controls ----------------------------------------------------------

    def add_rule(self, rule: Rule) -> None:
        """Inject a failure."""
        with self.lock:
            self.rules.append(rule)

    def clear_rules(self) -> None:
        """Remove every injected failure."""
        with self.lock:
            self.rules.clear()

    def clear_contents(self) -> None:
        """Forget the contents made (as a new Twilio account would have none)."""
        with self.lock:
            self.contents.clear()

    # -- media a contact sent ------------------------------------------------

    def add_media(self, account_sid: str, message_sid: str, content_type: str, data: bytes) -> str:
        """Keep a file as if a contact had sent it; returns its path (the MediaUrl's)."""
        media_sid = "ME" + secrets.token_hex(16)
        with self.lock:
            self.media[(account_sid, message_sid, media_sid)] = (content_type, data)
        return f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}"

    def take_media(self, key: tuple[str, str, str]) -> tuple[str, bytes]:
        """The file at ``key``; raises ApiError (404, or an injected 500)."""
        with self.lock:
            if self.media_failures > 0:
                self.media_failures -= 1
                raise ApiError(20500, 500, "Internal Server Error")
            found = self.media.get(key)
        if found is None:
            raise ApiError(20404, 404)
        return found

    def delete_media(self, key: tuple[str, str, str]) -> None:
        with self.lock:
            if self.media.pop(key, None) is None:
                raise ApiError(20404, 404)

    def fail_media(self, times: int) -> None:
        with self.lock:
            self.media_failures = times

    def clear_outbox(self) -> None:
        """Forget sent messages, rate windows and counters."""
        with self.lock:
            self.messages.clear()
            self.sent_times.clear()
            self.throttled = 0
            self.errors.clear()
            self.media.clear()
            self.media_failures = 0


def max_in_window(times: list[float], window_s: float) -> int:
    """Most timestamps (sorted) that fall within any `window_s`-long window."""
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def _read_form(form: Any) -> dict[str, Any]:
    """The CreateMessage parameters the fake cares about."""
    return {
        "to": form.get("To", ""),
        "from": form.get("From") or None,
        "messaging_service_sid": form.get("MessagingServiceSid") or None,
        "body": form.get("Body", ""),
        "media_urls": form.getlist("MediaUrl"),
        "content_sid": form.get("ContentSid") or None,
        "content_variables": form.get("ContentVariables") or None,
        "status_callback": form.get("StatusCallback") or None,
    }


def _validate(p: dict[str, Any]) -> None:
    """Twilio's conditional rules, which the OpenAPI spec cannot express."""
    if not p["to"]:
        raise ApiError(21604)
    if not (p["from"] or p["messaging_service_sid"]):
        raise ApiError(21603)
    if p["messaging_service_sid"] and not _MG_SID.match(p["messaging_service_sid"]):
        raise ApiError(21705)
    if not (p["body"] or p["media_urls"] or p["content_sid"]):
        raise ApiError(21619)
    if p["content_sid"] and not _HX_SID.match(p["content_sid"]):
        raise ApiError(21655)
    if p["content_variables"]:
        if not p["content_sid"]:
            raise ApiError(21654)
        try:
            variables = json.loads(p["content_variables"])
        except ValueError:
            variables = None
        if not isinstance(variables, dict):
            raise ApiError(21656)
    if p["from"] and p["to"].startswith("whatsapp:") != p["from"].startswith("whatsapp:"):
        raise ApiError(21910)


_CONTENT_ERROR = 21655  # no content-specific code is documented here; the ContentSid one


def _validate_content(body: Any) -> None:
    """What the Content API and WhatsApp refuse in the contents Puente makes."""
    if not isinstance(body, dict) or not body.get("language") or not body.get("types"):
        raise ApiError(_CONTENT_ERROR, 400, "a content needs 'language' and 'types'")
    types = body["types"]
    quick = types.get("twilio/quick-reply")
    if quick is not None:
        actions = quick.get("actions") or []
        if not 0 < len(actions) <= 3 or any(len(a.get("title", "")) > 20 for a in actions):
            raise ApiError(_CONTENT_ERROR, 400, "quick replies: 1 to 3 buttons of 20 characters")
    picker = types.get("twilio/list-picker")
    if picker is not None:
        items = picker.get("items") or []
        too_long = any(len(i.get("item", "")) > 24 for i in items)
        if not 0 < len(items) <= 10 or too_long or len(picker.get("button", "")) > 20:
            raise ApiError(_CONTENT_ERROR, 400, "a list: 1 to 10 rows of 24 characters")


def _new_content(account_sid: str, body: dict[str, Any]) -> dict[str, Any]:
    """The Content resource (content.v1.content) for a created content."""
    sid = "HX" + secrets.token_hex(16)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "sid": sid,
        "account_sid": account_sid,
        "friendly_name": body.get("friendly_name"),
        "language": body["language"],
        "variables": body.get("variables") or {},
        "types": body["types"],
        "url": f"https://content.twilio.com/v1/Content/{sid}",
        "links": {},
        "date_created": now,
        "date_updated": now,
    }


def _new_message(account_sid: str, p: dict[str, Any]) -> dict[str, Any]:
    """A stored message: Twilio's resource fields plus what the simulator shows."""
    sid = "SM" + secrets.token_hex(16)
    now = formatdate(usegmt=True)
    return {
        "sid": sid,
        "account_sid": account_sid,
        "to": p["to"],
        "from": p["from"],
        "messaging_service_sid": p["messaging_service_sid"],
        "body": p["body"],
        "media_urls": p["media_urls"],
        "content_sid": p["content_sid"],
        "content_variables": json.loads(p["content_variables"] or "null"),
        "status_callback": p["status_callback"],
        "status": "accepted" if p["messaging_service_sid"] and not p["from"] else "queued",
        "error_code": None,
        "error_message": None,
        "num_segments": str(count_segments(p["body"])),
        "num_media": str(len(p["media_urls"])),
        "date_created": now,
        "date_updated": now,
        "time": time.time(),
    }


def resource(m: dict[str, Any]) -> dict[str, Any]:
    """Twilio's Message resource JSON (api.v2010.account.message) for a stored message."""
    uri = f"/{API_VERSION}/Accounts/{m['account_sid']}/Messages/{m['sid']}"
    return {
        "account_sid": m["account_sid"],
        "api_version": API_VERSION,
        "body": m["body"],
        "date_created": m["date_created"],
        "date_sent": None,
        "date_updated": m["date_updated"],
        "direction": "outbound-api",
        "error_code": m["error_code"],
        "error_message": m["error_message"],
        "from": m["from"],
        "messaging_service_sid": m["messaging_service_sid"],
        "num_media": m["num_media"],
        "num_segments": m["num_segments"],
        "price": None,
        "price_unit": "USD",
        "sid": m["sid"],
        "status": m["status"],
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": m["to"],
        "uri": f"{uri}.json",
    }


def _fail(message: dict[str, Any], rule: Rule) -> None:
    """Give a stored message the final status and error of a "delivery" rule."""
    message["status"] = rule.status
    message["error_code"] = rule.code
    message["error_message"] = rule.message or ERROR_MESSAGES.get(rule.code, f"Error {rule.code}")


def _callback_params(m: dict[str, Any], status: str, rule: Rule | None) -> dict[str, str]:
    """Form fields of a status callback, as Twilio posts them."""
    params = {
        "AccountSid": m["account_sid"],
        "ApiVersion": API_VERSION,
        "MessageSid": m["sid"],
        "SmsSid": m["sid"],
        "MessageStatus": status,
        "SmsStatus": status,
        "To": m["to"],
    }
    if m["from"]:
        params["From"] = m["from"]
    if m["messaging_service_sid"]:
        params["MessagingServiceSid"] = m["messaging_service_sid"]
    if rule is not None:
        params["ErrorCode"] = str(rule.code)
    return params


def _check_auth(fake: FakeTwilio, account_sid: str) -> str:
    """Require HTTP Basic auth for `account_sid`; return the token used."""
    auth = request.authorization
    if auth is None or auth.username != account_sid or not auth.password:
        raise ApiError(20003, 401)
    if fake.auth_token is not None and auth.password != fake.auth_token:
        raise ApiError(20003, 401)
    return auth.password


def create_fake_twilio(
    auth_token: str | None = None,
    latency_s: float = 0.0,
    rate_per_s: int | None = None,
    callbacks: bool = False,
    callback_worker: bool = True,
) -> Flask:
    """Build the fake as a Flask app; its state is `fake_state(app)`.

    auth_token: when set, only that token is accepted (any token otherwise).
    latency_s: sleep this long in every API request (benchmarks).
    rate_per_s: per sender; above it in any one second, answer 429 / 20429.
    callbacks: POST signed status callbacks to each message's StatusCallback.
    callback_worker: deliver them from a background thread; when False they
        wait for `fake_state(app).deliver_callbacks()` (deterministic tests).
    """
    fake = FakeTwilio(auth_token, latency_s, rate_per_s, callbacks)
    app = Flask(__name__)
    app.extensions["fake_twilio"] = fake
    if callbacks and callback_worker:
        fake.start_callback_worker()

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return exc.response()

    @app.post(f"{ACCOUNT_PATH}/Messages.json")
    def create(account_sid: str) -> tuple[Response, int]:
        token = _check_auth(fake, account_sid)
        _sleep(fake)
        message = fake.create_message(account_sid, token, request.form)
        return jsonify(resource(message)), 201

    @app.get(f"{ACCOUNT_PATH}/Messages.json")
    def list_messages(account_sid: str) -> Response:
        _check_auth(fake, account_sid)
        _sleep(fake)
        return jsonify(_page(account_sid, fake.outbox()))

    @app.get(f"{ACCOUNT_PATH}/Messages/<sid>.json")
    def fetch(account_sid: str, sid: str) -> Response:
        _check_auth(fake, account_sid)
        _sleep(fake)
        message = fake.find(sid)
        if message is None or message["account_sid"] != account_sid:
            raise ApiError(20404, 404)
        return jsonify(resource(message))

    @app.post("/v1/Content")
    def create_content() -> tuple[Response, int]:
        account_sid = request.authorization.username if request.authorization else ""
        _check_auth(fake, account_sid)
        _sleep(fake)
        content = fake.create_content(account_sid, request.get_json(silent=True))
        return jsonify(content), 201

    @app.get("/v1/Content/<sid>")
    def fetch_content(sid: str) -> Response:
        account_sid = request.authorization.username if request.authorization else ""
        _check_auth(fake, account_sid)
        content = fake.find_content(sid)
        if content is None or content["account_sid"] != account_sid:
            raise ApiError(20404, 404)
        return jsonify(content)

    media_path = f"{ACCOUNT_PATH}/Messages/<sid>/Media/<media_sid>"

    @app.get(media_path)
    def fetch_media(account_sid: str, sid: str, media_sid: str) -> Response:
        """Like Twilio: with auth, a redirect to the file on its file store."""
        _check_auth(fake, account_sid)
        fake.take_media((account_sid, sid, media_sid))
        return redirect(f"/_fake/media/{account_sid}/{sid}/{media_sid}", code=307)

    @app.get("/_fake/media/<account_sid>/<sid>/<media_sid>")
    def media_file(account_sid: str, sid: str, media_sid: str) -> Response:
        """The file store's answer: streamed in chunks, without a Content-Length."""
        content_type, data = fake.take_media((account_sid, sid, media_sid))
        chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
        return Response(chunks, content_type=content_type)

    @app.delete(f"{media_path}.json")
    def delete_media(account_sid: str, sid: str, media_sid: str) -> tuple[str, int]:
        _check_auth(fake, account_sid)
        fake.delete_media((account_sid, sid, media_sid))
        return "", 204

    @app.get("/_fake/outbox")
    def outbox() -> Response:
        return jsonify(fake.outbox())

    @app.delete("/_fake/outbox")
    def clear_outbox() -> tuple[str, int]:
        fake.clear_outbox()
        return "", 204

    @app.post("/_fake/rules")
    def add_rule() -> tuple[Response, int]:
        try:
            rule = Rule.from_json(request.get_json(force=True))
        except (TypeError, ValueError) as exc:
            return jsonify({"error": str(exc)}), 400
        fake.add_rule(rule)
        return jsonify(vars(rule)), 201

    @app.delete("/_fake/rules")
    def clear_rules() -> tuple[str, int]:
        fake.clear_rules()
        return "", 204

    @app.get("/_fake/stats")
    def stats() -> Response:
        return jsonify(fake.stats())

    @app.post("/_fake/callbacks/deliver")
    def deliver() -> Response:
        return jsonify([{"status": s, "http_status": h} for s, h in fake.deliver_callbacks()])

    return app


def fake_state(app: Flask) -> FakeTwilio:
    """The FakeTwilio behind an app made by `create_fake_twilio`."""
    return app.extensions["fake_twilio"]


def _sleep(fake: FakeTwilio) -> None:
    if fake.latency_s:
        time.sleep(fake.latency_s)


def _page(account_sid: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of the Messages list, newest first like Twilio, filtered by To."""
    to = request.args.get("To")
    if to:
        messages = [m for m in messages if m["to"] == to]
    page_size = min(max(request.args.get("PageSize", 50, type=int) or 50, 1), 1000)
    selected = list(reversed(messages))[:page_size]
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
    query = urllib.parse.urlencode({k: v for k, v in request.args.items() if k != "Page"})
    return {
        "messages": [resource(m) for m in selected],
        "end": max(len(selected) - 1, 0),
        "first_page_uri": f"{uri}?{query}&Page=0",
        "next_page_uri": None,
        "page": 0,
        "page_size": page_size,
        "previous_page_uri": None,
        "start": 0,
        "uri": f"{uri}?{query}",
    }


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request (tests, benchmarks)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def run_fake_twilio(
    host: str = "127.0.0.1", port: int = 0, quiet: bool = True, **kwargs: Any
) -> tuple[BaseWSGIServer, threading.Thread, str]:
    """Serve the fake on a threaded werkzeug server in a daemon thread.

    Port 0 picks a free port. Returns (server, thread, base_url); the state is
    `fake_state(server.app)`. Stop with `stop_fake_twilio(server, thread)`.
    `kwargs` go to `create_fake_twilio`.
    """
    app = create_fake_twilio(**kwargs)
    handler = _QuietHandler if quiet else None
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},  # quick shutdown in tests
        name="fake-twilio",
        daemon=True,
    )
    thread.start()
    return server, thread, f"http://{host}:{server.server_port}"


def stop_fake_twilio(server: BaseWSGIServer, thread: threading.Thread) -> None:
    """Stop a server started by `run_fake_twilio` and its callback worker."""
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()
    fake_state(server.app).stop()


def main(argv: list[str] | None = None) -> None:
    """Command line: python -m bot.channels.fake_twilio --port 5001."""
    parser = argparse.ArgumentParser(description="Local fake of Twilio's Messages API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--auth-token", default=None, help="accept only this token")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per API request")
    parser.add_argument("--rate", type=int, default=None, help="messages/s per sender")
    parser.add_argument("--callbacks", action="store_true", help="POST status callbacks")
    args = parser.parse_args(argv)
    app = create_fake_twilio(args.auth_token, args.latency, args.rate, args.callbacks)
    server = make_server(args.host, args.port, app, threaded=True)
    print(
        f"fake Twilio on http://{args.host}:{server.server_port} (outbox: /_fake/outbox)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        fake_state(app).stop()


if __name__ == "__main__":
    main()
