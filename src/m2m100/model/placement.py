"""Where and in what form a model is loaded: the device, the weight dtype and the quantization,
checked together before any file is read, so that a combination that cannot run is refused with
a message that says which would, instead of failing half-way through a translation."""

from __future__ import annotations

import torch

from m2m100.checkpoint import DTYPES
from m2m100.model.quantize import QUANTIZATIONS

DeviceSpec = str | dict | torch.device | int | None


def resolve_device(spec: DeviceSpec) -> torch.device:
    """The one device a ``device``/``device_map`` argument names ("auto": CUDA when present).

    Raises:
        ValueError: not a device torch knows, a map over several devices, or a device this
            machine and torch build cannot run on (the message says what would).
    """
    if spec is None:
        return torch.device("cpu")
    if isinstance(spec, dict):
        devices = {str(d) for d in spec.values()}
        if len(devices) != 1:
            raise ValueError(f"device_map spreads the model over {sorted(devices)}; this package runs on one device")
        spec = devices.pop()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        spec = torch.device("cuda", int(spec))
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device {spec!r} is not a device torch knows; valid: {_valid_devices()}") from err
    _check_available(device)
    return device


def _valid_devices() -> str:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return ", ".join([*devices, "auto"])


def _check_available(device: torch.device) -> None:
    if device.type == "cpu":
        return
    if device.type == "cuda":
        if torch.version.cuda is None:
            raise ValueError(
                f"device {str(device)!r}: this torch ({torch.__version__}) is built without CUDA; "
                f"valid here: {_valid_devices()}"
            )
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r}: no CUDA GPU is visible; valid here: {_valid_devices()}")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA device(s); "
                f"valid here: {_valid_devices()}"
            )
        return
    if device.type == "mps" and torch.backends.mps.is_available():
        return
    raise ValueError(f"device {str(device)!r} cannot hold a model to run here; valid here: {_valid_devices()}")


def check_placement(device: DeviceSpec, dtype: str | torch.dtype | None, quantize: str | None) -> torch.device:
    """Check a device, dtype and quantization together; returns the device.

    Every combination of a valid device with dtype float32/float16/bfloat16/"auto" runs, except
    with ``quantize="int8"``, which is a CPU mode of its own over float32 weights.

    Raises:
        ValueError: a value or a combination that cannot run; the message names what would.
    """
    resolved = resolve_device(device)
    if dtype is not None and not isinstance(dtype, torch.dtype) and dtype != "auto" and dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not supported; valid: auto, {', '.join(sorted(DTYPES))}")
    if quantize is None:
        return resolved
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize={quantize!r} is not supported; valid: {', '.join(QUANTIZATIONS)}")
    if resolved.type != "cpu":
        raise ValueError(
            f"quantize={quantize!r} runs on CPU only, not on {str(resolved)!r}; on a GPU use "
            "dtype bfloat16 or float16 without quantize"
        )
    if dtype not in (None, "float32", torch.float32):
        raise ValueError(
            f"quantize={quantize!r} quantizes float32 weights and cannot be combined with dtype "
            f"{str(dtype).replace('torch.', '')!r}; leave dtype unset (or float32), or use dtype "
            "bfloat16 without quantize"
        )
    return resolved
