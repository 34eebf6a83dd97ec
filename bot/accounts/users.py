"""Creating users and checking their passwords."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.accounts import passwords, throttle
from bot.accounts.models import PartnerRole, User, new_session_token
from bot.accounts.roles import ROLES
from bot.db import Database
from bot.exceptions import PuenteError
from bot.i18n import LANGUAGES, N_

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class AccountError(PuenteError):
    """A user cannot be created or changed; ``str()`` is an English msgid."""


@dataclass(frozen=True)
class SignIn:
    """The answer to a sign-in attempt: a user, or why not."""

    user_id: int | None = None
    wait: dt.timedelta | None = None  # throttled: try again after this long


def normalize_email(email: str) -> str:
    """Emails are stored and compared lower-case and trimmed."""
    return email.strip().lower()


def find_by_email(session: Session, email: str) -> User | None:
    """The user with this email, in any case."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def create_user(
    session: Session,
    email: str,
    name: str,
    password: str,
    role: str,
    language: str = "es",
) -> User:
    """A new active user; raises AccountError when a field is not acceptable."""
    email = normalize_email(email)
    if not _EMAIL.fullmatch(email):
        raise AccountError(N_("Enter a valid email address."))
    if role not in ROLES:
        raise AccountError(N_("Choose a role."))
    if language not in LANGUAGES:
        raise AccountError(N_("Choose a language."))
    problem = passwords.password_problem(password)
    if problem:
        raise AccountError(problem)
    if find_by_email(session, email) is not None:
        raise AccountError(N_("A user with this email already exists."))
    user = User(
        email=email,
        name=name.strip() or email,
        password_hash=passwords.hash_password(password),
        role=role,
        language=language,
    )
    session.add(user)
    session.flush()
    return user


def set_partner_role(user: User, organization_id: int, role: str | None) -> None:
    """Give ``user`` a role in one partner, change it, or (``role`` None) take it away.

    Their open sessions end, as for any change of role. The caller checks that
    ``organization_id`` is a partner.
    """
    if role is not None and role not in ROLES:
        raise AccountError(N_("Choose a role."))
    current = next((r for r in user.partner_roles if r.organization_id == organization_id), None)
    if role is None:
        if current is not None:
            user.partner_roles.remove(current)
    elif current is None:
        user.partner_roles.append(PartnerRole(organization_id=organization_id, role=role))
    else:
        current.role = role
    user.session_token = new_session_token()


def set_password(user: User, password: str) -> None:
    """Change the password and sign out every session of this user."""
    problem = passwords.password_problem(password)
    if problem:
        raise AccountError(problem)
    user.password_hash = passwords.hash_password(password)
    user.session_token = new_session_token()


def count_admins(session: Session) -> int:
    """Active admins (there must always be one)."""
    return (
        session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.active)
        )
        or 0
    )


def sign_in(db: Database, email: str, password: str, ip: str | None, now: dt.datetime) -> SignIn:
    """Check a password, unless this email or address has failed too often lately."""
    keys = throttle.keys_for(email, ip)
    wait = throttle.wait_needed(db, keys, now)
    if wait is not None:
        return SignIn(wait=wait)
    with db.session() as session:
        user = find_by_email(session, email)
        ok = passwords.verify_password(user.password_hash if user else None, password)
        if ok and user is not None and user.active:
            if passwords.needs_rehash(user.password_hash):
                user.password_hash = passwords.hash_password(password)
            user.last_login_at = now
            user_id = user.id
        else:
            user_id = None
    if user_id is None:
        throttle.record_failure(db, keys, now)
        return SignIn()
    throttle.record_success(db, email)
    return SignIn(user_id=user_id)
