"""gunicorn reads this file from the working folder (the Procfile's `web:`, `gunicorn app:app`).

Its one hook checks Puente's settings once, in the master, before any worker
starts: a missing or malformed setting prints one line per problem on stderr
and gunicorn exits with status 2. (Without this file each worker would fail
the same way; app.py still stops them, but gunicorn then adds its own lines.)
"""

from typing import Any


def on_starting(server: Any) -> None:
    """Stop here, with exit status 2, when the settings are wrong."""
    if getattr(server.app, "app_uri", None) != "app:app":
        return  # another app started from this folder (bench/'s baselines): not ours to check
    from bot.config import exit_on_config_error, from_environ
    from bot.exceptions import ConfigError

    try:
        from_environ()
    except ConfigError as error:
        exit_on_config_error(error)


def worker_exit(server: Any, worker: Any) -> None:
    """A worker that stops writes the tracked links' clicks it still holds (bot.web.links)."""
    extensions = getattr(getattr(worker, "wsgi", None), "extensions", None) or {}
    redirects = extensions.get("puente.links")
    if redirects is not None:
        redirects.clicks.flush()
