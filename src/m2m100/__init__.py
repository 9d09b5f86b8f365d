"""m2m100: a fast, faithful PyTorch implementation of the M2M100 many-to-many translation model."""

from m2m100.cache import DecoderCache, KVCache
from m2m100.config import M2M100Config
from m2m100.generation_config import GenerationConfig
from m2m100.modeling import M2M100Model, M2M100ForConditionalGeneration, M2M100PreTrainedModel
from m2m100.outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput

__all__ = [
    "BaseModelOutput",
    "DecoderCache",
    "GenerationConfig",
    "KVCache",
    "M2M100Config",
    "M2M100ForConditionalGeneration",
    "M2M100Model",
    "M2M100PreTrainedModel",
    "Seq2SeqLMOutput",
    "Seq2SeqModelOutput",
]

__version__ = "0.1.0"
