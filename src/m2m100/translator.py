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
from m2m100.control import Alternative, Score
from m2m100.control.rows import Row, RowResult, batch_key, joined, part_rows, translate_rows
from m2m100.control.scoring import score_texts
from m2m100.control.unknowns import unknown_characters
from m2m100.demo import model_or_demo
from m2m100.glossary import Glossary, missed_terms
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
    """One text to translate, its direction and its controls (see README's "Controlling the
    output"): ``src="auto"``, the language detected in it; ``glossary``, terms of this text's own
    (added to the call's, winning where both have a term); ``prefix``, a text the translation must
    start with (the search continues from it); ``alternatives``, how many hypotheses to return
    (n-best of beam search, or with a prefix the continuations of its top next tokens);
    ``return_scores``, the translation's score; ``replace_unknowns``, put the most attended source
    piece in place of each ``<unk>`` emitted."""

    text: str
    src: str
    tgt: str
    glossary: Glossary | None = None
    prefix: str | None = None
    alternatives: int = 0
    return_scores: bool = False
    replace_unknowns: bool = False

    def __post_init__(self) -> None:
        if self.prefix is not None and not isinstance(self.prefix, str):
            raise ValueError(f"prefix must be a string or None, got {type(self.prefix).__name__}")
        if isinstance(self.alternatives, bool) or not isinstance(self.alternatives, int) or self.alternatives < 0:
            raise ValueError(f"alternatives must be an integer of at least 0, got {self.alternatives!r}")


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
    glossary_missed: list[str] = field(default_factory=list)  # target terms the text lacks (length limit)
    score: float | None = None  # with return_scores or alternatives: sum(log p) / length ** length_penalty
    alternatives: list[Alternative] = field(default_factory=list)  # best first; the first is ``text``
    unknowns: int = 0  # characters of the input the vocabulary lacks (<unk> or spelled in bytes)


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
    row: Row | None = None  # the model's view of the unit, with its controls
    output: RowResult | None = None
    terms: list[str] = field(default_factory=list)  # glossary target terms the output must contain
    missed: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    """A segment of the current window, waiting for its parts."""

    segment: Segment
    parts: list[RowResult | None] = field(default_factory=list)
    unknowns: int = 0
    detection: Detection | None = None  # src="auto"
    passed: bool = False  # src="auto": returned unchanged (already in the target language, or untrusted)
    missed: list[str] = field(default_factory=list)

    def result(self) -> Translation:
        parts = [p for p in self.parts if p is not None]
        assert len(parts) == len(self.parts)  # every part was translated
        joiner = "" if iso_language(self.segment.tgt) in NO_SPACE_LANGUAGES else " "
        whole = joined(parts, joiner, alternatives=self.segment.alternatives > 0)
        text = line_content(self.segment.text) if self.passed else whole.text
        found = self.detection
        return Translation(
            text,
            self.segment.src,
            self.segment.tgt,
            detected=None if found is None else found.code,
            confidence=None if found is None else found.confidence,
            glossary_missed=self.missed,
            score=whole.score,
            alternatives=whole.alternatives,
            unknowns=self.unknowns,
        )


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
            "int4-weight" for int4 weights and bf16 activations on CPU (the smallest model, about
            4.5 bits a weight; on the CPUs of bench/ int8 is as fast or faster, README's Speed).
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
        glossary: Glossary | None = None,
        prefix: str | None = None,
        replace_unknowns: bool = False,
        **generate_kwargs: Any,
    ) -> str | list[str]:
        """Translate one string or a list of strings from ``src`` to ``tgt``.

        Args:
            beam_size: beams of the search (default: the checkpoint's generation config).
            prefix: a text every translation starts with; the search continues from it.
            replace_unknowns: put the source piece attended to most in place of each ``<unk>``
                the model emits, instead of dropping it.
            max_new_tokens: longest translation of one input in tokens (default: about twice the
                input's length rounded up to a power of two, at most the model's positions; it
                depends on the input alone, never on what the input is batched with).
            glossary: terms whose target the translations must contain (see :mod:`m2m100.glossary`).
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
        segments = [Segment(t, src, tgt, prefix=prefix, replace_unknowns=replace_unknowns) for t in items]
        out = list(
            self.translate_stream(
                segments,
                beam_size=beam_size,
                max_new_tokens=max_new_tokens,
                max_batch_tokens=max_batch_tokens,
                glossary=glossary,
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
        glossary: Glossary | None = None,
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
            glossary=glossary,
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
        glossary: Glossary | None = None,
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
            glossary: terms of every input (a :class:`Segment`'s own are added): where a source
                term occurs, its target term is a lexical constraint of that input's search, and
                ``Translation.glossary_missed`` lists those the length limit left out.

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
        if glossary is not None and not isinstance(glossary, Glossary):
            raise ValueError(f"glossary must be a m2m100.glossary.Glossary, got {type(glossary).__name__}")
        settings = dict(generate_kwargs, beam_size=beam_size, max_new_tokens=max_new_tokens, glossary=glossary)
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
        settings = dict(settings)
        glossary: Glossary | None = settings.pop("glossary", None)
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
                    tokens += self._add_units(window, len(window) - 1, units, default_limit, glossary)
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
                        self._add_units(window, index, units, default_limit, glossary)
            for batch in self._batches(units, budget):
                self._run(batch, settings)
                if on_batch is not None:
                    on_batch(self.stats)
            for unit in units:
                window[unit.segment].parts[unit.part] = unit.output
                window[unit.segment].missed.extend(unit.missed)
            for pending in window:
                self.stats.segments += 1
                yield pending.result()

    def _add_units(
        self, window: list[_Pending], index: int, units: list[_Unit], default_limit: bool, glossary: Glossary | None
    ) -> int:
        """Encode the window's ``index``-th segment (its source known) into ``units``, with the
        glossary terms of its text; returns its source tokens."""
        pending = window[index]
        parts = self._encode(pending.segment, index, pending)
        self._find_terms(parts, pending.segment, glossary)
        if default_limit:
            for unit in parts:
                unit.limit = self._default_limit(len(unit.ids))
        pending.parts = [None] * len(parts)
        units.extend(parts)
        return max(1, sum(len(u.ids) for u in parts))

    def _encode(self, segment: Segment, index: int, pending: _Pending) -> list[_Unit]:
        """The units of one segment (its codes resolved): none when it is blank, several when it
        is too long. Each is laid out as the tokenizer lays out a source: the language token and
        </s> around the pieces, where the checkpoint's tokenizer puts them. The characters the
        vocabulary lacks are counted into ``pending``; a prefix goes to the first part."""
        text = line_content(segment.text)
        if not text.strip():
            return []
        prefix, suffix = self.tokenizer.source_layout(segment.src)
        limit = self.max_source_tokens - len(prefix) - len(suffix)
        pieces = self._pieces(text)
        pending.unknowns = unknown_characters(*pieces, self.tokenizer.unk_token_id)
        chunks = [pieces] if len(pieces[1]) <= limit else self._split(text, segment.src, limit)
        rows = part_rows(
            self.tokenizer,
            chunks,
            (prefix, suffix),
            segment.tgt,
            prefix=None if segment.prefix is None else self._pieces(segment.prefix)[1],
            alternatives=segment.alternatives,
            scores=segment.return_scores,
            replace_unknowns=segment.replace_unknowns,
        )
        return [_Unit(index, part, row.source, segment.tgt, row=row) for part, row in enumerate(rows)]

    def _find_terms(self, units: list[_Unit], segment: Segment, glossary: Glossary | None) -> None:
        """Set each unit's glossary target terms (those whose source term is in its text) and
        their pieces as its row's lexical constraints."""
        if segment.glossary is not None:
            glossary = segment.glossary if glossary is None else glossary.merged(segment.glossary)
        if glossary is None:
            return
        for unit in units:
            text = segment.text if len(units) == 1 else self.tokenizer.decode(unit.ids, skip_special_tokens=True)
            unit.terms = list(dict.fromkeys(m.target for m in glossary.find(text, segment.src, segment.tgt)))
            assert unit.row is not None
            unit.row.constraints = [self._pieces(term)[1] for term in unit.terms]

    def _pieces(self, text: str) -> tuple[list[str], list[int]]:
        """The pieces of ``text`` and their ids, without special tokens (``encode`` would warn
        about inputs longer than the model takes, which the Translator splits itself)."""
        pieces = self.tokenizer.tokenize(text)
        ids = self.tokenizer.convert_tokens_to_ids(pieces)
        assert isinstance(ids, list)  # a list of tokens gives a list of ids
        return pieces, ids

    def _split(self, text: str, src: str, limit: int) -> list[tuple[list[str], list[int]]]:
        """Pieces and ids of the sentences of a long input, packed up to ``limit`` tokens per
        part; a single sentence longer than that is cut at token boundaries (never dropped)."""
        parts: list[tuple[list[str], list[int]]] = []
        for sentence in sentences(iso_language(src), text):
            names, ids = self._pieces(sentence)
            for start in range(0, len(ids), limit):
                chunk = names[start : start + limit], ids[start : start + limit]
                if parts and len(parts[-1][1]) + len(chunk[1]) <= limit:
                    parts[-1][0].extend(chunk[0])
                    parts[-1][1].extend(chunk[1])
                else:
                    parts.append((list(chunk[0]), list(chunk[1])))
        logger.info("split an input of %d tokens into %d parts", sum(len(p[1]) for p in parts), len(parts))
        return parts

    def _default_limit(self, length: int) -> int:
        """max_new_tokens for a source of ``length`` tokens when the caller sets none: about twice
        the source, rounded up to a power of two so that sources of similar length share a batch."""
        bucket = 1 << max(length - 1, 0).bit_length()
        return max(1, min(self.model.config.max_position_embeddings - 2, 2 * bucket + 10))

    def _batches(self, units: list[_Unit], budget: int) -> Iterator[list[_Unit]]:
        """Units sorted by length (longest first), packed so that rows x longest <= budget; units
        with different default limits or controls (:func:`~m2m100.control.rows.batch_key`: the
        prefix's length, the alternatives) never share a batch (``generate`` takes them once)."""

        def key(unit: _Unit) -> tuple[Any, ...]:
            assert unit.row is not None
            return (unit.limit, batch_key(unit.row))

        groups: dict[tuple[Any, ...], list[_Unit]] = {}
        for unit in sorted(units, key=lambda u: len(u.ids), reverse=True):
            groups.setdefault(key(unit), []).append(unit)
        for group in groups.values():
            batch: list[_Unit] = []
            for unit in group:
                if batch and (len(batch) + 1) * len(batch[0].ids) > budget:
                    yield batch
                    batch = []
                batch.append(unit)
            if batch:
                yield batch

    def _run(self, batch: list[_Unit], settings: dict[str, Any]) -> None:
        """Translate one batch in place (``unit.output``); its rows share one batch key."""
        kwargs = dict(settings)
        beam_size = kwargs.pop("beam_size", None)
        if beam_size is not None:
            kwargs["num_beams"] = beam_size
        if kwargs.get("max_new_tokens") is None:
            kwargs.pop("max_new_tokens", None)
            if batch[0].limit is not None:
                kwargs["max_new_tokens"] = batch[0].limit
        rows = [unit.row for unit in batch if unit.row is not None]
        if kwargs.get("max_new_tokens") is not None and rows[0].prefix:  # the prefix takes positions too
            room = self.model.config.max_position_embeddings - 2 - len(rows[0].prefix)
            if room < 1:
                raise ValueError(
                    f"a prefix of {len(rows[0].prefix)} tokens leaves no room in the model's "
                    f"{self.model.config.max_position_embeddings} positions; shorten it"
                )
            kwargs["max_new_tokens"] = min(kwargs["max_new_tokens"], room)
        if kwargs.get("return_dict_in_generate"):
            raise ValueError("the Translator returns texts: return_dict_in_generate is not one of its options")
        results, out = translate_rows(self.model, self.tokenizer, rows, kwargs)
        for unit, result in zip(batch, results):
            unit.output = result
            unit.missed = missed_terms(result.text, unit.terms)
        pad = self.tokenizer.pad_token_id
        self.stats.batches += 1
        self.stats.source_tokens += sum(len(row.source) for row in rows)
        self.stats.generated_tokens += int((out[:, 2:] != pad).sum())

    def score(
        self,
        sources: Sequence[str],
        targets: Sequence[str],
        *,
        src: str,
        tgt: str,
        max_batch_tokens: int | None = None,
    ) -> list[Score]:
        """The log-probability the model gives each target as the translation of its source.

        Args:
            sources, targets: texts of the same number, pair by pair.
            max_batch_tokens: at most this many padded source plus target tokens per model call
                (default: the Translator's budget).

        Returns:
            A :class:`~m2m100.control.Score` per pair, in order: ``total`` (summed log-probability
            of the target's pieces and ``</s>``), ``log_probs`` and ``tokens`` per token, and
            ``normalized`` (``total`` per token).

        Raises:
            ValueError: lists of different lengths, an unknown language, a text that is not valid
                Unicode, or a pair longer than the model's positions (named by its index).
        """
        if isinstance(sources, str) or isinstance(targets, str):
            raise ValueError("sources and targets must be lists of strings (one pair per index)")
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets; give one target per source")
        budget = self.max_batch_tokens if max_batch_tokens is None else max_batch_tokens
        if budget < 1:
            raise ValueError(f"max_batch_tokens must be at least 1, got {budget}")
        for index, (source, target) in enumerate(zip(sources, targets)):
            for name, text in (("source", source), ("target", target)):
                problem = text_problem(text) if isinstance(text, str) else "not a string"
                if problem is not None:
                    raise ValueError(f"pair {index}: {name}: {problem}")
        return score_texts(
            self.model,
            self.tokenizer,
            [line_content(t) for t in sources],
            [line_content(t) for t in targets],
            src=self.resolve_language(src),
            tgt=self.resolve_language(tgt),
            budget=budget,
            max_tokens=self.max_source_tokens,
        )


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
