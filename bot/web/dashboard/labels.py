"""What the dashboard calls each stored value (roles, statuses, channels…), in the catalog."""

from __future__ import annotations

from bot.i18n import N_
from bot.web.dashboard.language import _

LABELS: dict[str, dict[str, str]] = {
    "role": {
        "admin": N_("Admin"),
        "organizer": N_("Organizer"),
        "verifier": N_("Verifier"),
        "viewer": N_("Viewer"),
    },
    "contact_status": {
        "active": N_("Active"),
        "opted_out": N_("Opted out"),
        "invalid": N_("Invalid number"),
    },
    "channel": {"sms": N_("SMS"), "whatsapp": N_("WhatsApp")},
    "language": {"es": N_("Spanish"), "en": N_("English")},
    "consent": {
        "opt_in": N_("Opted in"),
        "opt_out": N_("Opted out"),
        "re_opt_in": N_("Opted in again"),
        "help": N_("Asked for help"),
    },
    "message_status": {
        "pending": N_("Pending"),
        "blocked": N_("Blocked (opted out)"),
        "replied": N_("Replied"),
        "received": N_("Received"),
        "accepted": N_("Accepted"),
        "scheduled": N_("Scheduled"),
        "queued": N_("Queued"),
        "sending": N_("Sending"),
        "sent": N_("Sent"),
        "delivered": N_("Delivered"),
        "read": N_("Read"),
        "undelivered": N_("Undelivered"),
        "failed": N_("Failed"),
        "canceled": N_("Canceled"),
        "partially_delivered": N_("Partly delivered"),
        "skipped_window": N_("Not sent: WhatsApp window closed"),
    },
    "report_status": {
        "new": N_("New"),
        "triaged": N_("Triaged"),
        "verifying": N_("Verifying"),
        "verified": N_("Verified"),
        "not_verified": N_("Not verified"),
        "duplicate": N_("Duplicate"),
        "published": N_("Published"),
        "archived": N_("Archived"),
    },
    "broadcast_status": {
        "draft": N_("Draft"),
        "scheduled": N_("Scheduled"),
        "sending": N_("Sending"),
        "paused": N_("Paused"),
        "canceled": N_("Canceled"),
        "done": N_("Done"),
        "open": N_("Running"),
    },
    "delivery_status": {
        "pending": N_("Waiting"),
        "queued": N_("Waiting"),
        "sending": N_("Sending"),
        "sent": N_("Sent"),
        "unknown": N_("Checking with Twilio"),
        "failed": N_("Failed"),
        "blocked": N_("Blocked (opted out)"),
        "skipped_opted_out": N_("Skipped: opted out"),
        "skipped_no_consent": N_("Skipped: no opt-in"),
        "skipped_window": N_("Skipped: WhatsApp window closed"),
        "skipped_expired": N_("Skipped: too late"),
        "skipped_canceled": N_("Skipped: canceled"),
    },
}


def label(kind: str, value: str | None) -> str:
    """The translated name of ``value`` (the value itself when it has none)."""
    if value is None:
        return "—"
    msgid = LABELS.get(kind, {}).get(value)
    return _(msgid) if msgid else value
