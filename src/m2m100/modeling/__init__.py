"""The transformers-compatible surface (``models``: the former ``modeling.py``, split next)."""

from m2m100.modeling.models import (
    M2M100Decoder,
    M2M100Encoder,
    M2M100ForConditionalGeneration,
    M2M100Model,
    M2M100PreTrainedModel,
    M2M100ScaledWordEmbedding,
    check_attn_implementation,
    shift_tokens_right,
)

__all__ = [
    "M2M100Decoder",
    "M2M100Encoder",
    "M2M100ForConditionalGeneration",
    "M2M100Model",
    "M2M100PreTrainedModel",
    "M2M100ScaledWordEmbedding",
    "check_attn_implementation",
    "shift_tokens_right",
]
