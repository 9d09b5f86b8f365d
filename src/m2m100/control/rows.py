"""One model call for a batch of rows, each with its own controls: target prefix, alternatives,
scores and the replacement of unknown pieces (the Translator's batches go through here).

Rows of one call share what ``generate`` takes once: the prefix's length in tokens (rows with
prefixes of other lengths go to other calls, so that no row's positions are shifted by padding
and each row decodes exactly as it would alone), the number of alternatives, and whether scores
are asked for (a search that keeps scores cannot share its first beam rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from m2m100.control.alternatives import Alternative, first_tokens, hypotheses, n_best
from m2m100.control.unknowns import attended_sources, decode_replacing
from m2m100.modeling import M2M100ForConditionalGeneration
from m2m100.tokenizer import MultilingualTokenizer


@dataclass
class Row:
    """One source for the model, with its controls."""

    source: list[int]  # ids as the tokenizer lays out a source
    pieces: list[str]  # the source's pieces, one per id (special tokens included)
    tgt_id: int  # the target language token
    prefix: list[int] = field(default_factory=list)  # pieces the translation starts with
    alternatives: int = 0
    scores: bool = False
    replace_unknowns: bool = False
    constraints: list[list[int]] = field(default_factory=list)  # glossary terms (ids) the output must contain


@dataclass
class RowResult:
    text: str
    score: float | None = None
    alternatives: list[Alternative] = field(default_factory=list)


def part_rows(
    tokenizer: MultilingualTokenizer,
    chunks: Sequence[tuple[list[str], list[int]]],
    layout: tuple[list[int], list[int]],
    tgt: str,
    *,
    prefix: list[int] | None,
    alternatives: int,
    scores: bool,
    replace_unknowns: bool,
) -> list[Row]:
    """The rows of one input, given as ``chunks`` of (pieces, ids) (several when it is split),
    each between the tokenizer's ``layout`` (the special ids before and after). The prefix goes
    to the first part; a split input gets no n-best (its parts' scores give its one alternative)."""
    before, after = layout
    names = tokenizer.convert_ids_to_tokens(before), tokenizer.convert_ids_to_tokens(after)
    split = len(chunks) > 1
    return [
        Row(
            [*before, *ids, *after],
            [*names[0], *pieces, *names[1]],
            tokenizer.get_lang_id(tgt),
            (prefix or []) if part == 0 else [],
            0 if split else alternatives,
            scores or (split and alternatives > 0),
            replace_unknowns,
        )
        for part, (pieces, ids) in enumerate(chunks)
    ]


def joined(parts: Sequence[RowResult], joiner: str, *, alternatives: bool) -> RowResult:
    """The result of an input from those of its parts: the texts joined, the mean score, and the
    parts' alternatives when it is whole (else the joined text as its one alternative)."""
    text = joiner.join(p.text.strip() for p in parts if p.text.strip())
    scores = [p.score for p in parts if p.score is not None]
    score = sum(scores) / len(scores) if scores else None
    if len(parts) == 1:
        return RowResult(text, score, parts[0].alternatives)
    return RowResult(text, score, [Alternative(text, score)] if score is not None and alternatives else [])


def batch_key(row: Row) -> tuple[int, int, bool]:
    """Rows that may share a ``generate`` call have the same key."""
    return (len(row.prefix), row.alternatives, row.scores or row.alternatives > 0)


@torch.inference_mode()
def translate_rows(
    model: M2M100ForConditionalGeneration,
    tokenizer: MultilingualTokenizer,
    rows: Sequence[Row],
    settings: dict[str, Any],
) -> tuple[list[RowResult], torch.Tensor]:
    """Translate ``rows`` (one :func:`batch_key`) with ``generate`` ``settings``.

    Returns:
        A result per row, and the (N, L) sequences generated (for the caller's counters).
    """
    assert len({batch_key(r) for r in rows}) == 1, "rows of one call share a batch key"
    device = model.device
    pad = tokenizer.pad_token_id
    width = max(len(r.source) for r in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row.source)] = torch.tensor(row.source)
        attention_mask[i, : len(row.source)] = 1
    inputs: dict[str, Any] = {
        "input_ids": input_ids.to(device),
        "attention_mask": attention_mask.to(device),
        "forced_bos_token_id": [r.tgt_id for r in rows],
    }
    if any(r.constraints for r in rows):  # glossary terms: a constrained search for the rows that have any
        settings = {**settings, "lexical_constraints": [r.constraints for r in rows]}
    start = model.config.decoder_start_token_id
    if rows[0].prefix:
        prompt = torch.tensor([[start, r.tgt_id, *r.prefix] for r in rows], dtype=torch.long)
        inputs["decoder_input_ids"] = prompt.to(device)
    n, wants_scores = rows[0].alternatives, batch_key(rows[0])[2]
    scored: dict[str, Any] = {"return_dict_in_generate": True, "output_scores": True} if wants_scores else {}
    length_penalty = float(settings.get("length_penalty", model.generation_config.length_penalty))
    eos = model.config.eos_token_id
    per_row = max(n, 1)
    first_sums = torch.zeros(len(rows) * per_row)
    if n > 1 and rows[0].prefix:  # the top n tokens after the prefix, each continued
        plain = {k: v for k, v in settings.items() if k != "lexical_constraints"}  # one free step, then the search
        tokens, first = first_tokens(model, inputs, plain, n, special_ids=tokenizer.all_special_ids)
        prompt = torch.cat((inputs["decoder_input_ids"].repeat_interleave(n, dim=0), tokens.reshape(-1, 1)), dim=1)
        first_sums = first.reshape(-1).cpu()
        inputs = {
            "input_ids": inputs["input_ids"].repeat_interleave(n, dim=0),
            "attention_mask": inputs["attention_mask"].repeat_interleave(n, dim=0),
            "forced_bos_token_id": [r.tgt_id for r in rows for _ in range(n)],
            "decoder_input_ids": prompt,
        }
        call = dict(settings)
        if "lexical_constraints" in call:
            call["lexical_constraints"] = [c for c in call["lexical_constraints"] for _ in range(n)]
        if call.get("max_new_tokens") is not None:
            call["max_new_tokens"] = max(1, call["max_new_tokens"] - 1)
        out = model.generate(**inputs, **call, **scored)
    elif n > 1:
        out = model.generate(**n_best(model, inputs, settings, n), **scored)
    else:
        out = model.generate(**inputs, **settings, **scored)
    prompt_length = 1 if "decoder_input_ids" not in inputs else inputs["decoder_input_ids"].shape[1]
    found = None
    if wants_scores:
        found = hypotheses(out, prompt_length=prompt_length, eos_id=eos, length_penalty=length_penalty)
        sequences = found.sequences
    else:
        assert isinstance(out, torch.Tensor)  # no return_dict_in_generate
        sequences = out
    if n > 1 and rows[0].prefix:  # the first free token counts as generated
        assert found is not None
        found.sums = found.sums.cpu() + first_sums
        found.lengths = found.lengths.cpu() + 1
    sequences = sequences.cpu()
    texts = _texts(model, tokenizer, rows, per_row, sequences, input_ids, attention_mask)
    scores: list[float | None] = list(found.scores(length_penalty)) if found is not None else [None] * len(texts)
    results = []
    for i, row in enumerate(rows):
        own = slice(i * per_row, (i + 1) * per_row)
        alternatives = [Alternative(t, float(s or 0.0)) for t, s in zip(texts[own], scores[own])] if n > 0 else []
        results.append(
            RowResult(texts[i * per_row], scores[i * per_row] if row.scores or n > 0 else None, alternatives)
        )
    return results, sequences


def _texts(
    model: M2M100ForConditionalGeneration,
    tokenizer: MultilingualTokenizer,
    rows: Sequence[Row],
    per_row: int,
    sequences: torch.Tensor,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
) -> list[str]:
    """Decoded ``sequences`` (``per_row`` for each row); the ``<unk>`` of the rows that ask for it
    replaced by the source piece they attended to most."""
    texts = tokenizer.batch_decode(sequences, skip_special_tokens=True)
    unk = tokenizer.unk_token_id
    owner = torch.arange(len(rows)).repeat_interleave(per_row)
    wanted = torch.tensor([rows[int(o)].replace_unknowns for o in owner], dtype=torch.bool)
    todo = torch.nonzero(wanted & (sequences[:, 1:] == unk).any(dim=1)).flatten()
    if len(todo) == 0:
        return texts
    device = model.device
    sources = owner[todo]
    positions = attended_sources(
        model,
        input_ids[sources].to(device),
        attention_mask[sources].to(device),
        sequences[todo].to(device),
        special_ids=[i for i in tokenizer.all_special_ids if i != unk],  # an <unk> source piece is the answer
    ).cpu()
    for k, index in enumerate(todo.tolist()):
        row = rows[int(owner[index])]
        seq = sequences[index].tolist()
        replacements = {t: row.pieces[int(positions[k, t])] for t, token in enumerate(seq) if t > 0 and token == unk}
        texts[index] = decode_replacing(tokenizer, seq, replacements)
    return texts
