"""The per-sender throttle, shared by every worker through Redis.

Each send reserves a slot in time from a Lua script that keeps, per sender,
the next free slot (GCRA with a burst of one). Slots are spaced by
``window / rate`` and never reused, so any window of ``window`` seconds holds
at most ``rate`` slots: never more than the sender's rate in any one second,
across all workers, with no herd at the top of each second. The window is one
second plus a margin, so the jitter between taking a slot and the request
reaching Twilio cannot put one message too many in a second.

A bulk send may reserve at most ``BULK_AHEAD_MS`` ahead, so a reply (which may
reserve any slot) never waits behind more than that much of a broadcast.
A WhatsApp rate-limit error pauses a sender's bulk sending for a while.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from bot.defaults import DEFAULT_THROTTLE_MARGIN_MS

BULK_AHEAD_MS = 1000  # how far ahead a bulk send may book its slot

# KEYS[1] the sender's next free slot (ms, Redis clock)
# ARGV[1] interval ms (window / rate * weight), ARGV[2] max ms ahead (-1: any)
# Returns ms to wait before sending (>= 0: booked), or -(ms to wait before asking again).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local ahead = tonumber(ARGV[2])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
if ahead >= 0 and slot - now > ahead then
  return tostring(-(slot - now - ahead))
end
local keep = math.ceil(slot - now + interval + 60000)
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', keep)
return tostring(slot - now)
"""

# The same, for many sends at once: ARGV[3..] are each send's interval (ms).
# Books slots in order while they fit within ARGV[2] ms ahead; returns each
# booked send's wait (ms), or {-(ms to wait before asking again)} if none fit.
_RESERVE_MANY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local ahead = tonumber(ARGV[2])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local waits = {}
for i = 3, #ARGV do
  if ahead >= 0 and slot - now > ahead then break end
  waits[#waits + 1] = tostring(slot - now)
  slot = slot + tonumber(ARGV[i])
end
if #waits == 0 then
  return {tostring(-(slot - now - ahead))}
end
redis.call('SET', KEYS[1], tostring(slot), 'PX', math.ceil(slot - now + 60000))
return waits
"""


@dataclass(frozen=True)
class Limit:
    """A sender and its rate: at most ``rate_per_s`` messages in any one-second window."""

    sender: str  # "sms:+12135550100", "whatsapp:+1213…", "sms:MG…"
    rate_per_s: float
    margin_ms: int = DEFAULT_THROTTLE_MARGIN_MS

    @property
    def interval_ms(self) -> float:
        return (1000.0 + self.margin_ms) / self.rate_per_s


class Throttle:
    """Book send slots for senders; one instance per process is enough."""

    def __init__(self, connection: redis.Redis, prefix: str = "puente:throttle") -> None:
        self.connection = connection
        self.prefix = prefix
        self._reserve = connection.register_script(_RESERVE)
        self._reserve_many = connection.register_script(_RESERVE_MANY)

    def _key(self, sender: str, what: str) -> str:
        return f"{self.prefix}:{sender}:{what}"

    def reserve(self, limit: Limit, weight: int = 1, bulk: bool = True) -> float:
        """Book one slot; seconds to wait before sending, or negative: ask again after."""
        ahead = BULK_AHEAD_MS if bulk else -1
        answer = self._reserve(
            keys=[self._key(limit.sender, "next")], args=[limit.interval_ms * weight, ahead]
        )
        return float(answer) / 1000.0

    def reserve_many(self, limit: Limit, weights: list[int], bulk: bool = True) -> list[float]:
        """Book slots for the first sends of ``weights`` that fit in the bulk horizon.

        Returns each booked send's wait in seconds (in order, possibly fewer
        than asked), or ``[-s]``: none fit, ask again after ``s`` seconds.
        One Redis call for a whole chunk of a broadcast.
        """
        if not weights:
            return []
        ahead = BULK_AHEAD_MS if bulk else -1
        args = [limit.interval_ms * max(w, 1) for w in weights]
        answer = self._reserve_many(keys=[self._key(limit.sender, "next")], args=[0, ahead, *args])
        return [float(ms) / 1000.0 for ms in answer]

    def pause(self, sender: str, seconds: int) -> None:
        """Stop bulk sends on this sender for ``seconds`` (WhatsApp 63018/63038)."""
        self.connection.set(self._key(sender, "paused"), "1", ex=max(seconds, 1))

    def paused_for(self, sender: str) -> float:
        """Seconds left in this sender's bulk pause (0 when it is not paused)."""
        ms = self.connection.pttl(self._key(sender, "paused"))
        return max(ms, 0) / 1000.0
