"""FLEAD: federated learning for anomaly detection on streaming IoT data."""
