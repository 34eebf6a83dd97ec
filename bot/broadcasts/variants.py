"""A/B variants of a broadcast: who gets variant A, who gets B, who waits for the winner.

A broadcast may carry a second text per language (variant B; ``Broadcast.texts``
is A) and a test share: "test on 20%" sends A to 10% of the audience, B to
another 10%, and holds the other 80% back for the winner
(``broadcast.send_winner``); 100% splits everyone in two halves.

Which part a contact falls in is a function of the broadcast's recorded seed
and the contact's id alone (a SHA-256 of both, read as a number from 0 to
9,999), never a draw made when the delivery is written: a fan-out that runs
again after a crash gives each contact the same variant, and anyone can
reproduce the split from the seed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from bot.exceptions import PuenteError

VARIANT_A = "A"  # the broadcast's own texts
VARIANT_B = "B"  # Broadcast.variant_texts
VARIANTS = (VARIANT_A, VARIANT_B)
FULL_SHARE = 100  # every contact is tested: no one is left for a winner
MIN_SHARE = 2  # 1% for each variant
MAX_SEED = 2**31 - 1  # fits the database's INTEGER
BUCKETS = 10_000  # a contact's place in the split, in hundredths of a percent


class VariantError(PuenteError, ValueError):
    """An A/B test that cannot be set up as asked (the message says why)."""


def new_seed() -> int:
    """A seed for a new split, recorded on the broadcast."""
    return secrets.randbelow(MAX_SEED + 1)


def bucket(seed: int, contact_id: int) -> int:
    """The contact's place in this seed's split: 0 to BUCKETS - 1, uniform."""
    digest = hashlib.sha256(f"{seed}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def variant_of(seed: int, share: int, contact_id: int) -> str | None:
    """ "A" or "B" for a contact in the test, None for one held back for the winner.

    The first ``share`` percent of the buckets are tested, half of them with
    each variant.
    """
    tested = share * BUCKETS // 100
    place = bucket(seed, contact_id)
    if place < tested // 2:
        return VARIANT_A
    if place < tested:
        return VARIANT_B
    return None


def check(
    texts: Mapping[str, str], variant_texts: Mapping[str, str], share: int, seed: int
) -> None:
    """Refuse a split that would not compare like with like; raises VariantError.

    Variant B needs a text in each language A has (and no other), so every
    language is split the same way.
    """
    if set(variant_texts) != set(texts):
        languages = ", ".join(sorted(texts))
        raise VariantError(f"variant B needs a text in each language of variant A ({languages})")
    if not MIN_SHARE <= share <= FULL_SHARE:
        raise VariantError(f"the test share must be {MIN_SHARE} to {FULL_SHARE} percent")
    if not 0 <= seed <= MAX_SEED:
        raise VariantError(f"the seed must be 0 to {MAX_SEED}")
