"""Roles and what each may do.

Phone numbers and what contacts wrote are the most sensitive data Puente
holds (many contacts are migrants), so a role sees them only when its work
needs them, as RapidPro's anonymous workspaces hide numbers from staff.
"""

from __future__ import annotations

ROLE_ADMIN = "admin"  # everything: users, settings, queue health, the audit log
ROLE_ORGANIZER = "organizer"  # contacts, broadcasts, events, inbox, reports; numbers masked
ROLE_VIEWER = "viewer"  # reads only; numbers, names and message texts masked
# The reporting desk: triages, verifies and publishes reports, and sees who
# reported and the exact place; elsewhere numbers are masked as for organizers.
ROLE_VERIFIER = "verifier"
ROLES = (ROLE_ADMIN, ROLE_ORGANIZER, ROLE_VERIFIER, ROLE_VIEWER)

# Permissions
EDIT = "edit"  # change contacts, tags, reports, events, broadcast drafts
SEND = "send"  # anything that sends a message: broadcasts, replies, tests
SEE_PHONES = "see_phones"  # full phone numbers (otherwise the last four digits)
SEE_TEXTS = "see_texts"  # what contacts wrote, their names and their reports
MANAGE = "manage"  # users, the audit log, queue health
VERIFY = "verify"  # move reports through the verification workflow, assign them, add notes
SEE_REPORTERS = "see_reporters"  # who filed a report, their number, and its exact place

PERMISSIONS: dict[str, frozenset[str]] = {
    ROLE_ADMIN: frozenset({EDIT, SEND, SEE_PHONES, SEE_TEXTS, MANAGE, VERIFY, SEE_REPORTERS}),
    ROLE_ORGANIZER: frozenset({EDIT, SEND, SEE_TEXTS}),
    ROLE_VERIFIER: frozenset({SEE_TEXTS, VERIFY, SEE_REPORTERS}),
    ROLE_VIEWER: frozenset(),
}


def allows(role: str, permission: str) -> bool:
    """Whether ``role`` has ``permission`` (an unknown role has none)."""
    return permission in PERMISSIONS.get(role, frozenset())
