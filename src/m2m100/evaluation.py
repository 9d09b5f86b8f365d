"""Score translations against references with sacrebleu (BLEU and chrF).

BLEU is computed with the flores spm tokenizer (spBLEU, the tokenization M2M-100 and FLORES
report) when its sentencepiece model is on disk. sacrebleu downloads that model on first use;
``tokenize="auto"`` never does, so that scoring works offline and gives the same numbers on every
run: without the model it falls back to "13a" ("zh" for a Chinese target) and says so. Asking for
``"flores200"`` by name lets sacrebleu fetch it.

:func:`score` is the entry point; ``m2m100 evaluate`` (:mod:`m2m100.cli.evaluate`) translates a
source file with :class:`m2m100.translator.Translator` (or takes ``--hyp-file``) and prints the
scores with their sacrebleu signatures.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from m2m100.languages import iso_language

logger = logging.getLogger(__name__)

AUTO = "auto"
# spm tokenizers that "auto" prefers, best first, when their model is on disk.
SPM_TOKENIZERS = ("flores200", "flores101")
# What "auto" uses without an spm model, by target language (sacrebleu's own defaults).
FALLBACK_TOKENIZERS = {"zh": "zh"}
FALLBACK_TOKENIZER = "13a"


@dataclass(frozen=True)
class Scores:
    """Corpus scores of one set of hypotheses, with what is needed to reproduce them."""

    bleu: float  # 0-100
    chrf: float  # chrF2, 0-100
    tokenize: str  # the BLEU tokenizer used
    bleu_signature: str  # sacrebleu's, e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    chrf_signature: str
    bleu_details: str  # n-gram precisions, brevity penalty and lengths
    segments: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        """Two lines as sacrebleu's command prints them: ``BLEU|signature = score details``."""
        return (
            f"BLEU|{self.bleu_signature} = {self.bleu:.2f} {self.bleu_details}\n"
            f"chrF2|{self.chrf_signature} = {self.chrf:.2f}"
        )


def spm_model_path(tokenize: str) -> Path:
    """Where sacrebleu keeps (or would download) the spm model of a tokenizer such as "flores200"."""
    from sacrebleu.tokenizers import tokenizer_spm

    # Read from sacrebleu's module, so that the file found is the one its tokenizer will load.
    return Path(tokenizer_spm.SACREBLEU_DIR) / "models" / os.path.basename(tokenizer_spm.SPM_MODELS[tokenize]["url"])


def tokenizer_names() -> tuple[str, ...]:
    """The values ``tokenize`` accepts: "auto" and sacrebleu's BLEU tokenizers.

    Raises:
        ImportError: sacrebleu is not installed (the message says how to install it).
    """
    try:
        from sacrebleu.metrics import BLEU
    except ImportError:
        raise ImportError("scoring needs sacrebleu: pip install 'm2m100[eval]'") from None
    return (AUTO, *BLEU.TOKENIZERS)


def resolve_tokenize(tokenize: str = AUTO, *, tgt: str | None = None) -> tuple[str, str | None]:
    """The BLEU tokenizer to use, and a note to show when "auto" could not use a flores one.

    Args:
        tokenize: "auto", or a sacrebleu tokenizer name (returned as is).
        tgt: the target language code; picks the fallback ("zh" for Chinese, else "13a").

    Returns:
        (name, note); ``note`` is None unless "auto" fell back.

    Raises:
        ValueError: ``tokenize`` is not a known tokenizer (the valid names are listed).
    """
    valid = tokenizer_names()
    if tokenize not in valid:
        raise ValueError(f"unknown BLEU tokenizer {tokenize!r}; valid: {', '.join(valid)}")
    if tokenize != AUTO:
        return tokenize, None
    for name in SPM_TOKENIZERS:
        path = spm_model_path(name)
        if path.is_file() and path.stat().st_size > 0:
            return name, None
    fallback = FALLBACK_TOKENIZERS.get(iso_language(tgt) if tgt else "", FALLBACK_TOKENIZER)  # zho_Hant is zh
    note = (
        f"the flores200 spm model is not at {spm_model_path('flores200')} (sacrebleu downloads it on "
        f"first use, which needs a network); BLEU uses tokenize={fallback} instead, which gives other "
        f"numbers than spBLEU. Pass --tokenize flores200 to download it, or --tokenize NAME to choose."
    )
    return fallback, note


def bleu_metric(tokenize: str, *, lowercase: bool = False) -> Any:
    """sacrebleu's BLEU with ``tokenize`` (spm ones load, or download, their model here)."""
    from sacrebleu.metrics import BLEU

    try:
        return BLEU(tokenize=tokenize, lowercase=lowercase)
    # sacrebleu's download raises URLError (an OSError), or exits on an SSL error.
    except (OSError, SystemExit) as err:
        raise OSError(
            f"the {tokenize} tokenizer needs its spm model at {spm_model_path(tokenize)}, which is not "
            f"there and could not be downloaded ({err}); fetch it on a machine with a network, or "
            f"pass another tokenizer (e.g. 13a)"
        ) from err


def score(
    hypotheses: Sequence[str],
    references: Sequence[str],
    *,
    tokenize: str = AUTO,
    tgt: str | None = None,
    lowercase: bool = False,
) -> Scores:
    """Corpus BLEU and chrF of ``hypotheses`` against one reference each.

    Args:
        hypotheses: the translations, one string per segment.
        references: the reference translations, aligned with ``hypotheses``.
        tokenize: the BLEU tokenizer: "auto" (flores200/flores101 when their spm model is on
            disk, else "13a"; see :func:`resolve_tokenize`) or any sacrebleu tokenizer name.
        tgt: the target language code (for the "auto" fallback).
        lowercase: case-insensitive BLEU.

    Returns:
        The scores and sacrebleu's signatures.

    Raises:
        ValueError: the lists differ in length or are empty, or ``tokenize`` is unknown.
        OSError: an spm tokenizer was asked for by name and its model cannot be downloaded.
    """
    from sacrebleu.metrics import CHRF

    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references; they must be aligned")
    if not hypotheses:
        raise ValueError("nothing to score: no hypotheses")
    name, note = resolve_tokenize(tokenize, tgt=tgt)
    if note:
        logger.info(note)
    bleu_scorer = bleu_metric(name, lowercase=lowercase)
    chrf_metric = CHRF(lowercase=lowercase)
    bleu = bleu_scorer.corpus_score(hypotheses, [references])
    chrf = chrf_metric.corpus_score(hypotheses, [references])
    details = (
        f"{bleu.prec_str} (BP = {bleu.bp:.3f} ratio = {bleu.ratio:.3f} hyp_len = {bleu.sys_len} "
        f"ref_len = {bleu.ref_len})"
    )  # as sacrebleu prints it
    return Scores(
        bleu=bleu.score,
        chrf=chrf.score,
        tokenize=name,
        bleu_signature=str(bleu_scorer.get_signature()),
        chrf_signature=str(chrf_metric.get_signature()),
        bleu_details=details,
        segments=len(hypotheses),
    )
