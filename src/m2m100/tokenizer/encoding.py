"""``BatchEncoding`` and the truncation, padding and tensor rules of transformers' encoding calls.

The rules, and their corners, are transformers 4.57's: ``max_length`` alone turns truncation on,
a sequence too short to lose the requested tokens is left whole, ``longest_first`` on a pair
trims the longer sequence first, an empty encoding is never padded, ragged rows become an object
array for ``"np"`` and an error for ``"pt"``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from enum import Enum
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


class InputError(ValueError):
    """A bad argument. The subclasses are also the type transformers 4.57 raises for the same input
    (an assertion, index or attribute error there), so that code catching either type still works."""


class AssertionInputError(InputError, AssertionError):
    """A bad argument that transformers rejects with an ``assert``."""


class IndexInputError(InputError, IndexError):
    """A bad argument that transformers trips over with an ``IndexError``."""


class AttributeInputError(InputError, AttributeError):
    """A bad argument that transformers trips over with an ``AttributeError``."""


class ZeroMultipleError(InputError, ZeroDivisionError):
    """``pad_to_multiple_of=0``, which transformers divides by."""


class OptionTypeError(InputError, TypeError):
    """A length option that is not an int, which transformers fails to compare or add."""


class UnsupportedTensorsError(InputError, ImportError):
    """``return_tensors`` of a framework this package does not convert to (TensorFlow, JAX,
    MLX): transformers raises an ImportError when that framework is not installed."""


class LookupInputError(InputError, KeyError):
    """A name that transformers looks up in a dict and does not find (e.g. a language code)."""

    __str__ = BaseException.__str__  # the message, not KeyError's quoted repr of it


class BatchEncoding(dict):
    """The tokenizer's output: a dict (``input_ids``, ``attention_mask``, ``labels``...) whose keys
    also read as attributes, e.g. ``enc.input_ids``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no key {name!r}; keys: {list(self)}") from None

    @property
    def data(self) -> dict[str, Any]:
        """The encoding itself, as transformers' ``BatchEncoding.data`` (a dict either way)."""
        return self

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


def plain(value: Any) -> Any:
    """transformers' string enums (``PaddingStrategy.LONGEST``, ``TensorType.PYTORCH``...) as their
    values; anything else as it is."""
    return value.value if isinstance(value, Enum) else value


def resolve_options(
    *,
    padding: Any,
    truncation: Any,
    max_length: int | None,
    pad_to_multiple_of: int | None,
    model_max_length: int,
    return_tensors: str | None,
    padding_side: str | None,
    verbose: bool = True,
) -> tuple[str, str, int | None]:
    """Check the call options and settle the padding and truncation strategies.

    Returns:
        ``(padding, truncation, max_length)``: padding is ``"longest"``, ``"max_length"`` or
        ``"do_not_pad"``; truncation ``"longest_first"``, ``"only_first"``, ``"only_second"`` or
        ``"do_not_truncate"``; max_length the length they use (possibly model_max_length).

    Raises:
        ValueError: An option has a value outside the ones listed in the message.
    """
    padding, truncation, return_tensors = plain(padding), plain(truncation), plain(return_tensors)
    # The type checks keep 1 (== True) and unhashable values from the dict lookups.
    if not isinstance(padding, (bool, str)) or padding not in _PADDINGS:
        raise ValueError(f"padding must be one of True, False, {list(_PADDINGS)[2:]}; got {padding!r}.")
    if not isinstance(truncation, (bool, str, type(None))) or truncation not in _TRUNCATIONS:
        raise ValueError(f"truncation must be one of True, False, None, {list(_TRUNCATIONS)[3:]}; got {truncation!r}.")
    if return_tensors in ("tf", "jax", "mlx"):
        raise UnsupportedTensorsError(f"return_tensors={return_tensors!r} is not supported: use 'pt' or 'np'.")
    if return_tensors not in (None, "pt", "np"):
        raise ValueError(f"return_tensors must be None, 'pt' or 'np'; got {return_tensors!r}.")
    if padding_side not in (None, "left", "right"):
        raise ValueError(f"padding_side must be None, 'left' or 'right'; got {padding_side!r}.")
    for name, value in (("max_length", max_length), ("pad_to_multiple_of", pad_to_multiple_of)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise OptionTypeError(f"{name} must be an int or None; got {value!r}.")
        if value is not None and value < 0:
            raise ValueError(f"{name} must be non-negative; got {value!r}.")
    if pad_to_multiple_of == 0:
        raise ZeroMultipleError("pad_to_multiple_of must be positive; got 0.")

    if max_length is not None and padding is False and truncation is None:
        if verbose:
            logger.warning(
                "max_length is set without truncation=True: truncating (longest_first) as transformers does."
            )
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


def truncate_sequences(
    ids: Sequence[int],
    pair_ids: Sequence[int] | None,
    *,
    num_tokens_to_remove: int,
    strategy: str,
    stride: int,
    side: str,
) -> tuple[Any, Any, Any]:
    """Drop ``num_tokens_to_remove`` tokens from a sequence or a pair, as the strategy says.

    ``only_first`` (and ``longest_first`` on a single sequence) cuts the first sequence and
    ``only_second`` the second one; both return the cut tokens plus ``stride`` tokens of overlap
    as the overflow, and leave a sequence that is too short whole (logging an error).
    ``longest_first`` on a pair trims the longer sequence down to the shorter one, then both
    alike, and returns no overflow.

    Args:
        ids, pair_ids: The token ids, without special tokens (``pair_ids`` None for one sequence).
        num_tokens_to_remove: How many tokens must go (nothing happens when <= 0).
        strategy: ``"longest_first"``, ``"only_first"``, ``"only_second"`` or ``"do_not_truncate"``.
        stride: Tokens of the kept part repeated at the edge of the overflow.
        side: ``"right"`` (drop the end) or ``"left"`` (drop the start).

    Returns:
        ``(ids, pair_ids, overflowing_tokens)``.
    """
    n = num_tokens_to_remove
    if n <= 0:
        return ids, pair_ids, []
    overflow: Any = []
    if strategy == "only_first" or (strategy == "longest_first" and pair_ids is None):
        if len(ids) > n:
            window = min(len(ids), stride + n)
            overflow, ids = (ids[:window], ids[n:]) if side == "left" else (ids[-window:], ids[:-n])
        else:
            logger.error("Cannot remove %d tokens from a first sequence of %d: leaving it whole.", n, len(ids))
    elif strategy == "longest_first" and pair_ids is not None:
        first_cut = min(abs(len(pair_ids) - len(ids)), n)
        rest = n - first_cut
        if len(ids) > len(pair_ids):
            ids_cut, pair_cut = first_cut + rest // 2, rest - rest // 2
        else:
            ids_cut, pair_cut = rest // 2, first_cut + rest - rest // 2
        if side == "left":
            ids, pair_ids = ids[ids_cut:], pair_ids[pair_cut:]
        else:
            ids = ids[:-ids_cut] if ids_cut > 0 else ids
            pair_ids = pair_ids[:-pair_cut] if pair_cut > 0 else pair_ids
    elif strategy == "only_second" and pair_ids is not None:
        if len(pair_ids) > n:
            window = min(len(pair_ids), stride + n)
            if side == "left":
                overflow, pair_ids = pair_ids[:window], pair_ids[n:]
            else:
                overflow, pair_ids = pair_ids[-window:], pair_ids[:-n]
        else:
            logger.error("Cannot remove %d tokens from a second sequence of %d: leaving it whole.", n, len(pair_ids))
    return ids, pair_ids, overflow


def pad_batch(
    columns: Mapping[str, Any],
    *,
    padding: str,
    max_length: int | None,
    pad_to_multiple_of: int | None,
    side: str,
    pad_id: int | None,
    attention_mask: bool,
    main_key: str = "input_ids",
) -> dict[str, Any]:
    """Pad a batch (key -> one list per sequence) and return the padded copy.

    ``"longest"`` pads to the longest sequence, ``"max_length"`` to ``max_length``; either target
    is rounded up to a multiple of ``pad_to_multiple_of``. ``input_ids`` get ``pad_id``,
    ``attention_mask`` 0 (when ``attention_mask``; it is added, all 1, when missing),
    ``token_type_ids`` 0 and ``special_tokens_mask`` 1; other keys are left alone. A longer
    sequence is not cut.
    """
    out = dict(columns)
    rows = out[main_key]
    if padding == "longest":
        max_length = max((len(row) for row in rows), default=0)
    if max_length is not None and pad_to_multiple_of and max_length % pad_to_multiple_of:
        max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
    if attention_mask and "attention_mask" not in out:
        out["attention_mask"] = [[1] * len(row) for row in rows]
    if padding == "do_not_pad" or max_length is None:
        return out
    fills: list[tuple[str, int | None]] = [
        (key, fill)
        for key, fill in (("attention_mask", 0), ("token_type_ids", 0), ("special_tokens_mask", 1))
        if key in out and (attention_mask or key != "attention_mask")
    ]
    fills.append((main_key, pad_id))
    lengths = [len(row) for row in rows]
    for key, fill in fills:
        column = list(out[key])
        for i, length in enumerate(lengths):
            if length != max_length:  # a longer row gets nothing added (but is copied, as there)
                missing = [fill] * (max_length - length)
                column[i] = missing + column[i] if side == "left" else column[i] + missing
        out[key] = column
    return out


def pad_encoding(encoded: Mapping[str, Any], **options: Any) -> dict[str, Any]:
    """``pad_batch`` for one encoding (key -> the list of one sequence); ``"longest"`` is its own
    length."""
    padded = pad_batch({key: [value] for key, value in encoded.items()}, **options)
    return {key: value[0] for key, value in padded.items()}


def to_python(value: Any) -> Any:
    """Tensors, arrays and numpy scalars to (nested) Python lists and numbers; lists, tuples and
    dicts are converted inside (tuples become lists); anything else passes through."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    if isinstance(value, dict):
        return {k: to_python(v) for k, v in value.items()}
    return value


def _has_values(value: Any) -> bool:
    """Whether transformers' ``flatten`` of ``value`` is non-empty (the nesting is read off the
    first element); a value without a length raises TypeError, as there."""
    if len(value) == 0:
        return False
    if not isinstance(value[0], (list, tuple)):
        return True
    return any(_has_values(sub) for sub in value)


def _as_tensor(value: Any, kind: str) -> Any:
    if kind == "pt":
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            return torch.from_numpy(np.array(value))
        return torch.tensor(value, dtype=None if _has_values(value) else torch.int64)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple, np.ndarray)):
        if len({len(row) for row in value}) > 1:  # ragged: an array of arrays
            return np.asarray([np.asarray(row) for row in value], dtype=object)
    return np.asarray(value, dtype=None if _has_values(value) else np.int64)


def to_tensors(data: Mapping[str, Any], return_tensors: str | None, *, prepend_batch_axis: bool) -> BatchEncoding:
    """Wrap the values of one call, as tensors when asked.

    Integers become int64 tensors (any other dtype is torch's or numpy's choice); empty values
    become int64 too. With ``"np"``, rows of different lengths become an object array of rows.

    Args:
        data: Key -> list (or already a tensor of the asked kind, kept as it is).
        return_tensors: None (lists), ``"pt"`` or ``"np"``.
        prepend_batch_axis: Wrap each value in a batch of one first (a single text's encoding).

    Raises:
        ValueError: ``"pt"`` asked for rows of different lengths (no padding), or values that are
            not numbers.
    """
    out = BatchEncoding(data)
    kind = plain(return_tensors)
    if kind is None:
        return out
    is_tensor = torch.is_tensor if kind == "pt" else (lambda value: isinstance(value, np.ndarray))
    for key, value in out.items():
        if prepend_batch_axis:
            value = [value]
        if is_tensor(value):
            continue
        try:
            out[key] = _as_tensor(value, kind)
        except Exception as error:
            what = "the overflowing tokens of different texts" if key == "overflowing_tokens" else repr(key)
            raise ValueError(
                f"Cannot make a tensor of {what}: its rows have different lengths or are not numbers. "
                "Pass padding=True (and truncation=True) to batch texts."
            ) from error
    return out
