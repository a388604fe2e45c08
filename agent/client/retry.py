"""When to try registering again: the LwM2M 1.1 communication retry policy, and the reachability probe.

Two clocks run while the agent cannot register, and the first to fire wins:

* the **retry policy** of the Server object (LwM2M 1.1 §6.2.1.1; resources /1/x/17-20): within a
  sequence, attempt *n* waits Communication Retry Timer x 2^(n-1); after Communication Retry Count
  attempts the sequence has failed and the next one starts after the Communication Sequence Delay
  Timer. The specification's defaults (5 attempts, 60 s, 86400 s, 1 sequence) are polite to a server
  that is overloaded or refusing us, and each delay is drawn uniformly from its upper half, so a
  fleet that lost its server does not come back in lock-step. Every delay is capped by the profile's
  ``retry_ceiling`` (default one hour): a daemon never gives up, where the specification would
  declare the registration failed after the last sequence.
* the **probe**: while the server does not answer at all (as opposed to answering with an error),
  the agent sends a CoAP ping (an empty CON, 4 bytes, answered with RST by any CoAP endpoint) every
  1.5 to 4 s, jittered, and registers or updates the moment one is answered. That is what brings an
  agent back within seconds of a link's return while the retry timers stay long; a ping costs a
  server no state and no log line. After five minutes of silence the pings slow to one every 8 to
  15 s, so a long outage on a metered link costs little and the link's return is still noticed within
  the 20 s the agent promises.

The registration traffic itself is capped too (:data:`EXCHANGE_LIMIT`): an Update sent into an
outage gives up after a few retransmissions instead of RFC 7252's ~93 s, so the probe takes over.

This module holds only the arithmetic (no I/O), so it is tested exhaustively with hypothesis.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# LwM2M 1.1 Server object defaults (Table 6.2.1.1-1 / the object's resource descriptions).
DEFAULT_RETRY_COUNT = 5
DEFAULT_RETRY_TIMER = 60.0
DEFAULT_SEQUENCE_DELAY = 86400.0
DEFAULT_SEQUENCE_RETRY_COUNT = 1
DEFAULT_RETRY_CEILING = 3600.0

# Seconds one Register or Update exchange may take, retransmissions included, before the probe takes
# over. With ACK_TIMEOUT 2 s and MAX_RETRANSMIT 2 the last retransmission leaves by 9 s at the latest.
EXCHANGE_LIMIT = 12.0

PROBE_INTERVAL = (1.5, 4.0)  # seconds between pings while the server does not answer...
PROBE_SLOW_AFTER = 300.0  # ...for the first five minutes of silence; after that
PROBE_SLOW_INTERVAL = (8.0, 15.0)  # a day of outage costs ~240 KB of pings instead of ~1 MB
PROBE_TIMEOUT = 2.0  # a ping's RST takes one round trip; no retransmission


@dataclass(frozen=True)
class RetryResources:
    """The four Server object resources that shape retries (/1/x/17, 18, 19, 20)."""

    retry_count: int = DEFAULT_RETRY_COUNT
    retry_timer: float = DEFAULT_RETRY_TIMER
    sequence_delay: float = DEFAULT_SEQUENCE_DELAY
    sequence_retry_count: int = DEFAULT_SEQUENCE_RETRY_COUNT

    @classmethod
    def from_values(cls, count: object, timer: object, delay: object, sequences: object) -> RetryResources:
        """Resource values as stored (None or nonsense falls back to the specification's default)."""
        return cls(
            retry_count=count if isinstance(count, int) and not isinstance(count, bool) and count >= 1
            else DEFAULT_RETRY_COUNT,
            retry_timer=_seconds(timer, DEFAULT_RETRY_TIMER),
            sequence_delay=_seconds(delay, DEFAULT_SEQUENCE_DELAY),
            sequence_retry_count=sequences if isinstance(sequences, int) and not isinstance(sequences, bool)
            and sequences >= 1 else DEFAULT_SEQUENCE_RETRY_COUNT,
        )


def _seconds(value: object, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return default


@dataclass
class RetryPolicy:
    """Where the agent is in its retry sequences; :meth:`next_delay` after each failed attempt."""

    ceiling: float = DEFAULT_RETRY_CEILING
    attempt: int = 0  # failed attempts in the current sequence
    sequence: int = 0  # sequences that failed since the last success
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, resources: RetryResources) -> float:
        """Seconds to wait after one more failed attempt (jittered into the upper half of the nominal)."""
        nominal = self.nominal_delay(resources)
        return self.rng.uniform(nominal / 2, nominal)

    def nominal_delay(self, resources: RetryResources) -> float:
        """The delay the specification asks for after one more failed attempt, capped by ``ceiling``."""
        self.attempt += 1
        if self.attempt < resources.retry_count:
            # 2**n overflows float past ~1024 doublings; the ceiling has long been reached by then.
            nominal = resources.retry_timer * 2.0 ** min(self.attempt - 1, 60)
        else:
            self.attempt = 0
            self.sequence += 1
            nominal = resources.sequence_delay
        return max(0.0, min(nominal, self.ceiling))

    def reset(self) -> None:
        self.attempt = 0
        self.sequence = 0


def probe_interval(rng: random.Random, silent_for: float = 0.0) -> float:
    """Seconds to the next ping, when the server has not answered for ``silent_for`` seconds."""
    return rng.uniform(*(PROBE_INTERVAL if silent_for < PROBE_SLOW_AFTER else PROBE_SLOW_INTERVAL))
