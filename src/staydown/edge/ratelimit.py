"""Per-client token buckets: ``rate`` requests a second with bursts up to ``burst``."""

from __future__ import annotations


class RateLimiter:
    """A token bucket per client address; ``rate == 0`` admits everything."""

    def __init__(self, *, rate: float, burst: float, max_clients: int = 100_000) -> None:
        self.rate, self.burst, self.max_clients = rate, max(burst, rate), max_clients
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str, now: float) -> bool:
        if self.rate <= 0:
            return True
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        if len(self._buckets) >= self.max_clients and client not in self._buckets:
            self._buckets.clear()  # bounded memory under an address-spraying flood
        self._buckets[client] = (tokens, now)
        return allowed

    def retry_after(self, client: str, now: float) -> float:
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1 or self.rate <= 0 else (1 - tokens) / self.rate
