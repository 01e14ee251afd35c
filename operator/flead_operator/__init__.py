"""FLEAD operator: FederatedDevice resources -> one trainer Deployment per partition group."""
