"""``POST /translate/document``: a file in the body, the translated file in the answer.

The body is the file itself (``curl --data-binary @page.html``), read up to
``max_document_bytes``; the query names the direction, the format (or a ``filename`` whose
extension names it) and the decoding settings of ``/translate``. The document is read and
written on a thread of its own, and its segments go through the service's batcher, in requests
of at most ``max_texts`` texts that share batches with the text requests and obey the same
limits (work per batch, queue, ``request_timeout``). Errors are the JSON of the other endpoints:
413 ``too_large`` (the body), ``too_many_chars`` (the document's text over
``max_document_chars``); 422 ``invalid_request`` (no format), ``unknown_language``,
``invalid_document`` (the detail says where: "line 12: broken timing ..."); 501
``format_unavailable`` (the server lacks the format's parser: the ``[documents]`` extra).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations, which name
# classes imported inside register.

import asyncio
import concurrent.futures
import re
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any

from m2m100.documents import FORMATS, DocumentError, MissingDependency, format_named, format_of, read_document
from m2m100.documents.blocks import Kind
from m2m100.documents.engine import translate_blocks
from m2m100.serving.batcher import Closed, Job, QueueFull, Settings
from m2m100.serving.limits import TooCostly
from m2m100.serving.security import RejectedRequest, read_body
from m2m100.translator import Segment, Translation

PATH = "/translate/document"


class QueuedSegments:
    """``translate_segments`` for the document engine, called on a thread of its own: the texts
    go to the service's batcher on the event loop, ``max_texts`` per request, all at once."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        submit: Callable[[Job], Coroutine[Any, Any, list[Translation]]],
        chunk: int,
    ) -> None:
        self.loop, self.submit, self.chunk = loop, submit, chunk
        self.pending: list[concurrent.futures.Future[list[Translation]]] = []
        self.lock = threading.Lock()
        self.cancelled = False

    def translate_segments(self, lines: Iterable[str | Segment], **options: Any) -> Iterator[Translation]:
        segments = [s for s in lines if isinstance(s, Segment)]  # the engine sends segments
        if not segments:
            return iter([])
        src, tgt = segments[0].src, segments[0].tgt
        settings = Settings(options.get("beam_size"), options.get("max_new_tokens"))
        with self.lock:
            if self.cancelled:
                raise asyncio.CancelledError()
            futures: list[concurrent.futures.Future[list[Translation]]] = [
                asyncio.run_coroutine_threadsafe(
                    self.submit(Job([s.text for s in segments[i : i + self.chunk]], src, tgt, settings)), self.loop
                )
                for i in range(0, len(segments), self.chunk)
            ]
            self.pending = futures
        try:
            texts = [result.text for future in futures for result in future.result()]
        finally:
            for future in futures:
                future.cancel()
        return iter([Translation(text, src, tgt) for text, segment in zip(texts, segments)])

    def cancel(self) -> None:
        """Drop the requests not answered yet (the deadline passed): their jobs leave the queue."""
        with self.lock:
            self.cancelled = True
            for future in self.pending:
                future.cancel()


def register(
    app: Any,
    *,
    ready: Callable[[], Any],
    state: Any,
    settings: Any,
    body_timeout: float,
    error: Callable[..., Exception],
) -> None:
    """Add ``POST /translate/document`` to ``app``.

    Args:
        ready: the Translator, or raises the service's 503.
        state: the service's state (languages, limits, batcher).
        settings: the service's settings (max_document_bytes, max_document_chars, max_texts,
            max_batch_work, request_timeout).
        body_timeout: seconds within which the body must have come.
        error: the service's error: ``error(status, kind, detail, **extra)``.
    """
    from fastapi import Query, Request
    from fastapi.responses import Response

    async def submit(job: Job) -> list[Translation]:
        assert state.limits is not None  # set with the translator
        try:
            cost = state.limits.check(
                job.texts,
                job.settings.beam_size,
                job.settings.max_new_tokens,
                max_work=settings.max_batch_work,
                max_memory=settings.memory_budget_mib * 2**20,
            )
            job.work, job.memory = cost.work, cost.memory
        except TooCostly as err:
            raise error(err.status, err.kind, str(err)) from err
        return list(await state.batcher.submit(job))

    @app.post(
        PATH,
        response_class=Response,
        responses={
            200: {"description": "the translated file", "content": {f.media_type: {} for f in FORMATS.values()}},
            413: {"description": "the file, or its text, is over this server's limit"},
            422: {"description": "no or unknown format, an unknown language, or a document its format cannot read"},
            501: {"description": "this server lacks the format's parser"},
        },
    )
    async def translate_document(
        request: Request,
        src: str = Query(description="source language code"),
        tgt: str = Query(description="target language code"),
        format: str | None = Query(None, description=f"one of {', '.join(FORMATS)} (default: from filename)"),
        filename: str | None = Query(None, description="the file's name: its extension names the format"),
        retranslate: bool = Query(False, description="PO, XLIFF: translate entries that have a translation too"),
        beam_size: int | None = Query(None, ge=1, le=16, description="default: the model's"),
        max_new_tokens: int | None = Query(None, ge=1, description="longest translation of a segment in tokens"),
    ) -> Response:
        """Translate the file in the body, with its structure kept (HTML, XML, Markdown, SRT,
        WebVTT, DOCX, PPTX, PO, XLIFF); the answer is the translated file."""
        translator = ready()
        used = {}  # the model's codes: a request may spell them the other way (en for eng_Latn)
        for name, code in (("src", src), ("tgt", tgt)):
            try:
                used[name] = translator.resolve_language(code)
            except ValueError as message:
                raise error(422, "unknown_language", f"{name}: {message}", valid=translator.languages) from None
        src, tgt = used["src"], used["tgt"]
        spec = _format(format, filename, error)
        try:
            spec.check_installed()
        except MissingDependency as err:
            raise error(501, "format_unavailable", str(err)) from err
        if max_new_tokens is not None and max_new_tokens > state.limits.max_new_tokens:
            raise error(
                422, "invalid_request", f"max_new_tokens: over this server's limit of {state.limits.max_new_tokens}"
            )
        data = await _body(request, settings.max_document_bytes, body_timeout, error)
        try:
            document = await asyncio.to_thread(read_document, data, spec.name, overwrite=retranslate)
        except DocumentError as err:
            raise error(422, "invalid_document", f"{filename or spec.name}: {err}") from err
        chars = sum(len(p.text) for block in document.blocks for p in block.parts if p.kind is Kind.TEXT)
        if chars > settings.max_document_chars:
            raise error(
                413,
                "too_many_chars",
                f"the document holds {chars} characters of text; at most {settings.max_document_chars}",
            )
        batched = QueuedSegments(asyncio.get_running_loop(), submit, settings.max_texts)

        def run() -> bytes:
            items = translate_blocks(
                batched, document.blocks, src=src, tgt=tgt, beam_size=beam_size, max_new_tokens=max_new_tokens
            )
            return document.write(items)

        try:
            translated = await asyncio.wait_for(asyncio.to_thread(run), settings.request_timeout)
        except asyncio.TimeoutError as err:
            batched.cancel()
            raise error(
                504, "timeout", f"not translated within this server's limit of {settings.request_timeout:g} s"
            ) from err
        except QueueFull as err:
            raise error(503, "queue_full", str(err), retry_after=err.retry_after) from err
        except Closed as err:
            raise error(503, "shutting_down", str(err), retry_after=5) from err
        headers = {
            "Content-Disposition": f'attachment; filename="{_translated_name(filename, spec.extensions[0], tgt)}"'
        }
        return Response(translated, media_type=spec.media_type, headers=headers)


def _format(name: str | None, filename: str | None, error: Callable[..., Exception]) -> Any:
    if name is not None:
        try:
            return format_named(name)
        except ValueError as err:
            raise error(422, "invalid_request", f"format: {err}") from err
    spec = format_of(filename) if filename else None
    if spec is None:
        raise error(
            422,
            "invalid_request",
            f"give format= ({', '.join(FORMATS)}) or a filename= whose extension names one",
        )
    return spec


async def _body(request: Any, limit: int, timeout: float, error: Callable[..., Exception]) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise error(413, "too_large", f"the body is {int(length)} bytes; at most {limit}")
    try:
        return await read_body(request.receive, limit=limit, timeout=timeout)
    except RejectedRequest as err:
        raise error(err.status, err.kind, err.detail) from err


def _translated_name(filename: str | None, extension: str, tgt: str) -> str:
    """``page.html`` -> ``page.fr.html``: the name of the file the answer holds (ASCII)."""
    path = PurePosixPath((filename or f"document{extension}").replace("\\", "/")).name
    stem, suffix = (
        (path[: -len(PurePosixPath(path).suffix)], PurePosixPath(path).suffix) if "." in path else (path, extension)
    )
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{stem or 'document'}.{tgt}{suffix}")
