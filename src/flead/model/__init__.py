"""Per-device online anomaly models, batched over devices: `DeviceBank` and its config."""

from flead.model.bank import DeviceBank
from flead.model.config import LocalUpdate, ModelConfig, StepResult

__all__ = ["DeviceBank", "LocalUpdate", "ModelConfig", "StepResult"]
