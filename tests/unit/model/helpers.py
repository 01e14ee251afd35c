"""Small synthetic per-device streams for the model tests (no dependency on flead.data)."""

from __future__ import annotations

import numpy as np

FEATURES = ("temperature", "humidity", "light", "voltage")


def stream(
    devices: int = 4, rows: int = 600, seed: int = 0, period: float = 31.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time-sorted (device, time, values) of `rows` readings per device, diurnal and noisy."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows) * period + rng.uniform(0, period, (devices, 1))
    phase = 2 * np.pi * (t % 86400) / 86400
    temp = 21 + 3 * np.sin(phase) + rng.normal(0, 0.2, t.shape).cumsum(axis=1) * 0.1
    temp += rng.normal(0, 0.1, t.shape)
    hum = 60 - 1.5 * temp + rng.normal(0, 0.3, t.shape)
    light = np.clip(400 + 300 * np.sin(phase) + rng.normal(0, 20, t.shape), 0, None)
    volt = 2.7 - 1e-5 * np.arange(rows) + rng.normal(0, 0.003, t.shape)
    values = np.stack([temp, hum, light, volt], axis=-1).astype(np.float32)
    dev = np.repeat(np.array([str(i + 1) for i in range(devices)], dtype=object), rows)
    time = t.reshape(-1)
    order = np.argsort(time, kind="stable")
    return dev[order], time[order], values.reshape(-1, 4)[order]


def batches(n: int, size: int) -> list[slice]:
    """Consecutive slices of `size` rows covering range(n)."""
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]
