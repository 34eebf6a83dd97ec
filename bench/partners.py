"""A partner-scoped audience in a large coalition, beside a small one with no partners, in one run.

    .venv/bin/python bench/partners.py                      # 100,000 vs 100,000 of 1,000,000
    .venv/bin/python bench/partners.py --contacts 5000 --rounds 2   # smoke check

One PostgreSQL server (durable: fsync on, as in production), started here,
holds two databases migrated with bot.db.upgrade:

(a) baseline: ``--contacts`` subscribed contacts with addresses, no partners;
(b) coalition: 10x as many contacts; ``--contacts`` of them members of
    partner P, spread over the id range, and the rest spread over 50 other
    partners (some in two, some with no partner, some 'left'); P also has
    'left' memberships and its members belong to other partners too. 5 % of
    the non-members of P are opted out.

Each round measures, on both sides, in alternating order: `audiences.size`,
`audiences.breakdown` and `fanout.fan_out` (the real one, deliveries written
page by page, with a no-op ``on_batch``; the deliveries are truncated after
each, outside the timing). (a) has no filter, (b) ``Filters(partners=(P,))``.
Prints the medians and the ratios (b)/(a) (issue 11's target: <= 1.2x), then
EXPLAIN ANALYZE of the statements each side ran.

Data is made with INSERT … SELECT generate_series (not the ORM), then
VACUUM ANALYZE. Needs the PostgreSQL server binaries (initdb, pg_ctl).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event, text  # noqa: E402

from bot.broadcasts import audiences, broadcast, fanout  # noqa: E402
from bot.broadcasts.audiences import Filters  # noqa: E402
from bot.db import Database, upgrade  # noqa: E402
from tests.services import PostgresServer  # noqa: E402

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
CHANNELS = ["whatsapp", "sms"]  # a broadcast's default order
OTHER_PARTNERS = 50
STRIDE = 7919  # prime: g -> (g * STRIDE) % total + 1 spreads P's members over every id
MEASURES = ("size", "breakdown", "fan_out")


def contacts_sql(total: int, opted_out: str) -> str:
    """Contacts 1..total (and their addresses): every one on SMS, every 4th on WhatsApp too."""
    return f"""
    INSERT INTO contacts (id, phone, language, language_chosen, language_source, status,
                          opted_in_at, opted_out_at, country, region, fields, created_at)
    SELECT g, '+1213' || lpad(g::text, 8, '0'), CASE WHEN g % 2 = 1 THEN 'es' ELSE 'en' END,
           true, 'chosen', CASE WHEN {opted_out} THEN 'opted_out' ELSE 'active' END,
           TIMESTAMPTZ '2026-05-01' - (g % 365) * INTERVAL '1 day',
           CASE WHEN {opted_out} THEN TIMESTAMPTZ '2026-05-15' END,
           CASE WHEN g % 3 = 0 THEN 'MX' ELSE 'US' END,
           CASE WHEN g % 3 = 0 THEN 'MX-BCN' ELSE 'US-CA' END,
           '{{}}', TIMESTAMPTZ '2026-05-01' - (g % 365) * INTERVAL '1 day'
    FROM generate_series(1, {total}) AS g;
    SELECT setval(pg_get_serial_sequence('contacts', 'id'), {total});
    INSERT INTO addresses (contact_id, channel, address, created_at)
    SELECT g, 'sms', '+1213' || lpad(g::text, 8, '0'), TIMESTAMPTZ '2026-05-01'
    FROM generate_series(1, {total}) AS g;
    INSERT INTO addresses (contact_id, channel, address, last_inbound_at, created_at)
    SELECT g, 'whatsapp', 'whatsapp:+1213' || lpad(g::text, 8, '0'),
           TIMESTAMPTZ '2026-06-01' - (g % 48) * INTERVAL '1 hour', TIMESTAMPTZ '2026-05-01'
    FROM generate_series(4, {total}, 4) AS g;
    """


def seed_baseline(url: str, count: int) -> None:
    _run(url, contacts_sql(count, "false"))


def seed_coalition(url: str, members: int) -> int:
    """10x ``members`` contacts; returns P's organization id."""
    total = members * 10
    member = f"(g * {STRIDE}) % {total} + 1"  # P's members: g in [0, members)
    engine = create_engine(url)
    with engine.begin() as connection:
        root = connection.execute(text("SELECT id FROM organizations WHERE parent_id IS NULL"))
        root_id = root.scalar_one()
        connection.execute(
            text(
                "INSERT INTO organizations (slug, parent_id, name_es, name_en, country, regions,"
                " created_at) SELECT 'partner-' || g, :root, 'Socio ' || g, 'Partner ' || g,"
                " CASE WHEN g % 2 = 0 THEN 'MX' ELSE 'US' END, '[]', now()"
                f" FROM generate_series(0, {OTHER_PARTNERS}) AS g ORDER BY g"
            ),
            {"root": root_id},
        )
        ids = connection.execute(
            text("SELECT id FROM organizations WHERE parent_id IS NOT NULL ORDER BY id")
        ).scalars()
        partner, *others = list(ids)
    engine.dispose()
    first = others[0]
    _run(
        url,
        f"""
        CREATE TEMP TABLE p_members AS
            SELECT {member} AS contact_id FROM generate_series(0, {members - 1}) AS g;
        CREATE TEMP TABLE p_left AS
            SELECT {member} AS contact_id
            FROM generate_series({members}, {members + members // 10 - 1}) AS g;
        """
        # 1 in 20 of those not in P opted out
        + contacts_sql(total, "g % 20 = 7 AND g NOT IN (SELECT contact_id FROM p_members)")
        + f"""
        INSERT INTO memberships (contact_id, organization_id, status, source, joined_at, extra)
        SELECT contact_id, {partner}, 'member', 'keyword', TIMESTAMPTZ '2026-05-01', '{{}}'
        FROM p_members;
        INSERT INTO memberships (contact_id, organization_id, status, source, joined_at,
                                 left_at, extra)
        SELECT contact_id, {partner}, 'left', 'keyword', TIMESTAMPTZ '2026-04-01',
               TIMESTAMPTZ '2026-05-01', '{{}}'
        FROM p_left;
        -- everyone but 1 in 10 in one other partner (1 in 20 of those left it) ...
        INSERT INTO memberships (contact_id, organization_id, status, source, joined_at,
                                 left_at, extra)
        SELECT g, {first} + (g * 31) % {OTHER_PARTNERS},
               CASE WHEN g % 20 = 3 THEN 'left' ELSE 'member' END, 'keyword',
               TIMESTAMPTZ '2026-04-01',
               CASE WHEN g % 20 = 3 THEN TIMESTAMPTZ '2026-05-01' END, '{{}}'
        FROM generate_series(1, {total}) AS g WHERE g % 10 <> 9;
        -- ... and 1 in 5 in a second one
        INSERT INTO memberships (contact_id, organization_id, status, source, joined_at, extra)
        SELECT g, {first} + (g * 17 + 7) % {OTHER_PARTNERS}, 'member', 'import',
               TIMESTAMPTZ '2026-04-15', '{{}}'
        FROM generate_series(5, {total}, 5) AS g
        ON CONFLICT DO NOTHING;
        """,
    )
    return partner


def _run(url: str, sql: str) -> None:
    """Several statements in one transaction, sent as they are (no parameters: % is modulo)."""
    engine = create_engine(url)
    connection = engine.raw_connection()
    try:
        connection.cursor().execute(sql)
        connection.commit()
    finally:
        connection.close()
    engine.dispose()


def vacuum(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


class Side:
    """One database, one audience: what is measured on it, and the statements it ran."""

    def __init__(self, name: str, url: str, filters: Filters, expected: int) -> None:
        self.name = name
        self.db = Database(url)
        self.filters = filters
        self.expected = expected
        self.times: dict[str, list[float]] = {m: [] for m in MEASURES}
        self.statements: dict[str, list[tuple[str, object]]] = {}  # the first run's, by measure
        self._capture: list[tuple[str, object]] | None = None
        event.listen(self.db.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self._capture is not None and (
            "FROM contacts" in statement or "FROM memberships" in statement
        ):
            self._capture.append((statement, parameters))

    def size(self) -> None:
        with self.db.session() as session:
            got = audiences.size(session, self.filters, CHANNELS, NOW)
        assert got == self.expected, (self.name, got)

    def breakdown(self) -> None:
        with self.db.session() as session:
            got = audiences.breakdown(session, self.filters, CHANNELS, NOW)
        assert got.total == self.expected, (self.name, got.total)

    def fan_out(self) -> float:
        with self.db.session() as session:
            created = broadcast.create(
                session, "bench", {"en": "hi", "es": "hola"}, self.filters, now=NOW
            )
            broadcast.send(session, created.id, NOW)
            broadcast_id = created.id
        started = time.perf_counter()
        seen = fanout.fan_out(self.db, broadcast_id, NOW, 500, lambda number: None)
        wall = time.perf_counter() - started
        with self.db.session() as session:
            written = session.scalar(text("SELECT count(*) FROM deliveries"))
            if self.filters.partners:
                outsiders = session.scalar(
                    text(
                        "SELECT count(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM"
                        " memberships m WHERE m.contact_id = d.contact_id"
                        " AND m.organization_id = :p AND m.status = 'member')"
                    ),
                    {"p": self.filters.partners[0]},
                )
                assert outsiders == 0, (self.name, outsiders)
        assert seen == written == self.expected, (self.name, seen, written)
        with self.db.engine.begin() as connection:
            connection.exec_driver_sql("TRUNCATE deliveries")
        return wall

    def measure(self, what: str, record: bool = True) -> None:
        work: Callable[[], float | None] = getattr(self, what)
        self._capture = [] if what not in self.statements else None
        started = time.perf_counter()
        wall = work()
        wall = wall if wall is not None else time.perf_counter() - started
        if self._capture is not None:
            self.statements[what], self._capture = self._capture, None
        if record:
            self.times[what].append(wall)

    def explain(self) -> None:
        for what, statements in self.statements.items():
            if what == "fan_out":  # the first page and one from the middle
                statements = [statements[0], statements[len(statements) // 2]]
            for statement, parameters in statements:
                with self.db.engine.connect() as connection:
                    rows = connection.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                    ).all()
                shown = {k: v for k, v in parameters.items() if not isinstance(v, dt.datetime)}
                print(f"\n-- {self.name}: {what} {shown}\n" + "\n".join(r[0] for r in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="P's members = baseline")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-explain", action="store_true")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
        f"baseline {args.contacts:,} contacts, coalition {args.contacts * 10:,}",
        flush=True,
    )
    postgres = PostgresServer(durable=True, options="-c shared_buffers=256MB")
    try:
        admin = create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql("CREATE DATABASE baseline")
            connection.exec_driver_sql("CREATE DATABASE coalition")
            version = connection.exec_driver_sql("SHOW server_version").scalar()
        admin.dispose()
        print(f"PostgreSQL {version}, fsync on, shared_buffers 256MB", flush=True)
        urls = {name: postgres.url(name) for name in ("baseline", "coalition")}
        for url in urls.values():
            upgrade(url)
        started = time.perf_counter()
        seed_baseline(urls["baseline"], args.contacts)
        partner = seed_coalition(urls["coalition"], args.contacts)
        for url in urls.values():
            vacuum(url)
        print(f"seeded and analyzed in {time.perf_counter() - started:.1f} s", flush=True)
        sides = [
            Side("(a) baseline, no filter", urls["baseline"], Filters(), args.contacts),
            Side(
                f"(b) coalition, partners=({partner},)",
                urls["coalition"],
                Filters(partners=(partner,)),
                args.contacts,
            ),
        ]
        for side in sides:  # warm-up: caches, plans, and the statements to explain
            for what in MEASURES:
                side.measure(what, record=False)
        for number in range(args.rounds):
            order = sides if number % 2 == 0 else sides[::-1]
            for what in MEASURES:
                for side in order:
                    side.measure(what)
            print(
                f"round {number + 1}: "
                + "; ".join(
                    f"{what} " + " / ".join(f"{s.times[what][-1]:.3f}" for s in sides)
                    for what in MEASURES
                ),
                flush=True,
            )
        print(
            "\nmedian seconds (a) baseline | (b) partner | ratio of the medians (b)/(a)"
            " | median of each round's ratio; target <= 1.2x"
        )
        for what in MEASURES:
            a, b = (statistics.median(s.times[what]) for s in sides)
            base, partner = (s.times[what] for s in sides)
            rounds = statistics.median(y / x for x, y in zip(base, partner, strict=True))
            print(f"{what:10} {a:8.3f} | {b:8.3f} | {b / a:5.2f}x | {rounds:5.2f}x")
        if not args.no_explain:
            for side in sides:
                side.explain()
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
