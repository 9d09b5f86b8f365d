"""Generation settings: what ``generate`` does by default, read from generation_config.json."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

GENERATION_CONFIG_NAME = "generation_config.json"

TokenIds = Union[int, list[int], None]


@dataclass
class GenerationConfig:
    """The settings of ``generate``, with transformers' names and defaults.

    Unknown keys (options of transformers that this package does not implement) are kept in
    ``extra`` and written back; ``generate`` refuses them when they are set to a non-default value.
    """

    max_length: int = 20  # prompt (decoder start) + new tokens, unless max_new_tokens is set
    max_new_tokens: Optional[int] = None
    min_length: int = 0
    min_new_tokens: Optional[int] = None
    early_stopping: Union[bool, str] = False  # True, False or "never" (beam search)
    do_sample: bool = False
    num_beams: int = 1
    temperature: float = 1.0
    top_k: Optional[int] = 50
    top_p: Optional[float] = 1.0
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0  # exponent of the length in beam scores
    no_repeat_ngram_size: int = 0
    bad_words_ids: Optional[list[list[int]]] = None
    suppress_tokens: Optional[list[int]] = None
    begin_suppress_tokens: Optional[list[int]] = None
    num_return_sequences: int = 1
    output_scores: bool = False
    output_logits: bool = False
    return_dict_in_generate: bool = False
    use_cache: bool = True
    pad_token_id: Optional[int] = None
    bos_token_id: Optional[int] = None
    eos_token_id: TokenIds = None
    decoder_start_token_id: Optional[int] = None
    forced_bos_token_id: Optional[int] = None  # M2M100: the target language token
    forced_eos_token_id: TokenIds = None
    extra: dict[str, Any] = field(default_factory=dict)

    # JSON ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> "GenerationConfig":
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        merged = {**data, **overrides}
        kwargs = {k: v for k, v in merged.items() if k in known}
        extra = {k: v for k, v in merged.items() if k not in known}
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_model_config(cls, config: Any) -> "GenerationConfig":
        """Defaults taken from a model config: its token ids and any legacy generation keys
        (old config.json files carry ``num_beams``, ``max_length``, ``early_stopping``...)."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {name: getattr(config, name) for name in
                  ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id")}
        values.update({k: v for k, v in getattr(config, "extra", {}).items() if k in known})
        generation = cls(**values)
        generation.extra["_from_model_config"] = True
        return generation

    def to_dict(self) -> dict[str, Any]:
        """The keys that differ from the defaults (as transformers writes them), plus token ids."""
        defaults = GenerationConfig()
        data = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value != getattr(defaults, f.name) or f.name.endswith("token_id"):
                if value is not None:
                    data[f.name] = value
        data.update(self.extra)
        return dict(sorted(data.items()))

    @classmethod
    def from_pretrained(cls, folder: Union[str, os.PathLike[str]], **overrides: Any) -> "GenerationConfig":
        path = Path(folder) / GENERATION_CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{Path(folder)} has no {GENERATION_CONFIG_NAME}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from err
        return cls.from_dict(data, **overrides)

    def save_pretrained(self, save_directory: Union[str, os.PathLike[str]]) -> Path:
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / GENERATION_CONFIG_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    def update(self, **kwargs: Any) -> "GenerationConfig":
        """A copy with ``kwargs`` applied; unknown names go to ``extra``."""
        new = copy.deepcopy(self)
        known = {f.name for f in dataclasses.fields(self)} - {"extra"}
        for key, value in kwargs.items():
            if key in known:
                setattr(new, key, value)
            else:
                new.extra[key] = value
        return new

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__.get("extra")
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(f"'GenerationConfig' has no attribute {name!r}")
