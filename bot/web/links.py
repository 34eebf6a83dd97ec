"""Tracked links' redirect: ``GET /l/<code>`` sends the person on to the broadcast's URL.

The code is checked (``bot.links.codes``: signed, so a forged or altered one is
unknown), its link's URL read (cached per process) and a 302 sent. A person's
first click on a link is recorded, once (a unique key); link previews (HEAD,
WhatsApp, iMessage, Facebook, Slack, Telegram, Twitter… and prefetches) are
not clicks. A contact erased since still gets the redirect, and nothing is
recorded. An unknown code gets a plain page in both languages (404). Nothing
about the visitor is logged or kept beyond the click's time.

It is a small WSGI app mounted at ``/l`` in front of Flask (``bot.create_app``), not
a blueprint: a public redirect needs none of the dashboard's per-request work
(its session cookie, sign-in and language hooks), which took most of its time
(docs/performance.md).
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Request, Response

from bot.db import Database, utcnow
from bot.i18n import LANGUAGES, N_, gettext
from bot.links import clicks, codes

log = logging.getLogger(__name__)

MOUNT = codes.PATH.rstrip("/")  # "/l"
DOMAIN = "dashboard"  # its texts are in the dashboard's catalog (bot/web/dashboard/catalog.py)
MISSING = (N_("This link does not work"), N_("Check that it was copied whole from the message."))
UNAVAILABLE = (N_("This link cannot open right now"), N_("Please try again in a minute."))
TARGETS_CACHED = 4096  # links whose URL this process keeps
FLUSH_S = 0.25  # how often clicks are written: one statement for all since the last time
_CSP = "default-src 'none'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"


class Redirects:
    """The WSGI app of ``/l/<code>`` (the code is its whole path)."""

    def __init__(self, db: Database, config: Mapping[str, Any]) -> None:
        self.db = db
        self.key = clicks.key_of(config["SECRET_KEY"])
        self.clicks = ClickBuffer(db)
        self.targets: dict[int, str] = {}  # link id -> URL: a link's URL never changes

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.answer(Request(environ))(environ, start_response)

    def answer(self, request: Request) -> Response:
        """302 to the link's URL; the first real click per person and link is recorded."""
        if request.method not in ("GET", "HEAD"):
            return _page(MISSING, 405)
        found = codes.decode(request.path.strip("/"), self.key)
        if found is None:
            return _page(MISSING, 404)
        link_id, contact_id = found
        url = self.targets.get(link_id)
        if url is None:
            try:
                url = clicks.target(self.db, link_id)
            except SQLAlchemyError:
                log.exception("links: the URL of link %s could not be read", link_id)
                return _page(UNAVAILABLE, 503)
            if url is None:
                return _page(MISSING, 404)
            if len(self.targets) >= TARGETS_CACHED:
                self.targets.clear()
            self.targets[link_id] = url
        if not codes.is_preview(request.method, request.user_agent.string, request.headers):
            self.clicks.add(link_id, contact_id, utcnow())
        response = Response(status=302, headers={"Location": url})
        response.headers["Cache-Control"] = "private, no-store"  # each click reaches us
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


class ClickBuffer:
    """Clicks waiting to be written: a thread writes them every FLUSH_S, in one statement.

    The redirect never waits for the database (it only needs the link's URL, cached).
    A process that stops writes what it holds (gunicorn's worker_exit hook in
    gunicorn.conf.py, else atexit); one killed loses at most the last FLUSH_S of
    clicks. A database problem loses those clicks, never a redirect.
    """

    def __init__(self, db: Database, interval: float | None = FLUSH_S) -> None:
        self.db = db
        self.interval = interval  # None: only `flush` writes (tests)
        self.lock = threading.Lock()  # the list
        self.writing = threading.Lock()  # one write at a time: a last flush waits for the writer
        self.waiting: list[tuple[int, int, dt.datetime]] = []
        self.writer: threading.Thread | None = None
        atexit.register(self.flush)

    def add(self, link_id: int, contact_id: int, at: dt.datetime) -> None:
        with self.lock:
            self.waiting.append((link_id, contact_id, at))
            if self.interval and (self.writer is None or not self.writer.is_alive()):
                self.writer = threading.Thread(target=self._write_often, daemon=True)
                self.writer.start()

    def _write_often(self) -> None:
        stop = threading.Event()  # never set: the thread lives as long as the process
        while not stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        """Write every waiting click now (after the writer's write, if one is under way)."""
        with self.writing:
            with self.lock:
                found, self.waiting = self.waiting, []
            if not found:
                return
            try:
                with self.db.session() as session:
                    clicks.record(session, found)
            except SQLAlchemyError:
                log.exception("links: %d clicks were not recorded", len(found))


def _page(texts: tuple[str, str], status: int) -> Response:
    """A plain page saying ``texts`` in each language (the visitor's is unknown)."""
    parts = []
    for language in LANGUAGES:
        title, hint = (escape(gettext(language, msgid, DOMAIN)) for msgid in texts)
        parts.append(f'<section lang="{language}"><h1>{title}</h1><p>{hint}</p></section>')
    page = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(gettext("en", texts[0], DOMAIN))}'
        f"</title></head><body>{''.join(parts)}</body></html>"
    )
    response = Response(page, status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = _CSP
    if status == 503:
        response.headers["Retry-After"] = "60"
    return response
