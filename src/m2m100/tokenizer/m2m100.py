"""The M2M100 tokenizer: sentencepiece pieces, a fairseq vocabulary, and one token per language.

A source sentence is laid out ``[__src_lang__] pieces... </s>``, a target likewise with
``tgt_lang``. Ids, tokens, decoded text and saved files are those of transformers 4.57's slow
``M2M100Tokenizer``. The generic machinery sits beside it: ``base`` (special and added tokens,
decoding), ``slow`` (the encoding calls: ``__call__``, ``encode_plus``, ``batch_encode_plus``,
``prepare_for_model``, ``pad``), ``added_tokens`` (matching them in text), ``encoding``
(truncation, padding, tensors) and ``files`` (the folder format).
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
from m2m100.tokenizer.base import SPECIAL_TOKENS_ATTRIBUTES
from m2m100.tokenizer.encoding import BatchEncoding, LookupInputError
from m2m100.tokenizer.slow import SlowTokenizer

__all__ = ["AddedToken", "BatchEncoding", "M2M100Tokenizer"]

logger = logging.getLogger(__name__)


class M2M100Tokenizer(SlowTokenizer):
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
        ValueError: Unknown ``language_codes`` or language code (a ``LookupInputError``, also the
            KeyError transformers raises), or an unknown padding/truncation side.
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
        try:
            self._codes = codes_of_kind(language_codes)
        except ValueError as error:  # transformers: a KeyError
            raise LookupInputError(str(error)) from None
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
        self.deprecation_warnings: dict[str, bool] = {}  # warnings given once (a collator reads it)
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
        # Pickled by a version without them: the warnings given and the added-token map.
        self.__dict__.setdefault("deprecation_warnings", {})
        if "_added_by_content" not in state:
            self._added_by_content = {c: self._added_decoder[i] for c, i in self._added_encoder.items()}

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
            raise LookupInputError(str(unknown_language_error(code, self._codes)))
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
            ValueError: Unknown code; the message suggests close ones and lists all (a
                ``LookupInputError``, also the KeyError transformers raises).
        """
        return self.lang_code_to_token[self._checked_code(lang)]

    def get_lang_id(self, lang: str) -> int:
        """Return the token id of a language code (the ``forced_bos_token_id`` for it).

        Raises:
            ValueError: Unknown code (also a KeyError, as in transformers).
        """
        return self.lang_token_to_id[self.get_lang_token(lang)]

    def set_src_lang_special_tokens(self, src_lang: str) -> None:
        """Lay out the next sequences as ``[__src_lang__] X </s>``."""
        self.cur_lang_id = self.get_lang_id(src_lang)
        self.prefix_tokens, self.suffix_tokens = [self.cur_lang_id], [self.eos_token_id]

    def set_tgt_lang_special_tokens(self, tgt_lang: str | None) -> None:
        """Lay out the next sequences as ``[__tgt_lang__] X </s>``.

        Raises:
            ValueError: ``tgt_lang`` is None or unknown (also a KeyError, as in transformers).
        """
        if tgt_lang is None:
            raise LookupInputError("Encoding a target needs tgt_lang: pass tgt_lang=... or set tokenizer.tgt_lang.")
        self.cur_lang_id = self.get_lang_id(tgt_lang)
        self.prefix_tokens, self.suffix_tokens = [self.cur_lang_id], [self.eos_token_id]

    # ----------------------------------------------------------------- vocabulary hooks
    def _tokenize(self, text: str) -> list[str]:
        return self.sp_model.encode(text, out_type=str)

    def _convert_token_to_id(self, token: str) -> int:
        if token in self.lang_token_to_id:
            return self.lang_token_to_id[token]
        # The unk id is looked up first, as in transformers: an unk_token outside vocab.json fails
        # for every token (a KeyError there too).
        return self.encoder.get(token, self.encoder[str(self._special["unk_token"])])

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
            return super().get_special_tokens_mask(token_ids_0, token_ids_1, already_has_special_tokens=True)
        body = len(token_ids_0) + len(token_ids_1 or [])
        return [1] * len(self.prefix_tokens) + [0] * body + [1] * len(self.suffix_tokens)

    def prepare_seq2seq_batch(  # type: ignore[override]
        self,
        src_texts: Sequence[str],
        src_lang: str = "en",
        tgt_texts: Sequence[str] | None = None,
        tgt_lang: str = "ro",
        **kwargs: Any,
    ) -> BatchEncoding:
        """Deprecated in transformers: set ``src_lang`` and ``tgt_lang`` (they stay set), then
        encode as :meth:`SlowTokenizer.prepare_seq2seq_batch` does."""
        self.src_lang = src_lang
        self.tgt_lang = tgt_lang
        return super().prepare_seq2seq_batch(src_texts, tgt_texts, **kwargs)

    def _switch_to_input_mode(self) -> None:
        self.set_src_lang_special_tokens(self.src_lang)

    def _switch_to_target_mode(self) -> None:
        self.set_tgt_lang_special_tokens(self.tgt_lang)


class AutoTokenizer:
    """transformers' ``AutoTokenizer`` entry point, for the M2M100 folders this package reads."""

    @staticmethod
    def from_pretrained(name_or_path: str | os.PathLike, **kwargs: Any) -> M2M100Tokenizer:
        """Same as :meth:`M2M100Tokenizer.from_pretrained` (a folder of another tokenizer class
        is refused with a ValueError naming it)."""
        return M2M100Tokenizer.from_pretrained(name_or_path, **kwargs)
