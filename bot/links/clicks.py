"""A broadcast's links in the database, and the first click of each person on each.

`store` writes a broadcast's distinct http(s) URLs once (when it is created);
`tracker` reads them back as a `codes.Tracker` for the sending engine; `target`
and `record` serve the redirect endpoint (``bot.web.links``, which records its
clicks a few times a second, in one statement).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from bot.db import Database, UTCDateTime
from bot.links import codes
from bot.links.models import BroadcastLink


def base_of(config: Mapping[str, Any]) -> str:
    """``{LINK_DOMAIN or PUBLIC_URL}/l/``."""
    return codes.base_url(config.get("LINK_DOMAIN") or "", config["PUBLIC_URL"])


@functools.lru_cache(maxsize=4)
def key_of(secret_key: str) -> tuple[bytes, bytes]:
    """The codes' keys for this SECRET_KEY (derived once per process)."""
    return codes.keys(secret_key)


def store(session: Session, broadcast_id: int, texts: Sequence[str]) -> dict[str, int]:
    """Store the texts' distinct http(s) URLs as the broadcast's links; URL -> link id."""
    urls = codes.tracked_urls(texts)
    rows = [
        BroadcastLink(broadcast_id=broadcast_id, position=n, url=u) for n, u in enumerate(urls, 1)
    ]
    session.add_all(rows)
    session.flush()
    return {row.url: row.id for row in rows}


def links_of(session: Session, broadcast_id: int) -> list[BroadcastLink]:
    """The broadcast's links, in the order they appear in its texts."""
    return list(
        session.scalars(
            select(BroadcastLink)
            .where(BroadcastLink.broadcast_id == broadcast_id)
            .order_by(BroadcastLink.position)
        )
    )


def tracker(
    session: Session, broadcast_id: int, track: bool, config: Mapping[str, Any]
) -> codes.Tracker:
    """What rewrites the broadcast's texts per recipient (nothing, when tracking is off)."""
    if not track:
        return codes.untracked()
    links = {link.url: link.id for link in links_of(session, broadcast_id)}
    if not links:
        return codes.untracked()
    return codes.Tracker(base_of(config), links, key_of(config["SECRET_KEY"]))


def target(db: Database, link_id: int) -> str | None:
    """The URL a link redirects to (None: no such link)."""
    with db.session() as session:
        return session.scalar(select(BroadcastLink.url).where(BroadcastLink.id == link_id))


_RECORD = text(
    "INSERT INTO link_clicks (link_id, contact_id, clicked_at)"
    " SELECT :link_id, :contact_id, :clicked_at"
    " WHERE EXISTS (SELECT 1 FROM contacts WHERE contacts.id = :contact_id)"
    " AND EXISTS (SELECT 1 FROM broadcast_links WHERE broadcast_links.id = :link_id)"
    " ON CONFLICT (link_id, contact_id) DO NOTHING"
).bindparams(bindparam("clicked_at", type_=UTCDateTime()))


def record(session: Session, found: Sequence[tuple[int, int, dt.datetime]]) -> None:
    """Each (link, contact, time)'s first click; a later one, or an erased contact's, adds
    nothing (the statement checks the contact is still there; the unique key does the rest).

    One statement for them all (an executemany). On PostgreSQL the commit does not wait for
    the disk (synchronous_commit off, for this transaction only): a crash may lose the last
    clicks, never anything else.
    """
    if not found:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    session.execute(
        _RECORD, [{"link_id": link, "contact_id": who, "clicked_at": at} for link, who, at in found]
    )
