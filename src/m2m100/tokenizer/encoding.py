"""``BatchEncoding`` and the truncation, padding and tensor rules of transformers' ``__call__``.

The rules, and their corners, are transformers 4.57's: ``max_length`` alone turns truncation on,
a sequence too short to lose the requested tokens is left whole, ``return_length`` counts
padding for one text but not in a batch.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

VERY_LARGE_INTEGER = int(1e30)  # transformers' model_max_length when none is known
LARGE_INTEGER = int(1e20)  # above this, model_max_length counts as "no maximum"

_PADDINGS = {
    True: "longest",
    False: "do_not_pad",
    "longest": "longest",
    "max_length": "max_length",
    "do_not_pad": "do_not_pad",
}
_TRUNCATIONS = {
    True: "longest_first",
    False: "do_not_truncate",
    None: "do_not_truncate",
    "longest_first": "longest_first",
    "only_first": "only_first",
    "only_second": "only_second",
    "do_not_truncate": "do_not_truncate",
}


class BatchEncoding(dict):
    """The tokenizer's output: a dict (``input_ids``, ``attention_mask``, ``labels``...) whose keys
    also read as attributes, e.g. ``enc.input_ids``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no key {name!r}; keys: {list(self)}") from None

    def to(self, device: Any, *, non_blocking: bool = False) -> BatchEncoding:
        """Move every tensor value to ``device``, in place.

        Args:
            device: A torch device, its name (``"cuda:0"``) or index.
            non_blocking: Passed to ``Tensor.to``.

        Returns:
            ``self``, so that ``tok(x, return_tensors="pt").to(device)`` chains.
        """
        for key, value in self.items():
            if callable(getattr(value, "to", None)):
                self[key] = value.to(device=device, non_blocking=non_blocking)
        return self


def resolve_options(
    *,
    padding: Any,
    truncation: Any,
    max_length: int | None,
    pad_to_multiple_of: int | None,
    model_max_length: int,
    return_tensors: str | None,
    padding_side: str | None,
) -> tuple[str, str, int | None]:
    """Check the call options and settle the padding and truncation strategies.

    Returns:
        ``(padding, truncation, max_length)``: padding is ``"longest"``, ``"max_length"`` or
        ``"do_not_pad"``; truncation ``"longest_first"``, ``"only_first"``, ``"only_second"`` or
        ``"do_not_truncate"``; max_length the length they use (possibly model_max_length).

    Raises:
        ValueError: An option has a value outside the ones listed in the message.
    """
    # The type checks keep 1 (== True) and unhashable values from the dict lookups.
    if not isinstance(padding, (bool, str)) or padding not in _PADDINGS:
        raise ValueError(f"padding must be one of True, False, {list(_PADDINGS)[2:]}; got {padding!r}.")
    if not isinstance(truncation, (bool, str, type(None))) or truncation not in _TRUNCATIONS:
        raise ValueError(f"truncation must be one of True, False, None, {list(_TRUNCATIONS)[3:]}; got {truncation!r}.")
    if return_tensors not in (None, "pt", "np"):
        raise ValueError(f"return_tensors must be None, 'pt' or 'np'; got {return_tensors!r}.")
    if padding_side not in (None, "left", "right"):
        raise ValueError(f"padding_side must be None, 'left' or 'right'; got {padding_side!r}.")
    for name, value in (("max_length", max_length), ("pad_to_multiple_of", pad_to_multiple_of)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} must be a non-negative int or None; got {value!r}.")
    if pad_to_multiple_of == 0:
        raise ValueError("pad_to_multiple_of must be positive; got 0.")

    if max_length is not None and padding is False and truncation is None:
        logger.warning("max_length is set without truncation=True: truncating (longest_first) as transformers does.")
        truncation = True
    padding, truncation = _PADDINGS[padding], _TRUNCATIONS[truncation]
    if max_length is None:
        # Both strategies fall back to model_max_length, or switch off when it is unknown.
        no_limit = model_max_length > LARGE_INTEGER
        if padding == "max_length":
            padding = "do_not_pad" if no_limit else padding
            max_length = None if no_limit else model_max_length
        if truncation != "do_not_truncate":
            truncation = "do_not_truncate" if no_limit else truncation
            max_length = max_length if no_limit else model_max_length
    if (
        truncation != "do_not_truncate"
        and padding != "do_not_pad"
        and pad_to_multiple_of
        and max_length is not None
        and max_length % pad_to_multiple_of
    ):
        raise ValueError(
            f"Truncation and padding are both on but max_length ({max_length}) is "
            f"not a multiple of pad_to_multiple_of ({pad_to_multiple_of})."
        )
    return padding, truncation, max_length


def truncate(ids: list[int], *, num_special: int, truncation: str, max_length: int | None, side: str) -> list[int]:
    """Drop tokens so that ``ids`` plus its special tokens fit ``max_length``.

    A single sequence is cut by ``longest_first`` and ``only_first`` alike; ``only_second``
    has no second sequence to cut. When the text is shorter than what must go, nothing is cut.
    """
    remove = len(ids) + num_special - (max_length or 0)
    if truncation not in ("longest_first", "only_first") or not max_length or remove <= 0:
        return ids
    if len(ids) <= remove:
        logger.error("Cannot truncate a sequence of %d tokens by %d: leaving it whole.", len(ids), remove)
        return ids
    return ids[remove:] if side == "left" else ids[:-remove]


def pad(
    items: list[dict[str, list[int]]],
    *,
    padding: str,
    max_length: int | None,
    pad_to_multiple_of: int | None,
    side: str,
    pad_id: int,
    attention_mask: bool,
) -> None:
    """Pad the encodings of one call, in place, to a common length.

    ``"longest"`` pads to the longest item, ``"max_length"`` to ``max_length`` (longer items
    stay as they are); either is rounded up to a multiple of ``pad_to_multiple_of``.
    """
    target = max(len(item["input_ids"]) for item in items) if padding == "longest" else max_length
    if target is not None and pad_to_multiple_of and target % pad_to_multiple_of:
        target += pad_to_multiple_of - target % pad_to_multiple_of
    for item in items:
        ids = item["input_ids"]
        if attention_mask and "attention_mask" not in item:
            item["attention_mask"] = [1] * len(ids)
        missing = target - len(ids) if padding != "do_not_pad" and target is not None else 0
        if missing <= 0:
            continue

        def grow(values: list[int], fill: int) -> list[int]:
            return [fill] * missing + values if side == "left" else values + [fill] * missing

        if attention_mask:
            item["attention_mask"] = grow(item["attention_mask"], 0)
        if "special_tokens_mask" in item:
            item["special_tokens_mask"] = grow(item["special_tokens_mask"], 1)
        item["input_ids"] = grow(ids, pad_id)


def to_tensors(data: dict[str, Any], return_tensors: str | None, *, prepend_batch_axis: bool) -> BatchEncoding:
    """Wrap the lists of one call, as int64 tensors when asked.

    Raises:
        ValueError: Tensors are asked for rows of different lengths (no padding).
    """
    if return_tensors is None:
        return BatchEncoding(data)
    if prepend_batch_axis:
        data = {key: [value] for key, value in data.items()}
    for key, value in data.items():
        if value and isinstance(value[0], list) and len({len(row) for row in value}) > 1:
            raise ValueError(
                f"Cannot make a tensor of {key!r}: its rows have different lengths. "
                "Pass padding=True (and truncation=True) to batch texts."
            )
    if return_tensors == "pt":
        return BatchEncoding({k: torch.tensor(v, dtype=torch.long) for k, v in data.items()})
    return BatchEncoding({k: np.asarray(v, dtype=np.int64) for k, v in data.items()})
