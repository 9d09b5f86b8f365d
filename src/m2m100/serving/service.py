"""What the service's other APIs share with ``POST /translate``: the loaded model, texts translated
through the batching queue under the same limits, documents through the document layer, API keys
and the rate limit. The LibreTranslate and DeepL routers (:mod:`m2m100.serving.compat`) and the
streaming endpoint (:mod:`m2m100.serving.streaming`) are built on one :class:`Service`; each turns
the :class:`ServiceFailure` it raises into its own API's error shape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from m2m100.documents import DocumentError, MissingDependency, format_named, read_document
from m2m100.documents.blocks import Kind
from m2m100.documents.engine import translate_blocks
from m2m100.serving.batcher import Closed, Job, QueueFull, Settings
from m2m100.serving.control import controlled_beams
from m2m100.serving.documents import QueuedSegments
from m2m100.serving.limits import TooCostly
from m2m100.serving.security import NetworkSettings, RateLimiter, RejectedRequest, client_identity, key_name
from m2m100.translator import Translation, Translator, text_problem

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class ServiceFailure(Exception):
    """A request the service cannot answer with a translation: the native API's HTTP status and
    error kind (``unknown_language``, ``too_many_chars``, ``queue_full``...), and a message for
    the client. ``retry_after`` is set for 503 and 429."""

    def __init__(self, status: int, kind: str, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail, self.retry_after = status, kind, detail, retry_after


class ClientGone(Exception):
    """The client closed the connection before its answer."""


@dataclass
class Service:
    """The service as the other APIs see it.

    Args:
        state: the app's :class:`~m2m100.serving.app.ServiceState` (translator, limits, batcher).
        settings: the app's :class:`~m2m100.serving.app.ServerSettings`.
        network: API keys and rate limit.
        limiter: the rate limit's buckets, shared with the native API.
        count_error: called with the kind of every error answered (the error metric).
    """

    state: Any
    settings: Any
    network: NetworkSettings
    limiter: RateLimiter
    count_error: Callable[[str], None] = lambda kind: None

    def translator(self) -> Translator:
        """The loaded Translator.

        Raises:
            ServiceFailure: 503 ``loading`` or ``model_failed``.
        """
        if self.state.translator is None:
            if self.state.load_error is not None:
                raise ServiceFailure(503, "model_failed", f"the model could not be loaded: {self.state.load_error}")
            raise ServiceFailure(503, "loading", "the model is loading; retry in a moment", retry_after=1)
        translator: Translator = self.state.translator
        return translator

    def admit(self, scope: MutableMapping[str, Any], key: str | None) -> str | None:
        """Check an API key given by an API of its own (``api_key``, ``DeepL-Auth-Key``) and
        count the request against the rate limit; the key's name (None without keys).

        Raises:
            RejectedRequest: 401 ``unauthorized`` (a key is needed, or it is not valid; the
                caller answers in its own API's shape), 429 ``rate_limited``.
        """
        name = None
        if self.network.api_keys:
            if not key:
                raise RejectedRequest(401, "unauthorized", "this server needs an API key")
            name = key_name(self.network.api_keys, key)
            if name is None:
                raise RejectedRequest(401, "unauthorized", "the API key is not valid")
        self.limiter.check(client_identity(scope, name))
        return name

    def resolve(self, code: str, what: str, given: str | None = None) -> str:
        """The model's code for ``code`` (``what`` names the field in the message, ``given`` the
        API's own spelling of ``code``, where it differs).

        Raises:
            ServiceFailure: 422 ``unknown_language``, naming the closest and the valid codes.
        """
        try:
            return self.translator().resolve_language(code)
        except ValueError as err:
            said = f"{given!r} (that is {code!r}): " if given is not None and given != code else ""
            raise ServiceFailure(422, "unknown_language", f"{what}: {said}{err}") from None

    def check_texts(self, texts: Sequence[str]) -> None:
        """The request limits on texts and characters, and valid Unicode.

        Raises:
            ServiceFailure: 413 ``too_many_texts``, ``too_many_chars``; 422 ``invalid_request``.
        """
        if len(texts) > self.settings.max_texts:
            raise ServiceFailure(
                413, "too_many_texts", f"{len(texts)} texts; at most {self.settings.max_texts} a request"
            )
        chars = sum(len(t) for t in texts)
        if chars > self.settings.max_chars:
            raise ServiceFailure(
                413, "too_many_chars", f"{chars} characters; at most {self.settings.max_chars} a request"
            )
        for index, text in enumerate(texts):
            problem = text_problem(text)
            if problem is not None:
                raise ServiceFailure(422, "invalid_request", f"text {index}: {problem}")

    def job(
        self,
        texts: Sequence[str],
        src: str,
        tgt: str,
        *,
        beam_size: int | None = None,
        max_new_tokens: int | None = None,
        alternatives: int = 0,
    ) -> Job:
        """A queue job for ``texts``, with the cost the batcher caps per batch (``alternatives``:
        hypotheses per text, best first, as ``Segment.alternatives``).

        Raises:
            ServiceFailure: 413 ``too_much_work`` / ``too_much_memory``, 422 ``invalid_request``.
        """
        limits = self.state.limits
        assert limits is not None  # set with the translator
        try:
            cost = limits.check(
                texts,
                controlled_beams(beam_size, alternatives, limits.beams),
                max_new_tokens,
                max_work=self.settings.max_batch_work,
                max_memory=self.settings.memory_budget_mib * 2**20,
            )
        except TooCostly as err:
            raise ServiceFailure(err.status, err.kind, str(err)) from err
        settings = Settings(beam_size, max_new_tokens, alternatives=alternatives)
        return Job(list(texts), src, tgt, settings, work=cost.work, memory=cost.memory)

    async def run(self, job: Job, receive: Receive | None = None) -> list[Translation]:
        """``job``'s translations, through the batching queue, within the request timeout; the
        job is dropped (or its batch stopped) when the client leaves first.

        Raises:
            ServiceFailure: 503 ``queue_full`` / ``shutting_down``, 504 ``timeout``, 500 ``internal``.
            ClientGone: the client left.
        """
        if not job.texts:
            return []
        work = asyncio.wait_for(self.state.batcher.submit(job), self.settings.request_timeout)
        try:
            return await (work if receive is None else unless_disconnected(work, receive))
        except asyncio.TimeoutError as err:
            raise ServiceFailure(
                504, "timeout", f"not translated within this server's limit of {self.settings.request_timeout:g} s"
            ) from err
        except QueueFull as err:
            raise ServiceFailure(503, "queue_full", str(err), retry_after=err.retry_after) from err
        except Closed as err:
            raise ServiceFailure(503, "shutting_down", str(err), retry_after=5) from err
        except (ClientGone, asyncio.CancelledError):
            raise
        except Exception as err:  # logged by the batcher, with its traceback
            raise ServiceFailure(500, "internal", "internal error; see the server log") from err

    async def translate(
        self,
        texts: Sequence[str],
        src: str,
        tgt: str,
        *,
        beam_size: int | None = None,
        max_new_tokens: int | None = None,
        alternatives: int = 0,
        receive: Receive | None = None,
    ) -> list[Translation]:
        """Translate ``texts`` (codes already resolved) as ``POST /translate`` does: limits
        checked, then the batching queue."""
        self.check_texts(texts)
        job = self.job(texts, src, tgt, beam_size=beam_size, max_new_tokens=max_new_tokens, alternatives=alternatives)
        return await self.run(job, receive)

    async def translate_markup(self, texts: Sequence[str], format: str, src: str, tgt: str) -> list[str]:
        """Translate HTML or XML fragments with their tags kept (the document layer's format
        ``format``), each fragment's segments through the batching queue.

        Raises:
            ServiceFailure: as :meth:`translate`; 422 ``invalid_document`` for markup the
                format cannot read.
        """
        self.check_texts(texts)
        loop = asyncio.get_running_loop()
        spec = format_named(format)
        try:
            spec.check_installed()
        except MissingDependency as err:
            raise ServiceFailure(501, "format_unavailable", str(err)) from err
        out = []
        for index, text in enumerate(texts):
            try:
                document = await asyncio.to_thread(read_document, text.encode("utf-8"), spec.name)
            except DocumentError as err:
                raise ServiceFailure(422, "invalid_document", f"text {index}: {err}") from err
            out.append((await self._translate_document(loop, document, src, tgt)).decode("utf-8"))
        return out

    async def translate_file(self, data: bytes, format: str, src: str, tgt: str) -> bytes:
        """Translate a whole document (a format of :mod:`m2m100.documents`), its segments
        through the batching queue, within the document limits.

        Raises:
            ServiceFailure: 413 ``too_many_chars``, 422 ``invalid_document``, 501
                ``format_unavailable``, and those of :meth:`run`.
        """
        spec = format_named(format)
        try:
            spec.check_installed()
        except MissingDependency as err:
            raise ServiceFailure(501, "format_unavailable", str(err)) from err
        try:
            document = await asyncio.to_thread(read_document, data, spec.name)
        except DocumentError as err:
            raise ServiceFailure(422, "invalid_document", str(err)) from err
        chars = sum(len(p.text) for block in document.blocks for p in block.parts if p.kind is Kind.TEXT)
        if chars > self.settings.max_document_chars:
            raise ServiceFailure(
                413,
                "too_many_chars",
                f"the document holds {chars} characters of text; at most {self.settings.max_document_chars}",
            )
        return await self._translate_document(asyncio.get_running_loop(), document, src, tgt)

    async def _translate_document(self, loop: asyncio.AbstractEventLoop, document: Any, src: str, tgt: str) -> bytes:
        async def submit(job: Job) -> list[Translation]:
            return await self.run(self.job(job.texts, job.src, job.tgt))

        batched = QueuedSegments(loop, submit, self.settings.max_texts)

        def run() -> bytes:
            data: bytes = document.write(translate_blocks(batched, document.blocks, src=src, tgt=tgt))
            return data

        try:
            return await asyncio.wait_for(asyncio.to_thread(run), self.settings.request_timeout)
        except asyncio.TimeoutError as err:
            batched.cancel()
            raise ServiceFailure(
                504, "timeout", f"not translated within this server's limit of {self.settings.request_timeout:g} s"
            ) from err


async def unless_disconnected(work: Awaitable[Any], receive: Receive) -> Any:
    """``await work``, unless the client disconnects first: then ``work`` is cancelled (which
    takes a request that has not started out of the queue) and :class:`ClientGone` is raised."""

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
        raise ClientGone()
    return task.result()
