"""The ``m2m100`` command: translate files, list languages, describe a checkpoint.

A thin adapter over :class:`m2m100.translator.Translator`: it reads lines, writes lines, shows a
progress bar and turns every bad input into a one-line message and an exit status. N lines in, N
lines out, in order.

Exit statuses, the same for every command: 0 done; 1 a failure at run time (a file that cannot
be read or written, bad content in an input, a model that cannot be loaded, a missing extra); 2 a
usage error found before any work (a bad flag or value, an unknown language, an option
combination that cannot run, an input file that does not exist, an output that exists); 130
interrupted.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import importlib
import json
import logging
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Optional, Sequence

from m2m100.languages import LANGUAGE_NAMES, language_codes, unknown_language_error

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """An error to print as ``m2m100: error: ...`` and exit with ``status``."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------------------------------
# Reading input
# ------------------------------------------------------------------------------------------
@dataclass
class InputLine:
    """One input segment, with where it came from (for error messages and jsonl ids)."""

    text: str
    source: str  # file name or "<stdin>"
    number: int  # 1-based line number in that file
    id: Any = None
    src: Optional[str] = None
    tgt: Optional[str] = None


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
                    raw = raw[len(codecs.BOM_UTF8):]
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


def parse_inputs(paths: Sequence[str], *, fmt: str, errors: str) -> Iterator[InputLine]:
    """The input segments: plain lines, or one JSON object per line for ``--format jsonl``."""
    for name, number, text in read_lines(paths, errors=errors):
        if fmt == "text":
            yield InputLine(text, name, number)
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise CLIError(f"{name}:{number}: not a JSON object ({err.msg}); --format jsonl wants one per line, "
                           'e.g. {"text": "...", "src": "fr", "tgt": "de"}') from err
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CLIError(f'{name}:{number}: a jsonl line needs a "text" string, got {text[:80]!r}')
        for key in ("src", "tgt"):
            if key in record and not isinstance(record[key], str):
                raise CLIError(f'{name}:{number}: "{key}" must be a language code string, got {record[key]!r}')
        yield InputLine(record["text"], name, number, record.get("id"), record.get("src"), record.get("tgt"))


def is_regular(path: str) -> bool:
    """Whether an input can be read twice: a regular file, not stdin, a pipe or a process
    substitution (``<(cmd)``, a /dev/fd path), which are read once, as they come."""
    return path != "-" and Path(path).is_file()


def check_inputs(paths: Sequence[str]) -> None:
    """Stop, before any work, on an input that does not exist or is a folder."""
    for path in paths:
        if path != "-" and not Path(path).exists():
            raise CLIError(f"input file {path} does not exist", EXIT_USAGE)
        if Path(path).is_dir():
            raise CLIError(f"input {path} is a folder; give files (or - for stdin)", EXIT_USAGE)


def count_lines(paths: Sequence[str]) -> Optional[int]:
    """Lines of the input files (for the progress bar's total); None when one is read once."""
    if not paths or not all(is_regular(p) for p in paths):
        return None
    total = 0
    for path in paths:
        with open(path, "rb") as handle:
            data = b""
            for data in iter(lambda: handle.read(1 << 20), b""):
                total += data.count(b"\n")
            size = handle.tell()
        if size and not data.endswith(b"\n"):
            total += 1
    return total


def validate_files(paths: Sequence[str], *, fmt: str, errors: str, src: Optional[str],
                   tgt: Optional[str]) -> dict[str, str]:
    """Read every input file once before any translation, so that a bad line stops the run
    before an output file is started (stdin is checked as it is read).

    Returns:
        Each language code the lines use, with the "file:line" of its first use.
    """
    files = [p for p in paths if is_regular(p)]
    codes: dict[str, str] = {}
    for line in parse_inputs(files, fmt=fmt, errors=errors) if files else ():
        for code in line_direction(line, src, tgt):
            codes.setdefault(code, f"{line.source}:{line.number}")
    return codes


def line_direction(line: InputLine, src: Optional[str], tgt: Optional[str]) -> tuple[str, str]:
    """The (src, tgt) of a line: its own, else the command's."""
    src, tgt = line.src or src, line.tgt or tgt
    if src is None or tgt is None:
        raise CLIError(f'{line.source}:{line.number}: no "src"/"tgt" in the line and no -s/--src-lang, '
                       '-t/--tgt-lang given', EXIT_USAGE)
    return src, tgt


# ------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------
def lines_done(path: Path) -> int:
    """Complete lines already in an output file; a last line cut short by an interruption is
    removed so that ``--resume`` rewrites it."""
    with open(path, "rb+") as handle:
        data = handle.read()
        complete = data.rfind(b"\n") + 1
        if complete != len(data):
            handle.truncate(complete)
    return data.count(b"\n")


def format_output(line: InputLine, translation: str, fmt: str, src: str, tgt: str) -> str:
    if fmt == "text":
        return " ".join(translation.splitlines()) + "\n"  # one line out for one line in
    record: dict[str, Any] = {}
    if line.id is not None:
        record["id"] = line.id
    record.update(src=src, tgt=tgt, translation=translation)
    return json.dumps(record, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------------------
def check_languages(codes: dict[str, str], valid: Sequence[str]) -> None:
    """Stop on the first code (mapped to where it was given) that is not in ``valid``."""
    for code, where in codes.items():
        if code not in valid:
            raise CLIError(f"{where}: {unknown_language_error(code, valid)}", EXIT_USAGE)


def check_output(args: argparse.Namespace) -> tuple[Optional[Path], int]:
    """The output file and how many of its lines an interrupted run already wrote."""
    if args.output is None:
        if args.resume:
            raise CLIError("--resume needs -o/--output pointing at the file of the interrupted run", EXIT_USAGE)
        return None, 0
    output = Path(args.output)
    if not output.exists():
        if args.resume:
            raise CLIError(f"--resume: {output} does not exist; it should be the file of the interrupted run",
                           EXIT_USAGE)
        if not output.parent.is_dir():
            raise CLIError(f"cannot write {output}: the folder {output.parent} does not exist")
        return output, 0
    if any(p != "-" and Path(p).exists() and output.samefile(p) for p in args.files):
        raise CLIError(f"{output} is also an input file; write the translation to another file", EXIT_USAGE)
    if not (args.resume or args.overwrite):
        raise CLIError(f"{output} exists; pass --overwrite to replace it or --resume to continue it", EXIT_USAGE)
    return output, lines_done(output) if args.resume else 0


def cmd_translate(args: argparse.Namespace) -> int:
    from m2m100.translator import Segment, Translator

    check_placement_options(args)
    model = resolve_model(args)
    known = model_languages(model)
    options = {code: option for code, option in ((args.src, "-s/--src-lang"), (args.tgt, "-t/--tgt-lang"))
               if code is not None}
    check_languages(options, known)
    if args.format == "text" and (args.src is None or args.tgt is None):
        raise CLIError("-s/--src-lang and -t/--tgt-lang are required (jsonl lines may carry their own "
                       "\"src\"/\"tgt\")", EXIT_USAGE)
    check_inputs(args.files)
    output, skip = check_output(args)
    # Every language code in use, with where it was given (a file:line, or an option).
    codes = {**validate_files(args.files, fmt=args.format, errors=args.errors, src=args.src, tgt=args.tgt), **options}
    check_languages(codes, known)

    translator = load_translator(args, Translator)
    check_languages(codes, translator.languages)

    lines = parse_inputs(args.files, fmt=args.format, errors=args.errors)
    for _ in range(skip):  # already in the output file
        next(lines, None)
    pending: deque[InputLine] = deque()  # read and sent to the translator, not yet written

    def segments() -> Iterator[Segment]:
        for line in lines:
            src, tgt = line_direction(line, args.src, args.tgt)
            check_languages({src: f"{line.source}:{line.number}", tgt: f"{line.source}:{line.number}"},
                            translator.languages)  # stdin is checked only here
            pending.append(line)
            yield Segment(line.text, src, tgt)

    total = count_lines(args.files)
    bar = _progress_bar(args, total=total, initial=skip)
    start = time.perf_counter()

    def on_batch(stats: Any) -> None:
        if bar is not None:
            bar.set_postfix_str(f"{stats.generated_tokens / max(time.perf_counter() - start, 1e-9):.1f} tok/s")

    # Bytes, so that the output is UTF-8 with "\n" endings whatever the locale and platform.
    try:
        out: IO[bytes] = open(output, "ab" if skip else "wb") if output else sys.stdout.buffer
    except OSError as err:
        raise CLIError(f"cannot write {output}: {err.strerror}") from err
    try:
        stream = translator.translate_stream(
            segments(), beam_size=args.beam_size, max_new_tokens=args.max_new_tokens,
            max_batch_tokens=args.max_batch_tokens, on_batch=on_batch)
        for translation in stream:
            line = pending.popleft()
            out.write(format_output(line, translation, args.format, *line_direction(line, args.src, args.tgt))
                      .encode("utf-8"))
            out.flush()  # an interruption leaves a correct prefix for --resume
            if bar is not None:
                bar.update(1)
        out.flush()
    finally:
        if bar is not None:
            bar.close()
        if output:
            out.close()
    return 0


def resolve_model(args: argparse.Namespace) -> str:
    """The model of a command: ``-m/--model``, else the bundled demo model (said once on stderr).
    Sets ``args.model``, so that a second call says nothing."""
    if args.model is None:
        from m2m100.demo import DEMO_NOTICE, model_path

        try:
            args.model = str(model_path())
        except FileNotFoundError as err:
            raise CLIError(f"no model given (-m/--model), and {err}") from err
        print(f"m2m100: {DEMO_NOTICE}", file=sys.stderr)
    return str(args.model)


def model_languages(model: str) -> list[str]:
    """The languages a checkpoint translates, read from its config.json alone (no weights), so
    that an unknown code stops a command before the model is loaded. A model that declares none
    (or one not on disk yet, such as a hub id) is taken to know every M2M100 code; the loaded
    Translator checks again with its tokenizer."""
    from m2m100.config import M2M100Config
    from m2m100.languages import TRAINED_LANGUAGES_KEY, trained_languages

    path = Path(model)
    if not (path / "config.json").is_file():
        return list(language_codes("m2m100"))
    try:
        declared = M2M100Config.from_pretrained(path).extra.get(TRAINED_LANGUAGES_KEY)
        return trained_languages(declared, language_codes("m2m100"))
    except (ValueError, OSError):
        return list(language_codes("m2m100"))  # the load reports what is wrong with the folder


def check_placement_options(args: argparse.Namespace) -> None:
    """Refuse a --device/--dtype/--quantize combination that cannot run, before any work."""
    from m2m100.model.placement import check_placement

    try:
        check_placement(args.device, getattr(args, "dtype", None), getattr(args, "quantize", None))
    except ValueError as err:
        raise CLIError(str(err), EXIT_USAGE) from err


def require_extra(command: str, extra: str, modules: Sequence[str]) -> None:
    """Stop with the install command when a module of an optional extra is missing."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise CLIError(f"m2m100 {command} needs the [{extra}] extra ({err.name or module} is not installed): "
                           f"pip install 'm2m100[{extra}]'") from err


def load_translator(args: argparse.Namespace, translator_class: Any) -> Any:
    """The Translator of ``args`` (model, device, dtype, quantize, max_batch_tokens)."""
    resolve_model(args)
    try:
        return translator_class(args.model, device=args.device, dtype=args.dtype, quantize=args.quantize,
                                max_batch_tokens=args.max_batch_tokens)
    except FileNotFoundError as err:
        raise CLIError(f"cannot load the model: {err}") from err
    except (ValueError, OSError) as err:
        raise CLIError(f"cannot load the model {args.model}: {err}") from err


def _progress_bar(args: argparse.Namespace, *, total: Optional[int], initial: int) -> Any:
    if not (args.progress or sys.stderr.isatty()) or args.no_progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="line", file=sys.stderr, dynamic_ncols=True)


def cmd_languages(args: argparse.Namespace) -> int:
    if args.codes is not None:
        if args.model is not None:
            raise CLIError("give -m/--model (the languages of a model) or --codes (a code set), not both", EXIT_USAGE)
        codes = list(language_codes(args.codes))
    else:
        codes = _loaded_languages(resolve_model(args))
    for code in codes:
        print(f"{code}\t{LANGUAGE_NAMES.get(code, code)}")
    return 0


def _loaded_languages(model: str) -> list[str]:
    """The languages of a model as its tokenizer and config say (no weights are read)."""
    from m2m100.checkpoint import resolve_checkpoint_dir
    from m2m100.config import M2M100Config
    from m2m100.languages import TRAINED_LANGUAGES_KEY, trained_languages
    from m2m100.tokenizer import M2M100Tokenizer

    try:
        folder = resolve_checkpoint_dir(model)
        known = list(M2M100Tokenizer.from_pretrained(folder).lang_code_to_id)
        return trained_languages(M2M100Config.from_pretrained(folder).extra.get(TRAINED_LANGUAGES_KEY), known)
    except (FileNotFoundError, ValueError, OSError) as err:
        raise CLIError(f"cannot read the model {model}: {err}") from err


def cmd_info(args: argparse.Namespace) -> int:
    from m2m100.checkpoint import resolve_checkpoint_dir, weight_files
    from m2m100.config import M2M100Config

    if args.model_path is not None:
        if args.model is not None:
            raise CLIError("give the model once: -m/--model or the positional MODEL, not both", EXIT_USAGE)
        args.model = args.model_path
    model = resolve_model(args)
    try:
        folder = resolve_checkpoint_dir(model)
        config = M2M100Config.from_pretrained(folder)
        files = weight_files(folder)
        languages = _loaded_languages(model)
    except (FileNotFoundError, ValueError, OSError) as err:
        raise CLIError(f"cannot read the checkpoint: {err}") from err
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    params = _parameter_count(config)
    from m2m100.demo import is_demo_model

    demo = is_demo_model(folder)
    kind = ("demo model: trained from scratch on number words and CLDR names (m2m100.demo), not for real text"
            if demo else "translation checkpoint")
    rows = [
        ("checkpoint", str(folder)),
        ("kind", kind),
        ("languages", f"{len(languages)}: {' '.join(languages)}"),
        ("architecture", f"M2M100: {config.encoder_layers}+{config.decoder_layers} layers, d_model {config.d_model}, "
                         f"ffn {config.encoder_ffn_dim}/{config.decoder_ffn_dim}, "
                         f"{config.encoder_attention_heads}/{config.decoder_attention_heads} heads, "
                         f"{config.activation_function}"),
        ("vocabulary", f"{config.vocab_size} entries"),
        ("max positions", str(config.max_position_embeddings)),
        ("parameters", f"{params:,} ({params / 1e6:.1f} M)"),
        ("weights", ", ".join(f.name for f in files)),
        ("dtype", str(config.extra.get("dtype") or config.extra.get("torch_dtype") or "float32")),
        ("size on disk", _human_bytes(size)),
    ]
    if demo:
        from m2m100.demo import DEMO_KNOWS

        rows.insert(3, ("knows", DEMO_KNOWS))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _parameter_count(config: Any) -> int:
    """Parameters of the model a config describes (the tied embedding counted once)."""
    d = config.d_model
    attention = 4 * (d * d + d)
    norm = 2 * d
    enc = attention + norm + (d * config.encoder_ffn_dim + config.encoder_ffn_dim) + (config.encoder_ffn_dim * d + d) + norm
    dec = 2 * attention + 2 * norm + (d * config.decoder_ffn_dim + config.decoder_ffn_dim) + (config.decoder_ffn_dim * d + d) + norm
    head = 0 if config.tie_word_embeddings else config.vocab_size * d
    return config.vocab_size * d + config.encoder_layers * enc + config.decoder_layers * dec + 2 * norm + head


def _human_bytes(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


# ------------------------------------------------------------------------------------------
# Argument parsing
# ------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from m2m100 import __version__

    parser = argparse.ArgumentParser(prog="m2m100", description="Translate between any two of 100 languages with M2M100.",
                                     epilog="Exit status: 0 done, 1 failure at run time, 2 usage error, 130 interrupted.",
                                     allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"m2m100 {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("translate", help="translate lines of files or stdin",
                            description="Translate FILEs (or stdin), one segment a line; N lines in, N lines out.")
    p.add_argument("files", nargs="*", metavar="FILE", help="input files; none or '-' reads stdin")
    add_model_argument(p)
    add_language_arguments(p, aliases=True)
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--format", choices=("text", "jsonl"), default="text",
                   help='text: a line a segment; jsonl: {"id", "text", "src", "tgt"} objects')
    add_model_options(p)
    p.add_argument("--errors", choices=("strict", "replace"), default="strict",
                   help="bytes that are not UTF-8: stop (strict) or read them as U+FFFD (replace)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from the lines in --output")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.set_defaults(func=cmd_translate)

    p = commands.add_parser("languages", help="list the languages a model translates (codes and names)")
    add_model_argument(p)
    p.add_argument("--codes", choices=("m2m100", "wmt21"), default=None,
                   help="list a checkpoint family's code set instead of a model's languages")
    p.set_defaults(func=cmd_languages)

    p = commands.add_parser("info", help="describe a checkpoint: languages, config, parameters, size on disk")
    add_model_argument(p)
    p.add_argument("model_path", nargs="?", metavar="MODEL", help="the same as -m/--model")
    p.set_defaults(func=cmd_info)

    # The other commands live beside the library code they adapt; each module keeps its heavy
    # imports (fastapi, sacrebleu, ...) inside its command function, so `--help` stays fast.
    for name in ADAPTER_MODULES:
        importlib.import_module(name).add_parser(commands)
    for command in commands.choices.values():
        command.allow_abbrev = False  # --src must not quietly mean --src-file
    return parser


def add_model_argument(p: argparse.ArgumentParser, *, help: str = "the model") -> None:
    """``-m/--model``, optional in every command, with the same default."""
    p.add_argument("-m", "--model", help=f"{help}: a checkpoint folder (model and tokenizer) or hub id "
                                         "(default: the bundled demo model)")


def add_language_arguments(p: Any, *, aliases: bool = False, required: bool = False) -> None:
    """``-s/--src-lang`` and ``-t/--tgt-lang``, the spelling of a language in every command;
    ``aliases`` keeps the older ``--src``/``--tgt`` of ``translate`` working, unlisted."""
    p.add_argument("-s", "--src-lang", dest="src", required=required, metavar="CODE",
                   help="source language code, e.g. fr")
    p.add_argument("-t", "--tgt-lang", dest="tgt", required=required, metavar="CODE",
                   help="target language code, e.g. de")
    if aliases:
        p.add_argument("--src", dest="src", help=argparse.SUPPRESS)
        p.add_argument("--tgt", dest="tgt", help=argparse.SUPPRESS)


# Modules with an ``add_parser(commands)`` that registers one subcommand each.
ADAPTER_MODULES: tuple[str, ...] = (
    "m2m100.demo",
    "m2m100.evaluation",
    "m2m100.fairseq",
    "m2m100.finetune",
    "m2m100.serving.app",
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


_positive_int = int_at_least(1)


def non_negative_float(text: str) -> float:
    """An argparse ``type`` for finite numbers >= 0 (rates, limits, waits)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Decoding and model-loading options of the commands that translate (translate, evaluate)."""
    p.add_argument("--beam-size", type=_positive_int, default=None, help="beams (default: the checkpoint's)")
    p.add_argument("--max-new-tokens", type=_positive_int, default=None, help="longest translation in tokens")
    p.add_argument("--max-batch-tokens", type=_positive_int, default=4096, help="source tokens per model call")
    add_loading_options(p)


def add_loading_options(p: Any) -> None:
    """Where and how the model is loaded (translate, evaluate, serve)."""
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    p.add_argument("--dtype", default=None, choices=("float32", "float16", "bfloat16", "auto"), help="weight dtype")
    p.add_argument("--quantize", default=None, choices=("int8",),  # quantize.QUANTIZATIONS (no torch import here)
                   help="int8 linear layers on CPU: faster, tokens may differ from float32")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    if not args.verbose:  # the library's log is for library users; a command prints its own messages
        logging.getLogger("m2m100").setLevel(logging.ERROR)
    try:
        return args.func(args)
    except CLIError as err:
        print(f"m2m100: error: {err}", file=sys.stderr)
        return err.status
    except KeyboardInterrupt:
        print("m2m100: interrupted; the output holds the lines finished so far (--resume continues)",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # `| head` closed the pipe
        return 0


if __name__ == "__main__":
    sys.exit(main())
