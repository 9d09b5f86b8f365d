"""The M2M100 tokenizer: sentencepiece pieces, a fairseq vocabulary, and one token per language.

A source sentence is laid out ``[__src_lang__] pieces... </s>``, a target likewise with
``tgt_lang``. Ids, tokens, decoded text and saved files are those of transformers 4.57's slow
``M2M100Tokenizer``. The generic machinery sits beside it: ``base`` (special and added tokens,
decoding), ``added_tokens`` (matching them in text), ``encoding`` (truncation, padding, tensors)
and ``files`` (the folder format).
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sentencepiece

from m2m100.languages import language_codes as codes_of_kind
from m2m100.languages import unknown_language_error
from m2m100.tokenizer import encoding, files
from m2m100.tokenizer.added_tokens import AddedToken
from m2m100.tokenizer.base import SPECIAL_TOKENS_ATTRIBUTES, SlowTokenizerBase
from m2m100.tokenizer.encoding import BatchEncoding

__all__ = ["AddedToken", "BatchEncoding", "M2M100Tokenizer"]

logger = logging.getLogger(__name__)


class M2M100Tokenizer(SlowTokenizerBase):
    """M2M100 tokenizer, a drop-in for transformers' slow ``M2M100Tokenizer``.

    Args:
        vocab_file: Path of ``vocab.json`` (token -> id, fairseq's dictionary).
        spm_file: Path of ``sentencepiece.bpe.model``.
        src_lang: Source language code (default ``"en"``); settable later.
        tgt_lang: Target language code, needed for ``text_target``; settable later.
        bos_token, eos_token, sep_token, pad_token, unk_token: The special tokens.
        language_codes: ``"m2m100"`` or ``"wmt21"``: which language tokens follow the vocab.
        sp_model_kwargs: Passed to ``sentencepiece.SentencePieceProcessor`` (e.g. sampling).
        num_madeup_words: Padding rows the model's embedding has after the language tokens.
        **kwargs: transformers' options: ``model_max_length``, ``additional_special_tokens``,
            ``added_tokens_decoder``, ``clean_up_tokenization_spaces``, ``padding_side``,
            ``truncation_side``, ``split_special_tokens``, ``model_input_names``, ``cls_token``,
            ``mask_token``; others are kept and saved back by ``save_pretrained``.

    Raises:
        ValueError: Unknown ``language_codes``, language code or padding/truncation side.
        FileNotFoundError: A vocabulary file is missing.
    """

    vocab_files_names = {"vocab_file": files.VOCAB_FILE, "spm_file": files.SPM_FILE}

    def __init__(
        self,
        vocab_file: str | os.PathLike,
        spm_file: str | os.PathLike,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        bos_token: Any = "<s>",
        eos_token: Any = "</s>",
        sep_token: Any = "</s>",
        pad_token: Any = "<pad>",
        unk_token: Any = "<unk>",
        language_codes: str = "m2m100",
        sp_model_kwargs: dict[str, Any] | None = None,
        num_madeup_words: int = 8,
        **kwargs: Any,
    ) -> None:
        self.language_codes = language_codes
        self._codes = codes_of_kind(language_codes)
        self.lang_code_to_token = {code: f"__{code}__" for code in self._codes}
        self.sp_model_kwargs = {} if sp_model_kwargs is None else sp_model_kwargs
        self.vocab_file, self.spm_file = str(vocab_file), str(spm_file)
        self.encoder: dict[str, int] = files.load_json(vocab_file)
        self.decoder = {i: token for token, i in self.encoder.items()}
        self.sp_model = files.load_spm(spm_file, self.sp_model_kwargs)
        self.encoder_size = len(self.encoder)
        self.lang_token_to_id = {f"__{c}__": self.encoder_size + i for i, c in enumerate(self._codes)}
        self.lang_code_to_id = {c: self.encoder_size + i for i, c in enumerate(self._codes)}
        self.id_to_lang_token = {i: token for token, i in self.lang_token_to_id.items()}
        self.num_madeup_words = num_madeup_words
        self.tgt_lang = tgt_lang
        self._src_lang = "en" if src_lang is None else self._checked_code(src_lang)

        # transformers' language tokens are never added on their own (a chained comparison in
        # its __init__ is always false): they are special only when listed in the kwargs.
        additional = list(kwargs.pop("additional_special_tokens", None) or [])
        added = kwargs.pop("added_tokens_decoder", None) or {}
        self.init_kwargs = copy.deepcopy(
            dict(
                src_lang=src_lang,
                tgt_lang=tgt_lang,
                bos_token=bos_token,
                eos_token=eos_token,
                sep_token=sep_token,
                unk_token=unk_token,
                pad_token=pad_token,
                language_codes=language_codes,
                sp_model_kwargs=self.sp_model_kwargs,
                additional_special_tokens=additional,
                num_madeup_words=num_madeup_words,
                **kwargs,
            )
        )
        self.name_or_path = kwargs.pop("name_or_path", "")
        max_len = kwargs.pop("max_len", None)
        max_len = kwargs.pop("model_max_length", max_len)
        self.model_max_length = encoding.VERY_LARGE_INTEGER if max_len is None else max_len
        self.padding_side = self._checked_side("padding_side", kwargs.pop("padding_side", "right"))
        self.truncation_side = self._checked_side("truncation_side", kwargs.pop("truncation_side", "right"))
        self.model_input_names = kwargs.pop("model_input_names", ["input_ids", "attention_mask"])
        self.clean_up_tokenization_spaces = kwargs.pop("clean_up_tokenization_spaces", False)
        self.split_special_tokens = kwargs.pop("split_special_tokens", False)
        self.extra_special_tokens = kwargs.pop("extra_special_tokens", {})
        special = dict(
            bos_token=bos_token,
            eos_token=eos_token,
            unk_token=unk_token,
            sep_token=sep_token,
            pad_token=pad_token,
            cls_token=kwargs.pop("cls_token", None),
            mask_token=kwargs.pop("mask_token", None),
            additional_special_tokens=additional,
        )
        self._init_added_tokens(special, added)
        self.set_src_lang_special_tokens(self._src_lang)

    # ----------------------------------------------------------------- loading and saving
    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        cache_dir: str | os.PathLike | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        **kwargs: Any,
    ) -> M2M100Tokenizer:
        """Load a tokenizer folder (or a Hugging Face Hub repository) as transformers does.

        Args:
            pretrained_model_name_or_path: A folder with vocab.json and sentencepiece.bpe.model
                (plus tokenizer_config.json, special_tokens_map.json, added_tokens.json when
                present), or a hub id such as ``"facebook/m2m100_418M"``.
            cache_dir, revision, local_files_only, token: Hub download options.
            **kwargs: Constructor arguments overriding the saved ones, e.g. ``src_lang="fr"``.

        Returns:
            The tokenizer.

        Raises:
            FileNotFoundError: The folder lacks a required file, or a path does not exist.
            OSError: A hub id could not be downloaded.
        """
        folder = files.resolve_folder(
            pretrained_model_name_or_path,
            cache_dir=cache_dir,
            revision=revision,
            local_files_only=local_files_only,
            token=token,
        )
        init_kwargs = files.read_init_kwargs(folder, kwargs, SPECIAL_TOKENS_ATTRIBUTES)
        init_kwargs["name_or_path"] = str(pretrained_model_name_or_path)
        return cls(folder / files.VOCAB_FILE, folder / files.SPM_FILE, **init_kwargs)

    def save_pretrained(
        self, save_directory: str | os.PathLike, *, filename_prefix: str | None = None
    ) -> tuple[str, ...]:
        """Write the folder transformers 4.57 would write for this tokenizer.

        Args:
            save_directory: Target folder (created if missing).
            filename_prefix: Prepended as ``"{prefix}-"`` to every file name.

        Returns:
            The paths of tokenizer_config.json, special_tokens_map.json, vocab.json,
            sentencepiece.bpe.model and added_tokens.json (listed even when not written).

        Raises:
            NotADirectoryError: ``save_directory`` is an existing file.
        """
        return files.save_folder(self, Path(save_directory), filename_prefix, SPECIAL_TOKENS_ATTRIBUTES)

    def save_vocabulary(self, save_directory: str | os.PathLike, filename_prefix: str | None = None) -> tuple[str, str]:
        """Write vocab.json and sentencepiece.bpe.model into an existing folder.

        Returns:
            The two paths written.

        Raises:
            OSError: ``save_directory`` is not a folder.
        """
        return files.save_vocabulary(self, Path(save_directory), filename_prefix)

    def __getstate__(self) -> dict[str, Any]:
        # The processor is not picklable; ship its model bytes so the copy needs no file.
        state = self.__dict__.copy()
        state["sp_model"] = self.sp_model.serialized_model_proto()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.sp_model = sentencepiece.SentencePieceProcessor(model_proto=state["sp_model"], **self.sp_model_kwargs)

    def __repr__(self) -> str:
        return (
            f"M2M100Tokenizer(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
            f"src_lang={self.src_lang!r}, tgt_lang={self.tgt_lang!r}, "
            f"model_max_length={self.model_max_length})"
        )

    # ----------------------------------------------------------------- vocabulary
    @property
    def vocab_size(self) -> int:
        """Size of vocab.json, without language tokens or other added tokens."""
        return len(self.encoder)

    # ----------------------------------------------------------------- languages
    def _checked_code(self, code: str) -> str:
        if code not in self.lang_code_to_token:
            raise unknown_language_error(code, self._codes)
        return code

    @staticmethod
    def _checked_side(name: str, side: str) -> str:
        if side not in ("left", "right"):
            raise ValueError(f"{name} must be 'left' or 'right', got {side!r}.")
        return side

    @property
    def src_lang(self) -> str:
        """Source language code; setting it changes the prefix of the next encodings."""
        return self._src_lang

    @src_lang.setter
    def src_lang(self, code: str) -> None:
        self._src_lang = self._checked_code(code)
        self.set_src_lang_special_tokens(code)

    @property
    def tgt_lang(self) -> str | None:
        """Target language code used by ``text_target`` (None until set)."""
        return self._tgt_lang

    @tgt_lang.setter
    def tgt_lang(self, code: str | None) -> None:
        self._tgt_lang = None if code is None else self._checked_code(code)

    def get_lang_token(self, lang: str) -> str:
        """Return the token of a language code, e.g. ``"fr"`` -> ``"__fr__"``.

        Raises:
            ValueError: Unknown code; the message suggests close ones and lists all.
        """
        return self.lang_code_to_token[self._checked_code(lang)]

    def get_lang_id(self, lang: str) -> int:
        """Return the token id of a language code (the ``forced_bos_token_id`` for it).

        Raises:
            ValueError: Unknown code.
        """
        return self.lang_token_to_id[self.get_lang_token(lang)]

    def set_src_lang_special_tokens(self, src_lang: str) -> None:
        """Lay out the next sequences as ``[__src_lang__] X </s>``."""
        self.cur_lang_id = self.get_lang_id(src_lang)
        self.prefix_tokens, self.suffix_tokens = [self.cur_lang_id], [self.eos_token_id]

    def set_tgt_lang_special_tokens(self, tgt_lang: str | None) -> None:
        """Lay out the next sequences as ``[__tgt_lang__] X </s>``.

        Raises:
            ValueError: ``tgt_lang`` is None or unknown.
        """
        if tgt_lang is None:
            raise ValueError("Encoding a target needs tgt_lang: pass tgt_lang=... or set tokenizer.tgt_lang.")
        self.cur_lang_id = self.get_lang_id(tgt_lang)
        self.prefix_tokens, self.suffix_tokens = [self.cur_lang_id], [self.eos_token_id]

    # ----------------------------------------------------------------- vocabulary hooks
    def _tokenize(self, text: str) -> list[str]:
        return self.sp_model.encode(text, out_type=str)

    def _convert_token_to_id(self, token: str) -> int:
        if token in self.lang_token_to_id:
            return self.lang_token_to_id[token]
        return self.encoder.get(token, self.encoder[str(self.unk_token)])

    def _convert_id_to_token(self, index: int) -> str:
        if index in self.id_to_lang_token:
            return self.id_to_lang_token[index]
        return self.decoder.get(index, str(self.unk_token))

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Join tokens into text; special tokens are copied verbatim, the rest decoded by spm."""
        special = set(self.all_special_tokens)
        text = ""
        pending: list[str] = []
        for token in tokens:
            if token in special:
                text += self.sp_model.decode(pending) + token
                pending = []
            else:
                pending.append(token)
        return (text + self.sp_model.decode(pending)).strip()

    # ----------------------------------------------------------------- special-token layout
    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """Return ``[lang] ids_0 (+ ids_1) </s>``; a pair gets no separator."""
        return self.prefix_tokens + token_ids_0 + (token_ids_1 or []) + self.suffix_tokens

    def get_special_tokens_mask(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None, already_has_special_tokens: bool = False
    ) -> list[int]:
        """Return 1 for special tokens and 0 for text tokens.

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
        body = len(token_ids_0) + len(token_ids_1 or [])
        return [1] * len(self.prefix_tokens) + [0] * body + [1] * len(self.suffix_tokens)

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """transformers' generic version: one slot too few for M2M100's two special tokens
        (it counts a cls and a sep token, and M2M100 has no cls), kept for identical output."""
        n0 = int(self.cls_token_id is not None) + len(token_ids_0) + int(self.sep_token_id is not None)
        if token_ids_1 is None:
            return [0] * n0
        return [0] * n0 + [1] * (len(token_ids_1) + int(self.sep_token_id is not None))

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """Number of tokens ``build_inputs_with_special_tokens`` adds (2)."""
        return len(self.build_inputs_with_special_tokens([], [] if pair else None))

    @property
    def max_len_single_sentence(self) -> int:
        """``model_max_length`` minus the special tokens."""
        return self.model_max_length - self.num_special_tokens_to_add()

    # ----------------------------------------------------------------- encoding
    def __call__(
        self,
        text: str | Sequence[str] | None = None,
        *,
        text_target: str | Sequence[str] | None = None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_attention_mask: bool | None = None,
        return_special_tokens_mask: bool = False,
        return_length: bool = False,
        split_special_tokens: bool | None = None,
    ) -> BatchEncoding:
        """Encode source text(s) and/or target text(s) for the model.

        Args:
            text: A source text or a batch of them, laid out ``[__src_lang__] X </s>``.
            text_target: Target text(s), laid out with ``tgt_lang``; returned as ``labels``
                (or as ``input_ids`` when ``text`` is None).
            add_special_tokens: Add the language token and ``</s>``.
            padding: True/"longest" (to the longest in the batch), "max_length", or
                False/"do_not_pad".
            truncation: True/"longest_first"/"only_first" cut to ``max_length`` (default
                ``model_max_length``); None turns on when ``max_length`` is given alone.
            max_length: Length limit for truncation and "max_length" padding.
            pad_to_multiple_of: Round the padded length up to a multiple of this.
            padding_side: "left" or "right" (default: ``self.padding_side``).
            return_tensors: None (lists), "pt" (torch int64) or "np" (numpy int64).
            return_attention_mask: Include ``attention_mask`` (default: yes).
            return_special_tokens_mask: Include ``special_tokens_mask``.
            return_length: Include ``length``.
            split_special_tokens: Treat added tokens in the text as plain text.

        Returns:
            A BatchEncoding with ``input_ids``, ``attention_mask`` and, for targets, ``labels``.
            A single text gives flat lists (or tensors of batch size 1).

        Raises:
            ValueError: No text, a bad option value, an unset ``tgt_lang`` for targets, or
                tensors asked for unpadded texts of different lengths.
        """
        if text is None and text_target is None:
            raise ValueError("Pass text, text_target, or both.")
        options = dict(
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_tensors=return_tensors,
            return_attention_mask=return_attention_mask,
            return_special_tokens_mask=return_special_tokens_mask,
            return_length=return_length,
        )
        try:
            if text is not None:
                self.set_src_lang_special_tokens(self.src_lang)
                encodings = self._encode_texts(text, split_special_tokens, options)
            if text_target is not None:
                self.set_tgt_lang_special_tokens(self.tgt_lang)
                targets = self._encode_texts(text_target, split_special_tokens, options)
        finally:
            self.set_src_lang_special_tokens(self.src_lang)
        if text is None:
            return targets
        if text_target is not None:
            encodings["labels"] = targets["input_ids"]
        return encodings

    def encode(
        self,
        text: str | Sequence[str] | Sequence[int],
        *,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        split_special_tokens: bool | None = None,
    ) -> Any:
        """Encode one text (or a token list, or ids) with the current language layout.

        Unlike ``__call__``, this keeps whatever layout was set last (source after any call).

        Returns:
            The ids as a list, or a (1, length) tensor when ``return_tensors`` is set.

        Raises:
            ValueError: ``text`` is not a str, a list of tokens or a list of ids.
        """
        if isinstance(text, str):
            ids = self.convert_tokens_to_ids(self.tokenize(text, split_special_tokens=split_special_tokens))
        elif isinstance(text, (list, tuple)) and text and all(isinstance(t, str) for t in text):
            ids = self.convert_tokens_to_ids(list(text))
        elif isinstance(text, (list, tuple)) and text and all(isinstance(t, int) for t in text):
            ids = list(text)
        else:
            raise ValueError(f"encode() takes a str, a list of tokens or a list of ids; got {text!r}.")
        return self._build(
            [ids],
            batched=False,
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_tensors=return_tensors,
            return_attention_mask=False,
            return_special_tokens_mask=False,
            return_length=False,
        )["input_ids"]

    def _encode_texts(self, text: Any, split_special_tokens: bool | None, options: dict[str, Any]) -> BatchEncoding:
        batched = isinstance(text, (list, tuple))
        texts = list(text) if batched else [text]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError(f"text must be a str or a non-empty list of str; got {text!r}.")
        ids = [self.convert_tokens_to_ids(self.tokenize(t, split_special_tokens=split_special_tokens)) for t in texts]
        return self._build(ids, batched=batched, **options)

    def _build(
        self,
        id_lists: list[list[int]],
        *,
        batched: bool,
        add_special_tokens: bool,
        padding: Any,
        truncation: Any,
        max_length: int | None,
        pad_to_multiple_of: int | None,
        padding_side: str | None,
        return_tensors: str | None,
        return_attention_mask: bool | None,
        return_special_tokens_mask: bool,
        return_length: bool,
    ) -> BatchEncoding:
        """Truncate, add special tokens, pad and convert, as transformers' encode_plus pipeline."""
        padding, truncation, max_length = encoding.resolve_options(
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            model_max_length=self.model_max_length,
            return_tensors=return_tensors,
            padding_side=padding_side,
        )
        if padding != "do_not_pad" and self.pad_token_id is None:
            raise ValueError("Padding needs a pad_token; this tokenizer has none.")
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        num_special = self.num_special_tokens_to_add() if add_special_tokens else 0
        items: list[dict[str, Any]] = []
        for ids in id_lists:
            ids = encoding.truncate(
                ids, num_special=num_special, truncation=truncation, max_length=max_length, side=self.truncation_side
            )
            with_special = self.build_inputs_with_special_tokens(ids) if add_special_tokens else ids
            item: dict[str, Any] = {"input_ids": with_special}
            if return_special_tokens_mask:
                item["special_tokens_mask"] = (
                    self.get_special_tokens_mask(ids) if add_special_tokens else [0] * len(ids)
                )
            if batched and return_length:  # a batch reports lengths before padding
                item["length"] = len(item["input_ids"])
            items.append(item)
        if max_length is None and max(len(item["input_ids"]) for item in items) > self.model_max_length:
            logger.warning(
                "A sequence is longer than model_max_length (%d): the model cannot take it "
                "whole; pass truncation=True.",
                self.model_max_length,
            )
        encoding.pad(
            items,
            padding=padding,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            side=padding_side or self.padding_side,
            pad_id=self.pad_token_id,
            attention_mask=return_attention_mask,
        )
        if not batched and return_length:  # a single text reports it after padding
            items[0]["length"] = len(items[0]["input_ids"])
        data = {key: [item[key] for item in items] for key in items[0]} if batched else items[0]
        return encoding.to_tensors(data, return_tensors, prepend_batch_axis=not batched)


class AutoTokenizer:
    """transformers' ``AutoTokenizer`` entry point, for the M2M100 folders this package reads."""

    @staticmethod
    def from_pretrained(name_or_path: str | os.PathLike, **kwargs: Any) -> M2M100Tokenizer:
        """Same as :meth:`M2M100Tokenizer.from_pretrained` (a folder of another tokenizer class
        is refused with a ValueError naming it)."""
        return M2M100Tokenizer.from_pretrained(name_or_path, **kwargs)
