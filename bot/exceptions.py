"""The project's exceptions, in one place."""


class PuenteError(Exception):
    """Base class for Puente's own errors."""


class ConfigError(PuenteError):
    """Required settings are missing or malformed; start-up stops, one line per problem."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("Puente cannot start: " + "; ".join(self.problems))


class InvalidWebhook(PuenteError):
    """A signed webhook request Puente cannot use (no sender, no SID): answered 400."""
