"""Evaluation of anomaly scores: metrics, the River baseline, the report and its plots."""
