"""The project's exceptions, in one place."""


class PuenteError(Exception):
    """Base class for Puente's own errors."""


class ConfigError(PuenteError):
    """A required setting is missing or malformed; start-up stops."""


class InvalidWebhook(PuenteError):
    """A signed webhook request Puente cannot use (no sender, no SID): answered 400."""
