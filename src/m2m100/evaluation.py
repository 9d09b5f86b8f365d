"""Score translations against references with sacrebleu (BLEU and chrF), and ``m2m100 evaluate``.

BLEU is computed with the flores spm tokenizer (spBLEU, the tokenization M2M-100 and FLORES
report) when its sentencepiece model is on disk. sacrebleu downloads that model on first use;
``tokenize="auto"`` never does, so that scoring works offline and gives the same numbers on every
run: without the model it falls back to "13a" ("zh" for a Chinese target) and says so. Asking for
``"flores200"`` by name lets sacrebleu fetch it.

:func:`score` is the library entry point (the finetune loop's validation BLEU calls it); the
``evaluate`` command translates a source file with :class:`m2m100.translator.Translator` (or takes
``--hyp``) and prints the scores with their sacrebleu signatures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

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
        return (f"BLEU|{self.bleu_signature} = {self.bleu:.2f} {self.bleu_details}\n"
                f"chrF2|{self.chrf_signature} = {self.chrf:.2f}")


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


def resolve_tokenize(tokenize: str = AUTO, *, tgt: Optional[str] = None) -> tuple[str, Optional[str]]:
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
    fallback = FALLBACK_TOKENIZERS.get(tgt or "", FALLBACK_TOKENIZER)
    note = (f"the flores200 spm model is not at {spm_model_path('flores200')} (sacrebleu downloads it on "
            f"first use, which needs a network); BLEU uses tokenize={fallback} instead, which gives other "
            f"numbers than spBLEU. Pass --tokenize flores200 to download it, or --tokenize NAME to choose.")
    return fallback, note


def _bleu_metric(tokenize: str, *, lowercase: bool = False) -> Any:
    """sacrebleu's BLEU with ``tokenize`` (spm ones load, or download, their model here)."""
    from sacrebleu.metrics import BLEU

    try:
        return BLEU(tokenize=tokenize, lowercase=lowercase)
    # sacrebleu's download raises URLError (an OSError), or exits on an SSL error.
    except (OSError, SystemExit) as err:
        raise OSError(f"the {tokenize} tokenizer needs its spm model at {spm_model_path(tokenize)}, which is not "
                      f"there and could not be downloaded ({err}); fetch it on a machine with a network, or "
                      f"pass another tokenizer (e.g. 13a)") from err


def score(hypotheses: Sequence[str], references: Sequence[str], *, tokenize: str = AUTO,
          tgt: Optional[str] = None, lowercase: bool = False) -> Scores:
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
    bleu_metric = _bleu_metric(name, lowercase=lowercase)
    chrf_metric = CHRF(lowercase=lowercase)
    bleu = bleu_metric.corpus_score(hypotheses, [references])
    chrf = chrf_metric.corpus_score(hypotheses, [references])
    details = (f"{bleu.prec_str} (BP = {bleu.bp:.3f} ratio = {bleu.ratio:.3f} hyp_len = {bleu.sys_len} "
               f"ref_len = {bleu.ref_len})")  # as sacrebleu prints it
    return Scores(bleu=bleu.score, chrf=chrf.score, tokenize=name,
                  bleu_signature=str(bleu_metric.get_signature()), chrf_signature=str(chrf_metric.get_signature()),
                  bleu_details=details, segments=len(hypotheses))


# ------------------------------------------------------------------------------------------
# The `m2m100 evaluate` command
# ------------------------------------------------------------------------------------------
def add_parser(commands: Any) -> None:
    """Register ``evaluate`` on the ``m2m100`` command's subparsers."""
    from m2m100.cli import add_model_options

    p = commands.add_parser(
        "evaluate", help="translate a test set and score it with BLEU and chrF",
        description="Translate --src with a checkpoint (or take --hyp) and score the result against --ref with "
                    "sacrebleu: BLEU (flores spm tokenization when its model is on disk, else 13a) and chrF.")
    p.add_argument("-m", "--model", help="checkpoint folder or hub id (not needed with --hyp)")
    p.add_argument("--src", metavar="FILE", help="source sentences, one a line")
    p.add_argument("--ref", metavar="FILE", required=True, help="reference translations, aligned with --src")
    p.add_argument("--hyp", metavar="FILE", help="score these translations instead of translating --src")
    p.add_argument("-s", "--src-lang", help="source language code, e.g. fr")
    p.add_argument("-t", "--tgt-lang", help="target language code, e.g. de")
    p.add_argument("-o", "--output", help="also write the translations to this file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    p.add_argument("--tokenize", default=AUTO, metavar="NAME",
                   help="BLEU tokenizer: auto (flores200 or flores101 when its spm model is on disk, else 13a), "
                        "or a sacrebleu name: flores200, flores101, 13a, intl, zh, char, none ...")
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    add_model_options(p)
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from m2m100.cli import EXIT_USAGE, CLIError, check_languages
    from m2m100.languages import language_codes

    languages = {code: option for code, option in ((args.src_lang, "-s/--src-lang"), (args.tgt_lang, "-t/--tgt-lang"))
                 if code is not None}
    check_languages(languages, language_codes("m2m100"))
    if args.hyp is None:
        missing = [option for option, value in (("-m/--model", args.model), ("--src", args.src),
                                                ("-s/--src-lang", args.src_lang), ("-t/--tgt-lang", args.tgt_lang))
                   if value is None]
        if missing:
            raise CLIError(f"translating needs {', '.join(missing)} (or pass --hyp FILE to score existing "
                           "translations)", EXIT_USAGE)
    elif args.output is not None:
        raise CLIError("--output saves the translations; with --hyp nothing is translated", EXIT_USAGE)
    try:
        tokenize, note = resolve_tokenize(args.tokenize, tgt=args.tgt_lang)
    except ImportError as err:
        raise CLIError(str(err)) from err
    except ValueError as err:
        raise CLIError(str(err), EXIT_USAGE) from err

    files = {name: path for name, path in (("ref", args.ref), ("src", args.src), ("hyp", args.hyp)) if path}
    lines = {name: _read(path) for name, path in files.items()}
    for name in ("src", "hyp"):
        if name in lines and len(lines[name]) != len(lines["ref"]):
            raise CLIError(f"{files[name]} has {_lines(len(lines[name]))} but {files['ref']} has "
                           f"{_lines(len(lines['ref']))}; the files must be aligned line by line")
    if not lines["ref"]:
        raise CLIError(f"{args.ref} is empty: nothing to score")
    output = _check_output(args, files.values())
    if note:
        print(f"m2m100: note: {note}", file=sys.stderr)
    try:
        _bleu_metric(tokenize)  # an spm model to download fails here, before the translation
    except OSError as err:
        raise CLIError(str(err)) from err

    hypotheses = lines["hyp"] if args.hyp else _translate(args, lines["src"], output)
    scores = score(hypotheses, lines["ref"], tokenize=tokenize)
    if args.json:
        record = {**scores.to_dict(), "src_lang": args.src_lang, "tgt_lang": args.tgt_lang,
                  "model": args.model, "hyp": args.hyp, "ref": args.ref}
        print(json.dumps(record, ensure_ascii=False))
    else:
        print(scores.format())
    return 0


def _lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


def _read(path: str) -> list[str]:
    from m2m100.cli import CLIError, read_lines

    if path != "-" and not Path(path).is_file():
        raise CLIError(f"cannot read {path}: no such file")
    return [text for _, _, text in read_lines([path], errors="strict")]


def _check_output(args: argparse.Namespace, inputs: Any) -> Optional[Path]:
    from m2m100.cli import EXIT_USAGE, CLIError

    if args.output is None:
        return None
    output = Path(args.output)
    if output.exists():
        if any(p != "-" and Path(p).exists() and output.samefile(p) for p in inputs):
            raise CLIError(f"{output} is also an input file; write the translations to another file", EXIT_USAGE)
        if not args.overwrite:
            raise CLIError(f"{output} exists; pass --overwrite to replace it", EXIT_USAGE)
    elif not output.parent.is_dir():
        raise CLIError(f"cannot write {output}: the folder {output.parent} does not exist")
    return output


def _translate(args: argparse.Namespace, sources: list[str], output: Optional[Path]) -> list[str]:
    """Translate the source lines; each translation is one line (as ``translate`` writes it)."""
    from m2m100.cli import CLIError, _progress_bar, check_languages, load_translator
    from m2m100.translator import Translator

    translator = load_translator(args, Translator)
    check_languages({args.src_lang: "-s/--src-lang", args.tgt_lang: "-t/--tgt-lang"}, translator.languages)
    bar = _progress_bar(args, total=len(sources), initial=0)
    hypotheses = []
    try:
        stream = translator.translate_stream(
            sources, src=args.src_lang, tgt=args.tgt_lang, beam_size=args.beam_size,
            max_new_tokens=args.max_new_tokens, max_batch_tokens=args.max_batch_tokens)
        for translation in stream:
            hypotheses.append(" ".join(translation.splitlines()))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if output is not None:
        try:
            output.write_bytes("".join(h + "\n" for h in hypotheses).encode("utf-8"))
        except OSError as err:
            raise CLIError(f"cannot write {output}: {err.strerror}") from err
    return hypotheses
