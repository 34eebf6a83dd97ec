"""A contact's media at Twilio: fetched with the account's auth (capped, streamed), then deleted."""

from __future__ import annotations

import base64

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.channels import twilio
from bot.channels.fake_twilio import create_fake_twilio, fake_state
from tests.channels.twilio_cases import ACCOUNT_SID, TOKEN

MESSAGE_SID = "MM" + "a" * 32
PHOTO = b"\xff\xd8\xff" + bytes(200_000)  # more than one chunk


def basic(user: str = ACCOUNT_SID, password: str = TOKEN) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def app() -> Flask:
    return create_fake_twilio(auth_token=TOKEN)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_the_fake_serves_media_only_with_auth_and_forgets_it_once_deleted(app, client):
    path = fake_state(app).add_media(ACCOUNT_SID, MESSAGE_SID, "image/jpeg", PHOTO)
    assert client.get(path).status_code == 401
    assert client.get(path, headers=basic(password="nope")).status_code == 401
    answer = client.get(path, headers=basic(), follow_redirects=True)
    assert (answer.status_code, answer.data, answer.mimetype) == (200, PHOTO, "image/jpeg")
    assert client.delete(path + ".json").status_code == 401
    assert client.delete(path + ".json", headers=basic()).status_code == 204
    assert client.get(path, headers=basic()).status_code == 404
    assert client.delete(path + ".json", headers=basic()).status_code == 404


def test_fetch_follows_the_redirect_caps_the_size_and_delete_removes_it(fake, server, sender):
    url = server[1] + fake.add_media(ACCOUNT_SID, MESSAGE_SID, "video/mp4", PHOTO)
    got = twilio.fetch_media(sender, url, len(PHOTO))
    assert (got.content, got.content_type, got.too_large) == (PHOTO, "video/mp4", False)
    capped = twilio.fetch_media(sender, url, len(PHOTO) - 1)  # streamed: no Content-Length
    assert (capped.content, capped.too_large) == (None, True)
    assert twilio.delete_media(sender, url)
    assert fake.media == {}
    assert twilio.delete_media(sender, url)  # gone already
    assert twilio.fetch_media(sender, url, len(PHOTO)).error == "HTTP 404"


def test_a_failing_fetch_is_worth_retrying_and_a_missing_one_is_not(fake, server, sender):
    url = server[1] + fake.add_media(ACCOUNT_SID, MESSAGE_SID, "image/png", PHOTO)
    fake.fail_media(1)
    failed = twilio.fetch_media(sender, url, len(PHOTO))
    assert (failed.error, failed.retryable) == ("HTTP 500", True)
    assert twilio.fetch_media(sender, url, len(PHOTO)).content == PHOTO
    missing = twilio.fetch_media(sender, url.replace(MESSAGE_SID, "MM" + "b" * 32), len(PHOTO))
    assert (missing.error, missing.retryable) == ("HTTP 404", False)


def test_no_credentials_go_to_another_host_or_account(sender):
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}/Media/ME{'c' * 32}"
    assert twilio.media_ids(sender, "https://files.example.org" + path) is None
    other = path.replace(ACCOUNT_SID, "AC" + "9" * 32)
    assert twilio.media_ids(sender, sender.api_url + other) is None
    assert twilio.media_ids(sender, sender.api_url + path) is not None
    assert twilio.fetch_media(sender, "https://files.example.org" + path, 10).content is None
