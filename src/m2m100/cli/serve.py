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
    EXIT_USAGE,
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
from m2m100.serving.security import (
    NetworkSettings,
    Rate,
    guarded_protocol,
    is_loopback,
    loopback_hosts,
    parse_allowed_hosts,
    read_api_keys,
)
from m2m100.translator import Translator

logger = logging.getLogger(__name__)


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
        help="characters of one request's texts (and glossary terms) together; more are answered 413",
    )
    p.add_argument(
        "--max-document-bytes",
        type=positive_int,
        default=defaults.max_document_bytes,
        help="size of a file sent to /translate/document; more are answered 413",
    )
    p.add_argument(
        "--max-document-chars",
        type=positive_int,
        default=defaults.max_document_chars,
        help="characters of text of one document; more are answered 413",
    )
    p.add_argument(
        "--max-glossary-terms",
        type=positive_int,
        default=defaults.max_glossary_terms,
        help="glossary and do_not_translate terms of one request; more are answered 413",
    )
    p.add_argument(
        "--max-term-chars",
        type=positive_int,
        default=defaults.max_term_chars,
        help="characters of one glossary term; longer ones are answered 422",
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
        "--memory-budget",
        type=positive_int,
        metavar="MIB",
        default=defaults.memory_budget_mib,
        help="estimated memory of decoding one batch, beyond the model's weights, in MiB (key/value "
        "caches, logits, activations): requests are not batched beyond it, and a request over it "
        "alone is answered 413",
    )
    p.add_argument(
        "--request-timeout",
        type=positive_seconds,
        default=defaults.request_timeout,
        help="seconds within which a request is answered; later it gets 504 and its work is dropped",
    )
    p.add_argument(
        "--allowed-hosts",
        metavar="HOSTS",
        help="Host headers accepted, separated by commas (name or name:port; '*': any); others get 400. "
        "Default on loopback: localhost, 127.0.0.1 and [::1] with the port; required on other addresses",
    )
    p.add_argument(
        "--api-keys",
        metavar="FILE",
        help="require Authorization: Bearer KEY on /translate, with the keys of FILE (one a line, key or name:key)",
    )
    p.add_argument(
        "--rate-limit",
        metavar="N/s|N/min",
        help="requests to /translate per API key (per client address without keys); more get 429 with Retry-After",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an origin (e.g. https://app.example.com) whose web pages may call the service (repeatable)",
    )
    p.add_argument(
        "--header-timeout",
        type=_seconds,
        default=10.0,
        help="seconds for a request's headers to arrive, from the connection or the last answer; then 408 and closed",
    )
    p.add_argument(
        "--body-timeout",
        type=_seconds,
        default=NetworkSettings().body_timeout,
        help="seconds for a request's body to arrive after its headers; then 408 and closed",
    )
    p.add_argument(
        "--keep-alive-timeout",
        type=_seconds,
        default=5.0,
        help="seconds an idle connection stays open between requests",
    )
    p.add_argument(
        "--max-header-bytes",
        type=positive_int,
        default=16384,
        help="size of a request line and its headers; larger get 400",
    )
    p.add_argument(
        "--max-connections",
        type=positive_int,
        default=1000,
        help="open connections; a request beyond gets 503",
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

    network = network_settings(args)
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
        memory_budget_mib=args.memory_budget,
        request_timeout=args.request_timeout,
        max_document_bytes=args.max_document_bytes,
        max_document_chars=args.max_document_chars,
        max_glossary_terms=args.max_glossary_terms,
        max_term_chars=args.max_term_chars,
    )

    def load() -> Translator:
        return Translator(
            model, device=args.device, dtype=args.dtype, quantize=args.quantize, max_batch_tokens=args.max_batch_tokens
        )

    def stop(err: BaseException) -> None:
        server.should_exit = True

    app = create_app(load, settings, on_load_error=stop, network=network)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        http=guarded_protocol(header_timeout=args.header_timeout),
        timeout_keep_alive=args.keep_alive_timeout,
        h11_max_incomplete_event_size=args.max_header_bytes,
        limit_concurrency=args.max_connections,
    )
    server = uvicorn.Server(config)
    with _signals_recorded(server) as received:
        server.run()  # on SIGTERM/SIGINT: stops accepting, answers what it holds, then returns
    if app.state.service.load_error is not None:
        raise CLIError(f"cannot load the model {model}: {app.state.service.load_error}")
    return 130 if signal.SIGINT in received else 0


def _seconds(text: str) -> float:
    """An argparse ``type`` for a timeout: a finite number of seconds > 0."""
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def network_settings(args: argparse.Namespace) -> NetworkSettings:
    """The flags that say who may connect, checked before the model loads."""
    if args.allowed_hosts is not None:
        try:
            allowed = parse_allowed_hosts(args.allowed_hosts)
        except ValueError as err:
            raise CLIError(str(err), EXIT_USAGE) from err
    elif is_loopback(args.host):
        allowed = loopback_hosts(args.port)
    else:
        raise CLIError(
            f"--host {args.host} is reachable from other machines: give --allowed-hosts with the names "
            "clients use for this server (e.g. --allowed-hosts translate.example.com), or '*' to accept any",
            EXIT_USAGE,
        )
    keys: dict[str, str] = {}
    if args.api_keys is not None:
        try:
            keys = read_api_keys(args.api_keys)
        except FileNotFoundError as err:
            raise CLIError(f"--api-keys: no such file: {args.api_keys}", EXIT_USAGE) from err
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise CLIError(f"--api-keys: {err}", EXIT_USAGE) from err
        logger.info("API keys: %s", ", ".join(sorted(keys.values())))  # their names, never the keys
    try:
        rate = Rate.parse(args.rate_limit) if args.rate_limit is not None else None
    except ValueError as err:
        raise CLIError(f"--rate-limit: {err}", EXIT_USAGE) from err
    for origin in args.cors_origin:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise CLIError(
                f"--cors-origin {origin!r}: give scheme://host[:port], e.g. https://app.example.com", EXIT_USAGE
            )
    return NetworkSettings(
        allowed_hosts=allowed,
        api_keys=keys,
        rate_limit=rate,
        cors_origins=tuple(args.cors_origin),
        body_timeout=args.body_timeout,
    )


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
