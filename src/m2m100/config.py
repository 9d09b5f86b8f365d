"""The model configuration: a typed dataclass that reads and writes transformers' config.json."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2m100.activations import ACTIVATIONS
from m2m100.checkpoint import resolve_checkpoint_dir

CONFIG_NAME = "config.json"

# Keys that follow from the fields; read back they would go stale, so they are recomputed.
_DERIVED_KEYS = ("model_type", "num_hidden_layers")

# transformers' `attribute_map`: alternative names people use for two fields.
_ALIASES = {"num_attention_heads": "encoder_attention_heads", "hidden_size": "d_model"}


@dataclass
class M2M100Config:
    """Architecture and defaults of an M2M100 model; the defaults are facebook/m2m100_418M's.

    Unknown keys of a config.json (generation defaults such as ``num_beams``, ``dtype``, ...) are
    kept in ``extra``, readable as attributes, and written back by :meth:`save_pretrained`.

    Raises:
        ValueError: a field has an impossible value (the message names the field).
    """

    vocab_size: int = 128112  # rows of the shared embedding and the LM head
    max_position_embeddings: int = 1024  # sinusoidal table size; grows on demand past it
    encoder_layers: int = 12
    encoder_ffn_dim: int = 4096
    encoder_attention_heads: int = 16
    decoder_layers: int = 12
    decoder_ffn_dim: int = 4096
    decoder_attention_heads: int = 16
    encoder_layerdrop: float = 0.05  # probability of skipping a whole encoder layer in training
    decoder_layerdrop: float = 0.05
    use_cache: bool = True  # return past_key_values from the decoder by default
    is_encoder_decoder: bool = True
    activation_function: str = "relu"  # one of m2m100.activations.ACTIVATIONS
    d_model: int = 1024  # hidden size
    dropout: float = 0.1  # residual and embedding dropout
    attention_dropout: float = 0.1  # dropout on attention probabilities
    activation_dropout: float = 0.0  # dropout after the feed-forward activation
    init_std: float = 0.02  # std of the normal init of Linear and Embedding weights
    decoder_start_token_id: int = 2  # M2M100 starts decoding from </s>
    scale_embedding: bool = True  # multiply token embeddings by sqrt(d_model)
    pad_token_id: int = 1
    bos_token_id: int = 0
    eos_token_id: int = 2
    tie_word_embeddings: bool = True  # lm_head shares the embedding matrix
    output_attentions: bool = False  # default of the forward flag of the same name
    output_hidden_states: bool = False
    return_dict: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # keys this class does not model

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raises ValueError naming the first impossible one."""
        positive = (
            "vocab_size",
            "max_position_embeddings",
            "d_model",
            "encoder_ffn_dim",
            "decoder_ffn_dim",
            "encoder_attention_heads",
            "decoder_attention_heads",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"M2M100Config.{name} must be a positive integer, got {value!r}")
        for name in ("encoder_layers", "decoder_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"M2M100Config.{name} must be a non-negative integer, got {value!r}")
        for heads in ("encoder_attention_heads", "decoder_attention_heads"):
            if self.d_model % getattr(self, heads):
                raise ValueError(
                    f"M2M100Config.d_model ({self.d_model}) must be divisible by {heads} ({getattr(self, heads)})"
                )
        probabilities = (
            "dropout",
            "attention_dropout",
            "activation_dropout",
            "encoder_layerdrop",
            "decoder_layerdrop",
        )
        for name in probabilities:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"M2M100Config.{name} must be a probability in [0, 1], got {value!r}")
        if self.activation_function not in ACTIVATIONS:
            raise ValueError(
                f"M2M100Config.activation_function {self.activation_function!r} is not supported; "
                f"valid: {', '.join(sorted(ACTIVATIONS))}"
            )
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < self.vocab_size:
                raise ValueError(f"M2M100Config.{name} ({value}) must lie in the vocabulary [0, {self.vocab_size})")

    # transformers-compatible names -------------------------------------------------------
    model_type = "m2m_100"

    @property
    def num_attention_heads(self) -> int:
        return self.encoder_attention_heads

    @property
    def hidden_size(self) -> int:
        return self.d_model

    @property
    def num_hidden_layers(self) -> int:
        return self.encoder_layers

    @property
    def use_return_dict(self) -> bool:
        return self.return_dict

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: expose keys kept from config.json as attributes,
        # as transformers' PretrainedConfig does for its **kwargs.
        extra = self.__dict__.get("extra")
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(f"'M2M100Config' has no attribute {name!r}")

    # JSON ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> M2M100Config:
        """Build a config from a config.json dict; unknown keys go to ``extra``."""
        merged = {**data, **overrides}
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = dict(merged.pop("extra", {}) or {})
        for key, value in merged.items():
            key = _ALIASES.get(key, key)
            if key in known:
                kwargs[key] = value
            elif key not in _DERIVED_KEYS:
                extra[key] = value
        return cls(**kwargs, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The dict that config.json holds: every field plus the kept extra keys."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        data.update(self.extra)
        data["model_type"] = self.model_type
        data["num_hidden_layers"] = self.num_hidden_layers
        data.setdefault("architectures", ["M2M100ForConditionalGeneration"])
        return dict(sorted(data.items()))

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json_file(cls, path: str | os.PathLike[str]) -> M2M100Config:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from err
        if data.get("model_type", "m2m_100") != "m2m_100":
            raise ValueError(f"{path} describes a {data['model_type']!r} model, not 'm2m_100'")
        return cls.from_dict(data)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str], **overrides: Any) -> M2M100Config:
        """Read config.json from a checkpoint folder (or a hub id, with huggingface_hub)."""
        folder = resolve_checkpoint_dir(name_or_path)
        path = folder / CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{folder} has no {CONFIG_NAME}; is it an M2M100 checkpoint folder?")
        config = cls.from_json_file(path)
        return dataclasses.replace(config, **overrides) if overrides else config

    def save_pretrained(self, save_directory: str | os.PathLike[str]) -> Path:
        """Write config.json into ``save_directory`` (created if needed); returns the file's path."""
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CONFIG_NAME
        path.write_text(self.to_json_string(), encoding="utf-8")
        return path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, M2M100Config) and self.to_dict() == other.to_dict()
