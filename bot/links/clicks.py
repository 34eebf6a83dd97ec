"""A broadcast's links in the database, and the first click of each person on each.

`store` writes a broadcast's distinct http(s) URLs once (when it is created);
`tracker` reads them back as a `codes.Tracker` for the sending engine; `target`
and `record` serve the redirect endpoint (``bot.web.links``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import exists, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.contacts.models import Contact
from bot.links import codes
from bot.links.models import BroadcastLink, LinkClick

_TARGETS_CACHED = 4096  # link id -> URL, per process: a link's URL never changes


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


_targets: dict[int, str] = {}


def target(session: Session, link_id: int) -> str | None:
    """The URL a link redirects to (None: no such link), cached in this process."""
    url = _targets.get(link_id)
    if url is None:
        url = session.scalar(select(BroadcastLink.url).where(BroadcastLink.id == link_id))
        if url is not None:
            if len(_targets) >= _TARGETS_CACHED:
                _targets.clear()
            _targets[link_id] = url
    return url


def record(session: Session, link_id: int, contact_id: int, now: dt.datetime) -> None:
    """The contact's first click on the link; a later one, or an erased contact, adds nothing.

    One statement: INSERT … SELECT … WHERE the contact (and the link) exist ON CONFLICT DO
    NOTHING.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    still_there = select(
        literal(link_id), literal(contact_id), literal(now, LinkClick.clicked_at.type)
    ).where(exists().where(Contact.id == contact_id), exists().where(BroadcastLink.id == link_id))
    statement = (
        dialect.insert(LinkClick)
        .from_select(["link_id", "contact_id", "clicked_at"], still_there)
        .on_conflict_do_nothing(index_elements=["link_id", "contact_id"])
    )
    session.execute(statement)
