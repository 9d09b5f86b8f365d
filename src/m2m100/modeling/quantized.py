"""Quantized checkpoints on disk: a quantized model saved as it runs, so that loading it quantizes nothing.

``save_pretrained`` of a model loaded with ``quantize="int8"`` writes each int8 linear layer as
four tensors — ``<layer>.weight`` (int8, out x in), ``<layer>.weight_scale`` (one per output row),
``<layer>.weight_zero_point`` and ``<layer>.bias`` — beside the float tensors of the rest (token
embeddings, layer norms), and config.json says so::

    "quantization_config": {"quant_method": "m2m100", "weights": "int8", "format": 1}

A model loaded with ``quantize="int4-weight"`` stores each int4 layer as ``<layer>.weight``
(uint8, two 4-bit codes a byte, even columns in the low nibble: out x in/2), ``<layer>.weight_scale``
and ``<layer>.weight_zero`` (float32, out x in/group size, with w = (code - 8) * scale + zero) and
``<layer>.bias``, under ``"weights": "int4-weight"``.

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
from m2m100.model.quantize import QUANTIZATIONS, Int8Linear
from m2m100.model.weight_only import GROUP_SIZES, Int4Linear, unpack_nibbles

QUANT_METHOD = "m2m100"
FORMAT_VERSION = 1
QUANTIZED_LAYERS = (Int8Linear, Int4Linear)
_LAYER_MODES = ((Int8Linear, "int8"), (Int4Linear, "int4-weight"))
_WEIGHT_DTYPES = {"int8": torch.int8, "int4-weight": torch.uint8}
_SCALES = {"int8": ("weight_scale", "weight_zero_point"), "int4-weight": ("weight_scale", "weight_zero")}


def quantization_config(mode: str) -> dict[str, Any]:
    """What config.json says of a checkpoint of ``mode`` (one of QUANTIZATIONS)."""
    return {"quant_method": QUANT_METHOD, "weights": mode, "format": FORMAT_VERSION}


def quantization_of(model: nn.Module) -> str | None:
    """The quantization of ``model``'s linear layers ("int8", "int4-weight"), or None for float."""
    for module in model.modules():
        for layer, mode in _LAYER_MODES:
            if isinstance(module, layer):
                return mode
    return None


def is_quantized(model: nn.Module) -> bool:
    """Whether ``model`` holds quantized linear layers (loaded or built with ``quantize=``)."""
    return quantization_of(model) is not None


def check_quantization_config(found: Any) -> str:
    """Accept this package's formats; refuse any other ``quantization_config`` of config.json
    (bitsandbytes, GPTQ, AWQ... written by other tools) with what would work instead.

    Returns:
        The checkpoint's mode, one of QUANTIZATIONS.

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
    mode = found.get("weights")
    if mode not in QUANTIZATIONS or found.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"config.json: quantization_config {found!r} is not a format this version reads "
            f"(weights one of {', '.join(QUANTIZATIONS)}, format {FORMAT_VERSION}); "
            "quantize the float checkpoint again with `m2m100 quantize`"
        )
    return str(mode)


def quantized_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors of a quantized checkpoint: the model's float ones and those of each quantized layer."""
    tensors = dict(model.state_dict())
    for name, module in model.named_modules():
        if isinstance(module, Int8Linear):
            parts = module.int8_tensors()
        elif isinstance(module, Int4Linear):
            parts = module.int4_tensors()
        else:
            continue
        for part, tensor in parts.items():
            tensors[f"{name}.{part}"] = tensor
    return tensors


def install_quantized_layers(
    model: nn.Module, tensors: dict[str, torch.Tensor], source: str, mode: str = "int8"
) -> None:
    """Build the quantized layers of a ``mode`` checkpoint in ``model`` (built on the meta device,
    with float linear layers) and take their tensors out of ``tensors``: what is left are the
    float tensors, loaded as any checkpoint's.

    Raises:
        ValueError: a quantized tensor names no linear layer of the model, has the wrong shape,
            lacks its scale, or a linear layer of the model has no quantized weight in the checkpoint.
    """
    dtype = _WEIGHT_DTYPES[mode]
    layers = sorted(k[: -len(".weight")] for k, t in tensors.items() if k.endswith(".weight") and t.dtype == dtype)
    for name in layers:
        parent_name, _, child = name.rpartition(".")
        parent = _module(model, parent_name)
        fused = child == "qkv_proj" and isinstance(parent, Attention)
        names = ("q_proj", "k_proj", "v_proj") if fused else (child,)
        replaced = [layer for n in names if isinstance(layer := getattr(parent, n, None), nn.Linear)]
        if parent is None or len(replaced) != len(names):
            raise ValueError(f"{source}: the {mode} tensor {name}.weight names no linear layer of the model")
        out_features, in_features = sum(layer.out_features for layer in replaced), replaced[0].in_features
        expected = (out_features, in_features // 2 if mode == "int4-weight" else in_features)
        weight = tensors.pop(f"{name}.weight")
        if tuple(weight.shape) != expected:
            raise ValueError(f"{source}: {name}.weight has shape {tuple(weight.shape)}, the model's layer {expected}")
        missing = [f"{name}.{p}" for p in _SCALES[mode] if f"{name}.{p}" not in tensors]
        if missing:
            raise ValueError(f"{source}: the {mode} layer {name} lacks {', '.join(missing)}")
        scale, zero = (tensors.pop(f"{name}.{p}") for p in _SCALES[mode])
        bias = tensors.pop(f"{name}.bias", None)
        quantized: nn.Module
        if mode == "int8":
            if scale.shape != (out_features,) or zero.shape != (out_features,):
                raise ValueError(f"{source}: {name} needs one scale and zero point per output row ({out_features})")
            quantized = Int8Linear.from_int8(weight, scale, zero, bias)
        else:
            groups = scale.shape[1] if scale.dim() == 2 else 0
            group_size = in_features // groups if groups and in_features % groups == 0 else 0
            if zero.shape != scale.shape or scale.shape[0] != out_features or group_size not in GROUP_SIZES:
                raise ValueError(
                    f"{source}: {name} needs a scale and zero per output row and group of input columns "
                    f"({out_features} x {in_features} / a group size of {', '.join(map(str, GROUP_SIZES))}), "
                    f"got {tuple(scale.shape)} and {tuple(zero.shape)}"
                )
            quantized = Int4Linear(unpack_nibbles(weight), torch.stack([scale, zero], dim=-1), bias)
        if fused:
            for projection in ("q_proj", "k_proj", "v_proj"):
                setattr(parent, projection, None)
        setattr(parent, child, quantized)
    left = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if left:
        shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        raise ValueError(f"{source}: the {mode} checkpoint has no {mode} weight for {shown}")


def _module(model: nn.Module, name: str) -> nn.Module | None:
    try:
        return model.get_submodule(name) if name else model
    except AttributeError:
        return None
