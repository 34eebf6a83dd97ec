"""Every model, imported in one place so Alembic sees the whole schema."""

from bot.accounts.models import AuditEntry, LoginThrottle, PartnerRole, User
from bot.broadcasts.models import Audience, Broadcast, Delivery, Event, Reminder, Rsvp
from bot.contacts.models import (
    Address,
    ConsentEvent,
    Contact,
    ContactTag,
    FlowSession,
    Suppression,
)
from bot.db import Base
from bot.links.models import BroadcastLink, LinkClick
from bot.msgs.models import EarlyCallback, Message, WhatsAppContent
from bot.partners.models import Membership, Organization, OrganizationKeyword
from bot.partners.referrals import ReferralVisit
from bot.petitions.models import Petition, Signature
from bot.polls.models import Poll, PollAnswer
from bot.reports.models import OnCall, Report, ReportMedia, ReportNote

__all__ = [
    "EarlyCallback",
    "AuditEntry",
    "LoginThrottle",
    "User",
    "PartnerRole",
    "Membership",
    "Organization",
    "OrganizationKeyword",
    "ReferralVisit",
    "Audience",
    "Broadcast",
    "Delivery",
    "Event",
    "Reminder",
    "Rsvp",
    "Address",
    "Base",
    "ConsentEvent",
    "Contact",
    "ContactTag",
    "FlowSession",
    "Suppression",
    "Message",
    "Report",
    "ReportMedia",
    "ReportNote",
    "OnCall",
    "Petition",
    "Signature",
    "Poll",
    "PollAnswer",
    "WhatsAppContent",
    "BroadcastLink",
    "LinkClick",
]
