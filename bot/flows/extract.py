"""Flow texts into the ``flows`` Babel catalogs.

``extract_flows`` is a Babel extraction method for ``flows/*.yaml`` (wired in
``babel.cfg``).  Run ``python -m bot.flows.extract`` after changing a flow: it
rewrites ``messages/flows.pot`` and merges it into every language's ``flows.po``,
keeping existing translations; then translate the new empty entries.

Each flow text is one entry per place: its msgctxt is ``<flow>/<step>/<key>``
(``bot.flows.model.text_context``), so two steps with the same English text have
two entries and may read differently in Spanish.  The built-in texts of the step
types (``N_("...")``) have no context.  A catalog written before contexts (keyed by
the English text alone) is migrated as it is merged: each new entry takes the
translation the text-keyed entry had (``adopt_text_keyed``).

Babel is imported by ``bot.i18n``, which reads the catalogs (the bot, at run time),
and by the two tools that write them: this one and ``bot.web.dashboard.catalog``
(the import contracts in pyproject.toml allow exactly these three).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from bot.flows.loader import parse_flow
from bot.flows.model import Flow, Step, text_context
from bot.flows.problems import display_path
from bot.flows.steps import REGISTRY, Text
from bot.i18n import LANGUAGES, MESSAGES_DIR

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "flows"
MAPPING = ROOT / "babel.cfg"
HEADER = {"project": "Puente", "version": "0.1", "copyright_holder": "Puente contributors"}
TEAMS = {"es": "Spanish", "en": "English"}


def flow_texts(flow: Flow) -> Iterator[tuple[Step, Text]]:
    """Every translatable text of a flow, step by step, in file order."""
    for step in flow.steps:
        step_type = REGISTRY.get(step.type)
        for text in step_type.texts(step) if step_type else []:
            if isinstance(text.msgid, str) and text.msgid.strip():
                yield step, text


def flow_contexts(flow: Flow) -> Iterator[tuple[str, Step, Text]]:
    """(msgctxt, step, text) for every translatable text of a flow, in file order."""
    for step, text in flow_texts(flow):
        yield text_context(flow.id, step.id, text.key), step, text


def extract_flows(
    fileobj: Any,
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """Babel extractor: (line, "pgettext", (msgctxt, text), [translator comment]) per text.

    ``pgettext`` is one of Babel's default keywords: its first argument is the context.
    """
    raw = fileobj.read()
    text = raw.decode(options.get("encoding", "utf-8")) if isinstance(raw, bytes) else raw
    flow, _ = parse_flow(getattr(fileobj, "name", "flow.yaml"), text)
    if flow is None:
        return
    for context, step, found in flow_contexts(flow):
        comment = f"flow {flow.id}, step {step.id}: {found.role}"
        yield found.line, "pgettext", (context, found.msgid), [comment]


# --- catalogs ------------------------------------------------------------------------


def po_path(lang: str, messages_dir: Path = MESSAGES_DIR) -> Path:
    return Path(messages_dir) / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str, messages_dir: Path = MESSAGES_DIR) -> Catalog | None:
    """A language's flows catalog, or None when the file does not exist."""
    path = po_path(lang, messages_dir)
    if not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def build_template(root: Path = ROOT, mapping: Path = MAPPING) -> Catalog:
    """Extract every flow text (and the built-in texts of the step types) into a POT."""
    with mapping.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(mapping))
    template = Catalog(**HEADER, domain=DOMAIN, charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), method_map, options_map, comment_tags=("TRANSLATORS:",)
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_by_file=True, ignore_obsolete=True)
    path.write_bytes(buffer.getvalue())


def adopt_text_keyed(catalog: Catalog, template: Catalog) -> int:
    """Give each new (msgctxt, msgid) entry the translation of the msgid's entry without a
    context, as catalogs were written before texts were keyed by step; how many were given.

    Every step that shared the English text starts from the Spanish they shared; the
    text-keyed entry then matches nothing and the merge drops it.
    """
    adopted = 0
    for message in template:
        if not message.id or message.context is None:
            continue
        old = catalog.get(message.id)  # the entry without a context
        already = catalog.get(message.id, context=message.context) is not None
        if already or old is None or not old.string:
            continue
        catalog.add(
            message.id,
            old.string,
            flags=old.flags,
            user_comments=old.user_comments,
            context=message.context,
        )
        adopted += 1
    return adopted


def update_catalogs(messages_dir: Path = MESSAGES_DIR, root: Path = ROOT) -> dict[str, int]:
    """Rewrite ``flows.pot`` and merge it into each ``flows.po``; untranslated count per lang."""
    template = build_template(root)
    _write(template, Path(messages_dir) / f"{DOMAIN}.pot")
    untranslated = {}
    for lang in LANGUAGES:
        catalog = read_catalog(lang, messages_dir) or Catalog(locale=lang, domain=DOMAIN)
        adopt_text_keyed(catalog, template)
        catalog.update(template, no_fuzzy_matching=False)
        catalog.project, catalog.version = HEADER["project"], HEADER["version"]
        catalog.language_team = TEAMS.get(lang, lang)
        catalog.fuzzy = False  # the header; a new file starts "fuzzy" for no reason here
        _write(catalog, po_path(lang, messages_dir))
        untranslated[lang] = sum(1 for m in catalog if m.id and (not m.string or m.fuzzy))
    return untranslated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Extract flow texts into messages/*/flows.po")
    parser.parse_args(argv)
    for lang, count in update_catalogs().items():
        note = "" if lang != "en" else " (English may stay empty: the msgid is the text)"
        print(f"{display_path(po_path(lang))}: {count} untranslated or fuzzy{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
