"""Translate text: sorting by length, token-budget batches, long inputs split into sentences.

``Translator`` is what the command line and the HTTP service call. It loads a checkpoint folder
(model and tokenizer), and turns strings into strings: inputs are tokenized once, sorted by length
so that a batch holds inputs of similar length (little padding), packed into batches of at most
``max_batch_tokens`` source tokens, translated with ``generate`` (one target language per row, so
one batch may mix directions) and put back in input order. Empty inputs come back empty without a
model call; an input longer than the model's positions is split into sentences, each translated,
and the parts joined, never cut. ``src="auto"`` detects each input's language first, a window of
inputs at a time (:mod:`m2m100.languages.detection`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from sentencex import segment as sentences

from m2m100.checkpoint import resolve_checkpoint_dir
from m2m100.demo import model_or_demo
from m2m100.languages import TRAINED_LANGUAGES_KEY, iso_language, resolve_language, trained_languages
from m2m100.languages.detection import AUTO, DEFAULT_MIN_CONFIDENCE, AutoSource, Detection, LanguageDetector
from m2m100.modeling import M2M100ForConditionalGeneration
from m2m100.tokenizer import AutoTokenizer, MultilingualTokenizer

logger = logging.getLogger(__name__)

# Source tokens (padded) of one model call, unless the caller sets another budget: the default of
# the Translator, of --max-batch-tokens in the commands that translate, and of the server's batches.
DEFAULT_MAX_BATCH_TOKENS = 4096

# Scripts written without spaces between sentences: translated parts are joined without one (ISO
# codes: an NLLB code is looked up by its language's, zho_Hant by zh).
NO_SPACE_LANGUAGES = frozenset({"ja", "zh", "th", "lo", "km", "my"})


@dataclass(frozen=True)
class Segment:
    """One text to translate and its direction (``src="auto"``: the language detected in it)."""

    text: str
    src: str
    tgt: str


@dataclass
class Translation:
    """One input's result, in input order, from :meth:`Translator.translate_segments`: the text and
    the direction it was translated in. Per-row controls add their results here (scores,
    alternatives, detected source language, unknown pieces), so that every adapter (command line,
    server, documents, Ray) reads one type."""

    text: str
    src: str
    tgt: str
    detected: str | None = None  # src="auto": the detected language (the checkpoint's code), None when unknown
    confidence: float | None = None  # src="auto": the detector's confidence, 0..1; None when src was given


@dataclass
class TranslationStats:
    """Counters a progress display reads: segments done, source and generated tokens."""

    segments: int = 0
    source_tokens: int = 0
    generated_tokens: int = 0
    batches: int = 0


@dataclass
class _Unit:
    """A piece of work for the model: a whole segment or one part of a long one."""

    segment: int  # index of the segment in the current window
    part: int
    ids: list[int]  # as the tokenizer lays out a source: [src_lang] pieces </s> (NLLB legacy: pieces </s> [src_lang])
    tgt: str
    limit: int | None = None  # max_new_tokens when the caller gave none (see _default_limit)
    output: str | None = None


@dataclass
class _Pending:
    """A segment of the current window, waiting for its parts."""

    segment: Segment
    parts: list[str | None] = field(default_factory=list)
    detection: Detection | None = None  # src="auto"
    passed: bool = False  # src="auto": returned unchanged (already in the target language, or untrusted)

    def result(self) -> Translation:
        assert all(p is not None for p in self.parts)  # every part was translated
        joiner = "" if iso_language(self.segment.tgt) in NO_SPACE_LANGUAGES else " "
        text = joiner.join(p.strip() for p in self.parts if p is not None and p.strip())
        if self.passed:
            text = line_content(self.segment.text)
        found = self.detection
        if found is None:
            return Translation(text, self.segment.src, self.segment.tgt)
        return Translation(text, self.segment.src, self.segment.tgt, found.code, found.confidence)


class Translator:
    """Translate strings with an M2M100 or NLLB-200 checkpoint.

    Language codes may be given in either spelling (``en`` or ``eng_Latn``): each is resolved to
    the checkpoint's own code (:meth:`resolve_language`), and results report the codes used.

    Args:
        model: a checkpoint folder (model and tokenizer files), a hub id (with huggingface_hub
            and a network), or an already loaded ``M2M100ForConditionalGeneration``. None (the
            default) takes the small demo model bundled with the package (number words and
            CLDR names in 24 languages: see :mod:`m2m100.demo`), with a logged warning.
        tokenizer: the tokenizer, when ``model`` is a loaded model (read from the folder otherwise).
        device: where to run, e.g. "cpu", "cuda" (default: CUDA when present, else CPU).
        dtype: "float32" (default), "float16", "bfloat16", "auto" or a torch.dtype.
        quantize: "int8" for int8 linear layers on CPU (faster; tokens may differ from float32);
            "int4-weight" for int4 weights and bf16 activations on CPU (lower latency at batch 1-4).
        max_batch_tokens: at most this many (padded) source tokens in one model call.

    Raises:
        FileNotFoundError: the folder or one of its files is missing (named in the message).
        ValueError: a setting is out of range.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | M2M100ForConditionalGeneration | None = None,
        *,
        tokenizer: MultilingualTokenizer | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        attn_implementation: str | None = None,
        quantize: str | None = None,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
    ) -> None:
        if max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be at least 1, got {max_batch_tokens}")
        self.max_batch_tokens = max_batch_tokens
        model = model_or_demo(model, notice=logger.warning)
        if isinstance(model, M2M100ForConditionalGeneration):
            if tokenizer is None:
                raise ValueError("pass the tokenizer along with a loaded model")
            self.model, self.tokenizer, self.name = model, tokenizer, model.name_or_path or "model"
        else:
            if device is None:
                device = "cuda" if torch.cuda.is_available() else "cpu"
            # Resolved once, so that a missing folder is reported as such (not as a tokenizer
            # problem) and a hub id is fetched once for both the model and the tokenizer.
            assert model is not None  # model_or_demo gave a folder or a hub id
            folder = resolve_checkpoint_dir(model)
            self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(folder)
            self.model = M2M100ForConditionalGeneration.from_pretrained(
                folder, dtype=dtype, device=device, attn_implementation=attn_implementation, quantize=quantize
            )
            self.name = str(model)
        self.model.eval()
        self._languages = trained_languages(
            self.model.config.extra.get(TRAINED_LANGUAGES_KEY), list(self.tokenizer.lang_code_to_id)
        )
        self._language_set = frozenset(self._languages)
        self._detector: LanguageDetector | None = None  # made on the first src="auto"
        self.stats = TranslationStats()
        # Longest source the model takes, special tokens included.
        self.max_source_tokens = min(self.tokenizer.model_max_length, self.model.config.max_position_embeddings)

    @property
    def languages(self) -> list[str]:
        """The language codes this checkpoint translates: those its config.json declares it was
        trained on (the demo model: 24), else every code its tokenizer knows (100 for M2M100)."""
        return list(self._languages)

    def resolve_language(self, code: str) -> str:
        """The checkpoint's code for ``code``, given in either spelling: ``en`` is ``eng_Latn``
        for NLLB, ``eng_Latn`` is ``en`` for M2M100 (see :func:`m2m100.languages.resolve_language`).

        Raises:
            ValueError: no code of the checkpoint means ``code``; the message names the valid
                codes and the closest ones.
        """
        return code if code in self._language_set else resolve_language(code, self._languages)

    def check_language(self, code: str) -> None:
        """Raise a ValueError naming the valid codes (and the closest ones) for an unknown ``code``."""
        self.resolve_language(code)

    def detect(self, texts: Sequence[str]) -> list[Detection]:
        """The language of each text, among this checkpoint's (what ``src="auto"`` uses).

        Raises:
            ImportError: py3langid is not installed (``pip install 'm2m100[detect]'``).
        """
        if self._detector is None:
            self._detector = LanguageDetector(self._languages)
        return self._detector.detect(texts)

    # public API ----------------------------------------------------------------------------
    def translate(
        self,
        texts: str | Sequence[str],
        *,
        src: str,
        tgt: str,
        beam_size: int | None = None,
        max_new_tokens: int | None = None,
        max_batch_tokens: int | None = None,
        **generate_kwargs: Any,
    ) -> str | list[str]:
        """Translate one string or a list of strings from ``src`` to ``tgt``.

        Args:
            beam_size: beams of the search (default: the checkpoint's generation config).
            max_new_tokens: longest translation of one input in tokens (default: about twice the
                input's length rounded up to a power of two, at most the model's positions; it
                depends on the input alone, never on what the input is batched with).
            generate_kwargs: any other option of ``generate`` (length_penalty, no_repeat_ngram_size...),
                or of ``src="auto"`` (see :meth:`translate_segments`).

        Returns:
            A string for a string, a list of the same length and order for a list.

        Raises:
            ValueError: a text that is not valid Unicode ("text 3: a lone surrogate ..."), checked
                for every text before any is translated; see also :meth:`translate_stream`.
        """
        single = isinstance(texts, str)
        items: list[Any] = [texts] if single else list(texts)
        if not all(isinstance(t, str) for t in items):
            raise ValueError("texts must be a string or a sequence of strings")
        for index, text in enumerate(items):  # all of them before any model call
            problem = text_problem(text)
            if problem is not None:
                raise ValueError(f"text {index}: {problem}" if not single else f"text: {problem}")
        segments = [Segment(t, src, tgt) for t in items]
        out = list(
            self.translate_stream(
                segments,
                beam_size=beam_size,
                max_new_tokens=max_new_tokens,
                max_batch_tokens=max_batch_tokens,
                **generate_kwargs,
            )
        )
        return out[0] if single else out

    def translate_stream(
        self,
        lines: Iterable[str | Segment],
        *,
        src: str | None = None,
        tgt: str | None = None,
        window_tokens: int | None = None,
        beam_size: int | None = None,
        max_new_tokens: int | None = None,
        max_batch_tokens: int | None = None,
        on_batch: Callable[[TranslationStats], None] | None = None,
        **generate_kwargs: Any,
    ) -> Iterator[str]:
        """Translate an iterable lazily, yielding the translated strings in input order: the texts
        of :meth:`translate_segments`, which documents the arguments."""
        results = self.translate_segments(
            lines,
            src=src,
            tgt=tgt,
            window_tokens=window_tokens,
            beam_size=beam_size,
            max_new_tokens=max_new_tokens,
            max_batch_tokens=max_batch_tokens,
            on_batch=on_batch,
            **generate_kwargs,
        )
        return (result.text for result in results)

    def translate_segments(
        self,
        lines: Iterable[str | Segment],
        *,
        src: str | None = None,
        tgt: str | None = None,
        window_tokens: int | None = None,
        beam_size: int | None = None,
        max_new_tokens: int | None = None,
        max_batch_tokens: int | None = None,
        on_batch: Callable[[TranslationStats], None] | None = None,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        fallback_src: str | None = None,
        translate_same_language: bool = False,
        **generate_kwargs: Any,
    ) -> Iterator[Translation]:
        """Translate an iterable lazily: it is read one window at a time (sorted and batched
        within the window), and a :class:`Translation` per input is yielded in input order.

        Args:
            lines: strings (with ``src``/``tgt``) or :class:`Segment` objects, which may each
                have their own direction.
            window_tokens: source tokens read ahead before translating (default: 8 batches); a
                blank input counts as one token, so that a run of them is not read without end.
            on_batch: called with :attr:`stats` after every model call (for progress displays).
            min_confidence: ``src="auto"`` (for the call or a :class:`Segment`) detects each
                input's language (:meth:`detect`, batched per window); a detection below this
                confidence (0..1) is not trusted.
            fallback_src: the source of an input whose detection is not trusted; None (the
                default) returns such an input unchanged.
            translate_same_language: translate an input detected in the target language too
                (by default it is returned unchanged).

        Raises:
            ValueError: an unknown ``src``/``tgt``/``fallback_src``, a budget below 1, a
                ``min_confidence`` outside 0..1 or an option that would give several outputs per
                input (at the call, before any input is read); an unknown
                language of a :class:`Segment`, or a text that is not valid Unicode (a lone
                surrogate: "input 3: ...", when it is read).
        """
        budget = self.max_batch_tokens if max_batch_tokens is None else max_batch_tokens
        window_tokens = 8 * budget if window_tokens is None else window_tokens
        if budget < 1 or window_tokens < 1:
            raise ValueError(f"max_batch_tokens and window_tokens must be at least 1, got {budget} and {window_tokens}")
        for name in ("num_return_sequences", "return_dict_in_generate"):
            if generate_kwargs.get(name) not in (None, 1, False):
                raise ValueError(
                    f"{name}={generate_kwargs[name]!r}: the Translator returns one string per input; "
                    "call model.generate for more"
                )
        src = src if src in (None, AUTO) else self.resolve_language(src)
        tgt = None if tgt is None else self.resolve_language(tgt)
        fallback = None if fallback_src is None else self.resolve_language(fallback_src)
        auto = AutoSource(min_confidence, fallback, translate_same_language)
        settings = dict(generate_kwargs, beam_size=beam_size, max_new_tokens=max_new_tokens)
        return self._stream(iter(lines), src, tgt, window_tokens, budget, settings, on_batch, auto)

    # internals -----------------------------------------------------------------------------
    def _stream(
        self,
        iterator: Iterator[str | Segment],
        src: str | None,
        tgt: str | None,
        window_tokens: int,
        budget: int,
        settings: dict[str, Any],
        on_batch: Callable[[TranslationStats], None] | None,
        auto: AutoSource,
    ) -> Iterator[Translation]:
        # The default length limit depends on each input's own length only, so that an input's
        # translation does not depend on what it is batched with.
        default_limit = settings.get("max_new_tokens") is None and settings.get("max_length") is None
        read = 0  # inputs read so far: the index of the next one, for error messages
        while True:
            window: list[_Pending] = []
            units: list[_Unit] = []
            detect: list[int] = []  # the window's src="auto" segments, encoded once detected
            tokens = 0
            for line in iterator:
                segment = line if isinstance(line, Segment) else _segment(line, src, tgt)
                problem = text_problem(segment.text)
                if problem is not None:
                    raise ValueError(f"input {read}: {problem}")
                read += 1
                # The checkpoint's codes, which the result reports: en is eng_Latn for NLLB.
                source = segment.src if segment.src == AUTO else self.resolve_language(segment.src)
                segment = replace(segment, src=source, tgt=self.resolve_language(segment.tgt))
                window.append(_Pending(segment))
                if source == AUTO:
                    detect.append(len(window) - 1)
                    tokens += max(1, len(line_content(segment.text)) // 4)  # about 4 characters a token
                else:
                    tokens += self._add_units(window, len(window) - 1, units, default_limit)
                if tokens >= window_tokens:
                    break
            if not window:
                return
            if detect:
                found = self.detect([window[i].segment.text for i in detect])
                for index, detection in zip(detect, found):
                    pending = window[index]
                    chosen = auto.source(detection, pending.segment.tgt)
                    reported = chosen or detection.code or AUTO  # a text passed through reports its detection
                    pending.segment = replace(pending.segment, src=reported)
                    pending.detection, pending.passed = detection, chosen is None
                    if chosen is not None:
                        self._add_units(window, index, units, default_limit)
            for batch in self._batches(units, budget):
                self._run(batch, settings)
                if on_batch is not None:
                    on_batch(self.stats)
            for unit in units:
                window[unit.segment].parts[unit.part] = unit.output
            for pending in window:
                self.stats.segments += 1
                yield pending.result()

    def _add_units(self, window: list[_Pending], index: int, units: list[_Unit], default_limit: bool) -> int:
        """Encode the window's ``index``-th segment into ``units``; returns its source tokens."""
        pending = window[index]
        parts = self._encode(pending.segment, index)
        if default_limit:
            for unit in parts:
                unit.limit = self._default_limit(len(unit.ids))
        pending.parts = [None] * len(parts)
        units.extend(parts)
        return max(1, sum(len(u.ids) for u in parts))

    def _encode(self, segment: Segment, index: int) -> list[_Unit]:
        """The units of one segment (its codes resolved): none when it is blank, several when it
        is too long. Each is laid out as the tokenizer lays out a source: the language token and
        </s> around the pieces, where the checkpoint's tokenizer puts them."""
        text = line_content(segment.text)
        if not text.strip():
            return []
        prefix, suffix = self.tokenizer.source_layout(segment.src)
        limit = self.max_source_tokens - len(prefix) - len(suffix)
        pieces = self._pieces(text)
        chunks = [pieces] if len(pieces) <= limit else self._split(text, segment.src, limit)
        return [_Unit(index, part, [*prefix, *chunk, *suffix], segment.tgt) for part, chunk in enumerate(chunks)]

    def _pieces(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (``encode`` would warn about inputs longer
        than the model takes, which the Translator splits itself)."""
        ids = self.tokenizer.convert_tokens_to_ids(self.tokenizer.tokenize(text))
        assert isinstance(ids, list)  # a list of tokens gives a list of ids
        return ids

    def _split(self, text: str, src: str, limit: int) -> list[list[int]]:
        """Token ids of the sentences of a long input, packed up to ``limit`` tokens per part; a
        single sentence longer than that is cut at token boundaries (never dropped)."""
        parts: list[list[int]] = []
        for sentence in sentences(iso_language(src), text):
            ids = self._pieces(sentence)
            for start in range(0, len(ids), limit):
                chunk = ids[start : start + limit]
                if parts and len(parts[-1]) + len(chunk) <= limit:
                    parts[-1].extend(chunk)
                else:
                    parts.append(list(chunk))
        logger.info("split an input of %d tokens into %d parts", sum(map(len, parts)), len(parts))
        return parts

    def _default_limit(self, length: int) -> int:
        """max_new_tokens for a source of ``length`` tokens when the caller sets none: about twice
        the source, rounded up to a power of two so that sources of similar length share a batch."""
        bucket = 1 << max(length - 1, 0).bit_length()
        return max(1, min(self.model.config.max_position_embeddings - 2, 2 * bucket + 10))

    def _batches(self, units: list[_Unit], budget: int) -> Iterator[list[_Unit]]:
        """Units sorted by length (longest first), packed so that rows x longest <= budget; units
        with different default limits never share a batch (``generate`` takes one limit)."""
        batch: list[_Unit] = []
        for unit in sorted(units, key=lambda u: len(u.ids), reverse=True):
            if batch and ((len(batch) + 1) * len(batch[0].ids) > budget or unit.limit != batch[0].limit):
                yield batch
                batch = []
            batch.append(unit)
        if batch:
            yield batch

    def _run(self, batch: list[_Unit], settings: dict[str, Any]) -> None:
        """Translate one batch in place (``unit.output``)."""
        kwargs = dict(settings)
        beam_size = kwargs.pop("beam_size", None)
        if beam_size is not None:
            kwargs["num_beams"] = beam_size
        if kwargs.get("max_new_tokens") is None:
            kwargs.pop("max_new_tokens", None)
            if batch[0].limit is not None:
                kwargs["max_new_tokens"] = batch[0].limit
        width = len(batch[0].ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        for row, unit in enumerate(batch):
            input_ids[row, : len(unit.ids)] = torch.tensor(unit.ids)
        attention_mask = (torch.arange(width)[None, :] < torch.tensor([len(u.ids) for u in batch])[:, None]).long()
        forced = [self.tokenizer.get_lang_id(u.tgt) for u in batch]
        device = self.model.device
        with torch.inference_mode():
            out = self.model.generate(
                input_ids.to(device), attention_mask.to(device), forced_bos_token_id=forced, **kwargs
            )
        if not isinstance(out, torch.Tensor):
            raise ValueError("the Translator returns texts: return_dict_in_generate is not one of its options")
        out = out.cpu()
        texts = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        for unit, text in zip(batch, texts):
            unit.output = text
        self.stats.batches += 1
        self.stats.source_tokens += int(attention_mask.sum())
        self.stats.generated_tokens += int((out[:, 2:] != pad).sum())


def text_problem(text: str) -> str | None:
    """What makes ``text`` untranslatable, or None: the one check every adapter makes where text
    enters (CLI lines, JSON fields, training data, server requests). Python strings may hold lone
    surrogates (a JSON "\\ud800" escape decodes to one), which are not Unicode characters and
    which UTF-8, and so sentencepiece, cannot encode. Control characters are not refused: the
    tokenizer takes them (as pieces or as <unk>). The message is ASCII, so it prints anywhere."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return (
            f"a lone surrogate {ascii(text[err.start])[1:-1]} at character {err.start + 1}, "
            "which is not a Unicode character (UTF-8 cannot encode it); remove it or pair it"
        )
    return None


def line_content(text: str) -> str:
    """A line's text without what a file adds around it: one trailing line ending ("\\n",
    "\\r\\n" or "\\r") and a leading byte-order mark, so that ``translate_stream(open(path))``
    translates what ``translate(path_lines)`` and the command line do."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\n", "\r")):
        return text[:-1]
    return text


def _segment(text: str, src: str | None, tgt: str | None) -> Segment:
    if not isinstance(text, str):
        raise ValueError(f"expected a string or a Segment, got {type(text).__name__}")
    if src is None or tgt is None:
        raise ValueError("plain strings need src= and tgt= (or pass Segment objects)")
    return Segment(text, src, tgt)
