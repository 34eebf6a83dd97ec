"""``python -m bot.web.dashboard.catalog``: update the dashboard's catalogs from the code.

Collects every ``_("...")`` and ``N_("...")`` in the dashboard's Python and
templates (and the account, partner, petition and poll errors it shows, an A/B test's
verdicts, and the public join, petition and unknown-link pages' texts), then rewrites
messages/<lang>/LC_MESSAGES/dashboard.po keeping the translations already
there. New Spanish entries are left empty, and tests/test_catalogs.py fails
until someone translates them. A development tool: the app never runs it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n import LANGUAGES, MESSAGES_DIR
from bot.web.dashboard.language import DOMAIN

BOT = Path(__file__).resolve().parents[2]
SOURCES = (
    (BOT / "web" / "dashboard", [("**.py", "python")]),
    (BOT / "accounts", [("**.py", "python")]),
    (BOT / "contacts", [("csv_lists.py", "python")]),  # CSV bad-row reasons
    (BOT / "partners", [("organizations.py", "python")]),  # why a partner is refused
    (BOT / "web", [("referral.py", "python")]),  # the public join page
    (BOT / "petitions", [("petitions.py", "python")]),  # why a petition is refused
    (BOT / "polls", [("polls.py", "python")]),  # why a poll is refused
    (BOT / "broadcasts", [("comparison.py", "python")]),  # an A/B test's verdicts
    (BOT / "reports", [("workflow.py", "python")]),  # why the desk refuses a move
    (BOT / "web", [("petition_page.py", "python")]),  # a petition's public count page
    (BOT / "web", [("links.py", "python")]),  # a tracked link's page for an unknown code
    (BOT / "web" / "templates" / "dashboard", [("**.html", "jinja2.ext:babel_extract")]),
    (BOT / "web" / "templates" / "referral", [("**.html", "jinja2.ext:babel_extract")]),
    (BOT / "web" / "templates" / "petition_page", [("**.html", "jinja2.ext:babel_extract")]),
)
# _in(language, "…"): a text in a given language, not the page's (the partner's poster).
KEYWORDS = {"_": None, "N_": None, "_n": (1, 2), "_in": (2,)}


def msgids() -> Iterator[tuple[str, str]]:
    """(msgid, where) for every marked string, in source order."""
    for folder, method_map in SOURCES:
        for filename, _line, message, _comments, _context in extract_from_dir(
            folder, method_map, keywords=KEYWORDS
        ):
            # _n(singular, plural, count): both are plain entries of the catalog.
            for one in message if isinstance(message, tuple) else (message,):
                if isinstance(one, str) and one:
                    yield one, f"{folder.name}/{filename}"


def update(messages_dir: Path = MESSAGES_DIR) -> list[str]:
    """Rewrite both catalogs; returns the msgids that have no Spanish yet."""
    found = dict.fromkeys(m for m, _ in msgids())
    untranslated = []
    for lang in LANGUAGES:
        path = messages_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        old = _read(path, lang)
        catalog = Catalog(locale=lang, domain=DOMAIN, project="Puente", fuzzy=False)
        if old is not None:  # a stable header: only real changes show in a diff
            catalog.creation_date = old.creation_date
            catalog.revision_date = old.revision_date
        for msgid in found:
            previous = old.get(msgid) if old else None
            string = previous.string if previous is not None else ""
            catalog.add(msgid, string)
            if lang == "es" and not string:
                untranslated.append(msgid)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, sort_output=False)
    return untranslated


def _read(path: Path, lang: str) -> Catalog | None:
    if not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def main() -> int:
    """Update both catalogs and list what still needs Spanish."""
    missing = update()
    for msgid in missing:
        print(f"es: no translation for {msgid!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
