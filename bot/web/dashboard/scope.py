"""The organization a signed-in user acts for, and what it lets them see.

A user acts for one organization at a time: the coalition (when they have a
coalition role, ``User.role``) or one of their partners (``PartnerRole``).
The choice is kept in the session (``session["org"]``) and put in
``g.scope`` for every request. Views never read ``user.role``: they ask the
scope (``may``) and filter every query with its clauses:

- the coalition sees everything;
- a partner sees the contacts with a membership row for it (of any status:
  one who left stays in its history, but only members get its broadcasts),
  the messages of those contacts, and the broadcasts, audiences, events and
  reports it owns (``organization_id``); anything else by id is a 404;
- users, the audit log and the queue are the coalition's admins' only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from flask import abort, g, has_request_context, session
from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.orm import Session

from bot.accounts.models import User
from bot.accounts.roles import MANAGE, ROLE_ADMIN, allows
from bot.contacts.models import Contact
from bot.msgs.models import Message
from bot.partners.models import Membership, Organization

SESSION_KEY = "org"
Owned = TypeVar("Owned")


@dataclass(frozen=True)
class Choice:
    """One organization the user may act for, with their role there."""

    organization_id: int | None  # None: the coalition
    role: str
    name_es: str
    name_en: str

    def name(self, language: str) -> str:
        return self.name_es if language == "es" else self.name_en


@dataclass(frozen=True)
class Scope:
    """The acting organization and role; ``role`` None: the user may act for nobody."""

    organization_id: int | None = None  # None: the coalition (when role is set)
    role: str | None = None
    choices: tuple[Choice, ...] = ()

    @property
    def sees_everything(self) -> bool:
        """Acting for the coalition: every partner's data."""
        return self.organization_id is None and self.role is not None

    def name(self, language: str) -> str:
        """The acting organization's name ("" when the user may act for nobody)."""
        chosen = next((c for c in self.choices if c.organization_id == self.organization_id), None)
        return chosen.name(language) if chosen and self.role else ""

    def allows(self, permission: str) -> bool:
        """Whether the acting role has ``permission``; managing is the coalition's only."""
        if self.role is None:
            return False
        if permission == MANAGE and self.organization_id is not None:
            return False
        return allows(self.role, permission)


NOBODY = Scope()
# Outside a request (a shell, a test calling the overview's functions) nobody is
# signed in and the data is seen whole, as by the CLI.
EVERYTHING = Scope(None, ROLE_ADMIN)


def choices_for(db_session: Session, user: User) -> tuple[Choice, ...]:
    """The organizations ``user`` may act for: the coalition first, then partners by slug."""
    found: list[Choice] = []
    if user.role:
        root = db_session.scalar(select(Organization).where(Organization.parent_id.is_(None)))
        name_es = root.name_es if root else "Coalición"
        name_en = root.name_en if root else "Coalition"
        found.append(Choice(None, user.role, name_es, name_en))
    roles = {r.organization_id: r.role for r in user.partner_roles}
    if roles:
        partners = db_session.scalars(
            select(Organization)
            .where(Organization.id.in_(roles), Organization.archived_at.is_(None))
            .order_by(Organization.slug)
        )
        found += [Choice(p.id, roles[p.id], p.name_es, p.name_en) for p in partners]
    return tuple(found)


def load(db_session: Session, user: User | None) -> Scope:
    """The scope of this request: the session's choice if it is still allowed, else the first."""
    if user is None:
        return NOBODY
    choices = choices_for(db_session, user)
    if not choices:
        return NOBODY
    wanted = session.get(SESSION_KEY, "")
    chosen = next((c for c in choices if _key(c) == wanted), choices[0])
    return Scope(chosen.organization_id, chosen.role, choices)


def choose(key: str) -> bool:
    """Act for the organization ``key`` ("" the coalition) from now on; False if not allowed."""
    choices = current().choices
    chosen = next((c for c in choices if _key(c) == key), None)
    if chosen is None:
        return False
    session[SESSION_KEY] = key
    g.scope = Scope(chosen.organization_id, chosen.role, choices)
    return True


def _key(choice: Choice) -> str:
    return "" if choice.organization_id is None else str(choice.organization_id)


def current() -> Scope:
    """The scope of this request (nobody when not signed in; everything outside requests)."""
    if not has_request_context():
        return EVERYTHING
    return g.get("scope") or NOBODY


def may(permission: str) -> bool:
    """Whether the acting role has ``permission``."""
    return current().allows(permission)


def acting_organization() -> int | None:
    """The acting partner's id, or None for the coalition (what rows and audit entries get)."""
    return current().organization_id


# --- what the scope sees ---------------------------------------------------------------


def contacts_clause() -> ColumnElement[bool]:
    """WHERE clause over ``Contact``: the contacts the scope may see."""
    scope = current()
    if scope.sees_everything:
        return true()
    if scope.organization_id is None:
        return false()
    return exists().where(
        Membership.contact_id == Contact.id,
        Membership.organization_id == scope.organization_id,
    )


def visible_contact_ids() -> Any:
    """A SELECT of the ids of the contacts the scope may see (for ``in_``)."""
    return select(Contact.id).where(contacts_clause())


def messages_clause() -> ColumnElement[bool]:
    """WHERE clause over ``Message``: a message is visible when its contact is."""
    scope = current()
    if scope.sees_everything:
        return true()
    return Message.contact_id.in_(visible_contact_ids())


def owned_clause(column: Any) -> ColumnElement[bool]:
    """WHERE clause over an ``organization_id`` column: what the scope owns."""
    scope = current()
    if scope.sees_everything:
        return true()
    if scope.organization_id is None:
        return false()
    return column == scope.organization_id


def consent_clause(column: Any) -> ColumnElement[bool]:
    """Over ``ConsentEvent.organization_id``: the coalition's lines and the partner's own."""
    scope = current()
    if scope.sees_everything:
        return true()
    return or_(column.is_(None), column == scope.organization_id)


def contact_or_404(db_session: Session, contact_id: int) -> Contact:
    """The contact with this id if the scope may see it; else 404."""
    contact = contact_or_none(db_session, contact_id)
    if contact is None:
        abort(404)
    return contact


def contact_or_none(db_session: Session, contact_id: int) -> Contact | None:
    """The contact with this id if the scope may see it, else None."""
    return db_session.scalar(select(Contact).where(Contact.id == contact_id, contacts_clause()))


def owned_or_404(db_session: Session, model: type[Owned], row_id: int) -> Owned:
    """The row of ``model`` with this id if the scope owns it; else 404."""
    row = db_session.get(model, row_id)
    if row is None or not owns(row):
        abort(404)
    return row


def owns(row: Any) -> bool:
    """Whether a row with an ``organization_id`` belongs to the scope."""
    scope = current()
    if scope.sees_everything:
        return True
    return scope.organization_id is not None and row.organization_id == scope.organization_id


def message_or_404(db_session: Session, message_id: int) -> Message:
    """The message with this id if its contact is visible; else 404."""
    message = db_session.scalar(select(Message).where(Message.id == message_id, messages_clause()))
    if message is None:
        abort(404)
    return message
