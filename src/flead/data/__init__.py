"""Sensor data for FLEAD: columnar readings, the Intel Lab reader, CSV input, synthetic data."""
