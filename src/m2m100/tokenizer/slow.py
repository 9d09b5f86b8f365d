"""The encoding calls of transformers' slow tokenizers, on top of ``SlowTokenizerBase``.

``__call__``, ``encode``, ``encode_plus``, ``batch_encode_plus``, ``prepare_for_model`` and ``pad``
take the arguments of transformers 4.57 and give its outputs, corners included: a batch of texts
ignores the call's ``split_special_tokens`` (the tokenizer's own setting applies), overflowing
tokens are one list per text (no extra rows), and the token type ids are one short for a model
without a cls token. A subclass lays sequences out through ``build_inputs_with_special_tokens``
and ``get_special_tokens_mask``, and may switch layouts for targets with ``_switch_to_input_mode``
and ``_switch_to_target_mode``.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from m2m100.tokenizer import encoding
from m2m100.tokenizer.base import SlowTokenizerBase
from m2m100.tokenizer.encoding import (
    AssertionInputError,
    AttributeInputError,
    BatchEncoding,
    IndexInputError,
)

logger = logging.getLogger(__name__)


def _is_text_input(value: Any) -> bool:
    """A str, a list of str (a batch, or one pre-split text), or a list of lists of str."""
    if isinstance(value, str):
        return True
    if not isinstance(value, (list, tuple)):
        return False
    if not value or isinstance(value[0], str):
        return True
    first = value[0]
    return isinstance(first, (list, tuple)) and (not first or isinstance(first[0], str))


class SlowTokenizer(SlowTokenizerBase):
    """The encoding calls of transformers' ``PreTrainedTokenizer``.

    Subclasses set ``model_max_length``, ``padding_side``, ``truncation_side``,
    ``model_input_names`` and ``split_special_tokens`` (class defaults are transformers').
    """

    model_max_length: int = encoding.VERY_LARGE_INTEGER
    padding_side = "right"
    truncation_side = "right"
    model_input_names: list[str] = ["input_ids", "token_type_ids", "attention_mask"]
    deprecation_warnings: dict[str, bool]  # warnings already given (transformers' name)
    _in_target_context_manager = False

    # ----------------------------------------------------------------- layout hooks
    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """Return the ids with the model's special tokens (none here: the ids, joined)."""
        return token_ids_0 if token_ids_1 is None else token_ids_0 + token_ids_1

    def get_special_tokens_mask(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None, already_has_special_tokens: bool = False
    ) -> list[int]:
        """Return 1 for the special tokens ``build_inputs_with_special_tokens`` adds, 0 for the others.

        Args:
            token_ids_0, token_ids_1: Ids without (or, see below, with) special tokens.
            already_has_special_tokens: The ids already contain them; look each id up in
                ``all_special_ids`` instead of predicting the layout.

        Raises:
            ValueError: ``token_ids_1`` given together with ``already_has_special_tokens``.
        """
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("token_ids_1 must be None when already_has_special_tokens=True.")
            special = set(self.all_special_ids)
            return [int(i in special) for i in token_ids_0]
        return [0] * (len(token_ids_0) + len(token_ids_1 or []))

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """0 for the first sequence, 1 for the second, counting one cls and one sep token per
        sequence as transformers does (for M2M100, which has no cls token and adds a language
        token, a single sequence gets one slot fewer than its ids)."""
        n0 = int(self.cls_token_id is not None) + len(token_ids_0) + int(self.sep_token_id is not None)
        if token_ids_1 is None:
            return [0] * n0
        return [0] * n0 + [1] * (len(token_ids_1) + int(self.sep_token_id is not None))

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """Number of tokens ``build_inputs_with_special_tokens`` adds to one sequence or a pair."""
        return len(self.build_inputs_with_special_tokens([], [] if pair else None))

    @property
    def max_len_single_sentence(self) -> int:
        """``model_max_length`` minus the special tokens of one sequence."""
        return self.model_max_length - self.num_special_tokens_to_add(pair=False)

    @property
    def max_len_sentences_pair(self) -> int:
        """``model_max_length`` minus the special tokens of a pair."""
        return self.model_max_length - self.num_special_tokens_to_add(pair=True)

    @property
    def pad_token_type_id(self) -> int:
        """The token type id of padding (0)."""
        return 0

    def _switch_to_input_mode(self) -> None:
        """Lay out the next sequences as sources (nothing to do for one layout)."""

    def _switch_to_target_mode(self) -> None:
        """Lay out the next sequences as targets (nothing to do for one layout)."""

    @contextmanager
    def as_target_tokenizer(self) -> Iterator[None]:
        """Deprecated in transformers: encode targets inside the block (``text_target=`` is the
        way). As there, the first call inside the block switches back to sources when it ends."""
        warnings.warn("as_target_tokenizer is deprecated: pass the targets as text_target= instead.", stacklevel=3)
        self._switch_to_target_mode()
        self._in_target_context_manager = True
        try:
            yield
        finally:
            self._in_target_context_manager = False
            self._switch_to_input_mode()

    # ----------------------------------------------------------------- entry points
    def __call__(
        self,
        text: str | Sequence[str] | Sequence[Sequence[str]] | None = None,
        text_pair: str | Sequence[str] | Sequence[Sequence[str]] | None = None,
        text_target: str | Sequence[str] | Sequence[Sequence[str]] | None = None,
        text_pair_target: str | Sequence[str] | Sequence[Sequence[str]] | None = None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        split_special_tokens: bool | None = None,
    ) -> BatchEncoding:
        """Encode source text(s), and/or target text(s), alone or as pairs.

        Args:
            text: A text, a batch of texts, or (with ``is_split_into_words``) a text split into
                words or a batch of those.
            text_pair: Second sequences, one per text (a pair is joined without a separator).
            text_target, text_pair_target: Targets, encoded in the target layout; returned as
                ``labels`` (or as ``input_ids`` when ``text`` is None).
            add_special_tokens: Add the model's special tokens (M2M100: language token, ``</s>``).
            padding: True/"longest" (to the longest in the batch), "max_length", or
                False/"do_not_pad".
            truncation: True/"longest_first", "only_first", "only_second" cut to ``max_length``
                (default ``model_max_length``); None turns on when ``max_length`` is given alone.
            max_length: Length limit for truncation and "max_length" padding.
            stride: Tokens of the kept text repeated in ``overflowing_tokens``.
            is_split_into_words: The texts are lists of words (each tokenized on its own).
            pad_to_multiple_of: Round the padded length up to a multiple of this.
            padding_side: "left" or "right" (default: ``self.padding_side``).
            return_tensors: None (lists), "pt" (torch) or "np" (numpy).
            return_token_type_ids: Include ``token_type_ids`` (default: if in model_input_names).
            return_attention_mask: Include ``attention_mask`` (default: if in model_input_names).
            return_overflowing_tokens: Include ``overflowing_tokens`` and ``num_truncated_tokens``
                (needs a length limit; not for pairs with ``longest_first``).
            return_special_tokens_mask: Include ``special_tokens_mask``.
            return_offsets_mapping: Not available for a slow tokenizer (raises).
            return_length: Include ``length``.
            verbose: Log warnings (e.g. a text longer than the model takes).
            split_special_tokens: Treat added tokens in the text as plain text (default: the
                tokenizer's setting; a batch always uses the tokenizer's setting, as in
                transformers).

        Returns:
            A BatchEncoding; a single text gives flat lists (or tensors of batch size 1).

        Raises:
            ValueError: No text, an invalid text or option, an unset target language, or tensors
                asked for texts of different lengths without padding.
            TypeError: A str ``text_pair`` for a batch, or overflowing tokens asked without a
                length limit.
            NotImplementedError: ``return_offsets_mapping=True``.
        """
        if text is None and text_target is None:
            raise ValueError("Pass text, text_target, or both.")
        options: dict[str, Any] = dict(
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            is_split_into_words=is_split_into_words,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_tensors=return_tensors,
            return_token_type_ids=return_token_type_ids,
            return_attention_mask=return_attention_mask,
            return_overflowing_tokens=return_overflowing_tokens,
            return_special_tokens_mask=return_special_tokens_mask,
            return_offsets_mapping=return_offsets_mapping,
            return_length=return_length,
            verbose=verbose,
            split_special_tokens=split_special_tokens,
        )
        try:
            if text is not None:
                if not self._in_target_context_manager:
                    self._switch_to_input_mode()
                encodings = self._call_one(text, text_pair, options)
            if text_target is not None:
                self._switch_to_target_mode()
                targets = self._call_one(text_target, text_pair_target, options)
        finally:
            self._switch_to_input_mode()
        if text is None:
            return targets
        if text_target is not None:
            encodings["labels"] = targets["input_ids"]
        return encodings

    def _call_one(self, text: Any, text_pair: Any, options: dict[str, Any]) -> BatchEncoding:
        for value in (text, text_pair):
            if value is not None and not _is_text_input(value):
                raise ValueError(
                    "text must be a str, a list of str (a batch, or one text split into words with "
                    f"is_split_into_words=True) or a list of lists of str; got {value!r}."
                )
        if options["is_split_into_words"]:
            batched = isinstance(text, (list, tuple)) and bool(text) and isinstance(text[0], (list, tuple))
        else:
            batched = isinstance(text, (list, tuple))
        if not batched:
            return self.encode_plus(text, text_pair, **options)
        if isinstance(text_pair, str):
            raise TypeError("For a batch of texts, text_pair must be a list of the same length, not a str.")
        if text_pair is not None and len(text) != len(text_pair):
            raise ValueError(f"text has {len(text)} items but text_pair has {len(text_pair)}.")
        batch = list(zip(text, text_pair)) if text_pair is not None else text
        return self.batch_encode_plus(batch, **options)

    def encode(
        self,
        text: str | Sequence[str] | Sequence[int],
        text_pair: str | Sequence[str] | Sequence[int] | None = None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        *,
        pad_to_multiple_of: int | None = None,
        is_split_into_words: bool = False,
        split_special_tokens: bool | None = None,
        verbose: bool = True,
    ) -> Any:
        """Encode one text (or a token list, or ids), or a pair, with the current layout.

        Unlike ``__call__``, this keeps whatever layout was set last (sources after any call).

        Returns:
            The ids as a list, or a (1, length) tensor when ``return_tensors`` is set.

        Raises:
            ValueError: ``text`` is not a str, a non-empty list of tokens or a list of ids.
        """
        return self.encode_plus(
            text,
            text_pair,
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            is_split_into_words=is_split_into_words,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_tensors=return_tensors,
            verbose=verbose,
            split_special_tokens=split_special_tokens,
        )["input_ids"]

    def encode_plus(
        self,
        text: str | Sequence[str] | Sequence[int],
        text_pair: str | Sequence[str] | Sequence[int] | None = None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        split_special_tokens: bool | None = None,
    ) -> BatchEncoding:
        """Encode one text, or one pair, with the current layout (see ``__call__`` for the options).

        ``text`` and ``text_pair`` may also be lists of tokens, or lists of ids (used as they are).

        Raises:
            ValueError: An input that is none of those, or an invalid option.
            NotImplementedError: ``return_offsets_mapping=True``.
        """
        padding, truncation, max_length = self._strategies(
            padding, truncation, max_length, pad_to_multiple_of, return_tensors, padding_side, verbose
        )
        if return_offsets_mapping:
            raise NotImplementedError(_NO_OFFSETS)
        if split_special_tokens is None:
            split_special_tokens = self.split_special_tokens
        first = self._input_ids(text, is_split_into_words, split_special_tokens)
        second = None if text_pair is None else self._input_ids(text_pair, is_split_into_words, split_special_tokens)
        return self.prepare_for_model(
            first,
            second,
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_tensors=return_tensors,
            return_token_type_ids=return_token_type_ids,
            return_attention_mask=return_attention_mask,
            return_overflowing_tokens=return_overflowing_tokens,
            return_special_tokens_mask=return_special_tokens_mask,
            return_length=return_length,
            verbose=verbose,
            prepend_batch_axis=True,
        )

    def batch_encode_plus(
        self,
        batch_text_or_text_pairs: Sequence[Any],
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        split_special_tokens: bool | None = None,
    ) -> BatchEncoding:
        """Encode a batch of texts or of ``(text, text_pair)`` pairs (see ``__call__`` for the options).

        An item that is a list or tuple is a pair, unless ``is_split_into_words`` and its first
        element is a word. Items may also be lists of tokens or ids, as for ``encode_plus``.
        ``split_special_tokens`` is ignored: the tokenizer's own setting applies, as in
        transformers.

        Raises:
            ValueError: An item that is neither a text nor a pair, an invalid text or option, an
                empty batch.
            NotImplementedError: ``return_offsets_mapping=True``.
        """
        padding, truncation, max_length = self._strategies(
            padding, truncation, max_length, pad_to_multiple_of, return_tensors, padding_side, verbose
        )
        if return_offsets_mapping:
            raise NotImplementedError(_NO_OFFSETS)
        rows: dict[str, list[Any]] = {}
        for item in batch_text_or_text_pairs:
            if not isinstance(item, (list, tuple)) or (is_split_into_words and not isinstance(item[0], (list, tuple))):
                first, second = item, None
            elif len(item) == 2:
                first, second = item
            else:
                raise ValueError(
                    f"A batch item that is a list must be a (text, text_pair) pair; got {item!r}. "
                    "Pass is_split_into_words=True for texts split into words."
                )
            ids = self._input_ids(first, is_split_into_words, self.split_special_tokens)
            pair_ids = (
                None if second is None else self._input_ids(second, is_split_into_words, self.split_special_tokens)
            )
            encoded = self._prepare(
                ids,
                pair_ids,
                add_special_tokens=add_special_tokens,
                truncation=truncation,
                max_length=max_length,
                stride=stride,
                return_token_type_ids=return_token_type_ids,
                return_overflowing_tokens=return_overflowing_tokens,
                return_special_tokens_mask=return_special_tokens_mask,
                verbose=verbose,
            )
            if return_length:
                encoded["length"] = len(encoded["input_ids"])
            for key, value in encoded.items():
                rows.setdefault(key, []).append(value)
        return self.pad(
            rows,
            padding=padding,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_attention_mask=return_attention_mask,
            return_tensors=return_tensors,
            verbose=verbose,
        )

    def prepare_for_model(
        self,
        ids: list[int],
        pair_ids: list[int] | None = None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        prepend_batch_axis: bool = False,
    ) -> BatchEncoding:
        """Truncate ids (or a pair of them), add special tokens, pad, and convert, for one input.

        Args:
            ids, pair_ids: Token ids without special tokens (e.g. ``convert_tokens_to_ids``).
            prepend_batch_axis: With ``return_tensors``, give tensors a batch axis of 1.
            The other arguments are ``__call__``'s (``return_offsets_mapping`` is ignored here).

        Returns:
            A BatchEncoding of flat lists: ``overflowing_tokens`` and ``num_truncated_tokens``
            first when asked, then ``input_ids``, ``token_type_ids``, ``special_tokens_mask``,
            ``attention_mask`` and ``length``.

        Raises:
            ValueError: ``return_token_type_ids`` without special tokens, overflowing tokens asked
                for a pair with ``longest_first``, or an invalid option.
            TypeError: Overflowing tokens asked without any length limit.
        """
        padding, truncation, max_length = self._strategies(
            padding, truncation, max_length, pad_to_multiple_of, return_tensors, padding_side, verbose
        )
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        encoded = self._prepare(
            ids,
            pair_ids,
            add_special_tokens=add_special_tokens,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            return_token_type_ids=return_token_type_ids,
            return_overflowing_tokens=return_overflowing_tokens,
            return_special_tokens_mask=return_special_tokens_mask,
            verbose=verbose,
        )
        if padding != "do_not_pad" or return_attention_mask:
            encoded = dict(
                self.pad(
                    encoded,
                    padding=padding,
                    max_length=max_length,
                    pad_to_multiple_of=pad_to_multiple_of,
                    padding_side=padding_side,
                    return_attention_mask=return_attention_mask,
                )
            )
        if return_length:
            encoded["length"] = len(encoded["input_ids"])
        return encoding.to_tensors(encoded, return_tensors, prepend_batch_axis=prepend_batch_axis)

    def truncate_sequences(
        self,
        ids: list[int],
        pair_ids: list[int] | None = None,
        num_tokens_to_remove: int = 0,
        truncation_strategy: str = "longest_first",
        stride: int = 0,
    ) -> tuple[Any, Any, Any]:
        """Cut ``num_tokens_to_remove`` tokens on ``truncation_side``; see
        :func:`m2m100.tokenizer.encoding.truncate_sequences`.

        Returns:
            ``(ids, pair_ids, overflowing_tokens)``.

        Raises:
            ValueError: An unknown strategy.
        """
        strategy = encoding.plain(truncation_strategy)
        if strategy not in ("longest_first", "only_first", "only_second", "do_not_truncate"):
            raise ValueError(f"Unknown truncation strategy {strategy!r}.")
        if self.truncation_side not in ("left", "right") and num_tokens_to_remove > 0:
            raise ValueError(f"truncation_side must be 'left' or 'right'; got {self.truncation_side!r}.")
        return encoding.truncate_sequences(
            ids,
            pair_ids,
            num_tokens_to_remove=num_tokens_to_remove,
            strategy=strategy,
            stride=stride,
            side=self.truncation_side,
        )

    def pad(
        self,
        encoded_inputs: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        padding: bool | str = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        verbose: bool = True,
    ) -> BatchEncoding:
        """Pad one encoding, or a batch of them, to a common length (a collate function).

        ``input_ids`` get the pad id, ``attention_mask`` is added (or extended with 0),
        ``token_type_ids`` and ``special_tokens_mask`` are extended; any other key (``labels``)
        is returned as it came, so ``DataCollatorForSeq2Seq`` pads labels itself.

        Args:
            encoded_inputs: One encoding (key -> list of ids), a batch as key -> list of lists,
                or a list of encodings (e.g. dataset rows). Values may be tensors or arrays: they
                are read as lists and, unless ``return_tensors`` says otherwise, the result has
                tensors of the same kind.
            padding: True/"longest" (to the longest; a single encoding only to
                ``pad_to_multiple_of``), "max_length", or False/"do_not_pad".
            max_length: The length for "max_length" (default ``model_max_length``); longer
                encodings are not cut.
            pad_to_multiple_of: Round the padded length up to a multiple of this.
            padding_side: "left" or "right" (default: ``self.padding_side``).
            return_attention_mask: Add and pad ``attention_mask`` (default: if in
                model_input_names); False leaves an existing mask as it is.
            return_tensors: None, "pt" or "np".
            verbose: Log warnings.

        Returns:
            The padded BatchEncoding (a copy: the input is not modified).

        Raises:
            ValueError: No ``input_ids``, values that are not ids, an invalid option, or padding
                without a pad token. An empty list, a list of lists, or keys with different batch
                sizes raise an ``InputError`` that is also the IndexError, AttributeError or
                AssertionError transformers raises there.
        """
        main = self.model_input_names[0]
        if isinstance(encoded_inputs, (list, tuple)):
            if not encoded_inputs:
                raise IndexInputError("pad() got an empty list: pass at least one encoding.")
            if not isinstance(encoded_inputs[0], Mapping):
                raise AttributeInputError(
                    "pad() takes an encoding (a dict), a dict of batched lists or a list of dicts; "
                    f"got a list of {type(encoded_inputs[0]).__name__}."
                )
            inputs = {key: [row[key] for row in encoded_inputs] for key in encoded_inputs[0]}
        elif isinstance(encoded_inputs, Mapping):
            inputs = dict(encoded_inputs)
        else:
            raise TypeError(f"pad() takes a dict or a list of dicts; got {type(encoded_inputs).__name__}.")
        if main not in inputs:
            raise ValueError(f"pad() needs {main!r} in the encodings; got the keys {list(inputs)}.")
        required = inputs[main]
        if required is None or (hasattr(required, "__len__") and len(required) == 0):
            if return_attention_mask:
                inputs["attention_mask"] = []
            return BatchEncoding(inputs)

        first = required[0]
        if isinstance(first, (list, tuple)):
            first = next((row[0] for row in required if len(row)), first)
        if not isinstance(first, (int, list, tuple)):
            if torch.is_tensor(first):
                return_tensors = return_tensors or "pt"
            elif isinstance(first, np.ndarray):
                return_tensors = return_tensors or "np"
            else:
                raise ValueError(
                    f"pad() reads ids as Python ints, torch tensors or numpy arrays; got {type(first).__name__} ({first!r})."
                )
            inputs = {key: encoding.to_python(value) for key, value in inputs.items()}

        padding, _, max_length = self._strategies(
            padding, None, max_length, pad_to_multiple_of, return_tensors, padding_side, verbose
        )
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        side = padding_side or self.padding_side
        if side not in ("left", "right") and padding != "do_not_pad":
            raise ValueError(f"padding_side must be 'left' or 'right'; got {side!r}.")
        options = dict(
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            side=side,
            pad_id=self.pad_token_id,
            attention_mask=return_attention_mask,
            main_key=main,
        )
        required = inputs[main]
        if not isinstance(required[0], (list, tuple)):
            padded = encoding.pad_encoding(inputs, padding=padding, **options)
            return encoding.to_tensors(padded, return_tensors, prepend_batch_axis=False)

        size = len(required)
        if any(len(value) != size for value in inputs.values()):
            raise AssertionInputError(
                f"pad() got batches of different sizes: {dict((k, len(v)) for k, v in inputs.items())}."
            )
        padded = encoding.pad_batch(inputs, padding=padding, **options)
        return encoding.to_tensors(padded, return_tensors, prepend_batch_axis=False)

    def prepare_seq2seq_batch(
        self,
        src_texts: Sequence[str],
        tgt_texts: Sequence[str] | None = None,
        max_length: int | None = None,
        max_target_length: int | None = None,
        padding: bool | str = "longest",
        return_tensors: str | None = None,
        truncation: bool | str = True,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Deprecated in transformers (``tokenizer(src_texts, text_target=tgt_texts, ...)`` is the
        way): sources and, when given, ``labels``, padded and cut to ``max_length`` (default
        ``model_max_length``; targets to ``max_target_length``, default ``max_length``).

        Args:
            **kwargs: Further ``__call__`` options (``src_lang`` and ``tgt_lang`` are dropped).
        """
        warnings.warn(
            "prepare_seq2seq_batch is deprecated: call tokenizer(src_texts, text_target=tgt_texts, ...) instead.",
            FutureWarning,
            stacklevel=2,
        )
        kwargs.pop("src_lang", None)
        kwargs.pop("tgt_lang", None)
        if max_length is None:
            max_length = self.model_max_length
        options: dict[str, Any] = dict(
            add_special_tokens=True, return_tensors=return_tensors, padding=padding, truncation=truncation, **kwargs
        )
        inputs = self(src_texts, max_length=max_length, **options)
        if tgt_texts is None:
            return inputs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with self.as_target_tokenizer():
                labels = self(
                    tgt_texts, max_length=max_length if max_target_length is None else max_target_length, **options
                )
        inputs["labels"] = labels["input_ids"]
        return inputs

    # ----------------------------------------------------------------- internals
    def _strategies(
        self,
        padding: Any,
        truncation: Any,
        max_length: int | None,
        pad_to_multiple_of: int | None,
        return_tensors: str | None,
        padding_side: str | None,
        verbose: bool,
    ) -> tuple[str, str, int | None]:
        padding, truncation, max_length = encoding.resolve_options(
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            model_max_length=self.model_max_length,
            return_tensors=return_tensors,
            padding_side=padding_side,
            verbose=verbose,
        )
        if padding != "do_not_pad" and (self.pad_token is None or self.pad_token_id is None or self.pad_token_id < 0):
            raise ValueError(
                "Padding needs a pad_token; this tokenizer has none: set tokenizer.pad_token "
                "(e.g. = tokenizer.eos_token) or add one with add_special_tokens({'pad_token': '<pad>'})."
            )
        return padding, truncation, max_length

    def _input_ids(self, text: Any, is_split_into_words: bool, split_special_tokens: bool) -> Any:
        """Ids of a text, a list of tokens (or of words) or a list of ids (returned as it is)."""
        if isinstance(text, str):
            return self.convert_tokens_to_ids(self.tokenize(text, split_special_tokens=split_special_tokens))
        if isinstance(text, (list, tuple)) and text and isinstance(text[0], str):
            if is_split_into_words:
                words = (self.tokenize(word, split_special_tokens=split_special_tokens) for word in text)
                return self.convert_tokens_to_ids(list(itertools.chain.from_iterable(words)))
            return self.convert_tokens_to_ids(list(text))
        if isinstance(text, (list, tuple)) and text and isinstance(text[0], int):
            return text
        allowed = (
            "a str or a non-empty list of str" if is_split_into_words else "a str, a non-empty list of str or of int"
        )
        raise ValueError(f"Cannot encode {text!r}: pass {allowed}.")

    def _prepare(
        self,
        ids: Any,
        pair_ids: Any,
        *,
        add_special_tokens: bool,
        truncation: str,
        max_length: int | None,
        stride: int,
        return_token_type_ids: bool | None,
        return_overflowing_tokens: bool,
        return_special_tokens_mask: bool,
        verbose: bool,
    ) -> dict[str, Any]:
        """``prepare_for_model`` up to padding: truncate, add special tokens, build the masks."""
        pair = pair_ids is not None
        if return_token_type_ids and not add_special_tokens:
            raise ValueError("return_token_type_ids=True needs add_special_tokens=True (the types follow the layout).")
        if return_overflowing_tokens and truncation == "longest_first" and pair:
            raise ValueError(
                "Overflowing tokens cannot be returned for a pair truncated with longest_first: "
                "use truncation='only_first' or 'only_second'."
            )
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        total = len(ids) + (len(pair_ids) if pair else 0)
        total += self.num_special_tokens_to_add(pair=pair) if add_special_tokens else 0
        overflow: Any = []
        if truncation != "do_not_truncate" and max_length and total > max_length:
            ids, pair_ids, overflow = self.truncate_sequences(
                ids, pair_ids, num_tokens_to_remove=total - max_length, truncation_strategy=truncation, stride=stride
            )
        encoded: dict[str, Any] = {}
        if return_overflowing_tokens:
            if max_length is None:
                raise TypeError(
                    "return_overflowing_tokens=True needs a length limit: pass max_length= (or "
                    "truncation=True with a model_max_length)."
                )
            encoded["overflowing_tokens"] = overflow
            encoded["num_truncated_tokens"] = total - max_length
        if add_special_tokens:
            sequence = self.build_inputs_with_special_tokens(ids, pair_ids)
            token_type_ids = self.create_token_type_ids_from_sequences(ids, pair_ids)
        else:
            sequence = ids + pair_ids if pair else ids
            token_type_ids = [0] * len(ids) + ([0] * len(pair_ids) if pair else [])
        encoded["input_ids"] = sequence
        if return_token_type_ids:
            encoded["token_type_ids"] = token_type_ids
        if return_special_tokens_mask:
            encoded["special_tokens_mask"] = (
                self.get_special_tokens_mask(ids, pair_ids) if add_special_tokens else [0] * len(sequence)
            )
        if verbose and max_length is None and 0 < self.model_max_length < len(sequence):
            if not self.deprecation_warnings.get("sequence-too-long"):
                logger.warning(
                    "A sequence of %d tokens is longer than model_max_length (%d): the model cannot take it "
                    "whole; pass truncation=True.",
                    len(sequence),
                    self.model_max_length,
                )
            self.deprecation_warnings["sequence-too-long"] = True
        return encoded


_NO_OFFSETS = (
    "return_offsets_mapping needs character offsets, which transformers only has for its fast "
    "tokenizers; this slow tokenizer cannot return them."
)
