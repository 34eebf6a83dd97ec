"""`make run`: Puente on embedded parts, for trying it on a laptop.

SQLite, the local fake Twilio API mounted at /fake-twilio (the outbox), and
a queue: a redis-server started here when one is installed, otherwise an
in-process fakeredis server. Open http://127.0.0.1:5000 for the simulator.
A database with no event gets a demo summit a month away (CUMBRE / SUMMIT),
so the RSVP flow can be tried at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from flask import Flask
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("PUBLIC_URL", f"http://127.0.0.1:{args.port}")

    from bot import create_app
    from bot.db import upgrade
    from bot.sending.process import start_dev_queue
    from bot.sending.queueing import RECONCILE_JOB

    app = create_app()
    upgrade(app.config["DATABASE_URL"])
    seed_demo_event(app)
    stop_queue = start_dev_queue(app.config, app.instance_path, RECONCILE_JOB)  # + worker.py
    print(f"\n  Puente is running: open http://127.0.0.1:{args.port} to text it.\n")
    # `kill` (SIGTERM) stops the queue too, as Ctrl-C does: no redis-server left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        run_simple("127.0.0.1", args.port, app, threaded=True, use_reloader=False)
    finally:
        stop_queue()


def seed_demo_event(app: Flask) -> None:
    """A demo summit a month away, with its keywords, when there is no event at all."""
    import datetime as dt

    from sqlalchemy import select

    from bot.broadcasts.models import Event
    from bot.db import get_db, utcnow
    from bot.exceptions import PuenteError

    with app.app_context(), get_db().session() as session:
        if session.scalar(select(Event.id).limit(1)) is not None:
            return
        loaded = app.extensions.get("puente.flows")
        starts = (utcnow() + dt.timedelta(days=30)).replace(hour=17, minute=0, second=0)
        try:
            _create_demo_event(session, starts, loaded.flowset if loaded is not None else None)
        except PuenteError as exc:  # CUMBRE taken by a partner, say: no demo, say why
            print(f"  No demo event: {exc}")
            return
        print("  A demo event: text CUMBRE or SUMMIT (or RSVP) to answer it.")


def _create_demo_event(session: Any, starts: Any, flowset: Any) -> None:
    import datetime as dt

    from bot.broadcasts import events

    with session.begin_nested():
        events.create_event(
            session,
            {"es": "Cumbre de la coalición", "en": "Coalition summit"},
            {"es": "Centro comunitario", "en": "Community center"},
            starts.replace(microsecond=0),
            "America/Tijuana",
            [dt.timedelta(days=1)],
            keywords={"es": ["CUMBRE"], "en": ["SUMMIT"]},
            flows=flowset,
        )


if __name__ == "__main__":
    main()
