"""The root of every Puente error, and the errors no one domain owns.

A domain's own errors stay beside it (``phones.InvalidNumber``,
``flows.problems.FlowError``, ``broadcasts.broadcast.BroadcastError``…) and
derive from ``PuenteError``: ``except PuenteError`` catches every error Puente
raises on purpose (tests/test_architecture.py checks that each one does).
"""


class PuenteError(Exception):
    """Base class for Puente's own errors."""


class ExplainedError(PuenteError):
    """An error to show a person: ``msgid`` is its English text, a catalog entry, and
    ``values`` fill its ``%(placeholders)s`` once translated; ``str()`` is the English,
    filled in (for the CLI and the logs)."""

    def __init__(self, msgid: str, **values: object) -> None:
        super().__init__(msgid)
        self.msgid, self.values = msgid, values

    def __str__(self) -> str:
        return self.msgid % self.values if self.values else self.msgid


class ConfigError(PuenteError):
    """Required settings are missing or malformed; start-up stops, one line per problem."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("Puente cannot start: " + "; ".join(self.problems))


class InvalidWebhook(PuenteError):
    """A signed webhook request Puente cannot use (no sender, no SID): answered 400."""
