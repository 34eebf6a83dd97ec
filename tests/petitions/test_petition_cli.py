"""`puente petitions …`: create, list, close, and the signatures for delivery."""

from __future__ import annotations

from tests.twilio_requests import text

CREATE = [
    "petitions", "create", "--slug", "armas", "--title-es", "Alto al tráfico de armas",
    "--title-en", "Stop gun trafficking", "--text-es", "Pedimos…", "--text-en", "We ask…",
    "--target", "U.S. Department of State", "--target-country", "US", "--goal", "5000",
    "--keyword-es", "FIRMO", "--keyword-en", "SIGN",
]  # fmt: skip


def run(app, *args):
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def test_create_sign_list_export_close(app, client, db):
    result = run(app, *CREATE)
    assert result.exit_code == 0, result.output
    text(client, "+12135550123", "SIGN")
    text(client, "+12135550123", '=HYPERLINK("x") Ana')  # a name a spreadsheet would run
    text(client, "+12135550123", "78701")
    assert (
        "armas\topen\t1/5000\tAlto al tráfico de armas / Stop gun trafficking"
        in run(app, "petitions", "list").output
    )
    exported = run(app, "petitions", "signatures", "armas").output.splitlines()
    assert exported[0] == "name,postal_code,region,country,signed_at"
    assert exported[1].startswith('"\'=HYPERLINK(""x"") Ana",78701,US-TX,US,')
    assert "213" not in "\n".join(exported)  # no phone number goes to the target
    assert run(app, "petitions", "close", "armas").exit_code == 0
    assert "armas\tclosed" in run(app, "petitions", "list").output


def test_a_taken_keyword_or_a_missing_language_is_refused(app, db):
    assert run(app, *CREATE).exit_code == 0
    again = [*CREATE[:3], "otra", *CREATE[4:]]
    result = run(app, *again)
    assert result.exit_code == 1 and "FIRMO is already a petition's keyword" in result.output
    join = [*CREATE[:3], "otra", *CREATE[4:-4], "--keyword-en", "JOIN"]
    result = run(app, *join)
    assert result.exit_code == 1 and "JOIN already starts the flow join" in result.output
