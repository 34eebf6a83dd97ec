"""The WSGI entry point: `gunicorn app:app`.

A missing or malformed setting prints one line per problem on stderr, and the
worker exits with gunicorn's "worker failed to boot" status, so the master
stops (with that status) instead of starting new workers that fail the same way.
"""

import sys

from bot import create_app
from bot.config import print_config_error
from bot.exceptions import ConfigError

WORKER_BOOT_ERROR = 3  # gunicorn.arbiter.Arbiter.WORKER_BOOT_ERROR

try:
    app = create_app()
except ConfigError as error:
    print_config_error(error)
    sys.exit(WORKER_BOOT_ERROR)
