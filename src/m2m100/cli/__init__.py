"""The ``m2m100`` command: one module per subcommand, each a thin adapter over the library.

Each command module declares its arguments (``add_parser(commands)``) and a ``cmd_*`` function
that checks them, calls the library and turns every bad input into a one-line message and an exit
status. What the commands share (exit statuses, ``CLIError``, the checks made before any work, the
arguments every command spells the same way) is in :mod:`m2m100.cli.common` and re-exported here;
the command modules import it from there, since this module imports them. Optional extras
(fastapi, sacrebleu, babel ...) are imported by the command functions, so ``--help`` needs none.

Exit statuses, the same for every command: 0 done; 1 a failure at run time (a file that cannot
be read or written, bad content in an input, a model that cannot be loaded, a missing extra); 2 a
usage error found before any work (a bad flag or value, an unknown language, an option
combination that cannot run, an input file that does not exist, an output that exists); 130
interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence

from m2m100 import __version__
from m2m100.cli import (
    convert,
    demo,
    evaluate,
    finetune,
    info,
    languages,
    quantize,
    ray_translate,
    score,
    serve,
    translate,
)
from m2m100.cli.common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CLIError,
    add_language_arguments,
    add_loading_options,
    add_model_argument,
    add_model_options,
    check_inputs,
    check_languages,
    check_placement_options,
    int_at_least,
    load_translator,
    model_languages,
    non_negative_float,
    positive_int,
    progress_bar,
    read_lines,
    require_extra,
    resolve_model,
)
from m2m100.runtime import tune_malloc

__all__ = [
    "COMMANDS",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "CLIError",
    "add_language_arguments",
    "add_loading_options",
    "add_model_argument",
    "add_model_options",
    "build_parser",
    "check_inputs",
    "check_languages",
    "check_placement_options",
    "int_at_least",
    "load_translator",
    "main",
    "model_languages",
    "non_negative_float",
    "positive_int",
    "progress_bar",
    "read_lines",
    "require_extra",
    "resolve_model",
]

# The subcommands, in the order `m2m100 --help` lists them.
COMMANDS = (translate, score, languages, info, demo, evaluate, convert, quantize, finetune, serve)


def build_parser() -> argparse.ArgumentParser:
    """The ``m2m100`` parser, with every command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="m2m100",
        description="Translate between any two of 100 languages with M2M100.",
        epilog="Exit status: 0 done, 1 failure at run time, 2 usage error, 130 interrupted.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"m2m100 {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(commands)
    # translate --ray: its own module, which imports cli/translate (a hook there would be a circle)
    ray_translate.add_arguments(commands.choices["translate"])
    for command in commands.choices.values():
        command.allow_abbrev = False  # --src must not quietly mean --src-file
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command of ``argv`` (default: ``sys.argv[1:]``) and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    if not args.verbose:  # the library's log is for library users; a command prints its own messages
        logging.getLogger("m2m100").setLevel(logging.ERROR)
    tune_malloc()  # an application's choice: decoding's large per-step buffers stay in the process
    try:
        return args.func(args)
    except CLIError as err:
        print(f"m2m100: error: {err}", file=sys.stderr)
        return err.status
    except KeyboardInterrupt:
        print("m2m100: interrupted; the output holds the lines finished so far (--resume continues)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # `| head` closed the pipe
        return 0
    except OSError as err:  # writing failed under the command: a full disk, a quota, a device error
        where = f" ({err.filename})" if err.filename else ""
        print(f"m2m100: error: cannot go on: {err.strerror or err}{where}", file=sys.stderr)
        with contextlib.suppress(OSError):  # what stdout still buffers cannot be written either
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
