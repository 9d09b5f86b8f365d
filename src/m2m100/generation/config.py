"""Generation settings: what ``generate`` does by default (read from generation_config.json), how
one call merges them with its arguments, and the checked :class:`DecodingOptions` that result."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

GENERATION_CONFIG_NAME = "generation_config.json"

TokenIds = int | list[int] | None


@dataclass
class GenerationConfig:
    """The settings of ``generate``, with transformers' names and defaults.

    Unknown keys (options of transformers that this package does not implement) are kept in
    ``extra`` and written back; ``generate`` refuses them when they are set to a non-default value.
    """

    max_length: int = 20  # prompt (decoder start) + new tokens, unless max_new_tokens is set
    max_new_tokens: int | None = None
    min_length: int = 0
    min_new_tokens: int | None = None
    early_stopping: bool | str = False  # True, False or "never" (beam search)
    do_sample: bool = False
    num_beams: int = 1
    temperature: float = 1.0
    top_k: int | None = 50
    top_p: float | None = 1.0
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0  # exponent of the length in beam scores
    no_repeat_ngram_size: int = 0
    bad_words_ids: list[list[int]] | None = None
    suppress_tokens: list[int] | None = None
    begin_suppress_tokens: list[int] | None = None
    num_return_sequences: int = 1
    output_scores: bool = False
    output_logits: bool = False
    return_dict_in_generate: bool = False
    output_attentions: bool = False  # per-step attentions in the dict output
    output_hidden_states: bool = False  # per-step hidden states in the dict output
    max_time: float | None = None  # seconds; generation stops after it
    stop_strings: str | list[str] | None = None  # needs generate(..., tokenizer=...)
    use_cache: bool = True
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: TokenIds = None
    decoder_start_token_id: int | None = None
    forced_bos_token_id: int | None = None  # M2M100: the target language token
    forced_eos_token_id: TokenIds = None
    # sampling filters after temperature, top-k and top-p (transformers' order)
    min_p: float | None = None
    typical_p: float | None = 1.0
    epsilon_cutoff: float | None = 0.0
    eta_cutoff: float | None = 0.0
    # more score rules
    renormalize_logits: bool = False  # log-softmax after every rule
    remove_invalid_values: bool = False  # nan -> 0, +-inf -> the largest finite float32
    sequence_bias: list[list[Any]] | dict[tuple[int, ...], float] | None = None  # [[ids, bias], ...]
    exponential_decay_length_penalty: tuple[int, float] | list[Any] | None = None  # (start, factor)
    encoder_repetition_penalty: float | None = 1.0  # > 1 favours source tokens
    encoder_no_repeat_ngram_size: int | None = 0  # no n-gram of the source may appear in the output
    extra: dict[str, Any] = field(default_factory=dict)

    # JSON ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> GenerationConfig:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        merged = {**data, **overrides}
        kwargs = {k: v for k, v in merged.items() if k in known}
        extra = {k: v for k, v in merged.items() if k not in known}
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_model_config(cls, config: Any) -> GenerationConfig:
        """Defaults taken from a model config: its token ids and any legacy generation keys
        (old config.json files carry ``num_beams``, ``max_length``, ``early_stopping``...)."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {
            name: getattr(config, name)
            for name in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id")
        }
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
            if f.name == "sequence_bias" and isinstance(value, dict):  # JSON keys cannot be tuples
                value = [[list(ids), bias] for ids, bias in value.items()]
            if value != getattr(defaults, f.name) or f.name.endswith("token_id"):
                if value is not None:
                    data[f.name] = value
        data.update(self.extra)
        return dict(sorted(data.items()))

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike[str], **overrides: Any) -> GenerationConfig:
        """Read a folder's generation_config.json.

        Raises:
            FileNotFoundError: the folder has none.
            ValueError: it is not a JSON object, or a setting has a value of the wrong kind (a
                word for a number, a negative count); the message names the file and the setting.
        """
        path = Path(folder) / GENERATION_CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{Path(folder)} has no {GENERATION_CONFIG_NAME}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} holds a JSON {type(data).__name__}; it should be an object of settings")
        for f in dataclasses.fields(cls):
            if f.name.endswith("token_id") and isinstance(data.get(f.name), list):
                continue  # one id per input: generate checks each
            if f.name in data and (problem := _wrong_kind(data[f.name], str(f.type))):
                raise ValueError(f"{path}: {f.name} is {data[f.name]!r:.60}; it should be {problem}")
        return cls.from_dict({k: v for k, v in data.items() if k != "extra"}, **overrides)

    def save_pretrained(self, save_directory: str | os.PathLike[str]) -> Path:
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / GENERATION_CONFIG_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    def update(self, **kwargs: Any) -> GenerationConfig:
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


# --------------------------------------------------------------------------------------------
# One generate call: merging the sources of settings, then resolving and checking them
# --------------------------------------------------------------------------------------------
# transformers options that generate does not implement, with transformers' defaults: a config
# may carry them at these values (generation_config.json files do), any other value is refused.
UNSUPPORTED_OPTIONS: dict[str, Any] = {
    "cache_implementation": None,
    "cache_config": None,
    "return_legacy_cache": None,
    "prefill_chunk_size": None,
    "token_healing": False,
    "guidance_scale": None,
    "watermarking_config": None,
    "num_assistant_tokens": 20,
    "num_assistant_tokens_schedule": "constant",
    "assistant_confidence_threshold": 0.4,
    "prompt_lookup_num_tokens": None,
    "max_matching_ngram_size": None,
    "assistant_early_exit": None,
    "assistant_lookbehind": 10,
    "target_lookbehind": 10,
    "compile_config": None,
    "disable_compile": False,
    "low_memory": None,
    "penalty_alpha": None,
    "dola_layers": None,
    "diversity_penalty": 0.0,
    "num_beam_groups": 1,
    "constraints": None,
    "force_words_ids": None,
    "is_assistant": False,
}
# Values other than the default that leave transformers 4.57's generate unchanged (no processor, no mode).
_NO_OP_VALUES: dict[str, tuple[Any, ...]] = {
    "guidance_scale": (1, 1.0),
    "low_memory": (False,),
    "penalty_alpha": (0, 0.0),
    "token_healing": (None,),
}
_HUB = (
    "which transformers 4.57 moved out of generate to a custom_generate repository on the Hub "
    "(https://hf.co/transformers-community/{repo}, run only with trust_remote_code=True); "
    "this generate runs no Hub code"
)
# Why an option is refused, where transformers 4.57 refuses it too or no longer implements it itself.
_REFUSED_BECAUSE: dict[str, str] = {
    "num_beam_groups": "group beam search (num_beam_groups > 1, with diversity_penalty) is a decoding mode "
    + _HUB.format(repo="group-beam-search"),
    "diversity_penalty": "diversity_penalty only acts in group beam search (num_beam_groups > 1), "
    + _HUB.format(repo="group-beam-search"),
    "constraints": "constrained beam search (constraints, force_words_ids) is a decoding mode "
    + _HUB.format(repo="constrained-beam-search")
    + "; lexical_constraints=[[ids, ...], ...] (one list per input) is this generate's own",
    "force_words_ids": "constrained beam search (constraints, force_words_ids) is a decoding mode "
    + _HUB.format(repo="constrained-beam-search")
    + "; lexical_constraints=[[ids, ...], ...] (one list per input) is this generate's own",
    "penalty_alpha": "contrastive search (penalty_alpha > 0 with top_k > 1) is a decoding mode "
    + _HUB.format(repo="contrastive-search"),
    "dola_layers": "DoLa decoding (dola_layers) is a decoding mode " + _HUB.format(repo="dola"),
    "low_memory": "transformers 4.57 refuses low_memory=True in beam search ('not supported after the beam "
    "search refactor') and ignores it elsewhere",
    "guidance_scale": "transformers 4.57's classifier-free guidance (guidance_scale != 1) fails for "
    "encoder-decoder models such as M2M100 (it calls the model with both decoder ids and embeddings)",
    "token_healing": "transformers 4.57 heals tokens only with the model's tokenizer passed to generate "
    "(tokenizer=...), which this generate does not take",
}
_METADATA = ("transformers_version",)


def _wrong_kind(value: Any, annotation: str) -> str | None:
    """What ``value`` should be, when it is not of the simple kinds its field's ``annotation``
    names (None: it is, or the field holds lists and such, checked by generate)."""
    kinds = {part.strip() for part in annotation.split("|")}
    if not kinds <= {"int", "float", "bool", "str", "None"}:
        return None
    if value is None and "None" in kinds or isinstance(value, bool) and "bool" in kinds:
        return None
    if isinstance(value, str) and "str" in kinds:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if "int" in kinds and "float" not in kinds and number and type(value) is int and value >= 0:
        return None
    if "float" in kinds and number:
        return None
    names = {"int": "a non-negative integer", "float": "a number", "bool": "true or false", "str": "a string"}
    return " or ".join(names[k] for k in ("int", "float", "bool", "str") if k in kinds) + (
        " or null" if "None" in kinds else ""
    )


def _field_names() -> set[str]:
    return {f.name for f in dataclasses.fields(GenerationConfig)} - {"extra"}


def _version_at_least(version: str | None, major: int, minor: int) -> bool:
    if version is None:  # transformers stamps its own (new) version on configs without one
        return True
    try:
        parts = [int(p) for p in version.split(".")[:2]]
    except ValueError:
        return True
    return tuple(parts) >= (major, minor)


def resolve_generation_config(
    model_config: GenerationConfig,
    passed: GenerationConfig | None,
    kwargs: dict[str, Any],
) -> GenerationConfig:
    """The settings of one call, as transformers 4.57 merges them: ``model_config`` (the
    checkpoint's), else ``passed`` with its default-valued fields filled from ``model_config``
    (only the token ids for checkpoints written before transformers 4.50), then ``kwargs``.

    Raises:
        ValueError: a kwarg that is no generation setting, or an unsupported option set to a
            non-default value.
    """
    if passed is not None and not isinstance(passed, GenerationConfig):
        if not hasattr(passed, "to_dict"):
            raise ValueError(f"generation_config must be a GenerationConfig, got {type(passed).__name__}")
        passed = GenerationConfig.from_dict(passed.to_dict())  # e.g. transformers' own GenerationConfig
    if passed is None:
        config = copy.deepcopy(model_config)
    else:
        config = copy.deepcopy(passed)
        if _version_at_least(model_config.extra.get("transformers_version"), 4, 50):
            defaults = GenerationConfig()
            model_values = {name: getattr(model_config, name) for name in _field_names()}
            model_values.update(
                {k: v for k, v in model_config.extra.items() if not k.startswith("_") and k not in _METADATA}
            )
            for name, value in model_values.items():
                default = getattr(defaults, name, UNSUPPORTED_OPTIONS.get(name))
                if getattr(config, name, UNSUPPORTED_OPTIONS.get(name)) == default and value != default:
                    if name in _field_names():
                        setattr(config, name, value)
                    else:
                        config.extra[name] = value
            if config.temperature == 0.0:
                config.do_sample = False
        else:
            for name in ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"):
                if getattr(config, name) is None:
                    setattr(config, name, getattr(model_config, name))
    unknown = sorted(k for k in kwargs if k not in _field_names() and k not in UNSUPPORTED_OPTIONS)
    if unknown:
        raise ValueError(
            f"generate() got unknown arguments {unknown}; valid: the GenerationConfig fields "
            f"({', '.join(sorted(_field_names()))}), generator and seed"
        )
    config = config.update(**kwargs)
    unsupported = sorted(
        k
        for k, v in config.extra.items()
        if k in UNSUPPORTED_OPTIONS and v != UNSUPPORTED_OPTIONS[k] and v not in _NO_OP_VALUES.get(k, ())
    )
    if unsupported:
        found = "; ".join(
            f"{k}={config.extra[k]!r} (must be {UNSUPPORTED_OPTIONS[k]!r}"
            + (f": {_REFUSED_BECAUSE[k]})" if k in _REFUSED_BECAUSE else ")")
            for k in unsupported
        )
        raise ValueError(f"these generation options are not supported: {found}")
    return config


def _ids(name: str, value: Any, vocab_size: int | None) -> tuple[int, ...]:
    """Token ids from an int, a list or a 1-D tensor, each checked against the vocabulary."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    values = [value] if isinstance(value, int) else list(value)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (vocab_size is not None and v >= vocab_size):
            valid = f"0..{vocab_size - 1}" if vocab_size is not None else "non-negative"
            raise ValueError(f"{name} contains {v!r}; token ids must be integers in {valid}")
    return tuple(values)


def _per_row(name: str, value: Any, batch_size: int, vocab_size: int) -> int | tuple[int, ...]:
    """One id for every input, or (a list / 1-D tensor) one id per input."""
    if hasattr(value, "dim") and value.dim() == 0:
        value = int(value)
    ids = _ids(name, value, vocab_size)
    if isinstance(value, int):
        return ids[0]
    if len(ids) != batch_size:
        raise ValueError(
            f"{name} has {len(ids)} ids but the batch has {batch_size} inputs; give one id, or one per input"
        )
    return ids


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _sampling_filters(c: GenerationConfig) -> dict[str, Any]:
    """min_p, typical_p, epsilon_cutoff and eta_cutoff of a sampling call, checked. transformers 4.57
    refuses min_p outside [0, 1] and typical_p <= 0; the values it ignores silently (typical_p > 1,
    cutoffs outside (0, 1)) are refused too, except the ones that turn a filter off."""
    min_p, typical, epsilon, eta = c.min_p, c.typical_p, c.epsilon_cutoff, c.eta_cutoff
    if min_p is not None and (not _number(min_p) or not 0.0 <= min_p <= 1.0):
        raise ValueError(f"min_p must be a float in [0, 1] (None disables it), got {min_p!r}")
    typical = 1.0 if typical is None else typical
    if not _number(typical) or not 0.0 < typical <= 1.0:
        raise ValueError(f"typical_p must be in (0, 1] (1.0 disables it), got {typical!r}")
    cutoffs = {}
    for name, value in (("epsilon_cutoff", epsilon), ("eta_cutoff", eta)):
        value = 0.0 if value is None else value
        if not _number(value) or not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1) (0.0 disables it), got {value!r}")
        cutoffs[name] = float(value)
    return dict(min_p=None if min_p is None else float(min_p), typical_p=float(typical), **cutoffs)


def _sequence_bias(value: Any, vocab_size: int) -> tuple[tuple[tuple[int, ...], float], ...]:
    """transformers 4.57's two forms, checked as it checks them: a non-empty list of
    ``[[token ids > 0], float bias]`` pairs, or a dict ``{(token ids >= 0,): float bias}``; every id
    in the vocabulary."""
    what = "sequence_bias must be a non-empty list of [[token ids], float bias] pairs or a dict {(token ids): float}"
    if not isinstance(value, (list, dict)) or not value:
        raise ValueError(f"{what}, got {value!r}")
    if isinstance(value, dict):
        pairs = list(value.items())
        if any(not isinstance(ids, tuple) or not isinstance(bias, float) for ids, bias in pairs):
            raise ValueError(f"{what}; a dict needs tuple keys and float values, got {value!r}")
        smallest = 0
    else:
        if any(not isinstance(pair, (list, tuple)) or len(pair) != 2 for pair in value):
            raise ValueError(f"{what}, got {value!r}")
        pairs = [(pair[0], pair[1]) for pair in value]
        if any(not isinstance(ids, list) or not isinstance(bias, float) for ids, bias in pairs):
            raise ValueError(f"{what}; each pair is [list of token ids, float], got {value!r}")
        smallest = 1  # transformers takes only positive ids in the list form
    merged: dict[tuple[int, ...], float] = {}
    for ids, bias in pairs:
        ids = tuple(int(i) if hasattr(i, "__index__") and not isinstance(i, bool) else i for i in ids)
        if not ids or any(not isinstance(i, int) or isinstance(i, bool) or i < smallest for i in ids):
            raise ValueError(f"{what}; {list(ids)!r} must be a non-empty list of token ids >= {smallest}")
        outside = [i for i in ids if i >= vocab_size]
        if outside:
            raise ValueError(
                f"sequence_bias biases tokens {outside} but the vocabulary has {vocab_size} tokens (ids 0..{vocab_size - 1})"
            )
        merged[ids] = bias
    return tuple(merged.items())


def _decay(value: Any) -> tuple[int, float]:
    """``exponential_decay_length_penalty``: (start, factor), from a tuple or a JSON list."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not isinstance(value[0], int)
        or isinstance(value[0], bool)
        or not _number(value[1])
        or not value[1] > 0
    ):
        raise ValueError(
            "exponential_decay_length_penalty must be (start, factor): an integer number of generated tokens "
            f"after which the end-of-sequence score grows, and a factor > 0 (1.0: no change), got {value!r}"
        )
    return int(value[0]), float(value[1])


@dataclass(frozen=True)
class DecodingOptions:
    """One generate call's settings, resolved and checked once, before any model call."""

    num_beams: int
    num_return_sequences: int
    do_sample: bool
    max_length: int  # total, the decoder start included
    min_length: int  # total, the decoder start included
    length_penalty: float
    early_stopping: bool | str
    eos_ids: tuple[int, ...]
    pad_id: int | None
    decoder_start: int | tuple[int, ...]  # one id, or one per input
    forced_bos: int | tuple[int, ...] | None  # the target language: one id, or one per input
    forced_eos: tuple[int, ...] | None
    repetition_penalty: float
    no_repeat_ngram_size: int
    bad_words_ids: tuple[tuple[int, ...], ...] | None
    suppress_tokens: tuple[int, ...] | None
    begin_suppress_tokens: tuple[int, ...] | None
    temperature: float
    top_k: int | None
    top_p: float | None
    output_scores: bool
    output_logits: bool
    return_dict_in_generate: bool
    min_new_tokens: int | None = None  # as given (transformers adds a second min-length rule for it)
    min_p: float | None = None
    typical_p: float = 1.0
    epsilon_cutoff: float = 0.0
    eta_cutoff: float = 0.0
    renormalize_logits: bool = False
    remove_invalid_values: bool = False
    # (token ids, bias) pairs in transformers' dict order: a repeated sequence keeps its first place, last bias
    sequence_bias: tuple[tuple[tuple[int, ...], float], ...] | None = None
    exponential_decay_length_penalty: tuple[int, float] | None = None  # (start, factor)
    encoder_repetition_penalty: float = 1.0
    encoder_no_repeat_ngram_size: int = 0
    prompt_length: int = 1  # decoder tokens before the first generated one: the start token, or a forced prefix
    output_attentions: bool = False
    output_hidden_states: bool = False

    @classmethod
    def from_config(
        cls,
        config: GenerationConfig,
        *,
        batch_size: int,
        vocab_size: int,
        max_positions: int | None = None,
        max_length_given: bool = False,
        prompt_length: int = 1,
    ) -> DecodingOptions:
        """Resolve lengths and token ids as transformers does and check every value.

        Args:
            max_length_given: ``max_length`` was passed to this call; otherwise the default of 20
                means 20 new tokens (capped at ``max_positions``), as in transformers.
            prompt_length: decoder tokens before the first generated one: the start token, or a
                forced prefix (``decoder_input_ids``); new tokens are counted after it.

        Raises:
            ValueError: naming the bad value and what would be valid.
        """
        c = config
        if isinstance(c.num_beams, bool) or not isinstance(c.num_beams, int) or c.num_beams < 1:
            raise ValueError(f"num_beams must be an integer >= 1, got {c.num_beams!r}")
        n = c.num_return_sequences
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"num_return_sequences must be an integer >= 1, got {n!r}")
        if c.num_beams == 1 and not c.do_sample and n != 1:
            raise ValueError(
                f"greedy search returns one sequence per input, got num_return_sequences={n}; "
                "use num_beams >= num_return_sequences or do_sample=True"
            )
        if c.num_beams > 1 and n > c.num_beams:
            raise ValueError(f"num_return_sequences ({n}) must be <= num_beams ({c.num_beams})")
        if c.early_stopping not in (True, False, "never"):
            raise ValueError(f"early_stopping must be True, False or 'never', got {c.early_stopping!r}")
        if c.do_sample:
            if c.temperature is None or not c.temperature > 0:
                raise ValueError(f"temperature must be > 0 when sampling, got {c.temperature!r}")
            if c.top_k is not None and (isinstance(c.top_k, bool) or not isinstance(c.top_k, int) or c.top_k < 0):
                raise ValueError(f"top_k must be a non-negative integer (0 disables it), got {c.top_k!r}")
        if c.top_p is not None and not 0.0 < c.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {c.top_p!r}")
        if not c.repetition_penalty > 0:
            raise ValueError(f"repetition_penalty must be > 0 (1.0 disables it), got {c.repetition_penalty!r}")
        ngram = c.no_repeat_ngram_size or 0
        if isinstance(ngram, bool) or not isinstance(ngram, int) or ngram < 0:
            raise ValueError(f"no_repeat_ngram_size must be a non-negative integer, got {ngram!r}")
        sampling = _sampling_filters(c) if c.do_sample else {}
        encoder_penalty = 1.0 if c.encoder_repetition_penalty is None else c.encoder_repetition_penalty
        if encoder_penalty != 1.0 and (not isinstance(encoder_penalty, float) or not encoder_penalty > 0):
            raise ValueError(  # transformers 4.57 takes floats only here
                f"encoder_repetition_penalty must be a float > 0 (1.0 disables it), got {encoder_penalty!r}"
            )
        encoder_ngram = c.encoder_no_repeat_ngram_size or 0
        if isinstance(encoder_ngram, bool) or not isinstance(encoder_ngram, int) or encoder_ngram < 0:
            raise ValueError(
                f"encoder_no_repeat_ngram_size must be a non-negative integer (0 disables it), got {encoder_ngram!r}"
            )
        for name in ("renormalize_logits", "remove_invalid_values", "output_attentions", "output_hidden_states"):
            if not isinstance(getattr(c, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(c, name)!r}")

        prompt = prompt_length
        max_length = c.max_length
        if c.max_new_tokens is not None:
            if isinstance(c.max_new_tokens, bool) or not isinstance(c.max_new_tokens, int) or c.max_new_tokens < 1:
                raise ValueError(f"max_new_tokens must be an integer >= 1, got {c.max_new_tokens!r}")
            max_length = c.max_new_tokens + prompt
        elif not max_length_given and max_length == GenerationConfig().max_length:
            max_length = max_length + prompt
            if max_positions is not None:
                max_length = min(max_length, max_positions)
        if not isinstance(max_length, int) or max_length <= prompt:
            what = "the decoder start token" if prompt == 1 else "the decoder prompt, start token included"
            raise ValueError(
                f"max_length must be an integer > {prompt} ({what}), got {max_length!r}; raise max_length or set "
                "max_new_tokens"
            )
        min_length = c.min_length or 0
        if c.min_new_tokens is not None:
            if c.min_new_tokens < 0:
                raise ValueError(f"min_new_tokens must be >= 0, got {c.min_new_tokens!r}")
            min_length = c.min_new_tokens + prompt
        if min_length < 0:
            raise ValueError(f"min_length must be >= 0, got {min_length!r}")

        eos = _ids("eos_token_id", c.eos_token_id, None) if c.eos_token_id is not None else ()
        decay = None
        if c.exponential_decay_length_penalty is not None:
            decay = _decay(c.exponential_decay_length_penalty)
            if not eos:
                raise ValueError(
                    "exponential_decay_length_penalty needs eos_token_id: it raises the end-of-sequence score"
                )
        pad = c.pad_token_id if c.pad_token_id is not None else (eos[0] if eos else None)
        start = c.decoder_start_token_id if c.decoder_start_token_id is not None else c.bos_token_id
        if start is None:
            raise ValueError("decoder_start_token_id (or bos_token_id) must be set to start the decoder")
        bad = None
        if c.bad_words_ids is not None:
            if (
                not isinstance(c.bad_words_ids, (list, tuple))
                or not c.bad_words_ids
                or any(not isinstance(w, (list, tuple)) or not w for w in c.bad_words_ids)
            ):
                raise ValueError(
                    f"bad_words_ids must be a non-empty list of non-empty lists of token ids, got {c.bad_words_ids!r}"
                )
            bad = tuple(_ids("bad_words_ids", w, vocab_size) for w in c.bad_words_ids)
        return cls(
            num_beams=c.num_beams,
            num_return_sequences=n,
            do_sample=bool(c.do_sample),
            max_length=max_length,
            min_length=min_length,
            length_penalty=c.length_penalty,
            early_stopping=c.early_stopping,
            eos_ids=eos,
            pad_id=pad,
            decoder_start=_per_row("decoder_start_token_id", start, batch_size, vocab_size),
            forced_bos=None
            if c.forced_bos_token_id is None
            else _per_row("forced_bos_token_id", c.forced_bos_token_id, batch_size, vocab_size),
            forced_eos=None
            if c.forced_eos_token_id is None
            else _ids("forced_eos_token_id", c.forced_eos_token_id, vocab_size),
            repetition_penalty=c.repetition_penalty,
            no_repeat_ngram_size=ngram,
            bad_words_ids=bad,
            suppress_tokens=None
            if c.suppress_tokens is None
            else _ids("suppress_tokens", c.suppress_tokens, vocab_size),
            begin_suppress_tokens=None
            if c.begin_suppress_tokens is None
            else _ids("begin_suppress_tokens", c.begin_suppress_tokens, vocab_size),
            temperature=c.temperature,
            top_k=c.top_k,
            top_p=c.top_p,
            output_scores=bool(c.output_scores),
            output_logits=bool(c.output_logits),
            return_dict_in_generate=bool(c.return_dict_in_generate),
            min_new_tokens=c.min_new_tokens,
            renormalize_logits=c.renormalize_logits,
            remove_invalid_values=c.remove_invalid_values,
            sequence_bias=None if c.sequence_bias is None else _sequence_bias(c.sequence_bias, vocab_size),
            exponential_decay_length_penalty=decay,
            encoder_repetition_penalty=encoder_penalty,
            encoder_no_repeat_ngram_size=encoder_ngram,
            prompt_length=prompt,
            output_attentions=c.output_attentions,
            output_hidden_states=c.output_hidden_states,
            **sampling,
        )

    def start_ids(self, batch_size: int, device: torch.device) -> torch.Tensor:
        """(B,) decoder start token of each input."""
        if isinstance(self.decoder_start, int):
            return torch.full((batch_size,), self.decoder_start, dtype=torch.long, device=device)
        return torch.tensor(self.decoder_start, dtype=torch.long, device=device)
