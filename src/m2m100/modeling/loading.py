"""What ``from_pretrained`` does besides reading the checkpoint, as functions: transformers'
loading keywords (the harmless ones dropped, the unsupported ones refused), the attention
backend check, ``hf_device_map``, parameters the checkpoint lacked (materialized with
transformers' initialisation), and the row resizing of ``resize_token_embeddings``.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from m2m100.model.attention import ATTENTION_BACKENDS


def check_attn_implementation(name: str, *, dtype: torch.dtype, device: torch.device) -> None:
    """Raise a ValueError saying why ``name`` cannot run here."""
    if name not in ATTENTION_BACKENDS:
        raise ValueError(f"attn_implementation {name!r} is not supported; valid: {', '.join(ATTENTION_BACKENDS)}")
    if name != "flash_attention_2":
        return
    try:
        import flash_attn  # noqa: F401
    except ImportError as err:
        raise ValueError(
            "attn_implementation='flash_attention_2' needs the flash-attn package "
            "(pip install flash-attn --no-build-isolation); use 'sdpa' otherwise"
        ) from err
    if device.type != "cuda":
        raise ValueError(f"attn_implementation='flash_attention_2' runs on CUDA only; the model is on {device}")
    if dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(f"attn_implementation='flash_attention_2' needs float16 or bfloat16 weights, not {dtype}")


def resize_rows(module: nn.Module, rows: int, mean_resizing: bool, std: float) -> None:
    """Give ``module.weight`` (and a bias) ``rows`` rows in place, keeping the parameter objects:
    the first rows are kept, new ones are the old rows' mean or N(0, std) (biases: the mean, or 0)."""
    weight = cast(nn.Parameter, module.weight)
    old = weight.data
    new = old.new_empty((rows, *old.shape[1:]))
    kept = min(rows, old.shape[0])
    new[:kept] = old[:kept]
    if rows > kept:
        if mean_resizing:
            new[kept:] = old.float().mean(dim=0).to(old.dtype)
        else:
            new[kept:].normal_(0.0, std)
    weight.data = new
    bias = getattr(module, "bias", None)
    if isinstance(bias, torch.Tensor) and bias.shape[0] != rows:
        grown = bias.data.new_zeros(rows)
        grown[:kept] = bias.data[:kept]
        if rows > kept and mean_resizing:
            grown[kept:] = bias.data.float().mean().to(bias.dtype)
        bias.data = grown
    if hasattr(module, "out_features"):
        setattr(module, "out_features", rows)


# transformers 4.57's from_pretrained keywords that are harmless here: accepted and not used
# (loading never holds a second copy, nothing is offloaded, no remote code is run).
_IGNORED_LOADING_OPTIONS = (
    "low_cpu_mem_usage",
    "resume_download",
    "mirror",
    "_fast_init",
    "offload_state_dict",
    "offload_buffers",
    "offload_folder",
    "max_memory",
    "trust_remote_code",
    "_from_pipeline",
    "_from_auto",
    "_commit_hash",
    "adapter_kwargs",
    "adapter_name",
)
_NO_BITSANDBYTES = "bitsandbytes quantization is not supported; quantize='int8' gives int8 inference on CPU"
_ONE_DEVICE = "tensor parallelism is not supported: the model runs on one device"
# ... and those it can take only at their default, with the reason.
_UNSUPPORTED_LOADING_OPTIONS: dict[str, tuple[Any, str]] = {
    "from_tf": (False, "TensorFlow checkpoints are not supported: convert them to PyTorch with transformers"),
    "from_flax": (False, "Flax checkpoints are not supported: convert them to PyTorch with transformers"),
    "load_in_8bit": (False, _NO_BITSANDBYTES),
    "load_in_4bit": (False, _NO_BITSANDBYTES),
    "quantization_config": (None, _NO_BITSANDBYTES),
    "gguf_file": (None, "GGUF files are not supported; pass a folder with safetensors or .bin weights"),
    "tp_plan": (None, _ONE_DEVICE),
    "tp_size": (None, _ONE_DEVICE),
    "device_mesh": (None, _ONE_DEVICE),
    "distributed_config": (None, _ONE_DEVICE),
    "key_mapping": (None, "renaming checkpoint keys is not supported: M2M100 checkpoints need none"),
    "use_kernels": (False, "hub kernels are not supported"),
}


def accept_loading_options(
    kwargs: dict[str, Any], token: str | bool | None, attn_implementation: str | None
) -> tuple[str | bool | None, str | None]:
    """Take transformers' loading keywords out of ``kwargs`` (what is left are config settings):
    drop the harmless ones, refuse the unsupported ones away from their default, and turn the
    deprecated spellings into the current ones. Returns (token, attn_implementation)."""
    for name in _IGNORED_LOADING_OPTIONS:
        kwargs.pop(name, None)
    for name, (default, reason) in _UNSUPPORTED_LOADING_OPTIONS.items():
        if name in kwargs and kwargs.pop(name) not in (default, None):
            raise ValueError(f"from_pretrained({name}=...): {reason}")
    use_auth_token = kwargs.pop("use_auth_token", None)
    if kwargs.pop("use_flash_attention_2", False):
        attn_implementation = attn_implementation or "flash_attention_2"
    return (token if token is not None else use_auth_token), attn_implementation


def hf_device_map_for(device_map: str | dict | torch.device | int, device: torch.device) -> dict[str, Any]:
    """What transformers' ``hf_device_map`` holds for a one-device map: the map given, or
    {"": device} (a strategy such as "auto" gives "cpu" or the CUDA index)."""
    if isinstance(device_map, dict):
        return dict(device_map)
    if isinstance(device_map, str) and device_map in ("auto", "balanced", "balanced_low_0", "sequential"):
        return {"": (device.index or 0) if device.type == "cuda" else device.type}
    if isinstance(device_map, str):
        return {"": torch.device(device_map)}
    return {"": device_map}


def materialize(model: nn.Module, device: torch.device, dtype: torch.dtype, std: float) -> None:
    """Give the parameters that loading left on the meta device (missing from the checkpoint, or
    of another shape there) real tensors with transformers' initialisation for their module."""
    for module in model.modules():
        for name, param in list(module.named_parameters(recurse=False)):
            if not param.is_meta:
                continue
            value = torch.empty(param.shape, device=device, dtype=dtype)
            with torch.no_grad():
                if isinstance(module, nn.LayerNorm):
                    value.fill_(1.0 if name == "weight" else 0.0)
                elif name == "bias":
                    value.zero_()
                else:
                    value.normal_(0.0, std)
                    padding = getattr(module, "padding_idx", None)
                    if isinstance(module, nn.Embedding) and padding is not None:
                        value[padding] = 0
            setattr(module, name, nn.Parameter(value, requires_grad=param.requires_grad))
