"""The audit log: who changed what, and who sent what, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.accounts.models import AuditEntry, User
from bot.db import utcnow


def record(
    session: Session,
    user: User | None,
    action: str,
    target: str | None = None,
    ip: str | None = None,
    organization_id: int | None = None,
    **details: Any,
) -> AuditEntry:
    """Add one entry to ``session``; it is saved with the change it describes.

    ``details`` must not carry phone numbers or what contacts wrote: name
    contacts by id ("contact:12"). ``organization_id`` is the organization
    they acted for: a partner, or None for the coalition.
    """
    entry = AuditEntry(
        user_id=user.id if user else None,
        user_email=user.email if user else "system",
        action=action,
        target=target,
        details=details,
        ip=ip,
        organization_id=organization_id,
        created_at=utcnow(),
    )
    session.add(entry)
    return entry
