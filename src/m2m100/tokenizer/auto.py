"""``AutoTokenizer``: the tokenizer class a folder names, M2M100 or NLLB.

transformers' ``AutoTokenizer`` reads the class from tokenizer_config.json's ``tokenizer_class``,
else from config.json's ``model_type`` (``m2m_100`` for both families, so an NLLB folder without a
tokenizer config is read as M2M100 there and fails). Here the class comes from the tokenizer config
too; without one, a folder with vocab.json is M2M100 and one with only sentencepiece.bpe.model is
refused with a message that says how to read it as NLLB.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from m2m100.languages import language_codes
from m2m100.tokenizer import files
from m2m100.tokenizer.m2m100 import M2M100Tokenizer
from m2m100.tokenizer.multilingual import MultilingualTokenizer
from m2m100.tokenizer.nllb import NllbTokenizer

TOKENIZER_CLASSES: dict[str, type[MultilingualTokenizer]] = {
    "M2M100Tokenizer": M2M100Tokenizer,
    "NllbTokenizer": NllbTokenizer,
    "NllbTokenizerFast": NllbTokenizer,  # saved by the fast tokenizer: sentencepiece.bpe.model is read
}


def tokenizer_class(folder: str | os.PathLike) -> type[MultilingualTokenizer]:
    """The tokenizer class of a local folder, read from its files (no vocabulary is loaded).

    Args:
        folder: A tokenizer (or checkpoint) folder.

    Returns:
        ``M2M100Tokenizer`` or ``NllbTokenizer``.

    Raises:
        ValueError: tokenizer_config.json is malformed or names a class this package lacks.
        FileNotFoundError: No tokenizer_config.json, and neither vocab.json nor
            sentencepiece.bpe.model.
    """
    folder = Path(folder)
    config_path = folder / files.CONFIG_FILE
    named = (
        files.load_object(config_path, "constructor arguments").get("tokenizer_class")
        if config_path.is_file()
        else None
    )
    if named is not None:
        if named not in TOKENIZER_CLASSES:
            valid = ", ".join(TOKENIZER_CLASSES)
            raise ValueError(f"{config_path} names a {named}; this package reads {valid}")
        return TOKENIZER_CLASSES[named]
    if (folder / files.SPM_FILE).is_file() and not (folder / files.VOCAB_FILE).is_file():
        raise FileNotFoundError(
            f"{folder / files.VOCAB_FILE} is missing, and no {files.CONFIG_FILE} names the tokenizer class: an "
            f"M2M100 folder needs {files.VOCAB_FILE}; for an NLLB folder (only {files.SPM_FILE}), use "
            f'NllbTokenizer.from_pretrained or add a {files.CONFIG_FILE} with "tokenizer_class": "NllbTokenizer"'
        )
    return M2M100Tokenizer


def tokenizer_languages(folder: str | os.PathLike) -> list[str]:
    """The language codes a folder's tokenizer has tokens for, in id order: for M2M100 read from
    tokenizer_config.json alone (its ``language_codes`` set), for NLLB from the loaded tokenizer
    (its added tokens decide, fine-tuned additions included).

    Raises:
        FileNotFoundError, ValueError: as :func:`tokenizer_class` and ``from_pretrained``.
    """
    cls = tokenizer_class(folder)
    if cls is M2M100Tokenizer:
        path = Path(folder) / files.CONFIG_FILE
        config = files.load_object(path, "constructor arguments") if path.is_file() else {}
        return list(language_codes(config.get("language_codes", "m2m100")))
    return list(cls.from_pretrained(folder).lang_code_to_id)


class AutoTokenizer:
    """transformers' ``AutoTokenizer`` entry point, for the M2M100 and NLLB folders this package reads."""

    @staticmethod
    def from_pretrained(name_or_path: str | os.PathLike, **kwargs: Any) -> MultilingualTokenizer:
        """Load the tokenizer of a folder or hub id with the class its files name.

        Args:
            name_or_path: A folder, or a hub id such as ``"facebook/nllb-200-distilled-600M"``.
            **kwargs: Hub options (``cache_dir``, ``revision``, ``local_files_only``, ``token``)
                and constructor arguments (``src_lang="fra_Latn"``, ``legacy_behaviour=True``...).

        Returns:
            An ``M2M100Tokenizer`` or an ``NllbTokenizer``.

        Raises:
            FileNotFoundError: A required file is missing (named in the message).
            ValueError: A file is malformed, or names a tokenizer class this package lacks.
            OSError: A hub id could not be downloaded.
        """
        hub = {k: kwargs.pop(k) for k in ("cache_dir", "revision", "local_files_only", "token") if k in kwargs}
        folder = files.resolve_folder(
            name_or_path,
            cache_dir=hub.get("cache_dir"),
            revision=hub.get("revision"),
            local_files_only=hub.get("local_files_only", False),
            token=hub.get("token"),
        )
        tokenizer = tokenizer_class(folder).from_pretrained(folder, **kwargs)
        tokenizer.name_or_path = str(name_or_path)
        tokenizer.init_kwargs["name_or_path"] = str(name_or_path)
        return tokenizer
