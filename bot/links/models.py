"""A broadcast's tracked links and each person's first click on one.

Nothing is stored per recipient when a broadcast is sent: the short link's code
carries (link, contact) and is signed (``bot.links.codes``). A click adds one
row, once per (link, contact): the unique key absorbs the second click.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime


class BroadcastLink(Base):
    """One distinct http(s) URL of a broadcast's texts (any language), stored once."""

    __tablename__ = "broadcast_links"
    __table_args__ = (UniqueConstraint("broadcast_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)  # 1 = the first URL in the texts
    url: Mapped[str] = mapped_column(Text)


class LinkClick(Base):
    """A person's first click on a link (an erased contact's clicks go with them)."""

    __tablename__ = "link_clicks"
    __table_args__ = (UniqueConstraint("link_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("broadcast_links.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    clicked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
