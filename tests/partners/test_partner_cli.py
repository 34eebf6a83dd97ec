"""`puente partners …` and `puente contacts import --partner` (issue 11, items 1 and 2)."""

from __future__ import annotations

from sqlalchemy import select

from bot.contacts.models import ConsentEvent
from bot.partners.models import Membership, Organization
from tests.factories import contact_by_phone

CREATE = [
    "partners", "create", "--slug", "frontera", "--name-es", "Frontera Unida",
    "--name-en", "Border United", "--keyword-es", "FRONTERA", "--keyword-en", "BORDER",
    "--country", "MX", "--region", "MX-BCN",
]  # fmt: skip


def run(app, *args):
    """As `puente …` runs them: in the app's context (FlaskGroup pushes it)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def test_create_list_update_archive(app, db):
    result = run(app, *CREATE)
    assert result.exit_code == 0, result.output
    listed = run(app, "partners", "list").output
    assert "frontera\tFrontera Unida / Border United\tMX MX-BCN\tes:FRONTERA en:BORDER" in listed
    result = run(app, "partners", "update", "frontera", "--keyword-en", "BORDER,UNITED",
                 "--sender", "+16195550100")  # fmt: skip
    assert result.exit_code == 0, result.output
    with db.session() as session:
        partner = session.scalar(select(Organization).where(Organization.slug == "frontera"))
        assert partner.keywords_for("es") == ["FRONTERA"]  # the other language is kept
        assert partner.keywords_for("en") == ["BORDER", "UNITED"]
        assert partner.sender == "+16195550100"
    assert run(app, "partners", "archive", "frontera").exit_code == 0
    assert "frontera" not in run(app, "partners", "list").output
    assert "archived" in run(app, "partners", "list", "--archived").output


REFUSED = [
    (["--keyword-es", "FRONTERA"], "FRONTERA is already the keyword of the partner frontera"),
    (["--keyword-en", "stop"], "STOP is a compliance word"),
    (["--keyword-es", "AYUDA"], "AYUDA is a compliance word"),
    (["--keyword-en", "JOIN"], "JOIN already starts the flow join"),
    (["--keyword-es", "Únete"], "UNETE already starts the flow join"),
    (["--keyword-en", "LEAVE NOW"], "starts with a word that leaves a partner"),
]


def test_a_colliding_keyword_is_refused_with_the_reason(app, db):
    assert run(app, *CREATE).exit_code == 0
    for keyword, reason in REFUSED:
        result = run(app, "partners", "create", "--slug", "otra", "--name-es", "Otra",
                     "--name-en", "Other", *keyword)  # fmt: skip
        assert result.exit_code == 1, keyword
        assert reason in result.output, (keyword, result.output)
    with db.session() as session:
        assert session.scalar(select(Organization).where(Organization.slug == "otra")) is None


CSV = (
    "phone,channel,language,tags,consent_source,consent_date\n"
    "+12135550101,sms,en,,paper form at the march,2026-05-01\n"
    "not a phone,sms,en,,paper form,2026-05-01\n"
    "+12135550102,sms,es,,paper form at the march,\n"
    "+525512345678,sms,es,,paper form at the march,2026-05-01\n"
)


def test_a_partners_list_makes_members_with_one_consent_line_each(app, db, tmp_path):
    assert run(app, *CREATE).exit_code == 0
    path = tmp_path / "list.csv"
    path.write_text(CSV)
    result = run(app, "contacts", "import", str(path), "--partner", "frontera")
    assert result.exit_code == 0, result.output
    assert "2 new, 0 updated, 2 bad rows" in result.output
    assert "2 members of frontera" in result.output
    assert "line 3" in result.output and "line 4" in result.output
    with db.session() as session:
        partner_id = session.scalar(select(Organization.id).where(Organization.slug == "frontera"))
        members = session.scalars(
            select(Membership.contact_id).where(Membership.organization_id == partner_id)
        ).all()
        assert len(members) == 2
        for contact_id in members:
            lines = session.execute(
                select(ConsentEvent.kind, ConsentEvent.organization_id).where(
                    ConsentEvent.contact_id == contact_id
                )
            ).all()
            assert sorted(lines, key=str) == sorted(
                [("opt_in", None), ("opt_in", partner_id)], key=str
            )
    assert contact_by_phone(db, "+12135550101").joined_via_id == partner_id


def test_an_unknown_partner_stops_the_import_before_any_row(app, db, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(CSV)
    result = run(app, "contacts", "import", str(path), "--partner", "nadie")
    assert result.exit_code == 1 and "no partner nadie" in result.output
    assert contact_by_phone(db, "+12135550101") is None


def test_a_broadcast_for_a_partner_or_for_chosen_partners(app, db):
    from bot.broadcasts.models import Broadcast
    from tests.factories import add_member, create_contact, create_partner

    frontera = create_partner(db, "frontera", "FRONTERA", "BORDER", "Frontera Unida", "Border U")
    sierra = create_partner(db, "sierra", "SIERRA", "MOUNTAIN", "Sierra Viva", "Living Sierra")
    ana, lupe, leo = (create_contact(db, f"+1213555000{n}", "en") for n in (1, 2, 3))
    add_member(db, ana, frontera)
    add_member(db, lupe, sierra)

    mine = run(app, "broadcast", "create", "ours", "--text-en", "March", "--partner", "frontera")
    assert mine.exit_code == 0, mine.output
    assert "audience: 1 contacts" in mine.output  # Frontera's one member, not all three
    chosen = run(app, "broadcast", "create", "both", "--text-en", "March",
                 "--to-partner", "frontera", "--to-partner", "sierra")  # fmt: skip
    assert chosen.exit_code == 0, chosen.output
    assert "audience: 2 contacts" in chosen.output
    unknown = run(app, "broadcast", "create", "x", "--text-en", "March", "--partner", "nadie")
    assert unknown.exit_code == 1 and "no partner nadie" in unknown.output
    with db.session() as session:
        rows = {b.name: b for b in session.scalars(select(Broadcast))}
        assert rows["ours"].organization_id == frontera
        assert rows["ours"].texts == {"en": "Border U: March"}
        assert rows["ours"].filters["partners"] == [frontera]
        assert rows["both"].organization_id is None
        assert sorted(rows["both"].filters["partners"]) == sorted([frontera, sierra])
        assert "x" not in rows
    assert leo  # a coalition-only contact, in neither
