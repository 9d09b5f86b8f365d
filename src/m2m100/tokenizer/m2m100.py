"""The M2M100 tokenizer: sentencepiece pieces, a fairseq vocabulary, and one token per language.

A source sentence is laid out ``[__src_lang__] pieces... </s>``, a target likewise with
``tgt_lang``. Ids, tokens, decoded text and saved files are those of transformers 4.57's slow
``M2M100Tokenizer``. The language tokens follow vocab.json (``__en__`` is ``len(vocab.json) +
18``) without being added tokens, unless a folder lists them as special tokens.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from m2m100.languages import language_codes as codes_of_kind
from m2m100.tokenizer import files
from m2m100.tokenizer.encoding import LookupInputError
from m2m100.tokenizer.multilingual import MultilingualTokenizer

__all__ = ["M2M100Tokenizer"]

logger = logging.getLogger(__name__)


class M2M100Tokenizer(MultilingualTokenizer):
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
        self._lang_code_to_id = {c: self.encoder_size + i for i, c in enumerate(self._codes)}
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
        self._init_options(kwargs)
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

    def save_vocabulary(self, save_directory: str | os.PathLike, filename_prefix: str | None = None) -> tuple[str, str]:
        """Write vocab.json and sentencepiece.bpe.model into an existing folder.

        Returns:
            The two paths written.

        Raises:
            OSError: ``save_directory`` is not a folder.
        """
        return files.save_vocabulary(self, Path(save_directory), filename_prefix)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Pickled before lang_code_to_id became a read-only view of _lang_code_to_id.
        if "lang_code_to_id" in state:
            state["_lang_code_to_id"] = state.pop("lang_code_to_id")
        super().__setstate__(state)

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
    @property
    def lang_code_to_id(self) -> dict[str, int]:
        """Language code -> token id, for the codes of ``language_codes``, in id order."""
        return self._lang_code_to_id

    def _language_token(self, code: str) -> str | None:
        return self.lang_code_to_token.get(code)

    def get_lang_id(self, lang: str) -> int:
        """Return the token id of a language code (the ``forced_bos_token_id`` for it).

        Raises:
            ValueError: Unknown code (also the KeyError transformers raises).
        """
        return self.lang_token_to_id[self.get_lang_token(lang)]

    def _set_current(self, lang: str) -> int:
        self.cur_lang_id = self.get_lang_id(lang)
        return self.cur_lang_id

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
