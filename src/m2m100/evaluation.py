"""Score translations against references with sacrebleu (BLEU and chrF), and ``m2m100 evaluate``.

BLEU is computed with the flores spm tokenizer (spBLEU, the tokenization M2M-100 and FLORES
report) when its sentencepiece model is on disk. sacrebleu downloads that model on first use;
``tokenize="auto"`` never does, so that scoring works offline and gives the same numbers on every
run: without the model it falls back to "13a" ("zh" for a Chinese target) and says so. Asking for
``"flores200"`` by name lets sacrebleu fetch it.

:func:`score` is the library entry point (the finetune loop's validation BLEU calls it); the
``evaluate`` command translates a source file with :class:`m2m100.translator.Translator` (or takes
``--hyp-file``) and prints the scores with their sacrebleu signatures.
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
class _RenamedOption(argparse.Action):
    """An option that is gone: a usage error that gives the new spelling."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, message: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.message = message

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        parser.error(self.message)


def add_parser(commands: Any) -> None:
    """Register ``evaluate`` on the ``m2m100`` command's subparsers."""
    from m2m100.cli import add_language_arguments, add_model_argument, add_model_options

    p = commands.add_parser(
        "evaluate", help="translate a test set and score it with BLEU and chrF",
        description="Translate --src-file with a checkpoint (or take --hyp-file) and score the result against "
                    "--ref-file with sacrebleu: BLEU (flores spm tokenization when its model is on disk, else 13a) "
                    "and chrF.")
    add_model_argument(p, help="the model that translates --src-file (not used with --hyp-file)")
    p.add_argument("--src-file", metavar="FILE", help="source sentences, one a line")
    p.add_argument("--ref-file", metavar="FILE", help="reference translations, aligned with the source (required)")
    p.add_argument("--hyp-file", metavar="FILE", help="score these translations instead of translating --src-file")
    # The spellings of earlier versions: --ref and --hyp still work; --src would read as a language
    # (it is one in `translate`), so it stops with the new name instead.
    p.add_argument("--ref", dest="ref_file", help=argparse.SUPPRESS)
    p.add_argument("--hyp", dest="hyp_file", help=argparse.SUPPRESS)
    p.add_argument("--src", action=_RenamedOption, dest="src_file",
                   message="--src FILE is now --src-file FILE (the source language is -s/--src-lang)")
    add_language_arguments(p)
    p.add_argument("-o", "--output", help="also write the translations to this file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    p.add_argument("--tokenize", default=AUTO, metavar="NAME",
                   help="BLEU tokenizer: auto (flores200 or flores101 when its spm model is on disk, else 13a), "
                        "or a sacrebleu name: flores200, flores101, 13a, intl, zh, char, none ...")
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    p.add_argument("--errors", choices=("strict", "replace"), default="strict",
                   help="bytes that are not UTF-8: stop (strict) or read them as U+FFFD (replace)")
    add_model_options(p)
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from m2m100.cli import CLIError, check_inputs, check_placement_options, require_extra

    require_extra("evaluate", "eval", ["sacrebleu"])
    translating = args.hyp_file is None
    if translating:
        check_placement_options(args)
    _check_arguments(args)
    files = {name: path for name, path in (("ref", args.ref_file), ("src", args.src_file), ("hyp", args.hyp_file))
             if path is not None}
    check_inputs(list(files.values()))
    _check_languages(args)
    tokenize, note = _resolve_tokenize(args)
    output = _check_output(args, files.values())

    lines = {name: _read(path, errors=args.errors) for name, path in files.items()}
    for name in ("src", "hyp"):
        if name in lines and len(lines[name]) != len(lines["ref"]):
            raise CLIError(f"{files[name]} has {_lines(len(lines[name]))} but {files['ref']} has "
                           f"{_lines(len(lines['ref']))}; the files must be aligned line by line")
    if not lines["ref"]:
        raise CLIError(f"{args.ref_file} is empty: nothing to score")
    if note:
        print(f"m2m100: note: {note}", file=sys.stderr)
    try:
        _bleu_metric(tokenize)  # an spm model to download fails here, before the translation
    except OSError as err:
        raise CLIError(str(err)) from err

    hypotheses = _translate(args, lines["src"], output) if translating else lines["hyp"]
    scores = score(hypotheses, lines["ref"], tokenize=tokenize)
    if args.json:
        record = {**scores.to_dict(), "src_lang": args.src, "tgt_lang": args.tgt, "model": args.model,
                  "hyp": args.hyp_file, "ref": args.ref_file}
        print(json.dumps(record, ensure_ascii=False))
    else:
        print(scores.format())
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    """Stop on an option that is missing or has no use with the others."""
    from m2m100.cli import EXIT_USAGE, CLIError

    if args.ref_file is None:
        raise CLIError("evaluate needs --ref-file FILE, the reference translations", EXIT_USAGE)
    if args.hyp_file is None:
        missing = [option for option, value in (("--src-file", args.src_file), ("-s/--src-lang", args.src),
                                                ("-t/--tgt-lang", args.tgt)) if value is None]
        if missing:
            raise CLIError(f"translating needs {', '.join(missing)} (or pass --hyp-file FILE to score existing "
                           "translations)", EXIT_USAGE)
    elif args.output is not None:
        raise CLIError("--output saves the translations; with --hyp-file nothing is translated", EXIT_USAGE)


def _check_languages(args: argparse.Namespace) -> None:
    """Stop on a language code the model does not translate (read from its config alone, so
    before it is loaded; with --hyp-file, on a code that is not an M2M100 language)."""
    from m2m100.cli import check_languages, model_languages, resolve_model
    from m2m100.languages import language_codes

    given = {code: option for code, option in ((args.src, "-s/--src-lang"), (args.tgt, "-t/--tgt-lang"))
             if code is not None}
    if args.hyp_file is None:
        check_languages(given, model_languages(resolve_model(args)))
    else:
        check_languages(given, language_codes("m2m100"))


def _resolve_tokenize(args: argparse.Namespace) -> tuple[str, Optional[str]]:
    from m2m100.cli import EXIT_USAGE, CLIError

    try:
        return resolve_tokenize(args.tokenize, tgt=args.tgt)
    except ValueError as err:
        raise CLIError(str(err), EXIT_USAGE) from err


def _lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


def _read(path: str, *, errors: str) -> list[str]:
    from m2m100.cli import read_lines

    return [text for _, _, text in read_lines([path], errors=errors)]


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
    check_languages({args.src: "-s/--src-lang", args.tgt: "-t/--tgt-lang"}, translator.languages)
    bar = _progress_bar(args, total=len(sources), initial=0)
    hypotheses = []
    try:
        stream = translator.translate_stream(
            sources, src=args.src, tgt=args.tgt, beam_size=args.beam_size,
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
