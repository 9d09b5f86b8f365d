"""m2m100: a fast, faithful PyTorch implementation of the M2M100 many-to-many translation model
(and of NLLB-200, whose checkpoints are M2M100 models with their own tokenizer)."""

from m2m100.config import M2M100Config
from m2m100.generation.config import GenerationConfig
from m2m100.model.cache import DecoderCache, KVCache
from m2m100.modeling import (
    M2M100Decoder,
    M2M100Encoder,
    M2M100ForConditionalGeneration,
    M2M100Model,
    M2M100PreTrainedModel,
    M2M100ScaledWordEmbedding,
)
from m2m100.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
)
from m2m100.tokenizer import AutoTokenizer, BatchEncoding, M2M100Tokenizer, NllbTokenizer
from m2m100.translator import Segment, Translation, Translator

__all__ = [
    "AutoTokenizer",
    "BatchEncoding",
    "M2M100Tokenizer",
    "NllbTokenizer",
    "BaseModelOutput",
    "BaseModelOutputWithPastAndCrossAttentions",
    "DecoderCache",
    "GenerationConfig",
    "KVCache",
    "M2M100Config",
    "M2M100Decoder",
    "M2M100Encoder",
    "M2M100ForConditionalGeneration",
    "M2M100Model",
    "M2M100PreTrainedModel",
    "M2M100ScaledWordEmbedding",
    "Seq2SeqLMOutput",
    "Seq2SeqModelOutput",
    "Segment",
    "Translation",
    "Translator",
]

__version__ = "0.1.0"

from m2m100.generation.config import DecodingOptions  # noqa: E402
from m2m100.generation.decoding import GenerateBeamEncoderDecoderOutput, GenerateEncoderDecoderOutput, generate  # noqa: E402

__all__ += ["DecodingOptions", "GenerateBeamEncoderDecoderOutput", "GenerateEncoderDecoderOutput", "generate"]
