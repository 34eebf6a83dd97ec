"""Two variants side by side: their rates, the difference, and whether it is chance.

Pure arithmetic, no database: ``compare`` takes how many contacts each variant
was sent and, per figure (replies, signatures; clicks once links are tracked),
how many of them did it. Each difference gets a two-sided two-proportion
z-test with the pooled proportion; ``verdict`` says in plain words what it
means (msgids of the dashboard catalog, so the page and the CLI say the same
in Spanish and English).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from bot.i18n import N_

ALPHA = 0.05  # below this p-value the difference is called larger than chance
MIN_SENT = 30  # per variant, before a test is worth reading
MIN_EXPECTED = 5  # expected successes and failures per variant (the normal approximation)

# The figure's name inside a verdict sentence.
FIGURE_NAMES = {
    "replied": N_("replies"),
    "signed": N_("signatures"),
    "clicked_any": N_("clicks"),  # contacts who clicked any of its links
}
NOT_ENOUGH = N_("Not enough data yet to tell whether the difference in {figure} is chance.")
LARGER_THAN_CHANCE = N_("The difference in {figure} is larger than chance would explain ({p}).")
COULD_BE_CHANCE = N_("The difference in {figure} could be chance ({p}).")


@dataclass(frozen=True)
class Test:
    """A two-proportion z-test of B's rate against A's."""

    difference: float  # B's rate minus A's, as a fraction
    z: float
    p_value: float  # two-sided
    enough: bool  # enough contacts for the test to mean something

    @property
    def significant(self) -> bool:
        return self.enough and self.p_value < ALPHA


def two_proportion_test(a_count: int, a_sent: int, b_count: int, b_sent: int) -> Test:
    """The pooled two-proportion z-test: z = (p_B - p_A) / sqrt(p(1 - p)(1/n_A + 1/n_B)).

    p is the pooled rate (a_count + b_count) / (a_sent + b_sent); the two-sided
    p-value is erfc(|z| / sqrt(2)). No contact sent, or every contact (or none)
    acting in both: no difference to test (p = 1).
    """
    a_rate = a_count / a_sent if a_sent else 0.0
    b_rate = b_count / b_sent if b_sent else 0.0
    difference = b_rate - a_rate
    if not a_sent or not b_sent:
        return Test(difference, 0.0, 1.0, False)
    pooled = (a_count + b_count) / (a_sent + b_sent)
    error = math.sqrt(pooled * (1 - pooled) * (1 / a_sent + 1 / b_sent))
    z = difference / error if error else 0.0
    p_value = math.erfc(abs(z) / math.sqrt(2))
    return Test(difference, z, p_value, _enough(pooled, a_sent, b_sent))


def _enough(pooled: float, a_sent: int, b_sent: int) -> bool:
    smaller = min(a_sent, b_sent)
    expected = min(pooled, 1 - pooled) * smaller
    return smaller >= MIN_SENT and expected >= MIN_EXPECTED


@dataclass(frozen=True)
class Figure:
    """One figure of the two variants side by side."""

    name: str  # "replied", "signed", "clicks"
    a_count: int
    b_count: int
    a_rate: float  # of the contacts sent A
    b_rate: float
    test: Test


@dataclass(frozen=True)
class Comparison:
    a_sent: int
    b_sent: int
    figures: tuple[Figure, ...]


def compare(sent: tuple[int, int], counts: Mapping[str, tuple[int, int]]) -> Comparison:
    """``sent``: (A, B) contacts sent; ``counts``: figure -> (A, B) contacts who did it.

    A new figure (clicks) is one more entry in ``counts``.
    """
    a_sent, b_sent = sent
    figures = []
    for name, (a_count, b_count) in counts.items():
        test = two_proportion_test(a_count, a_sent, b_count, b_sent)
        a_rate = a_count / a_sent if a_sent else 0.0
        b_rate = b_count / b_sent if b_sent else 0.0
        figures.append(Figure(name, a_count, b_count, a_rate, b_rate, test))
    return Comparison(a_sent, b_sent, tuple(figures))


def p_text(p_value: float) -> str:
    """ "p = 0.34", "p = 0.004", "p < 0.001"."""
    if p_value < 0.001:
        return "p < 0.001"
    if p_value < 0.01:
        return f"p = {p_value:.3f}"
    return f"p = {p_value:.2f}"


def verdict(figure: Figure) -> tuple[str, dict[str, str]]:
    """(msgid, values) of the sentence that says what the difference means.

    ``values["figure"]`` is itself a msgid (FIGURE_NAMES): translate it first.
    """
    name = FIGURE_NAMES.get(figure.name, figure.name)
    if not figure.test.enough:
        return NOT_ENOUGH, {"figure": name}
    sentence = LARGER_THAN_CHANCE if figure.test.significant else COULD_BE_CHANCE
    return sentence, {"figure": name, "p": p_text(figure.test.p_value)}
