"""Shape statistics of Intel-Lab-like readings, to compare synthetic data with the real file's targets."""

from __future__ import annotations

import numpy as np

from flead.data.records import CHANNELS, Readings

__all__ = ["TARGETS", "shape_statistics"]

# Targets from notes/intel-lab.md (healthy data, and full-data quartiles).
TARGETS: dict[str, float] = {
    "temperature_mean_05h": 17.3,
    "temperature_mean_06h": 18.6,
    "temperature_mean_07h": 23.9,
    "temperature_mean_10h": 24.75,
    "temperature_mean_18h": 22.1,
    "temperature_mean_22h": 20.1,
    "temperature_daily_range_median": 10.3,
    "temperature_mote_sd": 1.05,
    "humidity_mean_04h": 41.5,
    "humidity_mean_12h": 31.25,
    "humidity_temperature_corr_median": -0.68,
    "humidity_mote_sd": 2.6,
    "light_max": 1847.36,
    "light_dark_fraction": 0.22,
    "light_q25": 40.0,
    "light_q50": 158.0,
    "light_q75": 537.0,
    "voltage_q25": 2.385,
    "voltage_q50": 2.527,
    "voltage_q75": 2.628,
}


def _hour_mean(values: np.ndarray, hour: np.ndarray, h: int) -> float:
    sel = (hour == h) & ~np.isnan(values)
    return float(values[sel].mean()) if sel.any() else float("nan")


def shape_statistics(readings: Readings) -> dict[str, float]:
    """The statistics named in TARGETS (healthy rows where labels exist), plus failure figures."""
    if readings.features[:4] != CHANNELS:
        raise ValueError(f"shape statistics need the channels {CHANNELS}, got {readings.features}")
    healthy = readings.take(readings.label == 0) if readings.label is not None else readings
    hour = np.floor((healthy.time % 86400.0) / 3600.0).astype(int)
    temp, hum, light = (healthy.values[:, i].astype(np.float64) for i in range(3))
    out: dict[str, float] = {}
    for h in (5, 6, 7, 10, 18, 22):
        out[f"temperature_mean_{h:02d}h"] = _hour_mean(temp, hour, h)
    out["humidity_mean_04h"] = _hour_mean(hum, hour, 4)
    out["humidity_mean_12h"] = _hour_mean(hum, hour, 12)
    day = np.floor(healthy.time / 86400.0).astype(np.int64)
    ranges, corrs, t_means, h_means = [], [], [], []
    _, mote_idx = np.unique(healthy.device.astype(str), return_inverse=True)
    order = np.lexsort((day, mote_idx))
    bounds = np.flatnonzero(np.diff(mote_idx[order])) + 1
    for rows in np.split(order, bounds):
        t, h, d = temp[rows], hum[rows], day[rows]
        ok = ~np.isnan(t) & ~np.isnan(h)
        if ok.sum() > 10:
            corrs.append(float(np.corrcoef(t[ok], h[ok])[0, 1]))
            t_means.append(float(t[ok].mean()))
            h_means.append(float(h[ok].mean()))
        for one_day in np.split(t, np.flatnonzero(np.diff(d)) + 1):
            one_day = one_day[~np.isnan(one_day)]
            if len(one_day) > 2000:  # whole days only (~2,800 readings a day)
                ranges.append(float(np.ptp(one_day)))
    out["temperature_daily_range_median"] = float(np.median(ranges)) if ranges else float("nan")
    out["temperature_mote_sd"] = float(np.std(t_means)) if t_means else float("nan")
    out["humidity_mote_sd"] = float(np.std(h_means)) if h_means else float("nan")
    out["humidity_temperature_corr_median"] = float(np.median(corrs)) if corrs else float("nan")
    out["humidity_temperature_corr_min"] = float(np.min(corrs)) if corrs else float("nan")
    out["humidity_temperature_corr_max"] = float(np.max(corrs)) if corrs else float("nan")
    lit = light[~np.isnan(light)]
    out["light_max"] = float(lit.max()) if lit.size else float("nan")
    out["light_dark_fraction"] = float((lit <= 18.0).mean()) if lit.size else float("nan")
    for q in (25, 50, 75):
        out[f"light_q{q}"] = float(np.percentile(lit, q)) if lit.size else float("nan")
    all_volt = readings.values[:, 3].astype(np.float64)
    all_volt = all_volt[~np.isnan(all_volt)]
    for q in (25, 50, 75):
        out[f"voltage_q{q}"] = float(np.percentile(all_volt, q)) if all_volt.size else float("nan")
    if readings.fault is not None:
        stuck = readings.fault == "natural_stuck"
        out["natural_stuck_fraction"] = float(stuck.mean()) if len(readings) else 0.0
        out["natural_stuck_max_voltage"] = (
            float(np.nanmax(readings.values[stuck, 3])) if stuck.any() else float("nan")
        )
    if readings.label is not None:
        out["anomalous_fraction"] = float(readings.label.mean()) if len(readings) else 0.0
    return out
