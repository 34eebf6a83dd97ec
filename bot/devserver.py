"""`make run`: Puente on embedded parts, for trying it on a laptop.

SQLite, the local fake Twilio API mounted at /fake-twilio (the outbox), and
a queue: a redis-server started here when one is installed, otherwise an
in-process fakeredis server. Open http://127.0.0.1:5000 for the simulator.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

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
    stop_queue = start_dev_queue(app.config, app.instance_path, RECONCILE_JOB)  # + worker.py
    print(f"\n  Puente is running: open http://127.0.0.1:{args.port} to text it.\n")
    # `kill` (SIGTERM) stops the queue too, as Ctrl-C does: no redis-server left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        run_simple("127.0.0.1", args.port, app, threaded=True, use_reloader=False)
    finally:
        stop_queue()


if __name__ == "__main__":
    main()
