"""bot.channels.fake_twilio: the local fake of Twilio's Messages API."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import pytest
import yaml
from flask import Flask, request
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from bot.channels import fake_twilio, twilio
from bot.channels.fake_twilio import (
    FakeTwilio,
    count_segments,
    create_fake_twilio,
    fake_state,
    max_in_window,
    run_fake_twilio,
    stop_fake_twilio,
)
from tests.channels.twilio_cases import ACCOUNT_SID, MX_WA, SMS_FROM, TOKEN, US, WA_FROM
from tests.paths import CONTRACT, ROOT

MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
SPEC = CONTRACT / "twilio_api_v2010.yaml"


def basic(user: str = ACCOUNT_SID, password: str = TOKEN) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def app() -> Flask:
    return create_fake_twilio(auth_token=TOKEN)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def post(client: FlaskClient, **form: object):
    data = {"To": US, "From": SMS_FROM, "Body": "Hola"} | form
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(MESSAGES, data=data, headers=basic())


# -- auth -------------------------------------------------------------------


def test_requires_basic_auth(client: FlaskClient) -> None:
    resp = client.post(MESSAGES, data={"To": US, "From": SMS_FROM, "Body": "x"})
    assert resp.status_code == 401
    assert resp.json["code"] == 20003 and resp.json["status"] == 401
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get(MESSAGES).status_code == 401


def test_rejects_wrong_token_and_other_account(client: FlaskClient) -> None:
    form = {"To": US, "From": SMS_FROM, "Body": "x"}
    assert client.post(MESSAGES, data=form, headers=basic(password="nope")).status_code == 401
    other = "AC" + "9" * 32
    assert client.post(MESSAGES, data=form, headers=basic(user=other)).status_code == 401


def test_any_token_when_none_configured() -> None:
    client = create_fake_twilio().test_client()
    resp = client.post(
        MESSAGES, data={"To": US, "From": SMS_FROM, "Body": "x"}, headers=basic(password="any")
    )
    assert resp.status_code == 201


# -- create -----------------------------------------------------------------


def test_create_returns_a_message_resource(client: FlaskClient) -> None:
    resp = post(client, Body="¿Vienes mañana?", StatusCallback="https://e.example/s")
    assert resp.status_code == 201
    body = resp.json
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(SPEC.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    schema = spec["components"]["schemas"]["api.v2010.account.message"]
    assert set(body) <= set(schema["properties"])
    assert re.fullmatch(schema["properties"]["sid"]["pattern"], body["sid"])
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert (body["to"], body["from"], body["body"]) == (US, SMS_FROM, "¿Vienes mañana?")
    assert body["status"] == "queued" and body["direction"] == "outbound-api"
    assert body["num_segments"] == "1" and body["num_media"] == "0"
    assert body["account_sid"] == ACCOUNT_SID and body["api_version"] == "2010-04-01"
    assert body["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{body['sid']}.json"
    assert parsedate_to_datetime(body["date_created"]).tzinfo is not None


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"To": None}, 21604),
        ({"From": None}, 21603),
        ({"Body": None}, 21619),
        ({"From": None, "MessagingServiceSid": "MG123"}, 21705),
        ({"ContentVariables": '{"1": "x"}'}, 21654),
        ({"Body": None, "ContentSid": "HX" + "a" * 32, "ContentVariables": "[1]"}, 21656),
        ({"Body": None, "ContentSid": "HX" + "a" * 32, "ContentVariables": "{"}, 21656),
        ({"Body": None, "ContentSid": "HXnope"}, 21655),
        ({"To": MX_WA}, 21910),
        ({"From": WA_FROM}, 21910),
    ],
)
def test_conditional_rules(client: FlaskClient, app: Flask, form: dict, code: int) -> None:
    resp = post(client, **form)
    assert resp.status_code == 400
    assert resp.json["code"] == code and resp.json["status"] == 400
    assert resp.json["message"]
    assert resp.json["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert fake_state(app).outbox() == []


@pytest.mark.parametrize(
    "form",
    [
        {"From": None, "MessagingServiceSid": "MG" + "a" * 32},
        {"Body": None, "MediaUrl": "https://e.example/a.png"},
        {"Body": None, "ContentSid": "HX" + "a" * 32, "ContentVariables": '{"1": "Ana"}'},
        {"To": MX_WA, "From": WA_FROM},
    ],
)
def test_valid_variants(client: FlaskClient, form: dict) -> None:
    assert post(client, **form).status_code == 201


# -- list and fetch ---------------------------------------------------------


def test_list_filters_by_to_and_page_size(client: FlaskClient) -> None:
    sids = [post(client, To=to).json["sid"] for to in (US, US, "+15125550143", US)]
    resp = client.get(MESSAGES, query_string={"To": US, "PageSize": 2}, headers=basic())
    assert resp.status_code == 200
    page = resp.json
    assert [m["sid"] for m in page["messages"]] == [sids[3], sids[1]]  # newest first
    assert page["page_size"] == 2 and page["next_page_uri"] is None
    everything = client.get(MESSAGES, headers=basic()).json["messages"]
    assert len(everything) == 4


def test_fetch_and_404(client: FlaskClient) -> None:
    sid = post(client).json["sid"]
    url = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json"
    assert client.get(url, headers=basic()).json["sid"] == sid
    missing = client.get(url.replace(sid, "SM" + "f" * 32), headers=basic())
    assert missing.status_code == 404 and missing.json["code"] == 20404


def test_twilio_client_lists_and_fetches() -> None:
    srv, thread, base_url = run_fake_twilio(auth_token=TOKEN)
    sender = twilio.Sender(
        ACCOUNT_SID, TOKEN, base_url, sms_from=SMS_FROM, status_callback_url="https://e.example/s"
    )
    try:
        sid = twilio.send(sender, US, "uno").sid
        twilio.send(sender, "+15125550143", "dos")
        client = twilio.make_client(sender)
        listed = client.messages.list(to=US, page_size=20)
        assert [m.sid for m in listed] == [sid]
        fetched = client.messages(sid).fetch()
        assert (fetched.to, fetched.from_, fetched.body, fetched.status) == (
            US,
            SMS_FROM,
            "uno",
            "queued",
        )
        assert fetched.date_created.year >= 2024
    finally:
        twilio.close_clients()
        stop_fake_twilio(srv, thread)


# -- rules ------------------------------------------------------------------


def test_rule_fails_once_then_sends(client: FlaskClient) -> None:
    resp = client.post("/_fake/rules", json={"to": US, "code": 21610, "times": 1})
    assert resp.status_code == 201
    first = post(client)
    assert first.status_code == 400 and first.json["code"] == 21610
    assert post(client).status_code == 201


def test_rule_always_and_wildcard_and_clear(client: FlaskClient) -> None:
    client.post("/_fake/rules", json={"to": "*", "code": 63016, "times": None})
    for to, from_ in ((US, SMS_FROM), (MX_WA, WA_FROM), (MX_WA, WA_FROM)):
        assert post(client, To=to, From=from_).json["code"] == 63016
    assert client.delete("/_fake/rules").status_code == 204
    assert post(client).status_code == 201


def test_rule_429_and_5xx(client: FlaskClient) -> None:
    client.post("/_fake/rules", json={"to": US, "http_status": 429})
    resp = post(client)
    assert resp.status_code == 429 and resp.json["code"] == 20429
    client.post("/_fake/rules", json={"to": US, "code": 20500, "http_status": 500})
    assert post(client).status_code == 500
    assert client.get("/_fake/stats").json["throttled"] == 1


def test_bad_rule_is_400(client: FlaskClient) -> None:
    assert client.post("/_fake/rules", json={"to": US}).status_code == 400
    assert client.post("/_fake/rules", json={"code": 1, "stage": "later"}).status_code == 400


# -- outbox and stats -------------------------------------------------------


def test_outbox_newest_last_and_clear(client: FlaskClient) -> None:
    post(client, Body="uno")
    post(client, Body="dos", MediaUrl=["https://e.example/a.png", "https://e.example/b.png"])
    outbox = client.get("/_fake/outbox").json
    assert [m["body"] for m in outbox] == ["uno", "dos"]
    assert outbox[1]["media_urls"] == ["https://e.example/a.png", "https://e.example/b.png"]
    assert outbox[0]["time"] <= outbox[1]["time"]
    assert client.delete("/_fake/outbox").status_code == 204
    assert client.get("/_fake/outbox").json == []


def test_stats_per_sender(client: FlaskClient) -> None:
    for _ in range(3):
        post(client)
    post(client, To=MX_WA, From=WA_FROM)
    client.post("/_fake/rules", json={"to": US, "code": 21211})
    post(client)
    stats = client.get("/_fake/stats").json
    assert stats["total"] == 4
    assert stats["senders"][SMS_FROM] == {"count": 3, "max_per_second": 3}
    assert stats["senders"][WA_FROM] == {"count": 1, "max_per_second": 1}
    assert stats["errors"] == {"21211": 1} and stats["throttled"] == 0


def test_max_in_window() -> None:
    assert max_in_window([], 1.0) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.2, 5.0], 1.0) == 4  # 0.5 .. 1.2
    assert max_in_window([0.0, 1.0, 2.0, 3.0], 1.0) == 1
    assert max_in_window([0.0] * 5, 1.0) == 5


def test_stats_window_counts_a_burst() -> None:
    fake = FakeTwilio()
    fake.sent_times[SMS_FROM] = [10.0, 10.1, 10.2, 11.5, 11.6, 11.7, 11.8, 12.4]
    fake.sent_times[WA_FROM] = [10.0, 11.0, 12.0]
    stats = fake.stats()["senders"]
    assert stats[SMS_FROM]["max_per_second"] == 5  # 11.5 .. 12.4
    assert stats[WA_FROM]["max_per_second"] == 1


class FakeClock:
    """The fake's `time` module, with its clock stopped and its sleeps noted (not slept).

    Installed as `bot.channels.fake_twilio.time`, so a test about "one second" or
    "latency" does not depend on how fast a loaded machine runs the test client.
    """

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    stopped = FakeClock()
    monkeypatch.setattr(fake_twilio, "time", stopped)
    return stopped


def test_rate_limit_answers_429_per_sender(clock: FakeClock) -> None:
    app = create_fake_twilio(auth_token=TOKEN, rate_per_s=2)
    client = app.test_client()
    codes = [post(client).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert post(client, To=MX_WA, From=WA_FROM).status_code == 201  # another sender
    resp = post(client)
    assert resp.json["code"] == 20429
    assert fake_state(app).stats()["throttled"] == 2
    clock.now += 1.0  # a second later the sender may send again
    assert post(client).status_code == 201


def test_latency() -> None:
    client = create_fake_twilio(latency_s=0.2).test_client()
    start = time.monotonic()
    assert post(client).status_code == 201
    assert time.monotonic() - start >= 0.2


def test_latency_slows_api_requests_not_controls(clock: FakeClock) -> None:
    app = create_fake_twilio(latency_s=0.2)
    client = app.test_client()
    assert post(client).status_code == 201
    assert clock.slept == [0.2]
    for control in ("/_fake/outbox", "/_fake/stats"):
        assert client.get(control).status_code == 200
    assert client.post("/_fake/rules", json={"to": US, "code": 21610}).status_code == 201
    assert client.delete("/_fake/rules").status_code == 204
    assert clock.slept == [0.2]  # controls are not slowed down


def test_segments() -> None:
    assert count_segments("a" * 160) == 1
    assert count_segments("a" * 161) == 2
    assert count_segments("ñé¿¡" * 40) == 1  # GSM-7 has these
    assert count_segments("á" * 70) == 1  # á is not GSM-7: UCS-2
    assert count_segments("á" * 71) == 2
    assert count_segments("€" * 80) == 1  # extension chars count twice
    assert count_segments("€" * 81) == 2


# -- status callbacks -------------------------------------------------------


class Receiver:
    """A tiny webhook endpoint that records what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], str]] = []
        self.app = Flask("receiver")
        self.app.add_url_rule("/status", "status", self.status, methods=["POST"])
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/status"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def status(self) -> tuple[str, int]:
        sig = request.headers.get("X-Twilio-Signature", "")
        self.received.append((request.url, request.form.to_dict(), sig))
        return "", 204

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def manual_callbacks_client() -> tuple[FakeTwilio, FlaskClient]:
    app = create_fake_twilio(callbacks=True, callback_worker=False)
    return fake_state(app), app.test_client()


def test_callbacks_are_signed_and_in_order(receiver: Receiver) -> None:
    fake, client = manual_callbacks_client()
    sid = post(client, StatusCallback=receiver.url).json["sid"]
    assert receiver.received == []  # nothing before deliver_callbacks()
    assert fake.deliver_callbacks() == [("sent", 204), ("delivered", 204)]
    assert [p["MessageStatus"] for _, p, _ in receiver.received] == ["sent", "delivered"]
    validator = RequestValidator(TOKEN)
    for url, params, signature in receiver.received:
        assert validator.validate(url, params, signature)
        assert not RequestValidator("other").validate(url, params, signature)
        assert params["MessageSid"] == sid and params["AccountSid"] == ACCOUNT_SID
        assert (params["To"], params["From"]) == (US, SMS_FROM)
        assert "ErrorCode" not in params
    assert fake.find(sid)["status"] == "delivered"


def test_whatsapp_callbacks_include_read(receiver: Receiver) -> None:
    fake, client = manual_callbacks_client()
    post(client, To=MX_WA, From=WA_FROM, StatusCallback=receiver.url)
    assert [s for s, _ in fake.deliver_callbacks()] == ["sent", "delivered", "read"]


def test_delivery_failure_reports_error_code(receiver: Receiver) -> None:
    fake, client = manual_callbacks_client()
    undelivered = {"to": US, "code": 30003, "stage": "delivery", "status": "undelivered"}
    client.post("/_fake/rules", json=undelivered)
    client.post("/_fake/rules", json={"to": MX_WA, "code": 63016, "stage": "delivery"})
    first = post(client, StatusCallback=receiver.url)
    second = post(client, To=MX_WA, From=WA_FROM, StatusCallback=receiver.url)
    assert first.status_code == second.status_code == 201
    assert [s for s, _ in fake.deliver_callbacks()] == ["sent", "undelivered", "failed"]
    params = [p for _, p, _ in receiver.received]
    assert "ErrorCode" not in params[0]
    assert params[1]["ErrorCode"] == "30003" and params[2]["ErrorCode"] == "63016"
    assert fake.find(first.json["sid"])["error_code"] == 30003
    assert fake.find(second.json["sid"])["status"] == "failed"


def test_delivery_failure_without_callbacks_sets_status(client: FlaskClient, app: Flask) -> None:
    client.post("/_fake/rules", json={"to": US, "code": 30006, "stage": "delivery"})
    sid = post(client).json["sid"]
    message = fake_state(app).find(sid)
    assert (message["status"], message["error_code"]) == ("failed", 30006)


def test_no_callbacks_without_status_callback_or_when_off(receiver: Receiver) -> None:
    fake, client = manual_callbacks_client()
    post(client)
    assert fake.deliver_callbacks() == []
    app = create_fake_twilio()
    post(app.test_client(), StatusCallback=receiver.url)
    assert fake_state(app).deliver_callbacks() == []


def test_callback_worker_delivers_in_background(receiver: Receiver) -> None:
    srv, thread, base_url = run_fake_twilio(auth_token=TOKEN, callbacks=True)
    sender = twilio.Sender(
        ACCOUNT_SID, TOKEN, base_url, sms_from=SMS_FROM, status_callback_url=receiver.url
    )
    try:
        sid = twilio.send(sender, US, "Hola").sid
        deadline = time.monotonic() + 60  # a hang guard: the worker posts both at once
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        twilio.close_clients()
        stop_fake_twilio(srv, thread)
    assert [p["MessageStatus"] for _, p, _ in receiver.received] == ["sent", "delivered"]
    assert all(p["MessageSid"] == sid for _, p, _ in receiver.received)


def test_callbacks_endpoint(receiver: Receiver) -> None:
    fake, client = manual_callbacks_client()
    post(client, StatusCallback=receiver.url)
    resp = client.post("/_fake/callbacks/deliver")
    assert resp.json == [
        {"status": "sent", "http_status": 204},
        {"status": "delivered", "http_status": 204},
    ]


# -- command line -----------------------------------------------------------


def test_module_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.channels.fake_twilio", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert "--port" in out.stdout
