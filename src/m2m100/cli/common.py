"""What the commands share: the exit statuses, the error they raise, the checks made before any
work, and the arguments every command spells the same way (``-m/--model``, ``-s/--src-lang``,
``--device`` ...)."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import importlib
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from m2m100.config import M2M100Config
from m2m100.demo import model_or_demo
from m2m100.languages import TRAINED_LANGUAGES_KEY, language_codes, resolve_language, trained_languages
from m2m100.model.placement import check_placement
from m2m100.model.quantize import QUANTIZATIONS
from m2m100.tokenizer import tokenizer_languages
from m2m100.translator import DEFAULT_MAX_BATCH_TOKENS

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """An error to print as ``m2m100: error: ...`` and exit with ``status``."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------
def read_lines(paths: Sequence[str], *, errors: str) -> Iterator[tuple[str, int, str]]:
    """(file name, line number, text) for every line of the files ("-" or none: stdin).

    Lines are split on "\\n" only (a "\\r\\n" ending is removed), so text that holds other line
    separators (U+2028, form feeds) stays one line, as the line count of ``wc -l`` expects.

    Raises:
        CLIError: a file is missing, or a line is not UTF-8 (under ``errors="strict"``).
    """
    for path in paths or ["-"]:
        name = "<stdin>" if path == "-" else path
        try:
            stream: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")
        except OSError as err:
            raise CLIError(f"cannot read {path}: {err.strerror}") from err
        with stream if path != "-" else contextlib.nullcontext(stream):
            for number, raw in enumerate(stream, start=1):
                if number == 1 and raw.startswith(codecs.BOM_UTF8):  # a mark of the file, not text
                    raw = raw[len(codecs.BOM_UTF8) :]
                if raw.endswith(b"\n"):
                    raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
                try:
                    text = raw.decode("utf-8", errors=errors)
                except UnicodeDecodeError as err:
                    raise CLIError(
                        f"{name}:{number}: not valid UTF-8 (byte 0x{raw[err.start]:02x} at column {err.start + 1}); "
                        "fix the file or pass --errors replace to read such bytes as U+FFFD"
                    ) from err
                yield name, number, text


def check_inputs(paths: Sequence[str]) -> None:
    """Stop, before any work, on an input that does not exist or is a folder."""
    for path in paths:
        if path != "-" and not Path(path).exists():
            raise CLIError(f"input file {path} does not exist", EXIT_USAGE)
        if Path(path).is_dir():
            raise CLIError(f"input {path} is a folder; give files (or - for stdin)", EXIT_USAGE)


def check_output(
    path: str | None,
    inputs: Iterable[str],
    *,
    overwrite: bool,
    resume: bool | None = None,
    contents: str = "translation",
) -> Path | None:
    """The ``-o/--output`` file of a command, checked before any work (None: no file).

    Never one of ``inputs``; an existing file only with ``overwrite`` (or ``resume``, for a
    command that can continue one; None for a command that cannot, whose message then offers
    --overwrite alone); a new file only in a folder that exists. ``contents`` names what the
    file holds, in the message that asks for another file.
    """
    if path is None:
        if resume:
            raise CLIError("--resume needs -o/--output pointing at the file of the interrupted run", EXIT_USAGE)
        return None
    output = Path(path)
    if not output.exists():
        if resume:
            raise CLIError(
                f"--resume: {output} does not exist; it should be the file of the interrupted run", EXIT_USAGE
            )
        if not output.parent.is_dir():
            raise CLIError(f"cannot write {output}: the folder {output.parent} does not exist")
        return output
    if any(p != "-" and Path(p).exists() and output.samefile(p) for p in inputs):
        raise CLIError(f"{output} is also an input file; write the {contents} to another file", EXIT_USAGE)
    if not (overwrite or resume):
        choices = "pass --overwrite to replace it" + (" or --resume to continue it" if resume is not None else "")
        raise CLIError(f"{output} exists; {choices}", EXIT_USAGE)
    return output


# ------------------------------------------------------------------------------------------
# The model and its languages
# ------------------------------------------------------------------------------------------
def resolve_model(args: argparse.Namespace) -> str:
    """The model of a command: ``-m/--model``, else the bundled demo model (said once on stderr).
    Sets ``args.model``, so that a second call says nothing."""
    try:
        args.model = str(model_or_demo(args.model, notice=lambda text: print(f"m2m100: {text}", file=sys.stderr)))
    except FileNotFoundError as err:
        raise CLIError(f"no model given (-m/--model), and {err}") from err
    return args.model


def model_languages(model: str) -> list[str]:
    """The languages a checkpoint translates, read from its config.json and tokenizer files (no
    weights), so that an unknown code stops a command before the model is loaded. A model that
    declares none (or one not on disk yet, such as a hub id) is taken to know every code of its
    tokenizer (M2M100's when it cannot be read); the loaded Translator checks again."""
    path = Path(model)
    if not (path / "config.json").is_file():
        return list(language_codes("m2m100"))
    try:
        known = tokenizer_languages(path)
        declared = M2M100Config.from_pretrained(path).extra.get(TRAINED_LANGUAGES_KEY)
        return trained_languages(declared, known)
    except (ValueError, OSError):
        return list(language_codes("m2m100"))  # the load reports what is wrong with the folder


def check_languages(codes: dict[str, str], valid: Sequence[str]) -> None:
    """Stop on the first code (mapped to where it was given) that no code of ``valid`` means
    (either spelling is accepted: see :func:`m2m100.languages.resolve_language`)."""
    for code, where in codes.items():
        try:
            resolve_language(code, valid)
        except ValueError as err:
            raise CLIError(f"{where}: {err}", EXIT_USAGE) from err


class ModelCodes:
    """The loaded model's code for each language code a command is given, in either spelling
    (``en`` is ``eng_Latn`` for NLLB, ``eng_Latn`` is ``en`` for M2M100), each resolved once; a
    code the model spells otherwise is said once on stderr, with where it was first given."""

    def __init__(self, valid: Sequence[str]) -> None:
        self.valid = list(valid)
        self._used: dict[str, str] = {}

    def __call__(self, code: str, where: str) -> str:
        """The model's code for ``code``, given at ``where`` (an option or a "file:line").

        Raises:
            CLIError: (usage) no code of the model means ``code``.
        """
        if code not in self._used:
            try:
                self._used[code] = resolve_language(code, self.valid)
            except ValueError as err:
                raise CLIError(f"{where}: {err}", EXIT_USAGE) from err
            if self._used[code] != code:
                print(f"m2m100: {where}: {code} is {self._used[code]} for this model", file=sys.stderr)
        return self._used[code]


def check_placement_options(args: argparse.Namespace) -> None:
    """Refuse a --device/--dtype/--quantize combination that cannot run, before any work."""
    try:
        check_placement(args.device, getattr(args, "dtype", None), getattr(args, "quantize", None))
    except ValueError as err:
        raise CLIError(str(err), EXIT_USAGE) from err


def load_translator(args: argparse.Namespace, translator_class: Any) -> Any:
    """The Translator of ``args`` (model, device, dtype, quantize, max_batch_tokens)."""
    resolve_model(args)
    try:
        return translator_class(
            args.model,
            device=args.device,
            dtype=args.dtype,
            quantize=args.quantize,
            max_batch_tokens=args.max_batch_tokens,
        )
    except FileNotFoundError as err:
        raise CLIError(f"cannot load the model: {err}") from err
    except (ValueError, OSError) as err:
        raise CLIError(f"cannot load the model {args.model}: {err}") from err


def require_extra(command: str, extra: str, modules: Sequence[str]) -> None:
    """Stop with the install command when a module of an optional extra is missing."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise CLIError(
                f"m2m100 {command} needs the [{extra}] extra ({err.name or module} is not installed): "
                f"pip install 'm2m100[{extra}]'"
            ) from err


def progress_bar(args: argparse.Namespace, *, total: int | None, initial: int) -> Any:
    """A tqdm bar on stderr, or None: shown on a terminal or with --progress, never with --no-progress."""
    if not (args.progress or sys.stderr.isatty()) or args.no_progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="line", file=sys.stderr, dynamic_ncols=True)


# ------------------------------------------------------------------------------------------
# Arguments
# ------------------------------------------------------------------------------------------
def add_model_argument(p: argparse.ArgumentParser, *, help: str = "the model") -> None:
    """``-m/--model``, optional in every command, with the same default."""
    p.add_argument(
        "-m",
        "--model",
        help=f"{help}: a checkpoint folder (model and tokenizer) or hub id (default: the bundled demo model)",
    )


def add_language_arguments(p: Any, *, aliases: bool = False, required: bool = False) -> None:
    """``-s/--src-lang`` and ``-t/--tgt-lang``, the spelling of a language in every command;
    ``aliases`` keeps the older ``--src``/``--tgt`` of ``translate`` working, unlisted."""
    # Either spelling: an ISO code (fr) or an NLLB one (fra_Latn), mapped to the model's.
    p.add_argument(
        "-s", "--src-lang", dest="src", required=required, metavar="CODE", help="source language, e.g. fr or fra_Latn"
    )
    p.add_argument(
        "-t", "--tgt-lang", dest="tgt", required=required, metavar="CODE", help="target language, e.g. de or deu_Latn"
    )
    if aliases:
        p.add_argument("--src", dest="src", help=argparse.SUPPRESS)
        p.add_argument("--tgt", dest="tgt", help=argparse.SUPPRESS)


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Decoding and model-loading options of the commands that translate (translate, evaluate)."""
    p.add_argument("--beam-size", type=positive_int, default=None, help="beams (default: the checkpoint's)")
    p.add_argument("--max-new-tokens", type=positive_int, default=None, help="longest translation in tokens")
    p.add_argument(
        "--max-batch-tokens", type=positive_int, default=DEFAULT_MAX_BATCH_TOKENS, help="source tokens per model call"
    )
    add_loading_options(p)


def add_loading_options(p: Any) -> None:
    """Where and how the model is loaded (translate, evaluate, serve)."""
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    p.add_argument("--dtype", default=None, choices=("float32", "float16", "bfloat16", "auto"), help="weight dtype")
    p.add_argument(
        "--quantize",
        default=None,
        choices=QUANTIZATIONS,
        help="CPU only, tokens may differ from float32: int8 linear layers (the fastest, from one "
        "sentence to large batches), int4-weight (int4 weights, bf16 activations: the smallest model)",
    )


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for integers of at least ``minimum``, with a message that says so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)


def non_negative_float(text: str) -> float:
    """An argparse ``type`` for finite numbers >= 0 (rates, limits, waits)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value
