"""``m2m100 serve``: run the HTTP service (:func:`m2m100.serving.app.create_app`) under uvicorn
until SIGTERM or Ctrl-C, then answer the requests it holds and exit."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any

from m2m100.cli.common import (
    CLIError,
    add_loading_options,
    add_model_argument,
    check_placement_options,
    non_negative_float,
    positive_int,
    require_extra,
    resolve_model,
)
from m2m100.serving.app import SERVE_MODULES, ServerSettings, create_app
from m2m100.translator import Translator


def add_parser(commands: Any) -> None:
    """Register ``m2m100 serve``."""
    defaults = ServerSettings()
    p = commands.add_parser(
        "serve",
        help="run the HTTP translation service (web page at /)",
        description="Serve POST /translate, GET /languages, /health, /metrics, /docs and a web "
        "page at /. Requests that arrive together share one model batch.",
    )
    add_model_argument(p, help="the model to serve")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    add_loading_options(p)
    p.add_argument(
        "--max-batch-tokens",
        type=positive_int,
        default=defaults.max_batch_tokens,
        help="source tokens of one batch of requests, and of one model call",
    )
    p.add_argument(
        "--max-batch-requests",
        type=positive_int,
        default=defaults.max_batch_requests,
        help="requests in one batch (1: no batching)",
    )
    p.add_argument(
        "--max-wait-ms",
        type=non_negative_float,
        default=defaults.max_wait_ms,
        help="how long a request waits for others to share its batch (0: only those already queued)",
    )
    p.add_argument(
        "--max-queue",
        type=positive_int,
        default=defaults.max_queue,
        help="requests waiting for the model; more are answered 503 with Retry-After",
    )
    p.add_argument(
        "--max-texts", type=positive_int, default=defaults.max_texts, help="texts in one request; more are answered 413"
    )
    p.add_argument(
        "--max-chars",
        type=positive_int,
        default=defaults.max_chars,
        help="characters of one request's texts together; more are answered 413",
    )
    p.add_argument(
        "--max-new-tokens-limit",
        type=positive_int,
        default=None,
        help="longest translation a request may ask for, in tokens; more are answered 422 "
        "(default: the model's max_position_embeddings less 2, the decoder start and language token)",
    )
    p.add_argument(
        "--max-batch-work",
        type=positive_int,
        default=defaults.max_batch_work,
        help="estimated texts x beams x new tokens of one batch: requests are not batched beyond it, "
        "and a request over it alone is answered 413",
    )
    p.add_argument(
        "--request-timeout",
        type=positive_seconds,
        default=defaults.request_timeout,
        help="seconds within which a request is answered; later it gets 504 and its work is dropped",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="log level of uvicorn and of the service (info logs every request, and stopped batches)",
    )
    p.set_defaults(func=cmd_serve)


def positive_seconds(text: str) -> float:
    """An argparse ``type`` for a finite number of seconds above 0."""
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds, got 0")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    require_extra("serve", "serve", SERVE_MODULES)
    check_placement_options(args)
    import uvicorn

    model = resolve_model(args)
    # The service's own log (the model loaded, a batch stopped, a limit set too high) is the server's output.
    logging.getLogger("m2m100.serving").setLevel(args.log_level.upper())
    settings = ServerSettings(
        max_batch_tokens=args.max_batch_tokens,
        max_batch_requests=args.max_batch_requests,
        max_wait_ms=args.max_wait_ms,
        max_queue=args.max_queue,
        max_texts=args.max_texts,
        max_chars=args.max_chars,
        max_new_tokens_limit=args.max_new_tokens_limit,
        max_batch_work=args.max_batch_work,
        request_timeout=args.request_timeout,
    )

    def load() -> Translator:
        return Translator(
            model, device=args.device, dtype=args.dtype, quantize=args.quantize, max_batch_tokens=args.max_batch_tokens
        )

    def stop(err: BaseException) -> None:
        server.should_exit = True

    app = create_app(load, settings, on_load_error=stop)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level))
    with _signals_recorded(server) as received:
        server.run()  # on SIGTERM/SIGINT: stops accepting, answers what it holds, then returns
    if app.state.service.load_error is not None:
        raise CLIError(f"cannot load the model {model}: {app.state.service.load_error}")
    return 130 if signal.SIGINT in received else 0


@contextlib.contextmanager
def _signals_recorded(server: Any) -> Iterator[list[int]]:
    """After a graceful shutdown uvicorn raises the signal again for the handler it found, which
    by default ends the process with that signal; a recording handler lets ``serve`` exit 0.
    (It also stops ``server`` for a signal that comes before uvicorn has put up its own.)"""
    received: list[int] = []

    def record(sig: int, frame: Any) -> None:
        received.append(sig)
        server.should_exit = True

    previous = {sig: signal.signal(sig, record) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
