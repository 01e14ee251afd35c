"""Per-device online anomaly models, batched over devices: `DeviceBank`, its config and spec."""

from flead.model.bank import DeviceBank
from flead.model.config import LocalUpdate, ModelConfig, StepResult
from flead.model.spec import ModelSpec, SpecMismatch

__all__ = ["DeviceBank", "LocalUpdate", "ModelConfig", "ModelSpec", "SpecMismatch", "StepResult"]
