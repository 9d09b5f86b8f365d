"""The NLLB-200 tokenizer: sentencepiece pieces shifted by one, and the language codes as added tokens.

The vocabulary is the sentencepiece model itself with fairseq's offset: id ``i + 1`` is piece
``i``, and ids 0-3 are ``<s>``, ``<pad>``, ``</s>``, ``<unk>``. The 202 language codes
(``eng_Latn``...) and ``<mask>`` are added special tokens after it; the NLLB-200 checkpoints
number them ``ace_Arab`` = 256001 ... ``zul_Latn`` = 256202, ``<mask>`` = 256203, as their
tokenizer_config.json or tokenizer.json records. A source is ``[src_lang] X </s>``; with
``legacy_behaviour=True`` (transformers before 4.28, and folders saved then) it is
``X </s> [src_lang]``. Targets likewise with ``tgt_lang``.

Ids, tokens, decoded text and saved files are those of transformers 4.57's slow ``NllbTokenizer``,
with two deliberate differences: a language code the tokenizer has no token for is refused with
the "did you mean" error (transformers encodes it as ``<unk>``, which silently translates from or
into no language), and an id past the vocabulary decodes as ``<unk>`` (transformers raises
sentencepiece's IndexError).
"""

from __future__ import annotations

import copy
import logging
import os
import re
from pathlib import Path
from typing import Any

from m2m100.languages import NLLB_CODES
from m2m100.tokenizer import files
from m2m100.tokenizer.added_tokens import AddedToken
from m2m100.tokenizer.multilingual import MultilingualTokenizer

__all__ = ["NllbTokenizer"]

logger = logging.getLogger(__name__)

SPIECE_UNDERLINE = "\u2581"
# The added tokens that name a language: FLORES-200 codes, and codes of the same shape that a
# fine-tuning run adds (``xyz_Latn``), whether or not they are additional special tokens.
_LANGUAGE_TOKEN = re.compile(r"[a-z]{2,3}_[A-Z][a-z]{3}")


class NllbTokenizer(MultilingualTokenizer):
    """NLLB-200 tokenizer, a drop-in for transformers' slow ``NllbTokenizer``.

    Args:
        vocab_file: Path of ``sentencepiece.bpe.model``.
        bos_token, eos_token, sep_token, cls_token, unk_token, pad_token, mask_token: The special
            tokens (``<mask>`` is normalized and eats the space on its left).
        tokenizer_file: Accepted and saved back, as transformers does; never read.
        src_lang: Source language code (default ``"eng_Latn"``); settable later.
        tgt_lang: Target language code, needed for ``text_target``; settable later.
        sp_model_kwargs: Passed to ``sentencepiece.SentencePieceProcessor`` (e.g. sampling).
        additional_special_tokens: The language codes (default: the 202 of NLLB-200).
        legacy_behaviour: Put the language token after ``</s>`` (``X </s> [lang]``) instead of
            before the text (``[lang] X </s>``, what the NLLB-200 checkpoints were trained on).
        **kwargs: transformers' options: ``model_max_length``, ``added_tokens_decoder``,
            ``clean_up_tokenization_spaces``, ``padding_side``, ``truncation_side``,
            ``split_special_tokens``, ``model_input_names``; others are kept and saved back by
            ``save_pretrained``.

    Raises:
        ValueError: A language code without a token (a ``LookupInputError``, also a KeyError),
            an unknown padding/truncation side, or a file that is not a sentencepiece model.
        FileNotFoundError: The sentencepiece model is missing.
    """

    vocab_files_names = {"vocab_file": files.SPM_FILE}
    default_seq2seq_langs = ("eng_Latn", "fra_Latn")

    def __init__(
        self,
        vocab_file: str | os.PathLike,
        bos_token: Any = "<s>",
        eos_token: Any = "</s>",
        sep_token: Any = "</s>",
        cls_token: Any = "<s>",
        unk_token: Any = "<unk>",
        pad_token: Any = "<pad>",
        mask_token: Any = "<mask>",
        tokenizer_file: str | None = None,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        sp_model_kwargs: dict[str, Any] | None = None,
        additional_special_tokens: list[Any] | None = None,
        legacy_behaviour: bool = False,
        **kwargs: Any,
    ) -> None:
        if additional_special_tokens is None:
            additional_special_tokens = list(NLLB_CODES)

        def special(token: Any, **flags: bool) -> Any:
            return AddedToken(token, special=True, **flags) if isinstance(token, str) else token

        bos_token, pad_token = special(bos_token, normalized=False), special(pad_token, normalized=False)
        eos_token, unk_token = special(eos_token, normalized=False), special(unk_token, normalized=False)
        # <mask> behaves like a word: it takes the space before it.
        mask_token = special(mask_token, normalized=True, lstrip=True)

        self.sp_model_kwargs = {} if sp_model_kwargs is None else sp_model_kwargs
        self.legacy_behaviour = legacy_behaviour
        self.sp_model = files.load_spm(vocab_file, self.sp_model_kwargs)
        self.vocab_file = str(vocab_file)
        # fairseq's dictionary has <s> <pad> </s> <unk> first; sentencepiece's own <unk> <s> </s>
        # are not used, and every other piece sits one place further than its sentencepiece id.
        self.fairseq_offset = 1
        self.sp_model_size = len(self.sp_model)

        saved = kwargs.pop("added_tokens_decoder", None) or {}
        if not saved and additional_special_tokens == list(NLLB_CODES):
            # transformers numbers <mask> before the language codes here, one off the checkpoints.
            logger.warning(
                "NllbTokenizer without saved added tokens (no tokenizer_config.json added_tokens_decoder, "
                "no tokenizer.json): as transformers does, <mask> gets id %d and the language codes follow, "
                "one id above the NLLB-200 checkpoints' (which have eng_Latn = 256047 and <mask> = 256203)",
                self.sp_model_size + self.fairseq_offset,
            )
        self.init_kwargs = copy.deepcopy(
            dict(
                bos_token=bos_token,
                eos_token=eos_token,
                unk_token=unk_token,
                sep_token=sep_token,
                cls_token=cls_token,
                pad_token=pad_token,
                mask_token=mask_token,
                tokenizer_file=tokenizer_file,
                src_lang=src_lang,
                tgt_lang=tgt_lang,
                additional_special_tokens=additional_special_tokens,
                sp_model_kwargs=self.sp_model_kwargs,
                legacy_behaviour=legacy_behaviour,
                **kwargs,
            )
        )
        self._init_options(kwargs)
        tokens = dict(
            bos_token=bos_token,
            eos_token=eos_token,
            unk_token=unk_token,
            sep_token=sep_token,
            pad_token=pad_token,
            cls_token=cls_token,
            mask_token=mask_token,
            additional_special_tokens=list(additional_special_tokens),
        )
        self._init_added_tokens(tokens, {0: bos_token, 1: pad_token, 2: eos_token, 3: unk_token, **saved})

        # As in transformers, the default source is not checked: a tokenizer whose codes lack
        # eng_Latn still loads (and encodes with <unk> until src_lang is set).
        self._src_lang = "eng_Latn" if src_lang is None else self._checked_code(src_lang)
        self.cur_lang_code_id = self.convert_tokens_to_ids(self._src_lang)
        self.tgt_lang = tgt_lang
        self.set_src_lang_special_tokens(self._src_lang)

    def save_vocabulary(self, save_directory: str | os.PathLike, filename_prefix: str | None = None) -> tuple[str]:
        """Write sentencepiece.bpe.model into an existing folder.

        Returns:
            The path written.

        Raises:
            OSError: ``save_directory`` is not a folder.
        """
        return (files.save_spm(self, Path(save_directory), filename_prefix),)

    def __repr__(self) -> str:
        return (
            f"NllbTokenizer(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
            f"src_lang={self.src_lang!r}, tgt_lang={self.tgt_lang!r}, legacy_behaviour={self.legacy_behaviour}, "
            f"model_max_length={self.model_max_length})"
        )

    # ----------------------------------------------------------------- vocabulary
    @property
    def vocab_size(self) -> int:
        """Pieces of the sentencepiece model plus fairseq's offset; without the added tokens."""
        return self.sp_model_size + self.fairseq_offset

    def get_vocab(self) -> dict[str, int]:
        """Return token -> id for the ids below ``vocab_size``, then the added tokens (as the
        generic one, with the pieces read in one sentencepiece call: 256k of them one by one take
        a second, twice per tokenizer load)."""
        tokens = [""] * self.fairseq_offset + self.sp_model.IdToPiece(list(range(self.sp_model_size)))
        for index, token in self._added_decoder.items():
            if index < self.vocab_size:
                tokens[index] = token.content
        vocab = dict(zip(tokens, range(self.vocab_size)))  # a repeated token: the last id, the first place
        vocab.update(self.added_tokens_encoder)
        return vocab

    def _tokenize(self, text: str) -> list[str]:
        return self.sp_model.encode(text, out_type=str)

    def _convert_token_to_id(self, token: str) -> int:
        piece = self.sp_model.PieceToId(token)
        # sentencepiece answers 0 (its <unk>) for a piece it does not have.
        return piece + self.fairseq_offset if piece else self.unk_token_id

    def _convert_id_to_token(self, index: int) -> str:
        piece = index - self.fairseq_offset
        if not 0 <= piece < self.sp_model_size:
            return str(self.unk_token)
        return self.sp_model.IdToPiece(piece)

    def convert_tokens_to_string(self, tokens: Any) -> str:
        """Join pieces into text: the word marks become spaces, outer spaces are stripped."""
        return "".join(tokens).replace(SPIECE_UNDERLINE, " ").strip()

    # ----------------------------------------------------------------- languages
    @property
    def lang_code_to_id(self) -> dict[str, int]:
        """Language code -> token id for the language tokens (added tokens shaped like
        ``eng_Latn``), in id order."""
        return {c: i for c, i in self.added_tokens_encoder.items() if _LANGUAGE_TOKEN.fullmatch(c)}

    def _language_token(self, code: str) -> str | None:
        # A code names a language when it is an added token other than <s>, </s>, <mask>...:
        # those of the checkpoint, or any a fine-tuning run added (whatever its shape).
        if code not in self._added_encoder:
            return None
        specials = {str(self._special[a]) for a in self._special if a != "additional_special_tokens"}
        return None if code in specials else code

    def _set_current(self, lang: str) -> int:
        self.cur_lang_code = self.convert_tokens_to_ids(lang)
        return self.cur_lang_code

    def _layout(self, lang_id: int) -> tuple[list[int], list[int]]:
        if self.legacy_behaviour:
            return [], [self.eos_token_id, lang_id]
        return [lang_id], [self.eos_token_id]

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """All zeros (NLLB has no token types), as many as transformers counts: one cls and one
        sep around a sequence, and three seps for a pair."""
        if token_ids_1 is None:
            return [0] * (len(token_ids_0) + 2)
        return [0] * (len(token_ids_0) + len(token_ids_1) + 4)
