"""Output containers with transformers' field names: attribute, key and index access."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import Any, cast

import torch


class ModelOutput(OrderedDict):
    """A dataclass whose non-None fields also form an ordered dict and a tuple, as transformers'
    ``ModelOutput``: ``out.logits == out["logits"] == out[0]`` when there is no loss."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is not None:
                super().__setitem__(f.name, value)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return dict(self.items())[key]
        return self.to_tuple()[key]

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if value is not None and name in {f.name for f in fields(self)}:  # type: ignore[arg-type]
            super().__setitem__(name, value)

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(self.values())

    def __reduce__(self) -> tuple[Any, ...]:  # pickling a dataclass-dict hybrid needs the fields, not the items
        return (self.__class__, tuple(getattr(self, f.name) for f in fields(cast(Any, self))))


Tensors = tuple[torch.Tensor, ...] | None


@dataclass(repr=False, eq=False)
class BaseModelOutput(ModelOutput):
    last_hidden_state: torch.Tensor | None = None
    hidden_states: Tensors = None
    attentions: Tensors = None


@dataclass(repr=False, eq=False)
class BaseModelOutputWithPastAndCrossAttentions(ModelOutput):
    """What a decoder stack returns on its own (``M2M100Decoder``)."""

    last_hidden_state: torch.Tensor | None = None
    past_key_values: Any | None = None
    hidden_states: Tensors = None
    attentions: Tensors = None
    cross_attentions: Tensors = None


@dataclass(repr=False, eq=False)
class Seq2SeqModelOutput(ModelOutput):
    last_hidden_state: torch.Tensor | None = None
    past_key_values: Any | None = None
    decoder_hidden_states: Tensors = None
    decoder_attentions: Tensors = None
    cross_attentions: Tensors = None
    encoder_last_hidden_state: torch.Tensor | None = None
    encoder_hidden_states: Tensors = None
    encoder_attentions: Tensors = None


@dataclass(repr=False, eq=False)
class Seq2SeqLMOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    past_key_values: Any | None = None
    decoder_hidden_states: Tensors = None
    decoder_attentions: Tensors = None
    cross_attentions: Tensors = None
    encoder_last_hidden_state: torch.Tensor | None = None
    encoder_hidden_states: Tensors = None
    encoder_attentions: Tensors = None
