"""Combined GPU memory after vLLM started: the one figure that tells whether Ollama and vLLM both fit.

Docker GPU reservations do not enforce memory limits between containers, so the only honest check is to
read what the driver reports once both servers hold their memory. A host without NVML (no driver, no GPU,
the simulators) simply has no figure: that is not an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

GIB = 1024**3
NEARLY_FULL_FRACTION = 0.98


class VRAMReading(BaseModel):
    device_ids: list[str]
    used_gib: float
    total_gib: float

    def warnings(self) -> list[str]:
        if self.total_gib > 0 and self.used_gib / self.total_gib >= NEARLY_FULL_FRACTION:
            return [
                f"GPU memory on device(s) {','.join(self.device_ids)} is {self.used_gib:.1f} of "
                f"{self.total_gib:.1f} GiB after start; expected headroom for Ollama and vLLM together. "
                "Lower vllm.gpu_memory_utilization or unload Ollama models before sending traffic."
            ]
        return []


def _load_nvml() -> Any | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def read_vram(device_ids: list[str], nvml: Any | None = None) -> VRAMReading | None:
    """Sum used/total memory over ``device_ids`` (indices or GPU UUIDs); None when NVML has no such GPU."""
    if not device_ids:
        return None
    nvml = nvml if nvml is not None else _load_nvml()
    if nvml is None:
        return None
    try:
        nvml.nvmlInit()
    except Exception:  # noqa: BLE001 - NVMLError and OSError both mean "no usable driver here"
        return None
    try:
        used = total = 0
        for device_id in device_ids:
            if device_id.isdigit():
                handle = nvml.nvmlDeviceGetHandleByIndex(int(device_id))
            else:
                handle = nvml.nvmlDeviceGetHandleByUUID(device_id)
            info = nvml.nvmlDeviceGetMemoryInfo(handle)
            used += int(info.used)
            total += int(info.total)
    except Exception:  # noqa: BLE001 - a vanished device gives no figure rather than a failed deploy
        return None
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001, S110 - shutdown failures change nothing for the reading
            pass
    return VRAMReading(
        device_ids=list(device_ids), used_gib=round(used / GIB, 3), total_gib=round(total / GIB, 3)
    )
