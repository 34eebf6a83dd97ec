"""Users of the dashboard, the audit log, and failed sign-in counters."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.accounts.roles import ROLE_VIEWER
from bot.db import Base, UTCDateTime, utcnow

DEFAULT_TIMEZONE = "America/Los_Angeles"  # a user picks their own on their profile


def new_session_token() -> str:
    """A random token stored with the user and in their session cookie."""
    return secrets.token_urlsafe(24)


class User(Base):
    """Someone who signs in to the dashboard."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower-case; signs in with it
    name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Their role in the coalition (sees every partner); None: they work only for partners.
    role: Mapped[str | None] = mapped_column(String(16), default=ROLE_VIEWER)
    language: Mapped[str] = mapped_column(String(8), default="es")  # the dashboard's language
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    phone: Mapped[str | None] = mapped_column(String(20))  # their own, E.164: test sends
    active: Mapped[bool] = mapped_column(default=True)  # inactive = cannot sign in
    # Changing it (new password, deactivation) signs out every open session.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    partner_roles: Mapped[list[PartnerRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    def role_in(self, organization_id: int) -> str | None:
        """Their role in one partner (not counting their coalition role)."""
        return next(
            (r.role for r in self.partner_roles if r.organization_id == organization_id), None
        )


class PartnerRole(Base):
    """A user's role in one partner organization: they see that partner's members only."""

    __tablename__ = "partner_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))


class AuditEntry(Base):
    """Who did what, when: one line per action that changed data or sent messages.

    ``details`` never holds a phone number or a message a contact wrote;
    contacts are named by id.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    user_email: Mapped[str] = mapped_column(String(254))  # kept if the user is deleted
    action: Mapped[str] = mapped_column(String(64), index=True)  # "broadcast.send"
    # For which organization they acted: a partner, or NULL for the coalition.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    target: Mapped[str | None] = mapped_column(String(128))  # "contact:12"
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LoginThrottle(Base):
    """Recent failed sign-ins for one key ("email:…" or "ip:…")."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
