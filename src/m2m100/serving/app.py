"""The HTTP service of ``m2m100 serve``: a FastAPI app over :class:`m2m100.translator.Translator`.

Endpoints:
    ``POST /translate``: ``{"text": "..."}`` or ``{"texts": [...]}`` with ``src``, ``tgt`` and
        optional ``beam_size``, ``max_new_tokens`` (at most ``max_new_tokens_limit``). Answers ``{"translations": [...], "model",
        "src", "tgt"}``, always a list in the order of the input; a ``"text"`` request also gets
        ``"translation"``, the one string. ``src``/``tgt`` may be ISO or NLLB codes (``en``,
        ``eng_Latn``); the answer's are the model's codes used, and ``requested_src``/``requested_tgt``
        say what was asked when it differs. ``"src": "auto"`` detects each text's language
        (with ``min_confidence``, ``fallback_src``, ``translate_same_language``) and adds
        ``detections``, per text ``{"language", "confidence", "src"}`` (see :mod:`m2m100.serving.detect`).
    ``POST /detect``: ``{"texts": [...]}`` -> ``[{"language", "confidence"}]``.
    ``GET /languages``: the codes the model translates, with their English names; which model
        it is, whether it is the bundled demo model and what it knows (``demo``, ``description``).
    ``POST /translate/document``: a file in the body, the translated file in the answer (see
        :mod:`m2m100.serving.documents`).
    ``POST /translate/stream``: one text, translated as server-sent events (tokens, or sentences
        with beam search; see :mod:`m2m100.serving.streaming`).
    ``/libretranslate/...``, ``/v2/...`` (and ``/deepl/v2/...``): the LibreTranslate and DeepL v2
        APIs over the same queue and limits (see :mod:`m2m100.serving.compat`).
    ``GET /health``: 503 ``{"status": "loading"}`` while the model loads (in the background, so
        that the port opens at once), 200 ``{"status": "ok"}`` once it can translate.
    ``GET /metrics``: Prometheus text, from a registry of the app's own.
    ``GET /``: a page to try translations; ``GET /docs``: the OpenAPI documentation (Swagger UI,
        served by the app from the fastapi-offline package, so that it works without a network).

Errors are JSON, ``{"error": kind, "detail": message}``; the kind is also the label of
``m2m100_request_errors_total``: 413 ``too_many_texts``, ``too_many_chars``, ``too_large`` (the
body), ``too_much_work`` (texts x beams x new tokens over ``max_batch_work``), ``too_much_memory``
(estimated decoding memory over ``memory_budget_mib``); 422
``invalid_json``, ``invalid_request``, ``unknown_language`` (the detail names the closest and the
valid codes, ``valid`` lists them); 503 ``loading``, ``queue_full``, ``shutting_down`` (with
Retry-After), ``model_failed``; 504 ``timeout`` (not answered within ``request_timeout``; its work
is dropped, or stopped); 500 ``internal`` (the cause is in the log, never in the answer);
``disconnected`` is counted for a client that left before its answer.
:mod:`m2m100.serving.security` adds 400 ``bad_host``, 401 ``unauthorized``, 408 ``timeout`` (headers
or body too slow) and 429 ``rate_limited``.

Requests are batched by :mod:`m2m100.serving.batcher`; all model work runs on one worker thread. On
SIGTERM the server stops accepting connections, answers the requests it holds, and exits 0.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which name
# classes local to create_app.
import asyncio
import collections
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from importlib.resources import files
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

from m2m100 import __version__
from m2m100.languages.detection import AUTO
from m2m100.serving import control as scoring
from m2m100.serving import detect, documents, streaming
from m2m100.serving.batcher import Batcher, BatchObserver, Closed, Job, QueueFull, Settings, Stopped
from m2m100.serving.compat import deepl, libretranslate
from m2m100.serving.compat.files import FileStore
from m2m100.serving.control import control_fields, controlled_beams
from m2m100.serving.glossary import GlossaryError, glossary_chars, request_glossary
from m2m100.serving.info import ModelInfo, model_info
from m2m100.serving.limits import RequestLimits, TooCostly
from m2m100.serving.security import Guard, NetworkSettings, RateLimiter, RejectedRequest, read_body, replay
from m2m100.serving.service import Service
from m2m100.translator import DEFAULT_MAX_BATCH_TOKENS, Segment, Translation, Translator, text_problem

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_BEAM_SIZE = 16  # memory and time grow with the beam; wider searches rarely translate better
INTERNAL_DETAIL = "internal error; see the server log"
SERVE_MODULES = ("fastapi", "fastapi_offline", "prometheus_client", "uvicorn")  # those of the [serve] extra


@dataclass(frozen=True)
class ServerSettings:
    """Batching and request limits of the service (the ``serve`` flags of the same names)."""

    max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS  # estimated source tokens of one batch of requests
    max_batch_requests: int = 64  # requests in one batch; 1 turns batching off
    max_wait_ms: float = 10.0  # how long a request waits for others to share its batch
    max_queue: int = 256  # requests waiting for the model; more get 503
    max_texts: int = 64  # texts in one request; more get 413
    max_chars: int = 20_000  # characters of all texts (and glossary terms) of one request together; more get 413
    max_new_tokens_limit: int | None = None  # longest translation a request may ask (None: the model's positions - 2)
    max_batch_work: int = 150_000  # estimated texts x beams x new tokens of one batch; a request over it gets 413
    memory_budget_mib: int = (
        4096  # estimated decoding memory of one batch (beyond the weights); a request over it gets 413
    )
    request_timeout: float = 60.0  # seconds until a request is answered 504 and its work dropped
    max_document_bytes: int = 4 * 1024 * 1024  # body of POST /translate/document; more get 413
    max_document_chars: int = 200_000  # characters of text of one document; more get 413
    max_glossary_terms: int = 128  # glossary and do_not_translate terms of one request; more get 413
    max_term_chars: int = 100  # characters of one glossary term; more get 422

    @property
    def max_body_bytes(self) -> int:
        """Body size refused before it is read: any JSON of ``max_chars`` characters is smaller
        (12 bytes encode one character as a surrogate-pair escape)."""
        return 12 * self.max_chars + 256 * self.max_texts + 65536  # glossary terms count in max_chars


@dataclass
class ServiceState:
    """What the app knows at run time (``app.state.service``)."""

    translator: Translator | None = None  # set once loaded
    info: ModelInfo | None = None  # what GET /languages answers, set with translator
    limits: RequestLimits | None = None  # set with translator
    load_error: BaseException | None = None
    batcher: Any = None  # the Batcher, made at startup (it needs the running event loop)


class ServiceError(Exception):
    """An answer other than 200: HTTP status, error kind (the metrics label) and message."""

    def __init__(self, status: int, kind: str, detail: str, *, retry_after: int | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail, self.retry_after, self.extra = status, kind, detail, retry_after, extra


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (so that two apps in one
    process, as in tests, do not collide)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        self.requests = Counter("m2m100_requests", "Requests to /translate, malformed ones included", registry=r)
        self.errors = Counter("m2m100_request_errors", "Requests answered with an error, by kind", ["kind"], registry=r)
        self.queue_depth = Gauge("m2m100_queue_depth", "Requests waiting for the model", registry=r)
        self.running = Gauge("m2m100_requests_running", "Requests in the batch the model is running", registry=r)
        self.loaded = Gauge("m2m100_model_loaded", "1 once the model can translate", registry=r)
        sizes = (1, 2, 4, 8, 16, 32, 64, 128, 256)
        self.batch_requests = Histogram("m2m100_batch_requests", "Requests per model batch", buckets=sizes, registry=r)
        self.batch_texts = Histogram(
            "m2m100_batch_texts", "Texts per model batch", buckets=(*sizes, 512, 1024), registry=r
        )
        self.batch_seconds = Histogram("m2m100_batch_seconds", "Time the model spent on one batch", registry=r)
        self.latency = Histogram(
            "m2m100_request_seconds",
            "Time from arrival to answer of a translated request",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.source_tokens = Counter("m2m100_source_tokens", "Source tokens translated", registry=r)
        self.generated_tokens = Counter("m2m100_generated_tokens", "Tokens generated (rate: tokens/s)", registry=r)


@functools.cache
def _schemas() -> Any:
    """The request and answer models (built on first use: pydantic is not imported for ``--help``)."""
    from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

    class TranslateRequest(BaseModel):
        """Either ``text`` or ``texts``, a direction and optional decoding settings."""

        model_config = ConfigDict(
            extra="forbid",
            json_schema_extra={
                "examples": [
                    {"text": "Hello, world!", "src": "en", "tgt": "fr"},
                    {"texts": ["Good morning.", "Thank you."], "src": "en", "tgt": "de", "beam_size": 4},
                ]
            },
        )
        text: StrictStr | None = Field(None, description="one text (the answer also has `translation`)")
        texts: list[StrictStr] | None = Field(None, description="several texts, translated independently")
        src: StrictStr = Field(
            description="source language code, e.g. en or eng_Latn (GET /languages lists the model's codes), "
            "or auto: each text's detected"
        )
        tgt: StrictStr = Field(description="target language code, e.g. fr or fra_Latn")
        beam_size: StrictInt | None = Field(None, ge=1, le=MAX_BEAM_SIZE, description="default: the model's")
        prefix: StrictStr | None = Field(None, description="every translation starts with this text")
        alternatives: StrictInt = Field(
            0, ge=0, le=MAX_BEAM_SIZE, description="hypotheses per text: the n-best, or with a prefix its continuations"
        )
        return_scores: bool = Field(False, description="add each translation's score")
        replace_unknowns: bool = Field(False, description="put the most attended source piece in place of <unk>")
        max_new_tokens: StrictInt | None = Field(
            None, ge=1, description="longest translation in tokens (default: about twice the input)"
        )
        min_confidence: float | None = Field(
            None, ge=0, le=1, description="src auto: trust detections of at least this probability (default 0.5)"
        )
        fallback_src: StrictStr | None = Field(
            None, description="src auto: the source of an untrusted detection (default: return the text unchanged)"
        )
        translate_same_language: StrictBool = Field(
            False, description="src auto: translate texts detected in the target language too"
        )
        glossary: dict[StrictStr, StrictStr] | None = Field(
            None,
            description="source term: target term; where a source term is in a text, its translation "
            "contains the target term (the answer's glossary_missed lists those the length limit left out)",
        )
        do_not_translate: list[StrictStr] | None = Field(
            None, description="terms kept unchanged in the translations (names, product codes, placeholders)"
        )

        @model_validator(mode="after")
        def _one_of_text_and_texts(self) -> "TranslateRequest":
            if (self.text is None) == (self.texts is None):
                raise ValueError('give either "text" (a string) or "texts" (a list of strings), not both')
            return self

        @model_validator(mode="after")
        def _valid_unicode(self) -> "TranslateRequest":
            # A JSON "\ud800" escape gives a lone surrogate, which the tokenizer cannot encode.
            for where, text in [("text", self.text)] if self.text is not None else enumerate(self.texts or []):
                problem = text_problem(text)
                if problem is not None:
                    raise ValueError(f"texts[{where}]: {problem}" if where != "text" else f"text: {problem}")
            return self

    SourceDetection = detect.schemas().SourceDetection

    class TranslateResponse(BaseModel):
        translations: list[str] = Field(description="one translation per input text, in order")
        translation: str | None = Field(None, description='the translation, for a "text" request')
        model: str
        src: str = Field(description="the model's source code used, e.g. eng_Latn for a request's en (NLLB)")
        tgt: str = Field(description="the model's target code used")
        requested_src: str | None = Field(None, description="the request's src, when the model spells it otherwise")
        requested_tgt: str | None = Field(None, description="the request's tgt, when the model spells it otherwise")
        detections: list[SourceDetection] | None = Field(  # type: ignore[valid-type]  # a class made at run time
            None, description='src auto: per text, its language (the model\'s code), confidence and the "src" used'
        )
        glossary_missed: list[list[str]] | None = Field(
            None, description="with a glossary: per text, the target terms its translation lacks (length limit)"
        )
        scores: list[float] | None = Field(None, description="with return_scores or alternatives: one per text")
        alternatives: list[list[dict[str, Any]]] | None = Field(
            None, description='per text, [{"text", "score"}] best first'
        )
        unknowns: list[int] = Field(
            default_factory=list, description="per text, characters the vocabulary lacks (<unk> or spelled in bytes)"
        )

    class Language(BaseModel):
        code: str
        name: str = Field(description="English name")
        iso: str | None = Field(
            None, description="the ISO 639 code that means it for src and tgt (en for eng_Latn), if the code is not one"
        )

    class LanguagesResponse(BaseModel):
        model: str = Field(description="the checkpoint being served")
        demo: bool = Field(description="whether it is the bundled demo model, which is not for real text")
        description: str = Field(description="what the model translates")
        languages: list[Language] = Field(description="the codes the model was trained on, for src and tgt")

    return SimpleNamespace(
        TranslateRequest=TranslateRequest, TranslateResponse=TranslateResponse, LanguagesResponse=LanguagesResponse
    )


def create_app(
    load: Callable[[], Translator],
    settings: ServerSettings = ServerSettings(),
    *,
    on_load_error: Callable[[BaseException], None] | None = None,
    network: NetworkSettings = NetworkSettings(),
) -> "FastAPI":
    """Build the service.

    Args:
        load: makes the Translator; called once at startup on the model's worker thread, while
            the app already answers (``/health`` says "loading").
        settings: batching and limits.
        on_load_error: called on the event loop when ``load`` fails (``serve`` stops the server).
        network: Host allowlist, API keys, rate limit, CORS origins and body timeout.
    """
    from fastapi import FastAPI, Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from fastapi_offline import FastAPIOffline
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from starlette.exceptions import HTTPException  # what FastAPI raises for a body it cannot parse

    schemas = _schemas()
    metrics = Metrics()
    state = ServiceState()

    def run_batch(
        segments: list[tuple[str, str, str]], options: Settings, stopped: Callable[[], bool]
    ) -> list[Translation]:
        translator, limits = state.translator, state.limits
        assert translator is not None and limits is not None  # requests reach the batcher once the model is loaded
        before = (translator.stats.source_tokens, translator.stats.generated_tokens)

        def stop(input_ids: Any, scores: Any) -> bool:
            # Checked after every decoding step. The length cap also bounds the Translator's
            # default limit (about twice the source); input_ids holds the decoder start too.
            return stopped() or input_ids.shape[-1] > limits.max_new_tokens

        out = list(
            translator.translate_segments(
                [
                    Segment(
                        *s,
                        prefix=options.prefix,
                        alternatives=options.alternatives,
                        return_scores=options.return_scores,
                        replace_unknowns=options.replace_unknowns,
                    )
                    for s in segments
                ],
                beam_size=options.beam_size,
                max_new_tokens=options.max_new_tokens,
                stopping_criteria=[stop],
                glossary=options.glossary,
            )
        )
        if stopped():
            raise Stopped()
        metrics.source_tokens.inc(translator.stats.source_tokens - before[0])
        metrics.generated_tokens.inc(translator.stats.generated_tokens - before[1])
        return out

    def batch_done(jobs: list[Job], seconds: float) -> None:
        metrics.batch_requests.observe(len(jobs))
        metrics.batch_texts.observe(sum(len(job.texts) for job in jobs))
        metrics.batch_seconds.observe(seconds)

    async def load_model(batcher: Batcher) -> None:
        start = time.perf_counter()
        try:
            translator = await batcher.on_worker(load)
            info = await batcher.on_worker(model_info, translator)
            limits = RequestLimits.of(translator, settings.max_new_tokens_limit)
        except Exception as err:  # noqa: BLE001 - reported by /health and on_load_error
            logger.error("cannot load the model: %s", err)
            state.load_error = err
            if on_load_error is not None:
                on_load_error(err)
            return
        state.translator, state.info = translator, info
        state.limits = limits
        metrics.loaded.set(1)
        logger.info("model %s loaded in %.1f s", translator.name, time.perf_counter() - start)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        observer = BatchObserver(
            queue_depth=metrics.queue_depth.set, running=metrics.running.set, batch_done=batch_done
        )
        state.batcher = Batcher(
            run_batch,
            max_batch_tokens=settings.max_batch_tokens,
            max_batch_requests=settings.max_batch_requests,
            max_wait=settings.max_wait_ms / 1000,
            max_queue=settings.max_queue,
            max_batch_work=settings.max_batch_work,
            max_batch_memory=settings.memory_budget_mib * 2**20,
            observer=observer,
        )
        loading = asyncio.create_task(load_model(state.batcher))
        try:
            yield
        finally:
            # uvicorn gets here after its connections have been answered: the queue is empty,
            # or holds requests whose clients left; close() finishes them and stops the thread.
            await state.batcher.close()
            await loading
            files.close()

    # /docs as FastAPI makes it, but with Swagger UI served by the app (from /static-offline-docs),
    # not from a CDN. No /redoc: ReDoc fetches its logo from its CDN all the same.
    app = FastAPIOffline(
        title="m2m100",
        summary="Translate between any two of 100 languages with M2M100.",
        version=__version__,
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.service = state
    # The last added runs first: hosts, HEAD, keys and rate, then CORS, then the body.
    app.add_middleware(_Intake, limit=settings.max_body_bytes, timeout=network.body_timeout, metrics=metrics)
    if network.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(network.cors_origins),
            allow_methods=["GET", "HEAD", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    limiter = RateLimiter(network.rate_limit)  # one budget per client, whichever API it speaks
    app.add_middleware(
        Guard,
        settings=network,
        protected=frozenset({"/translate", documents.PATH, detect.PATH, streaming.PATH, scoring.PATH}),
        rejected=lambda kind: metrics.errors.labels(kind).inc(),
        limiter=limiter,
    )
    page = _static("index.html")

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, err: ServiceError) -> JSONResponse:
        metrics.errors.labels(err.kind).inc()
        headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
        return JSONResponse({"error": err.kind, "detail": err.detail, **err.extra}, err.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = err.errors()
        if any(p["type"] == "json_invalid" for p in problems):
            error = ServiceError(
                422,
                "invalid_json",
                "the body is not valid JSON: "
                + "; ".join(f"{p.get('ctx', {}).get('error', p['msg'])} at character {p['loc'][-1]}" for p in problems),
            )
        else:
            detail = "; ".join(f"{'.'.join(map(str, p['loc'][1:])) or 'body'}: {p['msg']}" for p in problems)
            if "json" not in request.headers.get("content-type", ""):
                detail += " (send a JSON object with Content-Type: application/json)"
            error = ServiceError(422, "invalid_request", detail)
        return await service_error(request, error)

    @app.exception_handler(HTTPException)
    async def framework_error(request: Request, err: HTTPException) -> Response:
        if err.status_code == 400:  # a body FastAPI could not parse, e.g. JSON nested deeper than the parser goes
            error = ServiceError(422, "invalid_json", f"the body could not be parsed as JSON ({err.detail})")
            return await service_error(request, error)
        return await http_exception_handler(request, err)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, err: Exception) -> JSONResponse:
        # The cause (and torch's C++ stack, if any) goes to the log, where uvicorn writes it.
        return await service_error(request, ServiceError(500, "internal", INTERNAL_DETAIL))

    def ready() -> Translator:
        if state.translator is None:
            if state.load_error is not None:
                raise ServiceError(503, "model_failed", f"the model could not be loaded: {state.load_error}")
            raise ServiceError(503, "loading", "the model is loading; retry in a moment", retry_after=1)
        return state.translator

    @app.post(
        "/translate",
        response_model=schemas.TranslateResponse,
        response_model_exclude_unset=True,  # the answer holds only its fields; a detection's nulls stay
        responses={
            413: {"description": "too many texts or characters, too much work (texts x beams x tokens) or memory"},
            422: {"description": "malformed JSON, a bad field, max_new_tokens over the limit or an unknown language"},
            503: {"description": "loading, queue full or shutting down (see Retry-After)"},
            504: {"description": "not answered within the server's request timeout"},
        },
    )
    async def translate(
        body: schemas.TranslateRequest,  # type: ignore[name-defined]  # a class made at run time
        request: Request,
    ) -> dict[str, Any]:
        """Translate ``text`` or each of ``texts`` from ``src`` to ``tgt``."""
        arrived = time.perf_counter()
        translator = ready()
        texts = [body.text] if body.text is not None else body.texts
        if len(texts) > settings.max_texts:
            raise ServiceError(413, "too_many_texts", f"{len(texts)} texts; at most {settings.max_texts} a request")
        chars = sum(len(t) for t in texts) + glossary_chars(body.glossary, body.do_not_translate)
        if chars > settings.max_chars:
            raise ServiceError(413, "too_many_chars", f"{chars} characters; at most {settings.max_chars} a request")
        used: dict[str, str] = {}  # the model's codes: a request may spell them the other way (en for eng_Latn)
        for name in ("src", "tgt"):
            if name == "src" and body.src == AUTO:
                used[name] = AUTO
                continue
            try:
                used[name] = translator.resolve_language(getattr(body, name))
            except ValueError as message:
                raise ServiceError(422, "unknown_language", f"{name}: {message}", valid=translator.languages) from None
        try:
            glossary = request_glossary(
                body.glossary,
                body.do_not_translate,
                max_terms=settings.max_glossary_terms,
                max_term_chars=settings.max_term_chars,
            )
        except GlossaryError as err:
            raise ServiceError(err.status, err.kind, str(err)) from None
        assert state.limits is not None  # set with the translator
        try:
            cost = state.limits.check(
                texts,
                controlled_beams(body.beam_size, body.alternatives, state.limits.beams),
                body.max_new_tokens,
                max_work=settings.max_batch_work,
                max_memory=settings.memory_budget_mib * 2**20,
                constrained=glossary is not None,
            )
        except TooCostly as err:
            raise ServiceError(err.status, err.kind, str(err)) from err
        settings_ = Settings(
            beam_size=body.beam_size,
            max_new_tokens=body.max_new_tokens,
            glossary=glossary,
            prefix=body.prefix,
            alternatives=body.alternatives,
            return_scores=body.return_scores,
            replace_unknowns=body.replace_unknowns,
        )

        def submit(texts: list[str], src: str) -> Awaitable[list[Translation]]:
            return state.batcher.submit(Job(texts, src, used["tgt"], settings_, work=cost.work, memory=cost.memory))

        detections = None
        try:
            if used["src"] == AUTO:
                options = detect.auto_options(body, translator, ServiceError)
                work = detect.translate_auto(translator, texts, used["tgt"], options, submit, ServiceError)
                translations, detections = await _unless_disconnected(
                    asyncio.wait_for(work, settings.request_timeout), request.receive
                )
            else:
                translations = (
                    await _unless_disconnected(
                        asyncio.wait_for(submit(texts, used["src"]), settings.request_timeout), request.receive
                    )
                    if texts
                    else []
                )
        except asyncio.TimeoutError as err:
            raise ServiceError(
                504, "timeout", f"not translated within this server's limit of {settings.request_timeout:g} s"
            ) from err
        except QueueFull as err:
            raise ServiceError(503, "queue_full", str(err), retry_after=err.retry_after) from err
        except Closed as err:
            raise ServiceError(503, "shutting_down", str(err), retry_after=5) from err
        except _ClientGone as err:
            raise ServiceError(499, "disconnected", "the client closed the connection") from err
        except ServiceError:
            raise
        except Exception as err:  # logged by the batcher, with its traceback
            raise ServiceError(500, "internal", INTERNAL_DETAIL) from err
        metrics.latency.observe(time.perf_counter() - arrived)
        answer: dict[str, Any] = {"translations": [t.text for t in translations], "model": translator.name, **used}
        answer.update(control_fields(translations, scores=body.return_scores or body.alternatives > 0))
        answer.update({f"requested_{k}": getattr(body, k) for k, code in used.items() if code != getattr(body, k)})
        if body.text is not None:
            answer["translation"] = translations[0].text
        if detections is not None:
            answer["detections"] = detections
        if glossary is not None:
            answer["glossary_missed"] = [t.glossary_missed for t in translations]
        return answer

    documents.register(
        app, ready=ready, state=state, settings=settings, body_timeout=network.body_timeout, error=ServiceError
    )
    detect.register(app, ready=ready, settings=settings, error=ServiceError)
    scoring.register(app, ready=ready, state=state, settings=settings, error=ServiceError)
    # The streaming endpoint and the LibreTranslate and DeepL APIs, over the same queue and limits.
    service = Service(state, settings, network, limiter, count_error=lambda kind: metrics.errors.labels(kind).inc())
    files = FileStore()  # LibreTranslate's translated files, until downloaded
    streaming.register(app, service, ServiceError)
    app.include_router(libretranslate.router(service, files))
    usage: collections.Counter[str] = collections.Counter()  # DeepL's billed characters, by key
    for prefix in deepl.PREFIXES:
        app.include_router(deepl.router(service, usage, prefix))

    @app.get(
        "/languages",
        response_model=schemas.LanguagesResponse,
        response_model_exclude_none=True,  # "iso" only where the code is not an ISO one
        responses={503: {"description": "the model is loading, or could not be loaded"}},
    )
    async def languages() -> ModelInfo:
        """The language codes the loaded model translates, with their English names, and what the model is."""
        ready()
        assert state.info is not None  # set with the translator
        return state.info

    @app.get("/health")
    async def health() -> JSONResponse:
        """200 once the model is loaded; 503 while it loads or when loading failed."""
        if state.translator is not None:
            return JSONResponse({"status": "ok", "model": state.translator.name})
        if state.load_error is not None:
            return JSONResponse({"status": "failed", "detail": str(state.load_error)}, 503)
        return JSONResponse({"status": "loading"}, 503, headers={"Retry-After": "1"})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    return app


class _ClientGone(Exception):
    pass


async def _unless_disconnected(work: Awaitable[T], receive: Callable[[], Awaitable[MutableMapping[str, Any]]]) -> T:
    """``await work``, unless the client disconnects first: then ``work`` is cancelled (which
    takes a request that has not started out of the queue) and _ClientGone is raised."""

    async def disconnected() -> None:
        # The body has been read, so the server's next message is the disconnect.
        while (await receive())["type"] != "http.disconnect":
            pass

    task, watch = asyncio.ensure_future(work), asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled():
        raise _ClientGone()
    return task.result()


class _Intake:
    """Count every request to /translate (malformed ones too, which never reach the endpoint),
    and read its body before the app does: 413 as soon as more than ``limit`` bytes have come
    (chunked or not; the rest is not read), 408 when it is not complete within ``timeout``
    seconds (a client that trickles it)."""

    def __init__(self, app: Any, limit: int, timeout: float, metrics: Metrics) -> None:
        self.app, self.limit, self.timeout, self.metrics = app, limit, timeout, metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in ("/translate", detect.PATH, streaming.PATH, scoring.PATH):
            if scope["path"] == "/translate":
                self.metrics.requests.inc()
            length = dict(scope["headers"]).get(b"content-length", b"")
            try:
                if length.isdigit() and int(length) > self.limit:
                    raise RejectedRequest(413, "too_large", f"the body is {int(length)} bytes; at most {self.limit}")
                if scope["method"] == "POST":
                    receive = replay(await read_body(receive, limit=self.limit, timeout=self.timeout), receive)
            except RejectedRequest as err:
                self.metrics.errors.labels(err.kind).inc()
                if err.status != 499:  # nobody to answer
                    await err.send(send)
                return
        await self.app(scope, receive, send)


def _static(name: str) -> str:
    return files(__package__).joinpath("static").joinpath(name).read_text(encoding="utf-8")
