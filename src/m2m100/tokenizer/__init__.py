"""The tokenizers of the M2M100 and NLLB-200 checkpoints, equal to transformers 4.57's slow ones.

* ``m2m100``: ``M2M100Tokenizer`` (vocab.json + sentencepiece, ``__en__`` language tokens).
* ``nllb``: ``NllbTokenizer`` (sentencepiece shifted by one, ``eng_Latn`` added tokens,
  ``legacy_behaviour``).
* ``auto``: ``AutoTokenizer``, the class a folder's tokenizer_config.json names.

The machinery they share sits beside them: ``multilingual`` (source and target languages laid
out as special tokens, folders, pickling), ``base`` (special and added tokens, decoding),
``slow`` (the encoding calls: ``__call__``, ``encode_plus``, ``batch_encode_plus``,
``prepare_for_model``, ``pad``), ``added_tokens`` (matching them in text), ``encoding``
(truncation, padding, tensors) and ``files`` (the folder format).
"""

from m2m100.tokenizer.added_tokens import AddedToken
from m2m100.tokenizer.auto import AutoTokenizer, tokenizer_class, tokenizer_languages
from m2m100.tokenizer.encoding import BatchEncoding
from m2m100.tokenizer.m2m100 import M2M100Tokenizer
from m2m100.tokenizer.multilingual import MultilingualTokenizer
from m2m100.tokenizer.nllb import NllbTokenizer

__all__ = [
    "AddedToken",
    "AutoTokenizer",
    "BatchEncoding",
    "M2M100Tokenizer",
    "MultilingualTokenizer",
    "NllbTokenizer",
    "tokenizer_class",
    "tokenizer_languages",
]
