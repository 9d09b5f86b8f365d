"""``POST /translate/stream``: a translation as server-sent events, as it is made.

The body is that of ``POST /translate`` for one ``text`` (``src``, ``tgt``, ``beam_size``,
``max_new_tokens``), with ``do_sample``, ``temperature`` and ``top_p`` for sampling. With one beam
(greedy search or sampling) and a text the model takes at once, the tokens come as they are
generated: the request is one job of the batching queue that runs alone in its turn, ``generate``
handing each new token to a streamer. With beam search, or a text longer than the model takes,
the text is split into sentences and each goes through the queue in turn (sharing batches with
other requests), its translation sent when done. ``curl -N`` shows the events as they come::

    event: start
    data: {"mode": "tokens", "model": "...", "src": "en", "tgt": "fr"}

    event: token
    data: {"delta": " Bon", "text": "Bon"}

    event: done
    data: {"translation": "Bonjour.", "src": "en", "tgt": "fr"}

A sentence comes as ``event: sentence`` (``index``, ``source``, ``translation``, and ``text``, all
so far). A request refused before the stream starts gets the service's JSON error and status; a
failure after it gets ``event: error`` (``{"error", "detail"}``) and the end of the stream. A client
that disconnects stops the work: its job leaves the queue, or its decoding stops at the next step.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations, which name
# classes made in register.
import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from sentencex import segment as sentences

from m2m100.languages import iso_language
from m2m100.serving.batcher import Stopped, estimated_tokens
from m2m100.serving.service import Service, ServiceFailure
from m2m100.translator import NO_SPACE_LANGUAGES, Segment, Translation, Translator

PATH = "/translate/stream"
_END = object()  # the queue's last item: the job is over


def sse(event: str, data: dict[str, Any]) -> str:
    """One server-sent event (its data one line of JSON)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class TokenStreamer:
    """What ``generate`` hands new tokens to (``put``, ``end``), on the model's thread: the text of
    the first row so far is decoded after every token, and each growth is passed to ``emit``."""

    def __init__(self, translator: Translator, emit: Callable[[str, str], None]) -> None:
        self.translator, self.emit = translator, emit
        self.ids: list[int] = []
        self.text = ""
        self.prompt_seen = False

    def put(self, tokens: Any) -> None:
        if not self.prompt_seen:  # the first call hands over the decoder's prompt
            self.prompt_seen = True
            return
        if tokens.dim() != 1 or tokens.shape[0] != 1:
            return  # several rows (a text split in parts): only the final answer is sent
        self.ids.append(int(tokens[0]))
        text = self.translator.tokenizer.decode(self.ids, skip_special_tokens=True).strip()
        if text != self.text:
            delta = text[len(self.text) :] if text.startswith(self.text) else text
            self.text = text
            self.emit(delta, text)

    def end(self) -> None:
        pass


def register(app: Any, service: Service, error: Callable[..., Exception]) -> None:
    """Add ``POST /translate/stream`` to ``app``; ``error(status, kind, detail)`` is the native
    API's error, raised for a request refused before the stream starts."""
    from fastapi import Request
    from fastapi.responses import StreamingResponse
    from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

    class StreamRequest(BaseModel):
        """One text, a direction and optional decoding settings."""

        model_config = ConfigDict(
            extra="forbid", json_schema_extra={"examples": [{"text": "Hello, world!", "src": "en", "tgt": "fr"}]}
        )
        text: StrictStr
        src: StrictStr = Field(description="source language code, e.g. en or eng_Latn")
        tgt: StrictStr = Field(description="target language code")
        beam_size: StrictInt | None = Field(None, ge=1, le=16, description="1 streams tokens; more, sentences")
        max_new_tokens: StrictInt | None = Field(None, ge=1, description="longest translation of a sentence")
        do_sample: StrictBool = Field(False, description="sample instead of the most likely token")
        temperature: float | None = Field(None, gt=0, description="sampling temperature")
        top_p: float | None = Field(None, gt=0, le=1, description="nucleus sampling")

    @app.post(
        PATH,
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
    )
    async def translate_stream(body: StreamRequest, request: Request) -> StreamingResponse:
        """Translate ``text``, streamed as server-sent events: tokens with one beam, sentences
        with beam search or a long text."""
        try:
            translator = service.translator()
            src, tgt = service.resolve(body.src, "src"), service.resolve(body.tgt, "tgt")
            service.check_texts([body.text])
            limits = service.state.limits
            beams = body.beam_size or limits.beams
            tokens = beams == 1 and estimated_tokens(body.text) <= limits.source_tokens - 8
            if tokens:
                job = service.job([body.text], src, tgt, beam_size=beams, max_new_tokens=body.max_new_tokens)
                events = _tokens(service, translator, job, body, src, tgt)
            else:
                if body.do_sample:
                    raise ServiceFailure(
                        422, "invalid_request", "do_sample: sampling streams with beam_size 1 and a shorter text"
                    )
                parts = [s.strip() for s in sentences(iso_language(src), body.text) if s.strip()]
                jobs = [service.job([p], src, tgt, beam_size=beams, max_new_tokens=body.max_new_tokens) for p in parts]
                events = _sentences(service, jobs, src, tgt)
        except ServiceFailure as err:
            raise error(err.status, err.kind, err.detail, retry_after=err.retry_after) from err
        start = {"mode": "tokens" if tokens else "sentences", "model": translator.name, "src": src, "tgt": tgt}
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may hold the events back
        return StreamingResponse(
            _framed(service, sse("start", start), events), media_type="text/event-stream", headers=headers
        )


async def _framed(service: Service, first: str, events: AsyncIterator[str]) -> AsyncIterator[str]:
    """The stream: ``first``, the events, then an error event for a failure on the way. A client
    that disconnects has Starlette cancel this generator (ASGI 2.3: it listens for the
    disconnect), and the cancellation reaches the job: out of the queue, or its decoding stopped."""
    yield first
    try:
        async for event in events:
            yield event
    except ServiceFailure as err:
        service.count_error(err.kind)
        yield sse("error", {"error": err.kind, "detail": err.detail})


async def _tokens(
    service: Service, translator: Translator, job: Any, body: Any, src: str, tgt: str
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    limits = service.state.limits
    sampling = {k: v for k, v in (("temperature", body.temperature), ("top_p", body.top_p)) if v is not None}

    def emit(delta: str, text: str) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (delta, text))

    def run(stopped: Callable[[], bool]) -> list[Translation]:
        def stop(input_ids: Any, scores: Any) -> bool:
            return stopped() or input_ids.shape[-1] > limits.max_new_tokens

        [result] = translator.translate_segments(
            [Segment(body.text, src, tgt)],
            beam_size=1,
            max_new_tokens=body.max_new_tokens,
            stopping_criteria=[stop],
            streamer=TokenStreamer(translator, emit),
            do_sample=body.do_sample,
            **sampling,
        )
        if stopped():
            raise Stopped()
        return [result]

    job.solo = run
    task = asyncio.ensure_future(service.run(job))
    task.add_done_callback(lambda _: queue.put_nowait(_END))
    try:
        while (item := await queue.get()) is not _END:
            delta, text = item
            yield sse("token", {"delta": delta, "text": text})
        [translation] = task.result()
        yield sse("done", {"translation": translation.text, "src": src, "tgt": tgt})
    finally:
        task.cancel()


async def _sentences(service: Service, jobs: list[Any], src: str, tgt: str) -> AsyncIterator[str]:
    joiner = "" if iso_language(tgt) in NO_SPACE_LANGUAGES else " "
    done: list[str] = []
    for index, job in enumerate(jobs):
        [result] = await service.run(job)
        translation = result.text
        done.append(translation.strip())
        text = joiner.join(t for t in done if t)
        yield sse("sentence", {"index": index, "source": job.texts[0], "translation": translation, "text": text})
    yield sse("done", {"translation": joiner.join(t for t in done if t), "src": src, "tgt": tgt})
