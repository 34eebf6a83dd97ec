"""Roles and what each may do.

Phone numbers and what contacts wrote are the most sensitive data Puente
holds (many contacts are migrants), so a role sees them only when its work
needs them, as RapidPro's anonymous workspaces hide numbers from staff.
"""

from __future__ import annotations

ROLE_ADMIN = "admin"  # everything: users, settings, queue health, the audit log
ROLE_ORGANIZER = "organizer"  # contacts, broadcasts, events, inbox, reports; numbers masked
ROLE_VIEWER = "viewer"  # reads only; numbers, names and message texts masked
ROLES = (ROLE_ADMIN, ROLE_ORGANIZER, ROLE_VIEWER)

# Permissions
EDIT = "edit"  # change contacts, tags, reports, events, broadcast drafts
SEND = "send"  # anything that sends a message: broadcasts, replies, tests
SEE_PHONES = "see_phones"  # full phone numbers (otherwise the last four digits)
SEE_TEXTS = "see_texts"  # what contacts wrote, their names and their reports
MANAGE = "manage"  # users, the audit log, queue health

PERMISSIONS: dict[str, frozenset[str]] = {
    ROLE_ADMIN: frozenset({EDIT, SEND, SEE_PHONES, SEE_TEXTS, MANAGE}),
    ROLE_ORGANIZER: frozenset({EDIT, SEND, SEE_TEXTS}),
    ROLE_VIEWER: frozenset(),
}


def allows(role: str, permission: str) -> bool:
    """Whether ``role`` has ``permission`` (an unknown role has none)."""
    return permission in PERMISSIONS.get(role, frozenset())
