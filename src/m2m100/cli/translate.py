"""``m2m100 translate``: translate lines of files or stdin, N lines in, N lines out, in order
(a document, such as page.html or talk.srt, goes to :mod:`m2m100.cli.documents`).

Plain lines, or ``--format jsonl`` objects that may carry their own ``src``/``tgt``. Every input
file is read once before any translation, so that a bad line or an unknown language stops the
run before an output file is started; the output is flushed line by line, so that an interrupted
run leaves a correct prefix for ``--resume``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from m2m100.cli import auto, controls, documents
from m2m100.cli import glossary as glossary_options
from m2m100.cli.common import (
    EXIT_USAGE,
    CLIError,
    ModelCodes,
    add_language_arguments,
    add_model_argument,
    add_model_options,
    check_inputs,
    check_languages,
    check_output,
    check_placement_options,
    load_translator,
    model_languages,
    progress_bar,
    read_lines,
    resolve_model,
)
from m2m100.cli.resume import OPTIONS, Progress, check_same_run, input_identity, load_record, truncate_lines
from m2m100.documents import FORMATS
from m2m100.glossary import Glossary
from m2m100.languages.detection import AUTO
from m2m100.translator import Segment, Translation, Translator, text_problem


def add_parser(commands: Any) -> None:
    """Register ``translate`` on the ``m2m100`` command's subparsers."""
    p = commands.add_parser(
        "translate",
        help="translate lines of files or stdin",
        description="Translate FILEs (or stdin), one segment a line; N lines in, N lines out.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="input files; none or '-' reads stdin")
    add_model_argument(p)
    add_language_arguments(p, aliases=True)
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument(
        "--format",
        choices=(*documents.LINE_FORMATS, *FORMATS),
        default=None,
        help='text (the default): a line a segment; jsonl: {"id", "text", "src", "tgt"} objects; '
        f"a document, with its structure kept: {', '.join(FORMATS)} (default: from the FILE's extension)",
    )
    add_model_options(p)
    glossary_options.add_arguments(p)
    p.add_argument(
        "--errors",
        choices=("strict", "replace"),
        default="strict",
        help="bytes that are not UTF-8: stop (strict) or read them as U+FFFD (replace)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from the lines in --output")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    auto.add_arguments(p)
    controls.add_arguments(p)
    documents.add_arguments(p)
    p.set_defaults(func=cmd_translate)


def cmd_translate(args: argparse.Namespace) -> int:
    if documents.is_document(args):
        return documents.cmd_translate_document(args)
    args.format = args.format or "text"
    check_placement_options(args)
    controls.check_arguments(args)
    model = resolve_model(args)
    known = model_languages(model)
    given = ((args.src, "-s/--src-lang"), (args.tgt, "-t/--tgt-lang"), (args.fallback_src, "--fallback-src"))
    options = {code: option for code, option in given if code is not None and code != AUTO}
    check_languages(options, known)
    if args.format == "text" and (args.src is None or args.tgt is None):
        raise CLIError(
            '-s/--src-lang and -t/--tgt-lang are required (jsonl lines may carry their own "src"/"tgt")', EXIT_USAGE
        )
    check_inputs(args.files)
    glossary = glossary_options.load(args)
    output = check_output(args.output, args.files, overwrite=args.overwrite, resume=args.resume)
    # Every language code in use, with where it was given (a file:line, or an option).
    codes = {**validate_files(args.files, fmt=args.format, errors=args.errors, src=args.src, tgt=args.tgt), **options}
    if args.src == AUTO or AUTO in codes:
        auto.check_available("translate")
    codes.pop(AUTO, None)  # detected per line
    check_languages(codes, known)
    progress = None
    if output is not None:
        progress = Progress(output, run_settings(args), input_identity(args.files))
    record = load_record(output) if args.resume and output is not None else None
    if record is not None:
        assert progress is not None
        check_same_run(record, progress.settings, progress.inputs)

    translator = load_translator(args, Translator)
    model_code = ModelCodes(translator.languages)  # en -> eng_Latn for NLLB, said once on stderr
    for code, where in codes.items():
        model_code(code, where)
    fallback = None if args.fallback_src is None else model_code(args.fallback_src, "--fallback-src")
    summary = auto.Summary(args.min_confidence, fallback)
    checked = args.src == AUTO or AUTO in codes  # py3langid is there (stdin rows are checked as they come)

    lines = parse_inputs(args.files, fmt=args.format, errors=args.errors)
    skip = 0  # input lines whose translations the output already holds
    if record is not None:
        assert output is not None and progress is not None
        skip = resume_point(output, record, progress, lines, all(is_regular(p) for p in args.files or ["-"]))
    # Read and sent to the translator, not yet written; with the model's codes of its direction.
    pending: deque[InputLine] = deque()

    def segments() -> Iterator[Segment]:
        nonlocal checked
        for line in lines:
            where = f"{line.source}:{line.number}"
            src, tgt = (
                code if code == AUTO else model_code(code, where) for code in line_direction(line, args.src, args.tgt)
            )  # stdin: only here
            if src == AUTO and not checked:
                auto.check_available("translate")
                checked = True
            pending.append(line)
            yield Segment(line.text, src, tgt, line.glossary, **controls.segment_controls(args, line.controls))

    total = count_lines(args.files)
    bar = progress_bar(args, total=total, initial=skip)
    start = time.perf_counter()

    def on_batch(stats: Any) -> None:
        if bar is not None:
            bar.set_postfix_str(f"{stats.generated_tokens / max(time.perf_counter() - start, 1e-9):.1f} tok/s")

    # Bytes, so that the output is UTF-8 with "\n" endings whatever the locale and platform.
    try:
        out: IO[bytes] = open(output, "ab" if args.resume else "wb") if output else sys.stdout.buffer
    except OSError as err:
        raise CLIError(f"cannot write {output}: {err.strerror}") from err
    completed = False
    unknown_characters = unknown_lines = 0
    try:
        if progress is not None:
            progress.save()  # before the first line, so that an interrupted run can be verified
        # --max-batch-tokens is the Translator's own budget (load_translator), not repeated here.
        stream = translator.translate_segments(
            segments(),
            beam_size=args.beam_size,
            max_new_tokens=args.max_new_tokens,
            on_batch=on_batch,
            glossary=glossary,
            **auto.options(args, fallback),
        )
        missed: list[tuple[str, list[str]]] = []  # inputs whose translation lacks glossary terms
        for translation in stream:
            line = pending.popleft()
            summary.add(translation)
            if translation.glossary_missed:
                missed.append((f"{line.source}:{line.number}", translation.glossary_missed))
            with_terms = glossary is not None or line.glossary is not None
            out.write(format_output(line, translation, args.format, with_terms).encode("utf-8"))
            if translation.unknowns:
                unknown_characters, unknown_lines = unknown_characters + translation.unknowns, unknown_lines + 1
            out.flush()  # an interruption leaves a correct prefix for --resume
            if progress is not None:
                progress.add(line.key())
                progress.save_now_and_then(out)
            if bar is not None:
                bar.update(1)
        out.flush()
        completed = True
        glossary_options.report_missed(missed)
    finally:
        if bar is not None:
            bar.close()
        if output:
            if progress is not None and not completed:
                progress.save(out)  # what an interruption (or a bad stdin line) leaves to --resume
            out.close()
    if progress is not None:
        progress.remove()
    for text in summary.lines():
        print(text, file=sys.stderr)
    unknowns = controls.unknowns_summary(unknown_characters, unknown_lines)
    if unknowns is not None:
        print(unknowns, file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------
# Reading input
# ------------------------------------------------------------------------------------------
@dataclass
class InputLine:
    """One input segment, with where it came from (for error messages and jsonl ids)."""

    text: str
    source: str  # file name or "<stdin>"
    number: int  # 1-based line number in that file
    id: str | None = None  # the JSON text of a jsonl "id", exactly as given (null: None)
    src: str | None = None
    tgt: str | None = None
    glossary: Glossary | None = None  # a jsonl line's own terms
    glossary_json: str | None = None  # their JSON text, for --resume's hash
    controls: dict[str, Any] = field(default_factory=dict)  # the line's own prefix, alternatives ...

    def key(self) -> str:
        """What the line contributes to its translation, as ASCII (for --resume's hash)."""
        fields: list[Any] = [self.text, self.id, self.src, self.tgt]
        if self.glossary_json is not None:
            fields.append(self.glossary_json)
        if self.controls:
            fields.append(self.controls)
        return json.dumps(fields, sort_keys=True)


def parse_inputs(paths: Sequence[str], *, fmt: str, errors: str) -> Iterator[InputLine]:
    """The input segments: plain lines, or one JSON object per line for ``--format jsonl``.

    Raises:
        CLIError: "file:line: ..." for a line that is not a usable JSON object, or whose text is
            not valid Unicode (a lone surrogate, which a JSON "\\ud800" escape can hold).
    """
    for name, number, text in read_lines(paths, errors=errors):
        if fmt == "text":
            problem = text_problem(text)  # --errors replace gives U+FFFD, never a surrogate, but be sure
            if problem is not None:
                raise CLIError(f"{name}:{number}: {problem}")
            yield InputLine(text, name, number)
            continue
        record = parse_record(text, f"{name}:{number}")
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CLIError(f'{name}:{number}: a jsonl line needs a "text" string, got {text[:80]!r}')
        for key in ("src", "tgt"):
            if key in record and not isinstance(record[key], str):
                raise CLIError(f'{name}:{number}: "{key}" must be a language code string, got {record[key]!r}')
        for key, value in record.items():
            problem = text_problem(key) or text_problem(value if isinstance(value, str) else json_text(value))
            if problem is not None:
                raise CLIError(f"{name}:{number}: {ascii(key)}: {problem}")
        ident = None if record.get("id") is None else json_text(record["id"])
        terms = glossary_options.row_glossary(record, f"{name}:{number}")
        terms_json = None if terms is None else json_text([record.get("glossary"), record.get("do_not_translate")])
        own = controls.line_controls(record, f"{name}:{number}")
        yield InputLine(
            record["text"], name, number, ident, record.get("src"), record.get("tgt"), terms, terms_json, own
        )


class JSONNumber:
    """A JSON number kept as its text, so that an id comes out exactly as it came in (a float
    would turn 1e400 into Infinity, which is not JSON, and 0.10 into 0.1)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON value (JSON numbers are finite)")


def parse_record(text: str, where: str) -> Any:
    """One jsonl line; numbers stay :class:`JSONNumber`, NaN and Infinity are refused."""
    try:
        return json.loads(text, parse_int=JSONNumber, parse_float=JSONNumber, parse_constant=_not_json)
    except json.JSONDecodeError as err:
        raise CLIError(
            f"{where}: not a JSON object ({err.msg}); --format jsonl wants one per line, "
            'e.g. {"text": "...", "src": "fr", "tgt": "de"}'
        ) from err
    except ValueError as err:
        raise CLIError(f"{where}: {err}; write it as a string, or use another value") from err


def json_text(value: Any) -> str:
    """``value`` of :func:`parse_record` as JSON text, numbers as they were written."""
    if isinstance(value, JSONNumber):
        return value.text
    if isinstance(value, list):
        return "[" + ", ".join(json_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {json_text(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def is_regular(path: str) -> bool:
    """Whether an input can be read twice: a regular file, not stdin, a pipe or a process
    substitution (``<(cmd)``, a /dev/fd path), which are read once, as they come."""
    return path != "-" and Path(path).is_file()


def count_lines(paths: Sequence[str]) -> int | None:
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


def validate_files(paths: Sequence[str], *, fmt: str, errors: str, src: str | None, tgt: str | None) -> dict[str, str]:
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


def line_direction(line: InputLine, src: str | None, tgt: str | None) -> tuple[str, str]:
    """The (src, tgt) of a line: its own, else the command's."""
    src, tgt = line.src or src, line.tgt or tgt
    if src is None or tgt is None:
        raise CLIError(
            f'{line.source}:{line.number}: no "src"/"tgt" in the line and no -s/--src-lang, -t/--tgt-lang given',
            EXIT_USAGE,
        )
    return src, tgt


# ------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------
def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings that change the output, as --resume compares them (see cli/resume.py)."""
    settings = {name: getattr(args, name, None) for name in OPTIONS}
    if Path(args.model).exists():
        settings["model"] = str(Path(args.model).resolve())
    return settings


def resume_point(
    output: Path, record: dict[str, Any], progress: Progress, lines: Iterator[InputLine], regular: bool
) -> int:
    """Read past the input lines whose translations ``output`` holds, checking them against the
    hash of the interrupted run; returns their number. A stream's lines beyond the record are
    not verified: they are removed from the output and translated again.

    Raises:
        CLIError: (usage) the output or the input is not what the interrupted run left.
    """
    written = lines_done(output)
    recorded = int(record["lines"])
    restart = "pass --overwrite (instead of --resume) to start again"
    if written < recorded:
        raise CLIError(
            f"--resume: {output} holds {written} lines, but the interrupted run had written {recorded}: "
            f"it was changed since; {restart}",
            EXIT_USAGE,
        )
    skip = written if regular else recorded

    def verify() -> None:
        if progress.hash.hexdigest() != record["lines_sha256"]:
            raise CLIError(
                f"--resume: the first {recorded} input lines are not those the interrupted run translated "
                f"(the input changed); {restart}",
                EXIT_USAGE,
            )

    if recorded == 0:
        verify()
    for line in itertools.islice(lines, skip):
        progress.add(line.key())
        if progress.lines == recorded:
            verify()
    if progress.lines < skip:
        raise CLIError(
            f"--resume: the input has {progress.lines} lines, but {output} already holds {skip} translations; "
            f"the input changed since the interrupted run: {restart}",
            EXIT_USAGE,
        )
    if skip < written:
        truncate_lines(output, skip)
    return skip


def lines_done(path: Path) -> int:
    """Complete lines already in an output file; a last line cut short by an interruption is
    removed so that ``--resume`` rewrites it."""
    with open(path, "rb+") as handle:
        data = handle.read()
        complete = data.rfind(b"\n") + 1
        if complete != len(data):
            handle.truncate(complete)
    return data.count(b"\n")


def format_output(line: InputLine, translation: Translation, fmt: str, with_terms: bool = False) -> str:
    """One output line: the translation (text), or a JSON object with the direction used and,
    for ``"src": "auto"``, the detected language and the detector's confidence; ``with_terms``
    (a glossary applies to the line): the glossary terms the translation lacks; and the output
    controls' fields (score, alternatives, unknowns)."""
    if fmt == "text":
        return " ".join(translation.text.splitlines()) + "\n"  # one line out for one line in
    fields: dict[str, Any] = {"src": translation.src, "tgt": translation.tgt, "translation": translation.text}
    if translation.confidence is not None:
        fields.update(detected_src=translation.detected, confidence=round(translation.confidence, 4))
    if with_terms:
        fields["glossary_missed"] = translation.glossary_missed
    fields.update(controls.output_fields(translation))
    rest = json.dumps(fields, ensure_ascii=False)
    if line.id is None:
        return rest + "\n"
    return '{"id": ' + line.id + ", " + rest[1:] + "\n"  # the id's JSON text as given
