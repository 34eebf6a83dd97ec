"""SQL statements per inbound message: a budget per kind of message.

Counts are deterministic where timings are not: a change that adds a query to
the inbound path fails here, on SQLite and on PostgreSQL, before it shows up
as a slower webhook on the day of a march (bench/webhook.py measures that).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from bot.partners import organizations
from tests.factories import create_partner
from tests.twilio_requests import inbound_params, post_signed

US = "+12135550177"
OTHER = "+12135550178"

# (scenario, at most this many statements, of which at most this many writes);
# before the inbound path was reworked: join 17, answer 13, stop 10, unhandled 10;
# before it wrote with Core (the message, replies, address, flow session and a
# new contact): join 11, answer 6, stop 7, unhandled 4, retry 5, partner_join 14.
BUDGETS = {
    # a new number texts the join keyword: find them; create them (INSERT … ON
    # CONFLICT DO NOTHING, no savepoint); the flow session, the message, their
    # address, the replies (one INSERT), their opt-in (one UPDATE); at
    # commit, the consent line
    "join": (8, 7),
    # a flow answer: find them with their flow session; the flow session; the
    # message; the address's last inbound; the reply; their field and last seen
    "answer": (6, 5),
    "stop": (7, 6),
    "unhandled": (4, 3),  # a known contact, no flow, nothing to say: the inbox
    "retry": (4, 1),  # Twilio retries a MessageSid already handled: its INSERT fails first
    # a new number texts a partner's keyword: the join, plus the partner read,
    # the membership and the partner's consent line written
    "partner_join": (11, 9),
}


@contextmanager
def counted(db) -> Iterator[list[str]]:
    """Every SQL statement run on the app's engine inside the block.

    BEGIN is left out: SQLite's is a statement of ours (BEGIN IMMEDIATE),
    PostgreSQL's rides on the first query. COMMIT is never a cursor statement.
    """
    with db.session() as session:  # read once per 30 s per process, not per message
        organizations.keyword_index(session)
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        verb = statement.split(None, 1)[0].upper()
        if verb != "BEGIN":
            statements.append(verb)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def send(client, sender: str, body: str, **extra: str) -> dict[str, str]:
    params = inbound_params(sender, body, **extra)
    response = post_signed(client, "/twilio/messages", params)
    assert response.status_code == 200
    return params


def scenario(client, db, name: str) -> list[str]:
    """Set the scene, then count the statements of the one message that matters."""
    if name == "join":
        with counted(db) as statements:
            send(client, US, "JOIN")
        return statements
    if name == "partner_join":
        create_partner(db, "frontera", "FRONTERA", "BORDER")
        with counted(db) as statements:
            send(client, US, "BORDER")
        return statements
    send(client, US, "JOIN")
    if name == "answer":
        with counted(db) as statements:
            send(client, US, "Brenda")
        return statements
    if name == "stop":
        with counted(db) as statements:
            send(client, US, "STOP")
        return statements
    if name == "unhandled":
        send(client, OTHER, "Hello")
        with counted(db) as statements:
            send(client, OTHER, "see you on Saturday")
        return statements
    params = send(client, OTHER, "Hello")
    with counted(db) as statements:
        assert post_signed(client, "/twilio/messages", params).status_code == 200
    return statements


@pytest.mark.parametrize("name", BUDGETS)
def test_inbound_statements_stay_within_budget(client, db, name):
    statements = scenario(client, db, name)
    total, writes = BUDGETS[name]
    written = [s for s in statements if s in ("INSERT", "UPDATE", "DELETE")]
    assert len(statements) <= total, " ".join(statements)
    assert len(written) <= writes, " ".join(statements)
