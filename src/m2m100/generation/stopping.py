"""Stopping criteria beyond the two every search checks itself (``max_length`` and the
end-of-sequence tokens): ``max_time``, ``stop_strings`` and the caller's ``stopping_criteria``.

A criterion is called as ``criterion(input_ids, scores)`` with ``input_ids`` the (N, T) sequences
so far (beam search: its candidates) and ``scores`` the tuple of per-step scores when
``output_scores`` and ``return_dict_in_generate`` are set (else None), and answers per row (a
(N,) bool tensor) or for all rows (a bool). transformers' ``StoppingCriteria`` objects are such
criteria. :func:`merge_stopping` combines them as transformers 4.57 merges its
``StoppingCriteriaList``: a caller's criterion of the same class as one generate makes replaces it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

Scores = tuple[torch.Tensor, ...] | None
Criterion = Callable[[torch.Tensor, Scores], torch.Tensor | bool]

# The classes generate makes from its settings (transformers' names): a caller's object of one of
# these classes takes the place of generate's own.
MAX_LENGTH, MAX_TIME, STOP_STRINGS, END_OF_SEQUENCE = (
    "MaxLengthCriteria",
    "MaxTimeCriteria",
    "StopStringCriteria",
    "EosTokenCriteria",
)


def _kind(criterion: object) -> str:
    return type(criterion).__name__


class MaxTimeCriteria:
    """Stop every row once ``max_time`` seconds have passed since the criterion was made."""

    def __init__(self, max_time: float, initial_timestamp: float | None = None) -> None:
        self.max_time = max_time
        self.initial_timestamp = time.time() if initial_timestamp is None else initial_timestamp

    def __call__(self, input_ids: torch.Tensor, scores: Scores = None) -> torch.Tensor:
        done = time.time() - self.initial_timestamp > self.max_time
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class StopStringCriteria:
    """Stop a row when one of ``stop_strings`` ends within its newest token, as transformers 4.57's
    criterion decides it.

    Each token is read as the text it yields after other text (``tokenizer``'s
    ``convert_tokens_to_string`` behind a fixed prefix, so no leading-space rule applies). A stop
    string matches when it ends inside the newest token's text and the tokens before it spell the
    rest: the newest token may run past the string's end and the first token past its start, but
    a string that ends before the newest token does not count (it was checked a step earlier).
    Only the last ``max(len(s))`` tokens are read. The tokens' texts and their places in each
    string are computed the first time a token id is seen.
    """

    PREFIX = "abcdef"

    def __init__(self, tokenizer: Any, stop_strings: str | Sequence[str]) -> None:
        strings = (stop_strings,) if isinstance(stop_strings, str) else tuple(stop_strings)
        if not strings or any(not isinstance(s, str) or not s for s in strings):
            raise ValueError(f"stop_strings must be a non-empty string or list of them, got {stop_strings!r}")
        for method in ("get_vocab", "convert_tokens_to_string", "_convert_id_to_token"):
            if not callable(getattr(tokenizer, method, None)):
                raise ValueError(
                    f"stop_strings needs a tokenizer with {method}() (the model's M2M100Tokenizer, "
                    f"or transformers'), got {type(tokenizer).__name__}"
                )
        self.stop_strings = strings
        self.tokenizer = tokenizer
        self.window = max(len(s) for s in strings)
        self.tokens: dict[int, list[str]] = {}  # id -> its tokens in vocabulary order (the last one wins)
        for token, index in tokenizer.get_vocab().items():
            self.tokens.setdefault(int(index), []).append(token)
        base = tokenizer(self.PREFIX, add_special_tokens=False)["input_ids"]
        self.base = [tokenizer._convert_id_to_token(int(i)) for i in base]
        # per token id: its text length, and per stop string its end overlaps and inner places
        self.places: dict[int, tuple[int, list[list[int]], list[list[int]]]] = {}

    def _text(self, token: str) -> str:
        text = self.tokenizer.convert_tokens_to_string([*self.base, token])
        return text[text.index(self.PREFIX) + len(self.PREFIX) :]

    @staticmethod
    def _fit(text: str, stop: str) -> tuple[list[int], list[int]]:
        """Where ``text`` can sit in ``stop``, counted in characters from the end of ``stop``:
        the overlaps of its start with the end of ``stop`` (it may run past that end), and the
        inner places > 0 where it ends (it may run past the start of ``stop``)."""
        ends, places = [], []
        for offset in range(1, len(text) + 1):  # text[:offset] ends where stop ends
            head = text[:offset]
            if offset <= len(stop) and stop.endswith(head) or offset > len(stop) and head.endswith(stop):
                ends.append(min(offset, len(stop)))
        for place in range(1, len(stop)):  # text ends `place` characters before the end of stop
            rest = stop[: len(stop) - place]
            if rest.endswith(text) or text.endswith(rest):
                places.append(place)
        return ends, places

    def _token(self, index: int) -> tuple[int, list[list[int]], list[list[int]]] | None:
        if index not in self.places:
            tokens = self.tokens.get(index)
            if tokens is None:
                return None
            texts = [self._text(t) for t in tokens]
            ends: list[list[int]] = []
            places: list[list[int]] = []
            for stop in self.stop_strings:
                # several tokens may share an id: per string the last one that fits at all counts
                fits = [self._fit(text, stop) for text in texts]
                ends.append(next((e for e, _ in reversed(fits) if e), []))
                places.append(next((p for _, p in reversed(fits) if p), []))
            self.places[index] = (len(texts[-1]), ends, places)
        return self.places[index]

    def _row_matches(self, ids: list[int]) -> bool:
        newest = self._token(ids[-1])
        if newest is None:
            return False
        earlier = [self._token(i) for i in reversed(ids[:-1])]
        for s, stop in enumerate(self.stop_strings):
            for matched in newest[1][s]:
                for token in earlier:
                    if matched >= len(stop) or token is None or matched not in token[2][s]:
                        break
                    matched += token[0]
                if matched >= len(stop):
                    return True
        return False

    def __call__(self, input_ids: torch.Tensor, scores: Scores = None) -> torch.Tensor:
        rows = input_ids[:, -self.window :].tolist()
        done = [bool(row) and self._row_matches(row) for row in rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


@dataclass
class Stopping:
    """The criteria of one call beyond the searches' own checks, and what they replace.

    Attributes:
        criteria: called at every step; a row stops when any says so.
        end_of_sequence: the search's own end-of-sequence check stays (no caller's
            ``EosTokenCriteria`` replaced it).
        max_length: the length of a caller's ``MaxLengthCriteria``, which replaces ``max_length``
            as the length a search stops at.
        pads_finished: some criterion watches end-of-sequence tokens, so rows that finished get
            padding (transformers' ``has_eos_stopping_criteria``).
    """

    criteria: list[Criterion]
    end_of_sequence: bool = True
    max_length: int | None = None
    pads_finished: bool = True

    def __call__(self, input_ids: torch.Tensor, scores: Scores) -> torch.Tensor:
        """(N,) bool: the rows of ``input_ids`` (N, T) that a criterion stops."""
        rows = input_ids.shape[0]
        done = torch.zeros(rows, dtype=torch.bool, device=input_ids.device)
        for criterion in self.criteria:
            answer = torch.as_tensor(criterion(input_ids, scores), device=input_ids.device).to(torch.bool)
            if answer.dim() == 0:
                answer = answer.expand(rows)
            elif answer.numel() == rows:
                answer = answer.reshape(rows)
            else:
                raise ValueError(
                    f"stopping criterion {type(criterion).__name__} answered with shape "
                    f"{tuple(answer.shape)}; expected a bool or ({rows},) bools, one per row"
                )
            done |= answer
        return done


def merge_stopping(
    custom: Any,
    *,
    max_time: float | None,
    stop_strings: str | Sequence[str] | None,
    tokenizer: Any,
    has_eos: bool,
) -> Stopping | None:
    """The criteria of one call, or None when only the searches' own checks apply.

    Args:
        custom: the caller's ``stopping_criteria``: a list (transformers' ``StoppingCriteriaList``)
            of criteria, or one criterion.
        max_time, stop_strings, tokenizer: the settings; stop strings need the tokenizer.
        has_eos: end-of-sequence ids are set, so generate has its own end-of-sequence check.

    Raises:
        ValueError: stop strings without a tokenizer, or a criterion that is not callable.
    """
    if custom is None:
        given: list[Any] = []
    elif isinstance(custom, (list, tuple)):  # transformers' StoppingCriteriaList is a list
        given = list(custom)
    else:
        given = [custom]
    for criterion in given:
        if not callable(criterion):
            raise ValueError(
                "stopping_criteria must hold callables (input_ids, scores) -> bool tensor, "
                f"got {type(criterion).__name__}"
            )
    own: list[Criterion] = []
    if max_time is not None:
        if isinstance(max_time, bool) or not isinstance(max_time, (int, float)):
            raise ValueError(f"max_time must be a number of seconds, got {max_time!r}")
        own.append(MaxTimeCriteria(float(max_time)))
    if stop_strings is not None:
        if tokenizer is None:
            raise ValueError(
                "stop_strings needs the model's tokenizer to read the generated tokens as text: "
                "pass tokenizer=... to generate"
            )
        own.append(StopStringCriteria(tokenizer, stop_strings))
    if not given and not own:
        return None
    kinds = {_kind(c) for c in given}
    criteria = [c for c in own if _kind(c) not in kinds] + given
    length = next((c for c in given if _kind(c) == MAX_LENGTH), None)
    max_length = None
    if length is not None:
        max_length = getattr(length, "max_length", None)
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"MaxLengthCriteria.max_length must be a positive integer, got {max_length!r}")
    return Stopping(
        criteria=criteria,
        end_of_sequence=END_OF_SEQUENCE not in kinds,
        max_length=max_length,
        pads_finished=has_eos or any(hasattr(c, "eos_token_id") for c in given),
    )
