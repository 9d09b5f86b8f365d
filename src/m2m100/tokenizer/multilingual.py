"""What the translation tokenizers (M2M100, NLLB) share on top of ``SlowTokenizer``.

A source is laid out with the source language's token and ``</s>`` around its pieces, a target
(``text_target``) with the target language's; where the tokens go is the subclass's ``_layout``
(M2M100: ``[lang] X </s>``; NLLB: the same, or ``X </s> [lang]`` with ``legacy_behaviour``). This
class keeps the two languages, switches between the layouts, and reads, writes and pickles
tokenizer folders the way transformers 4.57 does. A subclass supplies its vocabulary (the hooks of
``SlowTokenizerBase``), its language codes and their ids, and ``save_vocabulary``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import sentencepiece

from m2m100.languages import unknown_language_error
from m2m100.tokenizer import encoding, files
from m2m100.tokenizer.base import SPECIAL_TOKENS_ATTRIBUTES
from m2m100.tokenizer.encoding import BatchEncoding, LookupInputError
from m2m100.tokenizer.slow import SlowTokenizer

T = TypeVar("T", bound="MultilingualTokenizer")


class MultilingualTokenizer(SlowTokenizer):
    """A source and a target language, each laid out as special tokens around the pieces."""

    vocab_files_names: dict[str, str] = {}  # constructor argument -> file name, in argument order
    sp_model: sentencepiece.SentencePieceProcessor
    sp_model_kwargs: dict[str, Any]
    init_kwargs: dict[str, Any]  # the constructor's arguments, saved back by save_pretrained
    prefix_tokens: list[int]
    suffix_tokens: list[int]
    # prepare_seq2seq_batch's default languages (transformers' own, per class).
    default_seq2seq_langs: tuple[str, str] = ("en", "ro")

    # ----------------------------------------------------------------- hooks
    @property
    def lang_code_to_id(self) -> dict[str, int]:
        """Language code -> token id, for the codes this tokenizer has tokens for, in id order."""
        raise NotImplementedError

    def _language_token(self, code: str) -> str | None:
        """The token of a language code, or None when the tokenizer has no token for it."""
        raise NotImplementedError

    def _layout(self, lang_id: int) -> tuple[list[int], list[int]]:
        """(prefix, suffix) of a sequence in the language of ``lang_id``."""
        return [lang_id], [self.eos_token_id]

    def save_vocabulary(self, save_directory: str | os.PathLike, filename_prefix: str | None = None) -> tuple[str, ...]:
        """Write the vocabulary files into an existing folder; returns their paths."""
        raise NotImplementedError

    # ----------------------------------------------------------------- construction
    def _init_options(self, kwargs: dict[str, Any]) -> None:
        """Take transformers' generic options out of ``kwargs`` (after ``init_kwargs`` is kept)."""
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
        self.deprecation_warnings: dict[str, bool] = {}  # warnings given once (a collator reads it)

    @staticmethod
    def _checked_side(name: str, side: str) -> str:
        if side not in ("left", "right"):
            raise ValueError(f"{name} must be 'left' or 'right', got {side!r}.")
        return side

    # ----------------------------------------------------------------- loading and saving
    @classmethod
    def from_pretrained(
        cls: type[T],
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        cache_dir: str | os.PathLike | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        **kwargs: Any,
    ) -> T:
        """Load a tokenizer folder (or a Hugging Face Hub repository) as transformers does.

        Args:
            pretrained_model_name_or_path: A folder with the class's vocabulary files (plus
                tokenizer_config.json, special_tokens_map.json, added_tokens.json, tokenizer.json
                when present), or a hub id such as ``"facebook/m2m100_418M"``.
            cache_dir, revision, local_files_only, token: Hub download options.
            **kwargs: Constructor arguments overriding the saved ones, e.g. ``src_lang="fr"``.

        Returns:
            The tokenizer.

        Raises:
            FileNotFoundError: The folder lacks a required file, or a path does not exist.
            ValueError: A file is malformed, or the folder is another class's.
            OSError: A hub id could not be downloaded.
        """
        folder = files.resolve_folder(
            pretrained_model_name_or_path,
            cache_dir=cache_dir,
            revision=revision,
            local_files_only=local_files_only,
            token=token,
        )
        init_kwargs = files.read_init_kwargs(
            folder, kwargs, SPECIAL_TOKENS_ATTRIBUTES, class_name=cls.__name__, required=cls.vocab_files_names
        )
        init_kwargs["name_or_path"] = str(pretrained_model_name_or_path)
        return cls(*(folder / name for name in cls.vocab_files_names.values()), **init_kwargs)

    def save_pretrained(
        self, save_directory: str | os.PathLike, *, filename_prefix: str | None = None
    ) -> tuple[str, ...]:
        """Write the folder transformers 4.57 would write for this tokenizer.

        Args:
            save_directory: Target folder (created if missing).
            filename_prefix: Prepended as ``"{prefix}-"`` to every file name.

        Returns:
            The paths of tokenizer_config.json, special_tokens_map.json, the vocabulary files and
            added_tokens.json (listed even when not written).

        Raises:
            NotADirectoryError: ``save_directory`` is an existing file.
        """
        return files.save_folder(self, Path(save_directory), filename_prefix, SPECIAL_TOKENS_ATTRIBUTES)

    def __getstate__(self) -> dict[str, Any]:
        # The processor is not picklable; ship its model bytes so the copy needs no file.
        state = self.__dict__.copy()
        state["sp_model"] = self.sp_model.serialized_model_proto()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.sp_model = sentencepiece.SentencePieceProcessor(model_proto=state["sp_model"], **self.sp_model_kwargs)
        # Pickled by a version without them: the warnings given and the added-token map.
        self.__dict__.setdefault("deprecation_warnings", {})
        if "_added_by_content" not in state:
            self._added_by_content = {c: self._added_decoder[i] for c, i in self._added_encoder.items()}

    # ----------------------------------------------------------------- languages
    def _checked_code(self, code: str) -> str:
        if not isinstance(code, str) or self._language_token(code) is None:
            raise LookupInputError(str(unknown_language_error(code, list(self.lang_code_to_id))))
        return code

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
        """Return the token of a language code (M2M100: ``"fr"`` -> ``"__fr__"``; NLLB: the code).

        Raises:
            ValueError: Unknown code; the message suggests close ones and lists all (a
                ``LookupInputError``, also a KeyError).
        """
        token = self._language_token(self._checked_code(lang))
        assert token is not None  # checked
        return token

    def get_lang_id(self, lang: str) -> int:
        """Return the token id of a language code (the ``forced_bos_token_id`` for it).

        Raises:
            ValueError: Unknown code (also a KeyError).
        """
        return self.convert_tokens_to_ids(self.get_lang_token(lang))

    def source_layout(self, lang: str) -> tuple[list[int], list[int]]:
        """The special tokens before and after the pieces of a source in ``lang``, without
        changing the tokenizer's state: what ``tokenizer(text)`` adds with ``src_lang = lang``.

        Returns:
            ``(prefix, suffix)``, e.g. ``([eng_Latn], [</s>])`` for NLLB.

        Raises:
            ValueError: Unknown code.
        """
        return self._layout(self.get_lang_id(lang))

    def set_src_lang_special_tokens(self, src_lang: str) -> None:
        """Lay out the next sequences as sources in ``src_lang``."""
        self.prefix_tokens, self.suffix_tokens = self._layout(self._set_current(src_lang))

    def set_tgt_lang_special_tokens(self, tgt_lang: str | None) -> None:
        """Lay out the next sequences as targets in ``tgt_lang``.

        Raises:
            ValueError: ``tgt_lang`` is None or unknown (also a KeyError).
        """
        if tgt_lang is None:
            raise LookupInputError("Encoding a target needs tgt_lang: pass tgt_lang=... or set tokenizer.tgt_lang.")
        self.prefix_tokens, self.suffix_tokens = self._layout(self._set_current(tgt_lang))

    def _set_current(self, lang: str) -> int:
        """Record the language being laid out (transformers' ``cur_lang_*`` attribute); its id."""
        raise NotImplementedError

    # ----------------------------------------------------------------- special-token layout
    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """Return ``prefix ids_0 (+ ids_1) suffix``; a pair gets no separator."""
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
            return super().get_special_tokens_mask(token_ids_0, token_ids_1, already_has_special_tokens=True)
        body = len(token_ids_0) + len(token_ids_1 or [])
        return [1] * len(self.prefix_tokens) + [0] * body + [1] * len(self.suffix_tokens)

    def prepare_seq2seq_batch(  # type: ignore[override]
        self,
        src_texts: Sequence[str],
        src_lang: str | None = None,
        tgt_texts: Sequence[str] | None = None,
        tgt_lang: str | None = None,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Deprecated in transformers: set ``src_lang`` and ``tgt_lang`` (they stay set; the
        defaults are transformers' for the class), then encode as
        :meth:`SlowTokenizer.prepare_seq2seq_batch` does."""
        self.src_lang = self.default_seq2seq_langs[0] if src_lang is None else src_lang
        self.tgt_lang = self.default_seq2seq_langs[1] if tgt_lang is None else tgt_lang
        return super().prepare_seq2seq_batch(src_texts, tgt_texts, **kwargs)

    def _switch_to_input_mode(self) -> None:
        self.set_src_lang_special_tokens(self.src_lang)

    def _switch_to_target_mode(self) -> None:
        self.set_tgt_lang_special_tokens(self.tgt_lang)
