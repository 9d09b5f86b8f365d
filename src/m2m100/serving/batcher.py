"""Dynamic batching for the HTTP service: requests that arrive together share one model call.

Requests wait in one first-in, first-out queue. The scheduler takes the oldest request and waits
at most ``max_wait`` seconds for others with the same settings (beam size, length limit: one
``translate_stream`` call takes one of each) until their estimated source tokens reach
``max_batch_tokens`` or ``max_batch_requests`` are waiting; the batch then runs on the one worker
thread that owns the model (the Translator is not thread-safe, and the event loop must stay free).
Directions may differ within a batch: each text is a :class:`~m2m100.translator.Segment`. While a
batch runs, new requests queue up, so under load batches fill without any wait.

A request whose client goes away is taken out of the queue (its work is dropped) if it has not
started; once started, its result is thrown away. ``close`` stops new requests and waits for the
queue to empty.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class QueueFull(Exception):
    """The queue holds ``max_queue`` requests; ``retry_after`` is a guess in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry in about {retry_after} s")
        self.retry_after = retry_after


class Closed(Exception):
    """The batcher is shutting down and takes no new requests."""


@dataclass(frozen=True)
class Settings:
    """What requests of one batch must share (``None``: the checkpoint's default)."""

    beam_size: int | None = None
    max_new_tokens: int | None = None


@dataclass(eq=False)
class Job:
    """One request: its texts, all in one direction, and where its translations go."""

    texts: Sequence[str]
    src: str
    tgt: str
    settings: Settings = Settings()
    arrived: float = field(default_factory=time.monotonic)
    future: asyncio.Future[list[str]] | None = None
    # Source tokens, estimated without the tokenizer (which belongs to the worker thread): the
    # language token, </s>, and about one token per four bytes of UTF-8.
    tokens: int = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = sum(2 + len(t.encode("utf-8")) // 4 for t in self.texts)


# Runs a batch on the worker thread: (texts with their directions, settings) -> translations.
BatchFunction = Callable[[list[tuple[str, str, str]], Settings], list[str]]


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
        observer: BatchObserver | None = None,
    ) -> None:
        for name, value in (
            ("max_batch_tokens", max_batch_tokens),
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
        self.observer = observer or BatchObserver()
        self._queue: list[Job] = []  # waiting, oldest first
        self._arrival = asyncio.Event()  # set when the queue changes
        self._closing = False
        self._last_batch_seconds = 1.0
        # The thread that owns the model: loading and every batch run here, one after another.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="m2m100-model")
        self._scheduler = asyncio.get_running_loop().create_task(self._schedule())

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    async def on_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the model's thread (e.g. to load the model there)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def submit(self, job: Job) -> list[str]:
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
        except asyncio.CancelledError:  # the client went away
            if job in self._queue:
                self._queue.remove(job)
                self._changed()
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
        jobs, tokens = [first], first.tokens
        for job in self._queue:
            if job is first or job.settings != first.settings:
                continue
            if len(jobs) == self.max_batch_requests or tokens + job.tokens > self.max_batch_tokens:
                return jobs, True
            jobs.append(job)
            tokens += job.tokens
        return jobs, len(jobs) == self.max_batch_requests or tokens >= self.max_batch_tokens

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
        start = time.perf_counter()
        try:
            outputs = await self.on_worker(self._run_batch, segments, jobs[0].settings)
            assert len(outputs) == len(segments), "run_batch returned a translation per text"
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
            self.observer.running(0)
        self.observer.batch_done(jobs, self._last_batch_seconds)


def _resolve(job: Job, *, result: list[str] | None = None, exception: BaseException | None = None) -> None:
    assert job.future is not None
    if job.future.done():  # cancelled: the client went away while its batch ran
        return
    if exception is not None:
        job.future.set_exception(exception)
    else:
        job.future.set_result(result)  # type: ignore[arg-type]
