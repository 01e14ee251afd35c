"""Pure bookkeeping of when each device's next local update is due (every N samples or T seconds)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Cadence"]


class Cadence:
    """Samples learned per device since its last update, and when that update was sent."""

    def __init__(self, every_samples: int, every_seconds: float) -> None:
        if every_samples < 1 or every_seconds <= 0:
            raise ValueError("every_samples must be >= 1 and every_seconds > 0")
        self.every_samples = every_samples
        self.every_seconds = every_seconds
        self.samples: dict[str, int] = {}
        self.last: dict[str, float] = {}

    def learned(self, counts: Iterable[tuple[str, int]], now: float) -> None:
        """Record rows learned per device (a device seen first starts its clock now)."""
        for device, n in counts:
            self.samples[device] = self.samples.get(device, 0) + n
            self.last.setdefault(device, now)

    def due(self, now: float) -> list[str]:
        """Devices with enough new samples, or with any after every_seconds; sorted."""
        return sorted(
            d
            for d, n in self.samples.items()
            if n >= self.every_samples or (n > 0 and now - self.last[d] >= self.every_seconds)
        )

    def sent(self, device: str, now: float) -> None:
        """The device's update went out: start counting again."""
        self.samples[device] = 0
        self.last[device] = now
