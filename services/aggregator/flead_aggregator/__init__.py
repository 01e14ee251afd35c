"""FLEAD aggregator: federates local updates into the global model (FastAPI)."""
