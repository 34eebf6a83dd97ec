"""Accounts: strong password hashes, throttled sign-in, sessions, users, audit, language."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.accounts import throttle, users
from bot.accounts.models import AuditEntry, LoginThrottle, User
from bot.accounts.passwords import hash_password, verify_password
from bot.accounts.users import AccountError
from tests.dashboard_client import csrf_from
from tests.factories import DASHBOARD_PASSWORD, create_user


def post_login(client, email: str, password: str):
    token = csrf_from(client.get("/dashboard/login").data)
    return client.post(
        "/dashboard/login", data={"email": email, "password": password, "csrf_token": token}
    )


def audit_actions(db) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_passwords_are_stored_as_argon2id_hashes(db):
    create_user(db, "organizer")
    with db.session() as session:
        user = session.scalar(select(User))
        assert user.password_hash.startswith("$argon2id$")
        assert DASHBOARD_PASSWORD not in user.password_hash
        assert verify_password(user.password_hash, DASHBOARD_PASSWORD)
        assert not verify_password(user.password_hash, DASHBOARD_PASSWORD + "x")


def test_verifying_with_no_hash_fails_without_an_error():
    assert verify_password(None, "anything") is False
    assert verify_password("not a hash", "anything") is False
    assert verify_password(hash_password("a long passphrase"), "a long passphrase")


@pytest.mark.parametrize(
    ("email", "password", "role", "error"),
    [
        ("no-at-sign", "a long passphrase", "organizer", "Enter a valid email address."),
        ("a@b.org", "short", "organizer", "Use at least 12 characters."),
        ("a@b.org", "a long passphrase", "boss", "Choose a role."),
    ],
)
def test_unacceptable_users_are_refused(db, email, password, role, error):
    with pytest.raises(AccountError, match=error), db.session() as session:
        users.create_user(session, email, "A", password, role)


def test_sign_in_and_out_are_audited(client, db):
    create_user(db, "organizer")
    response = post_login(client, "Organizer@Puente.example.org ", DASHBOARD_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/"
    token = csrf_from(client.get("/dashboard/").data)
    client.post("/dashboard/logout", data={"csrf_token": token})
    assert client.get("/dashboard/").status_code == 302
    assert audit_actions(db) == ["user.sign_in", "user.sign_out"]


def test_a_wrong_password_says_so_without_telling_which_part(client, db):
    create_user(db, "organizer")
    wrong_password = post_login(client, "organizer@puente.example.org", "not the password")
    no_such_user = post_login(client, "nobody@puente.example.org", "not the password")
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert b"Wrong email or password." in wrong_password.data
    assert b"Wrong email or password." in no_such_user.data


def test_repeated_failures_are_slowed_down(client, db):
    create_user(db, "organizer")
    email = "organizer@puente.example.org"
    for _ in range(throttle.FREE_FAILURES_PER_EMAIL):
        assert post_login(client, email, "guess").status_code == 401
    # Now even the right password waits: a guesser cannot tell it worked.
    blocked = post_login(client, email, DASHBOARD_PASSWORD)
    assert blocked.status_code == 429
    assert b"Too many failed attempts" in blocked.data
    with db.session() as session:
        session.execute(update(LoginThrottle).values(blocked_until=None))
    assert post_login(client, email, DASHBOARD_PASSWORD).status_code == 302
    with db.session() as session:  # success clears the email's counter
        assert session.get(LoginThrottle, f"email:{email}") is None


@pytest.mark.parametrize(
    ("failures", "free", "wait"),
    [(4, 5, None), (5, 5, 30), (6, 5, 60), (8, 5, 240), (30, 5, 900), (20, 20, 30)],
)
def test_the_wait_doubles_up_to_a_ceiling(failures, free, wait):
    expected = dt.timedelta(seconds=wait) if wait else None
    assert throttle.block_for(failures, free) == expected


def test_the_address_counter_is_shared_across_emails(db):
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    for i in range(throttle.FREE_FAILURES_PER_IP):
        throttle.record_failure(db, throttle.keys_for(f"user{i}@x.org", "203.0.113.9"), now)
    keys = throttle.keys_for("someone-new@x.org", "203.0.113.9")
    assert throttle.wait_needed(db, keys, now) == dt.timedelta(seconds=30)
    assert throttle.wait_needed(db, throttle.keys_for("a@x.org", "198.51.100.1"), now) is None


def test_an_old_failure_is_forgotten(db):
    then = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    keys = throttle.keys_for("a@x.org", None)
    for _ in range(4):
        throttle.record_failure(db, keys, then)
    throttle.record_failure(db, keys, then + dt.timedelta(hours=2))
    with db.session() as session:
        assert session.get(LoginThrottle, "email:a@x.org").failures == 1


def test_after_sign_in_only_a_dashboard_path_is_followed(client, db):
    create_user(db, "organizer")
    token = csrf_from(client.get("/dashboard/login").data)
    data = {"email": "organizer@puente.example.org", "password": DASHBOARD_PASSWORD}
    response = client.post(
        "/dashboard/login?next=//evil.example.com/", data={**data, "csrf_token": token}
    )
    assert response.headers["Location"] == "/dashboard/"


def test_sign_in_goes_back_to_the_page_asked_for(client, db):
    create_user(db, "organizer")
    first = client.get("/dashboard/inbox/")
    assert first.headers["Location"] == "/dashboard/login?next=/dashboard/inbox/"
    token = csrf_from(client.get(first.headers["Location"]).data)
    response = client.post(
        first.headers["Location"],
        data={
            "email": "organizer@puente.example.org",
            "password": DASHBOARD_PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == "/dashboard/inbox/"


def test_a_deactivated_user_is_signed_out_at_once(sign_in, app, db):
    organizer = sign_in("organizer")
    assert organizer.get("/dashboard/").status_code == 200
    admin = sign_in("admin")
    with db.session() as session:
        user_id = session.scalar(select(User.id).where(User.role == "organizer"))
    response = admin.post(
        f"/dashboard/users/{user_id}",
        data={"csrf_token": admin.csrf_token, "role": "organizer", "active": "0"},
    )
    assert response.status_code == 302
    assert organizer.get("/dashboard/").status_code == 302  # back to the sign-in page
    assert sign_in_again(app).status_code == 401


def sign_in_again(app):
    return post_login(app.test_client(), "organizer@puente.example.org", DASHBOARD_PASSWORD)


def test_changing_ones_password_signs_out_other_sessions(sign_in, app, db):
    laptop, phone = sign_in("organizer"), sign_in("organizer")
    new = "otra frase larga y secreta"
    response = laptop.post(
        "/dashboard/profile",
        data={
            "csrf_token": laptop.csrf_token, "name": "Org", "language": "en",
            "timezone": "America/Chicago", "phone": "", "password": DASHBOARD_PASSWORD,
            "new_password": new,
        },
    )  # fmt: skip
    assert response.status_code == 302
    assert laptop.get("/dashboard/").status_code == 200
    assert phone.get("/dashboard/").status_code == 302
    assert post_login(app.test_client(), "organizer@puente.example.org", new).status_code == 302


def test_admins_add_users_and_the_last_admin_stays(sign_in, db):
    admin = sign_in("admin")
    response = admin.post(
        "/dashboard/users/",
        data={
            "csrf_token": admin.csrf_token, "name": "Lupe", "email": "lupe@example.org",
            "role": "organizer", "language": "es", "password": "una clave bien larga",
        },
    )  # fmt: skip
    assert response.status_code == 302
    with db.session() as session:
        me = session.scalar(select(User).where(User.role == "admin"))
        assert session.scalar(select(User).where(User.email == "lupe@example.org")).role == (
            "organizer"
        )
    demote = admin.post(
        f"/dashboard/users/{me.id}",
        data={"csrf_token": admin.csrf_token, "role": "organizer", "active": "1"},
        follow_redirects=True,
    )
    assert b"at least one active admin" in demote.data
    assert "user.create" in audit_actions(db)


def test_the_cli_creates_the_first_admin(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "--email", "root@example.org", "--name", "Root",
              "--password", "una clave bien larga", "--language", "en"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "created admin root@example.org" in result.output
    short = runner.invoke(
        args=["users", "create", "--email", "b@example.org", "--name", "B", "--password", "x"]
    )
    assert short.exit_code != 0 and "12 characters" in short.output
    listed = runner.invoke(args=["users", "list"])
    assert "root@example.org\tadmin\ten\tactive" in listed.output
    assert audit_actions(db) == ["user.create"]


def test_the_interface_switches_to_spanish_and_stays(sign_in, db):
    client = sign_in("organizer")
    assert "Overview" in client.get("/dashboard/").get_data(as_text=True)
    client.post(
        "/dashboard/language",
        data={"csrf_token": client.csrf_token, "lang": "es", "next": "/dashboard/contacts/"},
    )
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "Resumen" in page and 'lang="es"' in page
    with db.session() as session:
        assert session.scalar(select(User.language).where(User.role == "organizer")) == "es"
    assert "user.language" in audit_actions(db)


def test_before_signing_in_the_browser_language_is_used(client):
    page = client.get("/dashboard/login", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert "Inicia sesión en Puente" in page.get_data(as_text=True)
    token = csrf_from(page.data)
    client.post("/dashboard/language", data={"csrf_token": token, "lang": "en"})
    page = client.get("/dashboard/login", headers={"Accept-Language": "es-MX"})
    assert "Sign in to Puente" in page.get_data(as_text=True)


def test_pages_are_not_cached_framed_or_scripted_inline(sign_in):
    response = sign_in("organizer").get("/dashboard/contacts/")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in response.get_data(as_text=True)
    assert 'style="' not in response.get_data(as_text=True)
