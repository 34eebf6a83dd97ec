"""The verification workflow: which move is allowed from where, and by whom.

new → triaged → verifying → verified / not verified / duplicate → published / archived.
A move the table does not allow is refused with the reason; the caller writes
the audit line (every change of a report is in the audit log). Duties are
split: whoever verified a report cannot also publish it, so every published
report was seen by two people; and only a report its reporter agreed to share
(the report flow asks) can be published.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.accounts.models import User
from bot.exceptions import ExplainedError
from bot.i18n import N_
from bot.reports.models import (
    REPORT_ARCHIVED,
    REPORT_DUPLICATE,
    REPORT_NEW,
    REPORT_NOT_VERIFIED,
    REPORT_PUBLISHED,
    REPORT_TRIAGED,
    REPORT_VERIFIED,
    REPORT_VERIFYING,
    Report,
    ReportNote,
)

# status -> where it may go next (duplicate is set with mark_duplicate, which names the original)
MOVES: dict[str, tuple[str, ...]] = {
    REPORT_NEW: (REPORT_TRIAGED, REPORT_ARCHIVED),
    REPORT_TRIAGED: (REPORT_VERIFYING, REPORT_ARCHIVED),
    REPORT_VERIFYING: (REPORT_VERIFIED, REPORT_NOT_VERIFIED, REPORT_TRIAGED),
    REPORT_VERIFIED: (REPORT_PUBLISHED, REPORT_ARCHIVED, REPORT_VERIFYING),
    REPORT_NOT_VERIFIED: (REPORT_ARCHIVED, REPORT_VERIFYING),
    REPORT_DUPLICATE: (REPORT_ARCHIVED, REPORT_TRIAGED),
    REPORT_PUBLISHED: (REPORT_VERIFIED, REPORT_ARCHIVED),  # back to verified: unpublished
    REPORT_ARCHIVED: (REPORT_TRIAGED,),  # reopened
}
NOTE_MAX = 4000
NO_SUCH_REPORT = N_("There is no other report #%(id)s.")


class WorkflowError(ExplainedError):
    """A move the desk refuses, and why."""


def allowed_moves(report: Report) -> tuple[str, ...]:
    """Where ``report`` may go from its status."""
    return MOVES.get(report.status, ())


def move(session: Session, report: Report, to: str, user_id: int, now: dt.datetime) -> str:
    """Move ``report`` to ``to``; returns the status it had."""
    before = report.status
    if to not in allowed_moves(report):
        raise WorkflowError(
            N_("A report that is %(before)s cannot become %(after)s."), before=before, after=to
        )
    if to == REPORT_PUBLISHED and report.verified_by_id == user_id:
        raise WorkflowError(N_("You verified this report: someone else must publish it."))
    if to == REPORT_PUBLISHED and report.answers.get("may_share") not in ("yes", True):
        raise WorkflowError(N_("The reporter did not agree to share this report publicly."))
    if to == REPORT_VERIFIED:
        report.verified_by_id = user_id
    elif to == REPORT_VERIFYING and report.assignee_id is None:
        report.assignee_id = user_id  # whoever starts checking it holds it
    report.published_at = now if to == REPORT_PUBLISHED else None
    if to != REPORT_DUPLICATE:
        report.duplicate_of_id = None
    report.status = to
    report.updated_at = now
    return before


def mark_duplicate(session: Session, report: Report, original_id: int, now: dt.datetime) -> str:
    """Link ``report`` to the report of the same incident; returns the status it had."""
    before = report.status
    if report.status in (REPORT_PUBLISHED, REPORT_ARCHIVED, REPORT_DUPLICATE):
        raise WorkflowError(
            N_("A report that is %(before)s cannot become %(after)s."),
            before=before,
            after=REPORT_DUPLICATE,
        )
    original = session.get(Report, original_id)
    if original is None or original.id == report.id:
        raise WorkflowError(NO_SUCH_REPORT, id=str(original_id))
    if original.organization_id != report.organization_id:
        raise WorkflowError(NO_SUCH_REPORT, id=str(original_id))
    while original.duplicate_of_id is not None:  # link to the first report of the incident
        follow = session.get(Report, original.duplicate_of_id)
        if follow is None or follow.id == report.id:
            break
        original = follow
    report.duplicate_of_id = original.id
    report.status = REPORT_DUPLICATE
    report.published_at = None
    report.updated_at = now
    return before


def assign(session: Session, report: Report, user_id: int | None, now: dt.datetime) -> None:
    """Give the report to a desk member (None: to nobody)."""
    if user_id is not None and session.get(User, user_id) is None:
        raise WorkflowError(N_("There is no such user."))
    report.assignee_id = user_id
    report.updated_at = now


def add_note(
    session: Session, report: Report, user_id: int, body: str, now: dt.datetime
) -> ReportNote:
    """Keep a desk member's note on the report."""
    body = body.strip()
    if not body:
        raise WorkflowError(N_("Write the note first."))
    if len(body) > NOTE_MAX:
        raise WorkflowError(N_("A note has at most %(max)s characters."), max=str(NOTE_MAX))
    note = ReportNote(report_id=report.id, user_id=user_id, body=body, created_at=now)
    session.add(note)
    report.updated_at = now
    return note


def notes(session: Session, report_id: int) -> list[ReportNote]:
    query = select(ReportNote).where(ReportNote.report_id == report_id)
    return list(session.scalars(query.order_by(ReportNote.id)))


def duplicates_of(session: Session, report_id: int) -> list[int]:
    """The reports marked as the same incident as ``report_id``."""
    query = select(Report.id).where(Report.duplicate_of_id == report_id).order_by(Report.id)
    return list(session.scalars(query))
