"""Where reports' photos, audio and video are kept: a local folder (``MEDIA_DIR``).

Each file is named by a random key (``secrets.token_urlsafe``), never by a
phone number, a report number or the file's own name, so a listing of the
folder says nothing and a name cannot be guessed. Files are written readable by
Puente's user only. Nothing here is served publicly: the desk reads a file
through an authenticated route (``bot.web.dashboard.reports``).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_KEY = re.compile(r"[A-Za-z0-9_-]{32,64}")


class LocalStore:
    """A folder of files named by unguessable keys."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def put(self, content: bytes) -> str:
        """Keep ``content``; returns its new key."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_urlsafe(32)
        partial = self.folder / f".{key}.partial"
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(content)
        partial.replace(self._path(key))  # whole or not at all
        return key

    def read(self, key: str) -> bytes | None:
        """The file's bytes, or None when there is no such file."""
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def delete(self, key: str) -> None:
        """Remove the file (gone already is fine)."""
        try:
            self._path(key).unlink(missing_ok=True)
        except ValueError:
            return

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError("not a media key")
        return self.folder / key


def store_for(config: Mapping[str, Any]) -> LocalStore:
    """The store the settings name."""
    return LocalStore(config["MEDIA_DIR"])
