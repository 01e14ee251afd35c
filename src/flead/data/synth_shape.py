"""The healthy shape of Intel-Lab-like data (diurnal temperature, humidity, light, voltage): pure numpy."""

from __future__ import annotations

import numpy as np

__all__ = [
    "HOURLY_TEMPERATURE",
    "LIGHT_SATURATION",
    "healthy_signals",
    "quantise",
    "round_sig6",
    "temperature_curve",
    "voltage_curve",
]

# Hourly mean temperature (deg C) of the lab, 00:00 .. 23:00; the working day starts at 07:00.
HOURLY_TEMPERATURE = np.array(
    [19.2, 18.8, 18.4, 18.0, 17.6, 17.3, 18.6, 23.9, 24.5, 24.7, 24.8, 25.0,
     25.0, 24.8, 24.4, 23.9, 23.3, 22.7, 22.1, 21.6, 21.1, 20.6, 20.1, 19.6]
)  # fmt: skip
LIGHT_SATURATION = 1847.36
# Battery voltage along a mote's life u in [0, 1] (36 days of the real deployment); a steep end.
_VOLT_U = np.array([0.0, 0.25, 0.5, 0.75, 0.96, 0.99, 1.0])
_VOLT_V = np.array([2.70, 2.628, 2.527, 2.385, 2.31, 2.25, 2.14])
LIFETIME_SECONDS = 36 * 86400.0


def temperature_curve(hour: np.ndarray) -> np.ndarray:
    """Diurnal mean temperature at fractional `hour`; its mean over each whole hour is the table value."""
    i = np.floor(hour).astype(int) % 24
    frac = hour - np.floor(hour)
    slope = (HOURLY_TEMPERATURE[(i + 1) % 24] - HOURLY_TEMPERATURE[(i - 1) % 24]) / 2.0
    return np.asarray(HOURLY_TEMPERATURE[i] + slope * (frac - 0.5))


def voltage_curve(u: np.ndarray) -> np.ndarray:
    """Noise-free battery voltage at life fraction `u`; beyond 1 it keeps falling (floor 1.9 V)."""
    tail = np.maximum(_VOLT_V[-1] - 2.0 * (u - 1.0), 1.9)
    return np.where(u <= 1.0, np.interp(u, _VOLT_U, _VOLT_V), tail)


def ar1(rng: np.random.Generator, shape: tuple[int, int], tau_steps: float) -> np.ndarray:
    """Unit-variance AR(1) noise along axis 1 with correlation time `tau_steps`."""
    phi = float(np.exp(-1.0 / tau_steps))
    shocks = rng.standard_normal(shape) * np.sqrt(1.0 - phi * phi)
    out = np.empty(shape)
    out[:, 0] = rng.standard_normal(shape[0])
    for k in range(1, shape[1]):
        out[:, k] = phi * out[:, k - 1] + shocks[:, k]
    return out


def healthy_signals(
    rng: np.random.Generator, seconds: np.ndarray, life_start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Healthy [M, R, 4] readings at `seconds` since the first midnight, and the noise-free voltage.

    `life_start` is each mote's battery life fraction at time 0 (a new battery after 1).

    Per-mote temperature offsets follow the mote's place in the lab; humidity is a per-mote
    line in temperature plus slow noise sized to a drawn correlation (median ~ -0.69).
    """
    m, r = seconds.shape
    xy = rng.uniform([0.0, 0.0], [40.0, 31.0], size=(m, 2))
    place = (xy - xy.mean(axis=0)) / np.maximum(xy.std(axis=0), 1e-9) if m > 1 else xy * 0.0
    hour = (seconds % 86400.0) / 3600.0
    curve = temperature_curve(hour)
    offset = 0.6 * place[:, :1] + 0.65 * rng.standard_normal((m, 1))
    amp = np.exp(rng.normal(0.0, 0.45, (m, 1)))
    amp /= amp.mean() if m > 4 else 1.0
    mean_curve = float(HOURLY_TEMPERATURE.mean())
    temp = mean_curve + offset + amp * (curve - mean_curve)
    temp += 1.1 * ar1(rng, (m, r), 6 * 3600 / 31.0) + 0.6 * ar1(rng, (m, r), 900 / 31.0)
    temp += rng.normal(0.0, 0.03, (m, r))

    base = rng.normal(36.5, 2.0, (m, 1))
    slope = rng.uniform(1.1, 1.6, (m, 1))
    corr = np.clip(rng.normal(-0.69, 0.09, (m, 1)), -0.91, -0.51)
    temp_sd = temp.std(axis=1, keepdims=True)
    noise = ar1(rng, (m, r), 2 * 3600 / 31.0)
    centred = temp - temp.mean(axis=1, keepdims=True)
    noise -= (
        (noise * centred).sum(axis=1, keepdims=True)
        / (centred**2).sum(axis=1, keepdims=True)
        * centred
    )
    noise = (noise - noise.mean(axis=1, keepdims=True)) / noise.std(axis=1, keepdims=True)
    hum = base - slope * (temp - 21.5) + slope * temp_sd * np.sqrt(1.0 / corr**2 - 1.0) * noise
    hum = np.clip(hum, 2.0, 99.0)

    light = _light(rng, hour, seconds, place)
    volt0 = voltage_curve(np.mod(life_start[:, None] + seconds / LIFETIME_SECONDS, 1.0))
    volt = volt0 + 0.006 * (temp - 21.5) + rng.normal(0.0, 0.004, (m, r))
    return np.stack([temp, hum, light, volt], axis=-1), volt0


def _light(
    rng: np.random.Generator, hour: np.ndarray, seconds: np.ndarray, place: np.ndarray
) -> np.ndarray:
    """Lamps in working hours, daylight by window exposure, dark or dim nights; saturating."""
    m = hour.shape[0]
    day = np.floor(seconds / 86400.0).astype(int)
    cloud = rng.uniform(0.5, 1.2, (m, int(day.max()) + 1))[np.arange(m)[:, None], day]
    sun = np.clip(np.sin(np.pi * (hour - 6.5) / 12.5), 0.0, None)
    exposure = np.exp(rng.normal(np.log(620.0), 1.1, (m, 1)) + 0.5 * place[:, 1:])
    lamp = rng.uniform(60.0, 380.0, (m, 1))
    lit_night = (rng.permutation(m) < (m + 1) // 2)[:, None]  # exactly half lit at night
    night = np.where(lit_night, rng.uniform(30.0, 95.0, (m, 1)), rng.uniform(0.5, 12.0, (m, 1)))
    working = (hour >= 7.0) & (hour < 20.0)
    level = np.where(working, lamp + exposure * sun * cloud, night)
    level = level * np.exp(rng.normal(0.0, 0.08, level.shape))
    return np.asarray(np.clip(level, 0.0, LIGHT_SATURATION))


def quantise(values: np.ndarray) -> np.ndarray:
    """Snap [..., 4] readings to the sensors' steps (14-bit temperature, 12-bit humidity, ...)."""
    out = values.astype(np.float64, copy=True)
    t, h, li, v = (out[..., i] for i in range(4))
    out[..., 0] = -38.4 + 0.0098 * np.round((t + 38.4) / 0.0098)
    h = np.clip(h, -4.0, 140.0)
    s = (0.0405 - np.sqrt(0.0405**2 - 4 * 2.8e-6 * (h + 4.0))) / (2 * 2.8e-6)
    s = np.round(s)
    out[..., 1] = -4.0 + 0.0405 * s - 2.8e-6 * s * s
    low = np.round(li / 0.92) * 0.92
    high = LIGHT_SATURATION - 58.88 * np.round((LIGHT_SATURATION - li) / 58.88)
    out[..., 2] = np.where(li < 1000.0, low, high)
    out[..., 3] = np.round(v / 0.0122) * 0.0122
    out[np.isnan(values)] = np.nan
    return out


def round_sig6(values: np.ndarray) -> np.ndarray:
    """Round to 6 significant digits, as the file prints them (`%.6g`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.floor(np.log10(np.abs(values)))
    digits = np.where(np.isfinite(mag), 5 - mag, 0.0)
    scale = 10.0**digits
    return np.where(values == 0, 0.0, np.round(values * scale) / scale)
