"""Tiny random checkpoints written by transformers (the reference) for the tests to load.

Weights are drawn with std ~ 1.5 / sqrt(d_model) so that logits are far from flat: a wrong
position, mask or layer norm then moves them well past the 1e-4 tolerance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

TINY = dict(
    vocab_size=160,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    max_position_embeddings=64,
    dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
    encoder_layerdrop=0.0,
    decoder_layerdrop=0.0,
)


def build_hf_model(*, seed: int = 0, std: float | None = None, **overrides: Any):
    """A transformers M2M100ForConditionalGeneration with seeded, large-std random weights."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    config = M2M100Config(**{**TINY, **overrides})
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config).eval()
    std = std if std is not None else 1.5 / config.d_model**0.5
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "layer_norm" in name:
                param.copy_(
                    1.0 + 0.1 * torch.randn_like(param) if name.endswith("weight") else 0.1 * torch.randn_like(param)
                )
            else:
                param.normal_(0.0, std)
        model.model.shared.weight[config.pad_token_id].zero_()
    return model


def save_hf_checkpoint(path: Path, *, seed: int = 0, std: float | None = None, **overrides: Any) -> Path:
    """Build with :func:`build_hf_model` and ``save_pretrained`` into ``path``."""
    build_hf_model(seed=seed, std=std, **overrides).save_pretrained(path)
    return path
