"""The processes of a training job and their devices: rank, the few collectives training needs,
RNG state, and the mixed precision a device supports.

A job started by ``torchrun`` has WORLD_SIZE, RANK and LOCAL_RANK in its environment; one started
plainly is a job of one process, for which every collective is a no-op (no process group).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable
from typing import Any

import torch


class Distributed:
    """This process's place in a job, its device, and the collectives used by training.

    Args:
        device: "cpu", "cuda", "cuda:1" ...; default: cuda when present. Under torchrun each
            process takes the GPU of its LOCAL_RANK.

    Raises:
        ValueError: CUDA asked for where there is none.
    """

    def __init__(self, device: str | None) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        kind = torch.device(device).type if device else ("cuda" if torch.cuda.is_available() else "cpu")
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: CUDA is not available here; use --device cpu")
        if kind == "cuda":
            index = torch.device(device).index if device and self.world_size == 1 else None
            self.device = torch.device("cuda", local_rank if index is None else index)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device(kind)
        if self.world_size > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if kind == "cuda" else "gloo")

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints and logs."""
        return self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over all processes (float64)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.world_size > 1:
            torch.distributed.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, obj: Any) -> list[Any]:
        """Every process's ``obj``, in rank order (also a barrier)."""
        if self.world_size == 1:
            return [obj]
        out: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def on_main(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on rank 0 only; its result, or the exception it raised, reaches every rank."""
        outcome: list[Any] = [None]
        if self.is_main:
            try:
                outcome = [("ok", fn())]
            except Exception as err:  # re-raised below on every rank, so that no rank waits forever
                outcome = [("error", err)]
        if self.world_size > 1:
            torch.distributed.broadcast_object_list(outcome, src=0)
        status, value = outcome[0]
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        if self.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def rng_state(device: torch.device) -> dict[str, Any]:
    """The RNG states a resumed process needs to draw the same dropout masks."""
    return {
        "python": random.getstate(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision for the forward pass: "fp32" (none), "bf16" or "fp16"."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def check_precision(precision: str, device: torch.device) -> None:
    """Raise a ValueError when ``device`` cannot train in ``precision``."""
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"--precision fp16 needs a CUDA device (its loss scaling is CUDA's); on {device} use bf16")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("--precision bf16: this GPU has no bfloat16; use fp16")
