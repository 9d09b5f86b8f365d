"""Dynamic batching for the HTTP service: requests that arrive together share one model call.

Requests wait in one first-in, first-out queue. The scheduler takes the oldest request and waits
at most ``max_wait`` seconds for others with the same settings (beam size, length limit: one
``translate_stream`` call takes one of each) until their estimated source tokens reach
``max_batch_tokens``, their estimated decoding work ``max_batch_work`` (so that batching never
multiplies a costly request) or ``max_batch_requests`` are waiting; the batch then runs on the one worker
thread that owns the model (the Translator is not thread-safe, and the event loop must stay free).
Directions may differ within a batch: each text is a :class:`~m2m100.translator.Segment`. While a
batch runs, new requests queue up, so under load batches fill without any wait.

A request that is cancelled (its client went away, or its deadline passed) is taken out of the
queue (its work is dropped) if it has not started; once started, its result is thrown away, and
when no request of the running batch is waiting any more the batch is told to stop (``run_batch``
polls its ``stopped`` argument at every decoding step). A job with work of its own (``Job.solo``,
a streamed translation) runs alone, in its turn, and is stopped the same way. ``close`` stops new requests and waits for
the queue to empty.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from m2m100.glossary import Glossary

logger = logging.getLogger(__name__)

T = TypeVar("T")


class QueueFull(Exception):
    """The queue holds ``max_queue`` requests; ``retry_after`` is a guess in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry in about {retry_after} s")
        self.retry_after = retry_after


class Closed(Exception):
    """The batcher is shutting down and takes no new requests."""


class Stopped(Exception):
    """Raised by ``run_batch`` when it stopped because no request waits for the batch any more."""


@dataclass(frozen=True)
class Settings:
    """What requests of one batch must share (``None``: the checkpoint's default)."""

    beam_size: int | None = None
    max_new_tokens: int | None = None
    glossary: Glossary | None = None  # a request's own terms: it shares a batch only with its own texts
    # the output controls (README's "Controlling the output"), one set per batch
    prefix: str | None = None
    alternatives: int = 0
    return_scores: bool = False
    replace_unknowns: bool = False


@dataclass(eq=False)
class Job:
    """One request: its texts, all in one direction, and where its translations go."""

    texts: Sequence[str]
    src: str
    tgt: str
    settings: Settings = Settings()
    work: int = 0  # estimated decoding work (texts x beams x new tokens), capped per batch
    memory: int = 0  # estimated bytes of its decoding, capped per batch
    arrived: float = field(default_factory=time.monotonic)
    future: asyncio.Future[list[Any]] | None = None
    # Work of its own, run alone on the worker thread in the job's turn instead of run_batch (a
    # streamed translation): called with ``stopped``, it returns the job's translations.
    solo: Callable[[Callable[[], bool]], list[Any]] | None = None
    tokens: int = field(init=False)  # estimated source tokens

    def __post_init__(self) -> None:
        self.tokens = sum(estimated_tokens(t) for t in self.texts)


def estimated_tokens(text: str) -> int:
    """Source tokens of ``text``, estimated without the tokenizer (which belongs to the worker
    thread): the language token, ``</s>``, and about one token per four bytes of UTF-8."""
    return 2 + len(text.encode("utf-8")) // 4


# Runs a batch on the worker thread: (texts with their directions, settings, stopped) ->
# translations (strings, or the service's Translation objects); ``stopped()`` turns true when nobody
# waits for the batch any more, and the function should then raise Stopped as soon as it can.
BatchFunction = Callable[[list[tuple[str, str, str]], Settings, Callable[[], bool]], list[Any]]


@dataclass
class BatchObserver:
    """Hooks the service uses for its metrics (all optional; called on the event loop)."""

    queue_depth: Callable[[int], None] = lambda depth: None
    running: Callable[[int], None] = lambda requests: None
    batch_done: Callable[[list[Job], float], None] = lambda jobs, seconds: None


class Batcher:
    """Merge queued requests into batches and run them, one at a time, on one worker thread.

    Args:
        run_batch: translates one batch; called on the worker thread only.
        max_batch_tokens: estimated source tokens of a batch (a larger request still runs, alone).
        max_batch_work: estimated decoding work (``Job.work``) of a batch (a larger request still
            runs, alone; the service refuses those first). None: no limit.
        max_batch_memory: estimated decoding bytes (``Job.memory``) of a batch, as
            ``max_batch_work``. None: no limit.
        max_batch_requests: requests in one batch (1 turns merging off).
        max_wait: seconds the oldest request waits for others before its batch runs.
        max_queue: requests that may wait (not yet running); more raise :class:`QueueFull`.
        observer: metrics hooks.

    Must be created, used and closed on one running event loop.
    """

    def __init__(
        self,
        run_batch: BatchFunction,
        *,
        max_batch_tokens: int,
        max_batch_requests: int,
        max_wait: float,
        max_queue: int,
        max_batch_work: int | None = None,
        max_batch_memory: int | None = None,
        observer: BatchObserver | None = None,
    ) -> None:
        for name, value in (
            ("max_batch_tokens", max_batch_tokens),
            ("max_batch_work", 1 if max_batch_work is None else max_batch_work),
            ("max_batch_memory", 1 if max_batch_memory is None else max_batch_memory),
            ("max_batch_requests", max_batch_requests),
            ("max_queue", max_queue),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if max_wait < 0:
            raise ValueError(f"max_wait must be at least 0, got {max_wait}")
        self._run_batch = run_batch
        self.max_batch_tokens, self.max_batch_requests = max_batch_tokens, max_batch_requests
        self.max_wait, self.max_queue = max_wait, max_queue
        self.max_batch_work = math.inf if max_batch_work is None else max_batch_work
        self.max_batch_memory = math.inf if max_batch_memory is None else max_batch_memory
        self.observer = observer or BatchObserver()
        self._queue: list[Job] = []  # waiting, oldest first
        self._arrival = asyncio.Event()  # set when the queue changes
        self._closing = False
        self._last_batch_seconds = 1.0
        self._running: list[Job] = []  # the batch on the worker thread
        self._stop = threading.Event()  # set to stop it (a new one for every batch)
        # The thread that owns the model: loading and every batch run here, one after another.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="m2m100-model")
        self._scheduler = asyncio.get_running_loop().create_task(self._schedule())

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    async def on_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the model's thread (e.g. to load the model there)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def submit(self, job: Job) -> list[Any]:
        """Queue ``job`` and return its translations, in order, once its batch has run.

        Raises:
            QueueFull: ``max_queue`` requests are waiting.
            Closed: the batcher is shutting down.
            Exception: whatever ``run_batch`` raised for the job's batch.
        """
        if self._closing:
            raise Closed("the service is shutting down")
        if len(self._queue) >= self.max_queue:
            raise QueueFull(max(1, math.ceil(self._last_batch_seconds)))
        job.future = asyncio.get_running_loop().create_future()
        self._enqueue(job)
        try:
            return await job.future
        except asyncio.CancelledError:  # the client went away, or the deadline passed
            if job in self._queue:
                self._queue.remove(job)
                self._changed()
            elif job in self._running and all(other.future and other.future.done() for other in self._running):
                logger.info("stopping a batch of %d requests: none is waiting for it", len(self._running))
                self._stop.set()
            raise

    async def close(self) -> None:
        """Take no new requests, finish the queued ones, then stop the worker thread."""
        self._closing = True
        self._changed()
        await self._scheduler
        self._executor.shutdown(wait=True)

    # internals -----------------------------------------------------------------------------
    def _enqueue(self, job: Job) -> None:
        self._queue.append(job)
        self._changed()

    def _changed(self) -> None:
        self._arrival.set()
        self.observer.queue_depth(len(self._queue))

    async def _wait_for_change(self, timeout: float | None) -> bool:
        """Wait until the queue changes (True) or ``timeout`` seconds pass (False)."""
        self._arrival.clear()
        try:
            await asyncio.wait_for(self._arrival.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def _select(self, first: Job) -> tuple[list[Job], bool]:
        """The queued jobs that would share ``first``'s batch (oldest first), and whether the
        batch is full (so that waiting longer gains nothing)."""
        if first.solo is not None:
            return [first], True
        jobs, tokens, work, memory = [first], first.tokens, first.work, first.memory
        for job in self._queue:
            if job is first or job.settings != first.settings or job.solo is not None:
                continue
            if (
                len(jobs) == self.max_batch_requests
                or tokens + job.tokens > self.max_batch_tokens
                or work + job.work > self.max_batch_work
                or memory + job.memory > self.max_batch_memory
            ):
                return jobs, True
            jobs.append(job)
            tokens, work, memory = tokens + job.tokens, work + job.work, memory + job.memory
        full = (
            len(jobs) == self.max_batch_requests
            or tokens >= self.max_batch_tokens
            or work >= self.max_batch_work
            or memory >= self.max_batch_memory
        )
        return jobs, full

    async def _schedule(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                await self._wait_for_change(None)
                continue
            first = self._queue[0]
            jobs, full = self._select(first)
            remaining = first.arrived + self.max_wait - time.monotonic()
            if not full and not self._closing and remaining > 0:
                await self._wait_for_change(remaining)
                continue  # look again: the first job may have left, or others come
            for job in jobs:
                self._queue.remove(job)
            self._changed()
            await self._run(jobs)

    async def _run(self, jobs: list[Job]) -> None:
        segments = [(text, job.src, job.tgt) for job in jobs for text in job.texts]
        self.observer.running(len(jobs))
        self._running, self._stop = jobs, threading.Event()
        start = time.perf_counter()
        try:
            solo = jobs[0].solo
            if solo is not None:
                outputs = await self.on_worker(solo, self._stop.is_set)
            else:
                outputs = await self.on_worker(self._run_batch, segments, jobs[0].settings, self._stop.is_set)
            assert len(outputs) == len(segments), "run_batch returned a translation per text"
        except Stopped as err:
            logger.info("stopped a batch of %d requests after %.1f s", len(jobs), time.perf_counter() - start)
            for job in jobs:
                _resolve(job, exception=err)
        except Exception as err:  # noqa: BLE001 - handed to each waiting request
            logger.exception("a batch of %d requests failed", len(jobs))
            for job in jobs:
                _resolve(job, exception=err)
        else:
            offset = 0
            for job in jobs:
                _resolve(job, result=outputs[offset : offset + len(job.texts)])
                offset += len(job.texts)
        finally:
            self._last_batch_seconds = time.perf_counter() - start
            self._running = []
            self.observer.running(0)
        self.observer.batch_done(jobs, self._last_batch_seconds)


def _resolve(job: Job, *, result: list[Any] | None = None, exception: BaseException | None = None) -> None:
    assert job.future is not None
    if job.future.done():  # cancelled: the client went away while its batch ran
        return
    if exception is not None:
        job.future.set_exception(exception)
    else:
        job.future.set_result(result)  # type: ignore[arg-type]
