"""A broadcast's poll on its dashboard page: the tally per choice (the latest answer per
person), by language, channel and partner, with a bar chart; the panel is fetched
again every few seconds while answers can still come in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from bot.broadcasts.models import BROADCAST_DRAFT, Broadcast
from bot.db import utcnow
from bot.polls import polls, tally
from bot.polls.models import Poll
from bot.web.dashboard.charts import Series, bar_chart
from bot.web.dashboard.labels import label
from bot.web.dashboard.language import _, current_language, explained

ANSWERS_WINDOW = dt.timedelta(days=1)  # the poll flow waits 23 h after each send
LANGUAGE_KEYS = ("es", "en")
CHANNEL_KEYS = ("sms", "whatsapp")


def spec_of(poll: Poll) -> str:
    """The choices as the form writes them: "SÍ|YES,NO,TAL VEZ|MAYBE" (to copy a broadcast)."""
    return ",".join(c["es"] if c["es"] == c["en"] else f"{c['es']}|{c['en']}" for c in poll.choices)


def error_text(error: polls.PollError) -> str:
    """Why the poll was refused, in the page's language, with its values filled in."""
    return explained(error)


def panel(session: Session, item: Broadcast) -> dict[str, Any] | None:
    """What the poll panel shows, or None when the broadcast carries no poll."""
    poll = polls.for_broadcast(session, item.id)
    if poll is None:
        return None
    found = tally.tally(session, poll)
    language = current_language()
    labels = [f"{c.number}. {c.label(language)}" for c in found.choices]
    partners = [
        (slug, _("Coalition (direct)") if slug == tally.DIRECT else
         found.partners.get(slug, {}).get(language, slug))
        for slug in found.keys("partner")
    ]  # fmt: skip
    columns = [("language", k, label("language", k)) for k in LANGUAGE_KEYS]
    columns += [("channel", k, label("channel", k)) for k in CHANNEL_KEYS]
    columns += [("partner", slug, name) for slug, name in partners]
    rows = [
        {
            "label": name,
            "other": "" if c.es == c.en else c.label("en" if language == "es" else "es"),
            "total": c.total,
            "changed": c.changed,
            "share": round(100 * c.total / found.total) if found.total else 0,
            "cells": [getattr(c, f"by_{dim}")[key] for dim, key, _title in columns],
        }
        for name, c in zip(labels, found.choices, strict=True)
    ]
    chart = bar_chart(
        labels,
        [
            Series(label("language", k), tuple(c.by_language[k] for c in found.choices))
            for k in LANGUAGE_KEYS
        ],
    )
    return {
        "tally": found,
        "rows": rows,
        "columns": [(dim, title) for dim, _key, title in columns],
        "chart": chart,
        "spec": spec_of(poll),
        "live": item.status != BROADCAST_DRAFT
        and (item.finished_at is None or utcnow() - item.finished_at < ANSWERS_WINDOW),
    }
