"""Where readings come from: the synthetic generator, an Intel Lab file, or a user CSV."""

from __future__ import annotations

from flead.data.records import Readings
from flead.logging import get_logger
from flead_producer.settings import ProducerSettings

__all__ = ["load_readings"]

log = get_logger(__name__)


def load_readings(s: ProducerSettings) -> Readings:
    """Readings of the configured source, sorted by time; ValueError naming a missing setting."""
    if s.producer_source == "synthetic":
        from flead.data.synth import generate

        data = generate(
            seed=s.producer_synth_seed, devices=s.producer_synth_devices, days=s.producer_synth_days
        )
        return data.readings.sorted_by_time()
    if not s.producer_path:
        raise ValueError(f"FLEAD_PRODUCER_PATH is required for source {s.producer_source}")
    if s.producer_source == "intel_lab":
        from flead.data.intel_lab import read_intel_lab

        readings, stats = read_intel_lab(s.producer_path, s.producer_labels_path)
    else:
        from flead.data.csv_source import read_csv

        features = None
        if s.producer_csv_features:
            features = [f.strip() for f in s.producer_csv_features.split(",") if f.strip()]
        readings, stats = read_csv(
            s.producer_path,
            s.producer_csv_device_column,
            label_column=s.producer_csv_label_column,
            time_column=s.producer_csv_time_column,
            features=features,
        )
    log.info(
        "source read",
        source=s.producer_source,
        rows_total=stats.rows_total,
        rows_valid=stats.rows_valid,
        rows_rejected=stats.rows_rejected,
    )
    return readings.sorted_by_time()
