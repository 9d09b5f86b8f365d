"""int8 checkpoints on disk: a quantized model saved as it runs, so that loading it quantizes nothing.

``save_pretrained`` of a model loaded with ``quantize="int8"`` writes each int8 linear layer as
four tensors — ``<layer>.weight`` (int8, out x in), ``<layer>.weight_scale`` (one per output row),
``<layer>.weight_zero_point`` and ``<layer>.bias`` — beside the float tensors of the rest (token
embeddings, layer norms), and config.json says so::

    "quantization_config": {"quant_method": "m2m100", "weights": "int8", "format": 1}

Each self-attention's query, key and value projections are stored fused, as they run
(``self_attn.qkv_proj``). ``from_pretrained`` builds the int8 layers from those tensors directly
(no float weights are read or held for them), and the layers compute exactly what quantizing the
float checkpoint at load time computes. Other tools cannot read these folders (transformers
refuses the unknown ``quant_method``); keep the float checkpoint for them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from m2m100.model.attention import Attention
from m2m100.model.quantize import Int8Linear

QUANT_METHOD = "m2m100"
FORMAT_VERSION = 1
QUANTIZATION_CONFIG: dict[str, Any] = {"quant_method": QUANT_METHOD, "weights": "int8", "format": FORMAT_VERSION}
_PARTS = ("weight", "weight_scale", "weight_zero_point", "bias")


def is_quantized(model: nn.Module) -> bool:
    """Whether ``model`` holds int8 linear layers (it was loaded or built with ``quantize="int8"``)."""
    return any(isinstance(m, Int8Linear) for m in model.modules())


def check_quantization_config(found: Any) -> None:
    """Accept this package's int8 format; refuse any other ``quantization_config`` of config.json
    (bitsandbytes, GPTQ, AWQ... written by other tools) with what would work instead.

    Raises:
        ValueError: the checkpoint is quantized in a way this package cannot run.
    """
    if not isinstance(found, dict):
        raise ValueError(f"config.json: quantization_config must be an object, got {found!r}")
    method = found.get("quant_method")
    if method != QUANT_METHOD:
        raise ValueError(
            f"config.json: the checkpoint is quantized with {method!r}, which this package cannot run; "
            "load the float checkpoint (quantize='int8' gives int8 on CPU), or one written by `m2m100 quantize`"
        )
    if found.get("weights") != "int8" or found.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"config.json: quantization_config {found!r} is not a format this version reads "
            f"(weights 'int8', format {FORMAT_VERSION}); quantize the float checkpoint again with `m2m100 quantize`"
        )


def quantized_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors of an int8 checkpoint: the model's float ones and four per int8 layer."""
    tensors = dict(model.state_dict())
    for name, module in model.named_modules():
        if isinstance(module, Int8Linear):
            for part, tensor in module.int8_tensors().items():
                tensors[f"{name}.{part}"] = tensor
    return tensors


def install_int8_layers(model: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Build the int8 layers of an int8 checkpoint in ``model`` (built on the meta device, with
    float linear layers) and take their tensors out of ``tensors``: what is left are the float
    tensors, loaded as any checkpoint's.

    Raises:
        ValueError: an int8 tensor names no linear layer of the model, has the wrong shape, lacks
            its scale, or a linear layer of the model has no int8 weight in the checkpoint.
    """
    layers = sorted(k[: -len(".weight")] for k, t in tensors.items() if k.endswith(".weight") and t.dtype == torch.int8)
    for name in layers:
        parent_name, _, child = name.rpartition(".")
        parent = _module(model, parent_name)
        fused = child == "qkv_proj" and isinstance(parent, Attention)
        names = ("q_proj", "k_proj", "v_proj") if fused else (child,)
        replaced = [layer for n in names if isinstance(layer := getattr(parent, n, None), nn.Linear)]
        if parent is None or len(replaced) != len(names):
            raise ValueError(f"{source}: the int8 tensor {name}.weight names no linear layer of the model")
        expected = (sum(layer.out_features for layer in replaced), replaced[0].in_features)
        weight = tensors.pop(f"{name}.weight")
        if tuple(weight.shape) != expected:
            raise ValueError(f"{source}: {name}.weight has shape {tuple(weight.shape)}, the model's layer {expected}")
        missing = [f"{name}.{p}" for p in ("weight_scale", "weight_zero_point") if f"{name}.{p}" not in tensors]
        if missing:
            raise ValueError(f"{source}: the int8 layer {name} lacks {', '.join(missing)}")
        scale, zero_point = tensors.pop(f"{name}.weight_scale"), tensors.pop(f"{name}.weight_zero_point")
        if scale.shape != (expected[0],) or zero_point.shape != (expected[0],):
            raise ValueError(f"{source}: {name} needs one scale and zero point per output row ({expected[0]})")
        layer = Int8Linear.from_int8(weight, scale, zero_point, tensors.pop(f"{name}.bias", None))
        if fused:
            for projection in ("q_proj", "k_proj", "v_proj"):
                setattr(parent, projection, None)
        setattr(parent, child, layer)
    left = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if left:
        shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        raise ValueError(f"{source}: the int8 checkpoint has no int8 weight for {shown}")


def _module(model: nn.Module, name: str) -> nn.Module | None:
    try:
        return model.get_submodule(name) if name else model
    except AttributeError:
        return None
