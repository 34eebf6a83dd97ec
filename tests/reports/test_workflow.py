"""The verification workflow: allowed moves, split duties, consent to publish, duplicates."""

from __future__ import annotations

import pytest

from bot.db import utcnow
from bot.reports import workflow
from bot.reports.models import Report
from bot.reports.workflow import WorkflowError
from tests.factories import create_contact, create_report, create_user


@pytest.fixture
def people(db):
    return {
        "contact": create_contact(db),
        "verifier": create_user(db, "verifier"),
        "admin": create_user(db, "admin"),
    }


def _walk(db, report_id, user_id, *statuses):
    with db.session() as session:
        report = session.get_one(Report, report_id)
        for status in statuses:
            workflow.move(session, report, status, user_id, utcnow())


def test_a_report_goes_from_new_to_published_by_two_people(db, people):
    report = create_report(db, people["contact"], what="Retén", may_share="yes")
    _walk(db, report, people["verifier"], "triaged", "verifying", "verified")
    with db.session() as session:
        row = session.get_one(Report, report)
        assert row.assignee_id == people["verifier"]  # who started checking holds it
        with pytest.raises(WorkflowError, match="someone else must publish"):
            workflow.move(session, row, "published", people["verifier"], utcnow())
    _walk(db, report, people["admin"], "published")
    with db.session() as session:
        row = session.get_one(Report, report)
        assert row.status == "published" and row.published_at is not None
        assert row.verified_by_id == people["verifier"]


def test_a_report_the_reporter_would_not_share_is_never_published(db, people):
    report = create_report(db, people["contact"], what="Retén", may_share="no")
    _walk(db, report, people["verifier"], "triaged", "verifying", "verified")
    with db.session() as session, pytest.raises(WorkflowError, match="did not agree"):
        workflow.move(
            session, session.get_one(Report, report), "published", people["admin"], utcnow()
        )


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ((), "published"),
        ((), "verified"),
        (("triaged",), "published"),
        (("archived",), "verifying"),
    ],
)
def test_a_move_the_workflow_does_not_allow_is_refused(db, people, path, refused):
    report = create_report(db, people["contact"], may_share="yes")
    _walk(db, report, people["admin"], *path)
    with db.session() as session, pytest.raises(WorkflowError, match="cannot become"):
        workflow.move(session, session.get_one(Report, report), refused, people["admin"], utcnow())


def test_unpublishing_takes_it_out_of_the_public_and_keeps_it_verified(db, people):
    report = create_report(db, people["contact"], may_share="yes")
    _walk(db, report, people["verifier"], "triaged", "verifying", "verified")
    _walk(db, report, people["admin"], "published", "verified")
    with db.session() as session:
        row = session.get_one(Report, report)
        assert (row.status, row.published_at) == ("verified", None)


def test_duplicates_link_to_the_first_report_of_the_incident(db, people):
    first = create_report(db, people["contact"], what="Retén en el km 40")
    second = create_report(db, people["contact"], what="Retén km 40, otra vez")
    third = create_report(db, people["contact"], what="El mismo retén")
    with db.session() as session:
        workflow.mark_duplicate(session, session.get_one(Report, second), first, utcnow())
    with db.session() as session:
        workflow.mark_duplicate(session, session.get_one(Report, third), second, utcnow())
    with db.session() as session:
        assert session.get_one(Report, third).duplicate_of_id == first
        assert workflow.duplicates_of(session, first) == [second, third]
        with pytest.raises(WorkflowError, match="no other report"):
            workflow.mark_duplicate(session, session.get_one(Report, first), first, utcnow())


def test_notes_are_kept_in_order_and_an_empty_one_is_refused(db, people):
    report = create_report(db, people["contact"])
    with db.session() as session:
        row = session.get_one(Report, report)
        workflow.add_note(session, row, people["verifier"], "Llamé a la red local", utcnow())
        workflow.add_note(session, row, people["admin"], "Confirmado por dos fuentes", utcnow())
        with pytest.raises(WorkflowError, match="Write the note"):
            workflow.add_note(session, row, people["admin"], "   ", utcnow())
    with db.session() as session:
        assert [n.body for n in workflow.notes(session, report)] == [
            "Llamé a la red local",
            "Confirmado por dos fuentes",
        ]
