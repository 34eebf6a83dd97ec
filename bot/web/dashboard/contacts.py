"""Contacts: search and filter, one contact's conversation, consent log and tags."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from bot import erasure, phones
from bot.accounts.roles import EDIT, MANAGE, SEE_PHONES, SEE_TEXTS
from bot.broadcasts.audiences import Filters, matching
from bot.contacts import consent, csv_lists, suppressions
from bot.contacts.csv_lists import Reason
from bot.contacts.models import (
    CHANNELS,
    STATUS_OPTED_OUT,
    STATUSES,
    Address,
    ConsentEvent,
    Contact,
    ContactTag,
)
from bot.db import get_db, get_session, utcnow
from bot.i18n import LANGUAGES
from bot.msgs.models import Message
from bot.partners import membership
from bot.web.dashboard import masking, scope
from bot.web.dashboard.auth import audit_here, current_user, record, require
from bot.web.dashboard.language import _
from bot.web.dashboard.masking import may, numbers_masked

bp = Blueprint("contacts", __name__, url_prefix="/contacts")

PAGE_SIZE = 50
MAX_IMPORT_BYTES = 5 * 1024 * 1024
CONVERSATION_LIMIT = 200  # the most recent messages shown on a contact's page
_TAG = re.compile(r"[\w-]{1,64}")


@dataclass(frozen=True)
class Search:
    """The list's filters, read from the query string."""

    q: str = ""
    language: str = ""
    tag: str = ""
    channel: str = ""
    region: str = ""
    status: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> Search:
        """Read the filters from the query string, ignoring values that are not allowed."""

        def pick(name: str, allowed: tuple[str, ...] | None = None) -> str:
            value = args.get(name, "").strip()
            return value if allowed is None or value in allowed else ""

        return cls(
            q=pick("q")[:100],
            language=pick("language", LANGUAGES),
            tag=pick("tag")[:64],
            channel=pick("channel", CHANNELS),
            region=pick("region")[:64],
            status=pick("status", STATUSES),
            page=max(1, args.get("page", 1, type=int) or 1),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query string for this search, with ``changes``."""
        values = {k: v for k, v in self.__dict__.items() if v} | changes
        return {k: v for k, v in values.items() if v and not (k == "page" and v == 1)}


def clauses(search: Search) -> list[ColumnElement[bool]]:
    """WHERE clauses for a search; the audience filters do language, tag and state."""
    filters = Filters(
        languages=(search.language,) if search.language else (),
        tags=(search.tag,) if search.tag else (),
        regions=(search.region,) if search.region else (),
    )
    where = [scope.contacts_clause(), *matching(filters)]
    if search.status:
        where.append(Contact.status == search.status)
    if search.channel:
        where.append(
            exists().where(Address.contact_id == Contact.id, Address.channel == search.channel)
        )
    if search.q:
        where.append(_text_search(search.q))
    return where


def _text_search(q: str) -> ColumnElement[bool]:
    """Its last digits, "#id", or part of a name (whole numbers: ``find``, by POST)."""
    digits = re.sub(r"\D", "", q)
    if 2 <= len(digits) <= 4 and len(digits) == len(q.strip()):
        return Contact.phone.endswith(digits)
    if q.startswith("#") and q[1:].isdigit():
        return Contact.id == int(q[1:])
    if may(SEE_TEXTS) and len(digits) < 5:
        return func.lower(Contact.profile_name).contains(q.lower(), autoescape=True)
    return Contact.id == -1  # a long number in a URL would end up in access logs


def options(session: Session) -> dict[str, list[str]]:
    """The values the filters offer: the tags and states the scope's contacts have."""
    tags = session.scalars(
        select(ContactTag.tag)
        .where(ContactTag.contact_id.in_(scope.visible_contact_ids()))
        .distinct()
        .order_by(ContactTag.tag)
    )
    regions = session.scalars(
        select(Contact.region)
        .where(Contact.region.is_not(None), scope.contacts_clause())
        .distinct()
        .order_by(Contact.region)
    )
    return {"tags": list(tags), "regions": list(regions)}


@bp.before_request
def _in_scope_only() -> None:
    """A contact the scope may not see is not there (404), for every page and action."""
    contact_id = (request.view_args or {}).get("contact_id")
    if contact_id is not None:  # a session of its own: the view's writes must not wait
        with get_db().session() as db_session:
            scope.contact_or_404(db_session, contact_id)


@bp.get("/")
def index() -> str:
    """Search and filter contacts."""
    session = get_session()
    search = Search.from_args(request.args)
    where = clauses(search)
    total = session.scalar(select(func.count()).select_from(Contact).where(*where)) or 0
    rows = session.scalars(
        select(Contact)
        .where(*where)
        .order_by(Contact.last_seen_at.desc().nulls_last(), Contact.id.desc())
        .offset((search.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return render_template(
        "dashboard/contacts/index.html",
        contacts=rows,
        total=total,
        search=search,
        pages=max(1, -(-total // PAGE_SIZE)),
        options=options(session),
        statuses=STATUSES,
        channels=CHANNELS,
    )


@bp.post("/find")
@require(EDIT)
def find() -> Any:
    """Open the contact with a whole phone number (a POST: numbers stay out of URLs and logs)."""
    try:
        phone = phones.normalize_phone(request.form.get("phone", ""))
    except phones.InvalidNumber:
        phone = None
    contact_id = get_session().scalar(
        select(Contact.id).where(Contact.phone == phone, scope.contacts_clause())
    )
    if contact_id is None:
        flash(_("No contact has this number."), "error")
        return redirect(url_for(".index"))
    return redirect(url_for(".detail", contact_id=contact_id))


@bp.get("/<int:contact_id>")
def detail(contact_id: int) -> str:
    """One contact: addresses, fields, tags, consent log, conversation."""
    session = get_session()
    contact = scope.contact_or_404(session, contact_id)
    messages = session.scalars(
        select(Message)
        .where(Message.contact_id == contact.id)
        .order_by(Message.id.desc())
        .limit(CONVERSATION_LIMIT)
    ).all()
    log = session.scalars(
        select(ConsentEvent)
        .where(
            ConsentEvent.contact_id == contact.id,
            scope.consent_clause(ConsentEvent.organization_id),
        )
        .order_by(ConsentEvent.id.desc())
    ).all()
    return render_template(
        "dashboard/contacts/detail.html",
        contact=contact,
        messages=list(reversed(messages)),
        consent_log=log,
        all_tags=options(session)["tags"],
    )


@bp.post("/<int:contact_id>/tags")
@require(EDIT)
def add_tag(contact_id: int) -> Any:
    """Tag a contact (tags pick audiences)."""
    tag = request.form.get("tag", "").strip().lower().replace(" ", "-")
    if not _TAG.fullmatch(tag):
        flash(_("A tag is one word: letters, numbers, - and _."), "error")
        return redirect(url_for(".detail", contact_id=contact_id))
    with get_db().session() as session:
        contact = scope.contact_or_404(session, contact_id)
        if tag not in contact.tag_names:
            contact.tags.append(ContactTag(contact_id=contact.id, tag=tag))
    record("contact.tag_add", f"contact:{contact_id}", tag=tag)
    flash(_("Tag {tag} added.", tag=tag), "success")
    return redirect(url_for(".detail", contact_id=contact_id))


@bp.post("/<int:contact_id>/tags/remove")
@require(EDIT)
def remove_tag(contact_id: int) -> Any:
    """Take a tag off a contact."""
    tag = request.form.get("tag", "")
    with get_db().session() as session:
        contact = scope.contact_or_404(session, contact_id)
        contact.tags = [t for t in contact.tags if t.tag != tag]
    record("contact.tag_remove", f"contact:{contact_id}", tag=tag)
    flash(_("Tag {tag} removed.", tag=tag), "success")
    return redirect(url_for(".detail", contact_id=contact_id))


@bp.post("/<int:contact_id>/opt-out")
@require(EDIT)
def opt_out(contact_id: int) -> Any:
    """Record an opt-out asked for another way (a call, in person): consent by any means."""
    how = request.form.get("how", "").strip()[:200]
    with get_db().session() as session:
        contact = scope.contact_or_404(session, contact_id)
        if contact.status != STATUS_OPTED_OUT:
            user = current_user()
            source = f"organizer:{user.id}" if user else "organizer"
            consent.opt_out(session, contact, utcnow(), source=source, words=how or None)
    record("contact.opt_out", f"contact:{contact_id}")
    flash(_("Opted out. This contact will receive nothing more."), "success")
    return redirect(url_for(".detail", contact_id=contact_id))


@bp.post("/<int:contact_id>/erase")
@require(MANAGE)
def erase(contact_id: int) -> Any:
    """Erase this person, as they may ask by text (BORRAR MIS DATOS): coalition admins only.

    The audit entry keeps the fact, the reason and who did it; never the number
    or the name (digits in the reason are masked).
    """
    reason = request.form.get("reason", "").strip()[:500]
    if not reason or request.form.get("confirm") != "yes":
        flash(_("Give a reason and tick the box to confirm: erasing cannot be undone."), "error")
        return redirect(url_for(".detail", contact_id=contact_id))
    key = suppressions.key_of(current_app.config)
    with get_db().session() as session:
        if scope.contact_or_none(session, contact_id) is None:
            abort(404)
        erasure.erase(session, contact_id, key, utcnow(), config=current_app.config)
        audit_here(session, "contact.erase", None, reason=numbers_masked(reason))
    flash(
        _("Erased. Nothing of this person remains but a mark that stops any message to them."),
        "success",
    )
    return redirect(url_for(".index"))


@bp.get("/import")
@require(EDIT)
def import_form() -> str:
    """The CSV import form, with the columns it expects."""
    return render_template(
        "dashboard/contacts/import.html", report=None, columns=csv_lists.REQUIRED_COLUMNS
    )


@bp.post("/import")
@require(EDIT)
def import_csv() -> Any:
    """Import a CSV: every good row is applied, every bad row is reported with its line."""
    upload = request.files.get("file")
    region = request.form.get("region") if request.form.get("region") in ("US", "MX") else "US"
    raw = upload.read(MAX_IMPORT_BYTES + 1) if upload else b""
    if not raw or len(raw) > MAX_IMPORT_BYTES:
        flash(_("Choose a CSV file of at most 5 MB."), "error")
        return redirect(url_for(".import_form"))
    try:
        lines = raw.decode("utf-8-sig").splitlines(keepends=True)
    except UnicodeDecodeError:
        flash(_("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."), "error")
        return redirect(url_for(".import_form"))
    report = _import(lines, region)
    record(
        "contacts.import", None, created=report.created, updated=report.updated,
        bad_rows=len(report.problems), kept_opted_out=len(report.kept_opted_out),
    )  # fmt: skip
    return render_template(
        "dashboard/contacts/import.html",
        report=report,
        problems=[(line, _masked(_in_language(reason))) for line, reason in report.problems],
        columns=csv_lists.REQUIRED_COLUMNS,
    )


def _import(lines: list[str], region: str) -> csv_lists.Report:
    """Apply the rows; a partner's list makes each row its member (``membership.import_member``)."""
    report = csv_lists.Report()
    now = utcnow()
    partner_id = scope.acting_organization()
    key = suppressions.key_of(current_app.config)
    with get_db().session() as session:
        for row in csv_lists.read_rows(lines, region, now):
            if not isinstance(row, csv_lists.Row):
                report.problems.append(row)
                continue
            kept_out = len(report.kept_opted_out)
            contact = csv_lists.apply_row(session, row, now, report, key)
            if contact is None:  # an erased person's number: refused
                continue
            if partner_id is not None and len(report.kept_opted_out) == kept_out:
                membership.import_member(
                    session, contact, partner_id, row.consented_at, source=row.source,
                    channel=row.channel,
                )  # fmt: skip
    return report


def _in_language(reason: str) -> str:
    """A bad row's reason in the organizer's language."""
    if isinstance(reason, Reason):
        return _(reason.msgid, **reason.values)
    return reason


def _masked(reason: str) -> str:
    """A bad row's reason quotes what was in the file: mask numbers for masked roles."""
    return reason if may(SEE_PHONES) else numbers_masked(reason)


def _visible_phones(session: Session) -> set[str] | None:
    """The numbers of a partner's contacts (None: the coalition, who sees everyone)."""
    if scope.current().sees_everything:
        return None
    return set(session.scalars(select(Contact.phone).where(scope.contacts_clause())))


@bp.get("/export")
@require(EDIT)
def export() -> Response:
    """The scope's contacts as CSV; full numbers only for roles that may see them."""
    out = io.StringIO()
    with get_db().session() as session:
        theirs = _visible_phones(session)
        rows = csv_lists.export_rows(session)
        header = next(rows)
        phone = header.index("phone")
        writer = csv.writer(out)
        writer.writerow(header)
        count = 0
        for row in rows:
            if theirs is not None and row[phone] not in theirs:
                continue
            row[phone] = masking.phone(row[phone])
            writer.writerow(row)
            count += 1
    record("contacts.export", None, contacts=count, full_numbers=may(SEE_PHONES))
    filename = f"puente-contacts-{utcnow():%Y%m%d}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
