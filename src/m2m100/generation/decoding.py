"""Generation: greedy search, sampling and beam search over the cached decoder.

The encoder runs once (or not at all, given ``encoder_outputs``). The first decoder step feeds the
prompt (the start token, or a forced prefix of ``decoder_input_ids``) in one call; every later step
feeds only the newest token of each row to the decoder, whose cache keeps the self-attention
keys/values (reordered with one ``index_select`` per buffer after a beam step) and the
cross-attention keys/values, computed once and shared by all the beams of an input. A
:class:`TokenDecoder` turns each step's logits into tokens: :class:`GreedyDecoder` (greedy and
sampling) and :class:`BeamSearchDecoder` (beam search and beam sampling). The selection follows
transformers 4.57's ``GenerationMixin`` exactly (same rule order, same beam bookkeeping, same
tie-breaking inputs, same stopping criteria), so the generated tokens are the same.

Work that only an option needs is done only when it is asked for: attentions and hidden states
(a :class:`~m2m100.model.transformer.Probe` for the stacks), per-row stopping criteria, the
decoder attention mask of a padded prefix, streaming.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import torch
import torch.nn.functional as F

from m2m100.config import M2M100Config
from m2m100.generation.config import DecodingOptions, GenerationConfig, resolve_generation_config
from m2m100.generation.constraints import ConstrainedBeams, RowConstraints, check_constraints, unmet_constraints
from m2m100.generation.logits import ForceToken, LogitRule, apply_rules, build_rules, needs_every_row, screenable
from m2m100.generation.stopping import Stopping, merge_stopping
from m2m100.model.cache import DecoderCache
from m2m100.model.screened_head import Screened
from m2m100.model.transformer import Memory, Probe, StackOutput
from m2m100.outputs import ModelOutput

Scores = tuple[torch.Tensor, ...] | None
BEAM_INFINITY = 1.0e9  # transformers' "very large" score offset; kept identical so ties break the same way
UNMET_OFFSET = BEAM_INFINITY / 4  # ranks a finished hypothesis that lacks a lexical constraint last
# Token columns the sequence buffers start with beyond the prompt; they double as tokens come
# (up to max_length), so a call costs what it generates, not what max_new_tokens allows.
INITIAL_TOKENS = 32


@dataclass(repr=False, eq=False)
class GenerateEncoderDecoderOutput(ModelOutput):
    """Greedy search and sampling: ``sequences`` (N, L) and, when asked, per-step (N, V) scores."""

    sequences: torch.Tensor | None = None
    scores: Scores = None  # processed scores of each step
    logits: Scores = None  # raw logits of each step
    encoder_attentions: Scores = None
    encoder_hidden_states: Scores = None
    decoder_attentions: tuple | None = None
    cross_attentions: tuple | None = None
    decoder_hidden_states: tuple | None = None
    past_key_values: Any | None = None


@dataclass(repr=False, eq=False)
class GenerateBeamEncoderDecoderOutput(ModelOutput):
    """Beam search: the best ``num_return_sequences`` per input, their length-penalised scores,
    per-step (B * num_beams, V) log-probabilities and the beam each token came from."""

    sequences: torch.Tensor | None = None
    sequences_scores: torch.Tensor | None = None
    scores: Scores = None
    logits: Scores = None
    beam_indices: torch.Tensor | None = None  # (N, generated) flat row of each token's beam, -1 after the end
    unmet_constraints: list[list[int]] | None = None  # with lexical_constraints: per row, the ones it lacks
    encoder_attentions: Scores = None
    encoder_hidden_states: Scores = None
    decoder_attentions: tuple | None = None
    cross_attentions: tuple | None = None
    decoder_hidden_states: tuple | None = None
    past_key_values: Any | None = None


Generated = torch.Tensor | GenerateEncoderDecoderOutput | GenerateBeamEncoderDecoderOutput


class Seq2SeqLM(Protocol):
    """What decoding needs of a model (``M2M100ForConditionalGeneration`` provides it): encode
    once, then one decoder step at a time over a cache, then the next-token logits.

    ``encode`` and ``decode_step`` return the stacks' :class:`StackOutput`; a ``probe`` asks them
    for attentions and hidden states too (``output_attentions``, ``output_hidden_states``), and
    is None on every other call.
    """

    config: M2M100Config
    generation_config: GenerationConfig

    @property
    def device(self) -> torch.device: ...

    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, probe: Probe | None = None
    ) -> StackOutput: ...

    def new_cache(self, *, capacity: int, cross_group: int = 1) -> DecoderCache: ...

    def decode_step(
        self,
        tokens: torch.Tensor,
        memory: Memory,
        cache: DecoderCache,
        *,
        attention_mask: torch.Tensor | None = None,
        probe: Probe | None = None,
    ) -> StackOutput: ...

    def next_token_logits(self, hidden: torch.Tensor) -> torch.Tensor: ...

    def screened_logits(self, hidden: torch.Tensor) -> Screened | None: ...


class Step(NamedTuple):
    """What the loop does with the cache after a decoder update."""

    done: bool
    reorder: torch.Tensor | None = None  # beam search: new row i continues old row reorder[i]
    keep: torch.Tensor | None = None  # greedy: rows still running (finished rows are dropped)


class TokenDecoder:
    """Turns each step's (rows, V) logits into the next tokens and keeps the sequences.

    Sequences start with the prompt (``options.prompt_length`` tokens: the decoder start token,
    or a forced prefix). ``stopping`` holds the criteria beyond ``max_length`` and the
    end-of-sequence tokens, when the call has any.
    """

    group: int  # decoder rows that read one encoder row (beams or return sequences)
    length: int  # tokens per sequence so far, the prompt included
    screens = False  # takes screened logits (greedy search, see GreedyDecoder.update)

    def __init__(self, options: DecodingOptions, rules: Sequence[LogitRule], stopping: Stopping | None) -> None:
        self.options, self.rules, self.stopping = options, list(rules), stopping
        self.scores: list[torch.Tensor] = []
        self.logits: list[torch.Tensor] = []
        self.limit = options.max_length  # the length every sequence stops at
        eos = options.eos_ids
        if stopping is not None:
            if stopping.max_length is not None:  # a caller's MaxLengthCriteria replaces max_length's check
                self.limit = stopping.max_length
            if not stopping.end_of_sequence:  # a caller's EosTokenCriteria replaces the built-in check
                eos = ()
        self.stop_ids = torch.tensor(eos, dtype=torch.long)

    def record(self, logits: torch.Tensor, scores: torch.Tensor) -> None:
        if self.options.output_scores:
            self.scores.append(scores.clone())
        if self.options.output_logits:
            self.logits.append(logits.clone())

    def stopped(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(N,) bool: the rows of ``input_ids`` that the call's stopping criteria stop, given the
        scores so far as transformers passes them (only when they are returned)."""
        assert self.stopping is not None
        shown = self.options.output_scores and self.options.return_dict_in_generate
        return self.stopping(input_ids, tuple(self.scores) if shown else None)

    def rows_per_input(self) -> int:
        """Decoder rows that read one encoder row at the next step (the cache's cross group)."""
        return self.group

    def needs_logits(self) -> bool:
        """False when a rule forces the next token whatever the model says (the target language
        token of M2M100), so the LM head can be skipped; raw logits asked for are still computed."""
        forced = any(isinstance(rule, ForceToken) and rule.at == self.length for rule in self.rules)
        return self.options.output_logits or not forced

    def capacity(self) -> int:
        """The most positions the decoder cache can need (every token but the last is fed): its
        bound, not what it allocates, as the cache grows with the tokens generated."""
        return max(self.options.max_length, self.limit)

    def new_tokens(self, fed: int) -> torch.Tensor:
        """(rows, length - fed): the tokens the decoder cache has not seen (the prompt at the
        first step, then the newest token)."""
        raise NotImplementedError

    def update(self, logits: torch.Tensor) -> Step:
        raise NotImplementedError

    def finalize(self) -> Generated:
        """The (N, L) sequences, or the output object with ``return_dict_in_generate``."""
        raise NotImplementedError


class GreedyDecoder(TokenDecoder):
    """Greedy search (argmax) or multinomial sampling; finished rows are padded.

    Greedy search stops computing rows that finished when nothing else is asked of the call (the
    tokens are the same). Sampling keeps every row so the random draws match a run of
    transformers from the same seed; the output objects and stopping criteria see every row, as
    transformers', so they keep them too.
    """

    def __init__(
        self,
        options: DecodingOptions,
        rules: Sequence[LogitRule],
        prompt: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        stopping: Stopping | None = None,
    ) -> None:
        super().__init__(options, rules, stopping)
        self.group = options.num_return_sequences
        rows, length = prompt.shape
        fill = options.pad_id if options.pad_id is not None else -1
        self.fill = fill
        self.max_width = max(self.limit, length + 1)
        width = min(self.max_width, length + INITIAL_TOKENS)
        self.sequences = prompt.new_full((rows, width), fill)  # (N, width): grows up to max_width
        self.sequences[:, :length] = prompt
        self.length = length
        self.unfinished = torch.ones(rows, dtype=torch.bool, device=prompt.device)
        self.stop_ids = self.stop_ids.to(prompt.device)
        watches_eos = bool(options.eos_ids) if stopping is None else stopping.pads_finished
        self.pads_finished = options.pad_id is not None and watches_eos
        self.generator = generator
        o = options
        self.drop_finished = not (
            o.do_sample
            or o.output_scores
            or o.output_logits
            or o.return_dict_in_generate
            or stopping is not None
            or needs_every_row(rules)  # a rule that reads rows by position sees them all
        )
        self.active = torch.arange(rows, device=prompt.device)  # rows still computed
        # the argmax of screened logits is the argmax of the full head's (model/screened_head.py)
        self.screens = not (o.do_sample or o.output_scores or o.output_logits) and screenable(rules)

    def new_tokens(self, fed: int) -> torch.Tensor:
        return self.sequences[self.active, fed : self.length]

    def newest(self) -> torch.Tensor:
        """(N,) the token each row got at the last step (padding for rows that had finished)."""
        return self.sequences[:, self.length - 1]

    def update(
        self,
        logits: torch.Tensor,
        *,
        floor: torch.Tensor | None = None,
        exact: Callable[[], torch.Tensor] | None = None,
    ) -> Step:
        """Args:
        floor: with screened ``logits`` (-inf for the tokens screened out), each row's floor:
            a token screened out has a logit below it, so a choice at or above it stands.
        exact: the full head's logits, for a step whose rules pushed every candidate below
            the floor (then a token screened out may win).
        """
        # the rules write in place: keep the raw logits intact when they are returned too
        scores = logits.clone() if self.options.output_logits else logits
        tokens = self.sequences[self.active, : self.length]
        scores = apply_rules(self.rules, tokens, scores)
        self.record(logits, scores)
        if self.options.do_sample:
            next_tokens = torch.multinomial(F.softmax(scores, dim=-1), 1, generator=self.generator).squeeze(1)
        else:
            next_tokens = arg_max(scores)
            if floor is not None and not bool((scores.gather(1, next_tokens[:, None]).squeeze(1) >= floor).all()):
                assert exact is not None, "screened logits come with the full head"
                next_tokens = arg_max(apply_rules(self.rules, tokens, exact()))
        pad = self.options.pad_id
        if self.pads_finished and pad is not None:  # finished rows get padding
            next_tokens = torch.where(self.unfinished[self.active], next_tokens, pad)
        self.sequences = _grown(self.sequences, self.length + 1, self.max_width, self.fill)
        self.sequences[self.active, self.length] = next_tokens
        self.length += 1
        hit = torch.isin(next_tokens, self.stop_ids) | (self.length >= self.limit)
        if self.stopping is not None:  # every row is active: the criteria see them all
            hit |= self.stopped(self.sequences[:, : self.length])
        self.unfinished[self.active] &= ~hit
        done = not bool(self.unfinished.any())
        if done or not self.drop_finished or not bool(hit.any()):
            return Step(done)
        keep = torch.nonzero(~hit).squeeze(1)
        self.active = self.active[keep]
        return Step(False, keep=keep)

    def finalize(self) -> Generated:
        sequences = self.sequences[:, : self.length]
        if not self.options.return_dict_in_generate:
            return sequences
        return GenerateEncoderDecoderOutput(
            sequences=sequences,
            scores=tuple(self.scores) if self.options.output_scores else None,
            logits=tuple(self.logits) if self.options.output_logits else None,
        )


class SequenceRanker:
    """The length penalty of beam search: a hypothesis of ``length`` generated tokens scores
    ``sum(log p) / length ** length_penalty``."""

    def __init__(self, length_penalty: float) -> None:
        self.length_penalty = length_penalty

    def __call__(self, log_probs: torch.Tensor, length: int) -> torch.Tensor:
        return log_probs / (length**self.length_penalty)


def top_k(scores: torch.Tensor, k: int, *, chunk: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.topk(scores, k)`` over the last dimension, sorted, for rows far longer than ``k``.

    The k best entries of a row lie in the k chunks (of ``chunk`` entries) with the highest
    maxima: a chunk outside those has k better entries elsewhere. So one vectorised max pass,
    a topk over the chunk maxima and one over k * chunk gathered entries replace a topk over the
    whole row, which on CPU copies each row into a heap (5 ms -> 0.8 ms for 16 x 512k scores).
    Equal scores may come in another order than ``torch.topk``'s, which leaves that order open too.
    """
    n = scores.shape[-1]
    main = n - n % chunk
    if main // chunk <= 4 * k or scores.device.type != "cpu":  # CUDA's topk is one fast kernel
        return torch.topk(scores, k)
    maxima = scores[..., :main].unflatten(-1, (main // chunk, chunk)).amax(dim=-1)
    chunks = torch.topk(maxima, k).indices  # (..., k)
    offsets = torch.arange(chunk, device=scores.device)
    index = (chunks.unsqueeze(-1) * chunk + offsets).flatten(-2)  # (..., k * chunk)
    if main < n:  # the tail that fills no whole chunk is always a candidate
        tail = torch.arange(main, n, device=scores.device).expand(*scores.shape[:-1], n - main)
        index = torch.cat((index, tail), dim=-1)
    candidates = torch.gather(scores, -1, index)
    values, picked = torch.topk(candidates, k)
    return values, torch.gather(index, -1, picked)


def arg_max(scores: torch.Tensor, *, chunk: int = 1024) -> torch.Tensor:
    """``torch.argmax(scores, dim=-1)`` for rows far longer than ``chunk``, with the same answer.

    CPU's argmax walks a row one element at a time, while a max over chunks is vectorised. So
    the row's chunk maxima come first, then argmax over those finds the first chunk that holds
    the row's maximum, and argmax within that chunk the first position: the same index as
    ``torch.argmax``, ties and NaN (which counts as the maximum) included. Over 128,112 scores
    on the 2-core machines of bench/ (bench_step_ops.py): 53 against 152 us for one row, 0.17
    against 1.29 ms for 16.
    """
    n = scores.shape[-1]
    main = n - n % chunk
    if main // chunk < 4 or scores.device.type != "cpu":  # CUDA's argmax is one fast kernel
        return torch.argmax(scores, dim=-1)
    maxima = scores[..., :main].unflatten(-1, (main // chunk, chunk)).amax(dim=-1)
    if main < n:  # the tail that fills no whole chunk is one more chunk
        maxima = torch.cat((maxima, scores[..., main:].amax(dim=-1, keepdim=True)), dim=-1)
    start = torch.argmax(maxima, dim=-1) * chunk
    # a tail chunk reads its last score again in the unused slots: later, so never the first max
    index = (start.unsqueeze(-1) + torch.arange(chunk, device=scores.device)).clamp_(max=n - 1)
    return start + torch.argmax(torch.gather(scores, -1, index), dim=-1)


def _grown(buffer: torch.Tensor, needed: int, limit: int, fill: int) -> torch.Tensor:
    """``buffer``, or a copy with room for ``needed`` entries along its last axis: twice as
    wide (at most ``limit``, at least ``needed``), the new entries set to ``fill``."""
    width = buffer.shape[-1]
    if needed <= width:
        return buffer
    size = max(min(2 * width, limit), needed)
    grown = buffer.new_full((*buffer.shape[:-1], size), fill)
    grown[..., :width] = buffer
    return grown


def _take_beams(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of ``tensor`` (B, K, ...) picked per input by ``index`` (B, K')."""
    return torch.take_along_dim(tensor, index.view(*index.shape, *([1] * (tensor.dim() - 2))), dim=1)


class BeamSearchDecoder(TokenDecoder):
    """Batched beam search with transformers' bookkeeping: ``running`` beams continue, the best
    ``num_beams`` finished hypotheses of each input are kept apart, and an input stops when no
    running beam can beat its worst finished one (``early_stopping`` picks the estimate).

    With ``do_sample`` (beam sampling) the candidates of each step are drawn, without
    replacement, from the softmax of the beams' accumulated log-probabilities instead of being
    the best ones, as transformers does.
    """

    def __init__(
        self,
        options: DecodingOptions,
        rules: Sequence[LogitRule],
        prompt: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        stopping: Stopping | None = None,
        constraints: RowConstraints | None = None,
    ) -> None:
        super().__init__(options, rules, stopping)
        if self.limit > options.max_length:
            raise ValueError(
                f"beam search keeps max_length ({options.max_length}) tokens per hypothesis; a "
                f"MaxLengthCriteria of {self.limit} cannot lengthen that: raise max_length or max_new_tokens"
            )
        k = self.group = options.num_beams
        self.batch = prompt.shape[0] // k
        self.prompt_length = prompt.shape[1]
        device = prompt.device
        self.generator = generator
        self.ranker = SequenceRanker(options.length_penalty)
        self.keep = max(2, 1 + len(options.eos_ids)) * k  # candidates per step, so K stay unfinished
        self.in_top_k = torch.arange(self.keep, device=device) < k
        self.stop_ids = self.stop_ids.to(device)
        pad = options.pad_id
        fill = (pad if pad else options.eos_ids[0]) if options.eos_ids else -1  # transformers' filler
        self.fill = fill
        b, width = self.batch, min(options.max_length, self.prompt_length + INITIAL_TOKENS)
        self.running = prompt.new_full((b, k, width), fill)  # (B, K, width): grows up to max_length
        self.running[:, :, : self.prompt_length] = prompt.view(b, k, -1)
        self.running_scores = torch.zeros(b, k, device=device)
        self.running_scores[:, 1:] = -BEAM_INFINITY  # only the first beam expands at step one
        # (B, K, width - prompt): the flat row each generated token came from
        self.running_beams = torch.full((b, k, width - self.prompt_length), -1, dtype=torch.int32, device=device)
        self.finished = self.running.clone()
        self.finished_scores = torch.full((b, k), -BEAM_INFINITY, device=device)
        self.finished_beams = self.running_beams.clone()
        self.is_finished = torch.zeros(b, k, dtype=torch.bool, device=device)
        self.improvable = torch.ones(b, 1, dtype=torch.bool, device=device)
        self.length = self.prompt_length
        # While the K beams of every input hold the same tokens (the prompt, then the forced
        # language token) one decoder row per input computes what all K would. Per-step scores,
        # attentions and the returned cache are kept per beam, so asking for them turns this off.
        o = options
        self.shared = k > 1 and not (o.output_scores or o.output_logits or o.return_dict_in_generate)
        self.row_constraints = constraints  # lexical constraints: see m2m100.generation.constraints
        self.constraints = None if constraints is None else ConstrainedBeams(constraints, beams=k, device=device)

    def rows_per_input(self) -> int:
        return 1 if self.shared else self.group

    def new_tokens(self, fed: int) -> torch.Tensor:
        beams = self.running[:, :1] if self.shared else self.running
        return beams[:, :, fed : self.length].reshape(-1, self.length - fed)

    def _make_room(self, tokens: int) -> None:
        """Grow the token axis of the running and finished buffers to hold ``tokens`` (doubling,
        at most ``max_length``); new columns hold the filler, and -1 in the beam indices."""
        limit = self.options.max_length
        self.running = _grown(self.running, tokens, limit, self.fill)
        self.finished = _grown(self.finished, tokens, limit, self.fill)
        generated, limit = tokens - self.prompt_length, limit - self.prompt_length
        self.running_beams = _grown(self.running_beams, generated, limit, -1)
        self.finished_beams = _grown(self.finished_beams, generated, limit, -1)

    def update(self, logits: torch.Tensor) -> Step:
        b, k, t = self.batch, self.group, self.length
        self._make_room(t + 1)
        vocab = logits.shape[-1]
        shared = self.shared
        if not self.needs_logits():
            log_probs = logits
        elif self.options.output_logits:  # the raw logits are returned: keep them
            log_probs = F.log_softmax(logits, dim=-1)
        else:  # in place: the same values, without a fresh (rows x vocabulary) buffer to fault in
            log_probs = torch._log_softmax(logits, -1, False, out=logits)
        if shared:  # one row per input so far: every beam continues from it
            log_probs = log_probs.repeat_interleave(k, dim=0)
        log_probs = apply_rules(self.rules, self.running[:, :, :t].reshape(b * k, t), log_probs)
        if self.constraints is not None and t + 1 < self.limit:  # no end before the constraints are met
            self.constraints.ban_ends(log_probs, self.stop_ids)
        self.record(logits, log_probs)
        totals = log_probs.view(b, k, vocab).add_(self.running_scores[:, :, None]).view(b, k * vocab)

        # candidates: the best (or, sampling, drawn) `keep` (beam, token) continuations of each input
        if self.options.do_sample:
            flat = torch.multinomial(F.softmax(totals, dim=-1), self.keep, generator=self.generator)
            cand_scores = torch.gather(totals, 1, flat)
        else:
            cand_scores, flat = top_k(totals, self.keep)
        key, in_top_k = cand_scores, self.in_top_k[None, :]
        if self.constraints is not None:  # extra candidates, taken by bank
            flat, cand_scores, key, in_top_k = self.constraints.candidates(totals, flat, cand_scores, k)
        source = flat // vocab  # (B, keep) beam each candidate extends
        cand = _take_beams(self.running, source)
        cand[:, :, t] = flat % vocab
        cand_beams = _take_beams(self.running_beams, source)
        step = t - self.prompt_length
        cand_beams[:, :, step] = (source + torch.arange(b, device=source.device).view(-1, 1) * k).to(torch.int32)
        ends = torch.isin(cand[:, :, t], self.stop_ids) | (t + 1 >= self.limit)
        if self.stopping is not None:
            ends |= self.stopped(cand[:, :, : t + 1].reshape(-1, t + 1)).view(b, -1)

        # running beams for the next step: the best candidates that did not end
        ended = ends.to(torch.float32) * -BEAM_INFINITY
        open_scores = cand_scores + ended
        best = torch.topk(open_scores if self.constraints is None else key + ended, k)[1]
        self.running = _take_beams(cand, best)
        self.running_scores = _take_beams(open_scores, best)
        self.running_beams = _take_beams(cand_beams, best)

        self._add_finished(cand, cand_scores, cand_beams, ends & in_top_k)
        if self.constraints is not None:
            self.constraints.select(best)
        ends = ends[:, : self.keep]  # the input is done when all its best candidates end
        reorder = self.running_beams[:, :, step].reshape(-1).long()
        self.length = t + 1
        self._update_improvable()
        all_full = bool(self.is_finished.all()) and self.options.early_stopping is True
        done = not bool(self.improvable.any()) or all_full or bool(ends.all())
        if shared:
            self.shared = bool((self.running[:, :, : t + 1] == self.running[:, :1, : t + 1]).all())
            # still one row per input: nothing to reorder; else each beam copies its input's row
            return Step(done, reorder=None if self.shared else reorder // k)
        return Step(done, reorder=reorder)

    def _add_finished(
        self, cand: torch.Tensor, cand_scores: torch.Tensor, cand_beams: torch.Tensor, just_ended: torch.Tensor
    ) -> None:
        """Merge the candidates that just ended (among the top K only) into the finished set."""
        scores = self.ranker(cand_scores, self.length + 1 - self.prompt_length)  # the new token included
        if self.constraints is not None:  # one that met its constraints ranks above any that did not
            scores += self.constraints.pending_unmet().to(torch.float32) * -UNMET_OFFSET
        full = self.is_finished.all(dim=-1, keepdim=True) & (self.options.early_stopping is True)
        scores += full.to(torch.float32) * -BEAM_INFINITY
        scores += (~self.improvable).to(torch.float32) * -BEAM_INFINITY
        scores += (~just_ended) * -BEAM_INFINITY
        merged_scores = torch.cat((self.finished_scores, scores), dim=1)
        best = torch.topk(merged_scores, self.group)[1]
        self.finished = _take_beams(torch.cat((self.finished, cand), dim=1), best)
        self.finished_scores = _take_beams(merged_scores, best)
        self.finished_beams = _take_beams(torch.cat((self.finished_beams, cand_beams), dim=1), best)
        self.is_finished = _take_beams(torch.cat((self.is_finished, just_ended), dim=1), best)

    def _update_improvable(self) -> None:
        """Can a running beam still beat the worst finished hypothesis? With ``early_stopping``
        False the best running score is judged at the current length; with "never" and a positive
        length penalty at ``max_length`` (a longer hypothesis could score higher)."""
        opts = self.options
        if opts.early_stopping == "never" and opts.length_penalty > 0.0:
            best_length = opts.max_length - self.prompt_length
        else:
            best_length = self.length - self.prompt_length
        # the best running score (the first beam's, except in constrained rows, taken by bank)
        best_running = self.ranker(self.running_scores.amax(dim=1, keepdim=True), best_length)
        worst_finished = torch.where(
            self.is_finished, torch.min(self.finished_scores, dim=1, keepdim=True)[0], -BEAM_INFINITY
        )
        self.improvable = self.improvable & torch.any(best_running > worst_finished, dim=-1, keepdim=True)

    def finalize(self) -> Generated:
        n = self.options.num_return_sequences
        sequences = self.finished[:, :n].reshape(self.batch * n, -1)
        scores = self.finished_scores[:, :n].reshape(-1)
        beams = self.finished_beams[:, :n].reshape(self.batch * n, -1)
        generated = int((beams + 1).bool().sum(dim=1).max())
        sequences, beams = sequences[:, : self.prompt_length + generated], beams[:, :generated]
        unmet = None
        if self.row_constraints is not None:
            unmet = unmet_constraints(sequences[:, self.prompt_length :], self.row_constraints, group=n)
            scores = scores + torch.tensor([bool(u) for u in unmet], device=scores.device) * UNMET_OFFSET
        if not self.options.return_dict_in_generate:
            return sequences
        return GenerateBeamEncoderDecoderOutput(
            sequences=sequences,
            sequences_scores=scores if self.options.output_scores else None,
            scores=tuple(self.scores) if self.options.output_scores else None,
            logits=tuple(self.logits) if self.options.output_logits else None,
            beam_indices=beams,
            unmet_constraints=unmet,
        )


# ------------------------------------------------------------------------------------------
# The loop
# ------------------------------------------------------------------------------------------
def _default_attention_mask(input_ids: torch.Tensor, options: DecodingOptions) -> torch.Tensor:
    """transformers' inference: mask padding only when the pad token is present and is not EOS."""
    pad = options.pad_id
    if pad is not None and bool((input_ids == pad).any()) and pad not in options.eos_ids:
        return input_ids.ne(pad).long()
    return torch.ones_like(input_ids)


def _draw_like_layerdrop(layers: int) -> None:
    """transformers' M2M100 layers draw ``torch.rand([])`` for LayerDrop on every forward, even
    in eval mode. Drawing as many numbers from the global generator keeps sampling after
    ``torch.manual_seed`` token-exact with transformers."""
    for _ in range(layers):
        torch.rand([])


# generate's arguments that are no generation setting, as transformers' generate takes them
CALL_ARGUMENTS = (
    "decoder_input_ids",
    "decoder_attention_mask",
    "encoder_outputs",
    "stopping_criteria",
    "streamer",
    "logits_processor",
    "prefix_allowed_tokens_fn",
    "tokenizer",
    "lexical_constraints",
)


@torch.no_grad()
def generate(
    model: Seq2SeqLM,
    input_ids: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    *,
    generation_config: GenerationConfig | None = None,
    **kwargs: Any,
) -> Generated:
    """Translate ``input_ids`` (B, S) with ``model`` (an ``M2M100ForConditionalGeneration``).

    Settings come from ``model.generation_config``, overridden by ``generation_config`` and then by
    ``kwargs`` (any :class:`GenerationConfig` field, plus ``generator``: a ``torch.Generator``
    for sampling, or ``seed``: an int to make one). Beyond transformers, ``forced_bos_token_id``
    may be a list or 1-D tensor with one target language id per input.

    As transformers' ``generate``, it also takes:

    * ``decoder_input_ids`` (B, P) and ``decoder_attention_mask``: a prefix each output starts
      with (prepended with the decoder start token when no row starts with it; rows of
      different lengths are left-padded, their padding masked). ``max_new_tokens`` counts after it.
    * ``encoder_outputs``: the encoder's output (``BaseModelOutput``, the encoder's own output or
      a tuple) instead of running the encoder on ``input_ids``.
    * ``stopping_criteria`` (callables ``(input_ids, scores) -> bool tensor per row, or a
      bool``; transformers' ``StoppingCriteriaList`` and its criteria are such), ``max_time``
      and ``stop_strings`` (with ``tokenizer=``, the model's tokenizer).
    * ``streamer``: an object with ``put`` and ``end`` (transformers' ``TextStreamer``), given
      the prompt and then each step's new tokens; greedy search and sampling only.
    * ``output_attentions`` and ``output_hidden_states`` with ``return_dict_in_generate``.
    * ``do_sample=True`` with ``num_beams > 1``: beam sampling.

    Beyond transformers, ``lexical_constraints``: one list per input of token-id sequences its
    output must contain (a glossary's terms), met by the constrained beam search of
    :mod:`m2m100.generation.constraints` (with one beam when ``num_beams`` is 1; inputs with an
    empty list are searched as without constraints). With ``return_dict_in_generate`` the
    output's ``unmet_constraints`` lists, per output row, the indices of those it lacks.

    Returns:
        The (B * num_return_sequences, L) token ids: decoder start (or prefix), forced language
        token, text, end of sequence, right-padded with ``pad_token_id`` to the longest; with
        ``return_dict_in_generate=True`` a :class:`GenerateEncoderDecoderOutput` (greedy, sampling)
        or :class:`GenerateBeamEncoderDecoderOutput` (beam search), whose ``past_key_values`` is
        the decoder's :class:`~m2m100.model.cache.DecoderCache` (``to_legacy_cache()`` gives
        transformers' tuples).

    Raises:
        ValueError: unknown or unsupported settings, or values out of range (checked before any
            model call).
    """
    generator = _generator(kwargs.pop("generator", None), kwargs.pop("seed", None), model.device)
    if "inputs" in kwargs:  # transformers' name of the first argument
        if input_ids is not None:
            raise ValueError("pass the source ids once: as input_ids or as inputs, not both")
        input_ids = kwargs.pop("inputs")
    call = {name: kwargs.pop(name, None) for name in CALL_ARGUMENTS}
    _ignored_model_arguments(kwargs)
    config = resolve_generation_config(model.generation_config, generation_config, kwargs)
    device = model.device

    encoder_outputs = _encoder_outputs(call["encoder_outputs"], device)
    if encoder_outputs is not None:
        batch, length = encoder_outputs.last_hidden_state.shape[:2]
        if input_ids is None:  # transformers' stand-in for the ids the encoder never reads
            input_ids = torch.full((batch, length), -100, dtype=torch.long, device=device)
    elif input_ids is None:  # transformers starts the source with bos
        if config.bos_token_id is None:
            raise ValueError("input_ids is None and there is no bos_token_id to start the source with")
        input_ids = torch.full((1, 1), config.bos_token_id, dtype=torch.long)
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
        raise ValueError(f"input_ids must be a (batch, length) tensor, got {getattr(input_ids, 'shape', input_ids)!r}")
    batch = input_ids.shape[0]
    source_shape = tuple(input_ids.shape)
    if encoder_outputs is not None:
        source_shape = tuple(encoder_outputs.last_hidden_state.shape[:2])
        if source_shape[0] != batch:
            raise ValueError(
                f"input_ids has {batch} rows but encoder_outputs has {source_shape[0]}; they must be equal"
            )
    if attention_mask is not None and tuple(attention_mask.shape) != source_shape:
        name = "the encoder_outputs' hidden states" if encoder_outputs is not None else "input_ids"
        raise ValueError(
            f"attention_mask has shape {tuple(attention_mask.shape)} but {name} {source_shape}; they must be equal"
        )
    checked = functools.partial(
        DecodingOptions.from_config,
        config,
        batch_size=batch,
        vocab_size=model.config.vocab_size,
        max_positions=model.config.max_position_embeddings,
        max_length_given=kwargs.get("max_length") is not None,
    )
    options = checked()
    prompt, prompt_mask = _decoder_prompt(
        call["decoder_input_ids"],
        call["decoder_attention_mask"],
        options.start_ids(batch, device),
        model.config.vocab_size,
    )
    if prompt.shape[1] > 1:  # new tokens count after a forced prefix
        options = checked(prompt_length=prompt.shape[1])
    streamer = _checked_streamer(call["streamer"], options)
    stopping = merge_stopping(
        call["stopping_criteria"],
        max_time=config.max_time,
        stop_strings=config.stop_strings,
        tokenizer=call["tokenizer"],
        has_eos=bool(options.eos_ids),
    )
    input_ids = input_ids.to(device)
    group = options.num_beams if options.num_beams > 1 else options.num_return_sequences
    rules = _rules(
        options,
        rows_per_input=group,
        device=device,
        encoder_input_ids=input_ids,
        logits_processor=call["logits_processor"],
        prefix_allowed_tokens_fn=call["prefix_allowed_tokens_fn"],
    )
    constraints = _lexical_constraints(call["lexical_constraints"], options, streamer, batch, model.config.vocab_size)
    decoder = _make_decoder(options, rules, prompt.repeat_interleave(group, dim=0), generator, stopping, constraints)

    if attention_mask is None:
        if encoder_outputs is None:
            attention_mask = _default_attention_mask(input_ids, options)
        else:  # transformers infers no mask for given encoder outputs: every position is read
            attention_mask = torch.ones(source_shape, dtype=torch.long, device=device)
    return _decode(
        model,
        decoder,
        input_ids,
        attention_mask.to(device),
        encoder_outputs=encoder_outputs,
        prompt_mask=prompt_mask,
        streamer=streamer,
        draw_like_layerdrop=options.do_sample and generator is None,
    )


def _ignored_model_arguments(kwargs: dict[str, Any]) -> None:
    """Take out what transformers' ``Seq2SeqTrainer`` passes and generation does not read:
    ``labels`` (a forward argument, which transformers' generate ignores too) and
    ``synced_gpus`` (keeping processes of a sharded model in step, which needs no work here
    unless the model is sharded: DeepSpeed ZeRO-3 and FSDP are refused)."""
    kwargs.pop("labels", None)
    if kwargs.pop("synced_gpus", None):
        raise ValueError(
            "synced_gpus=True (DeepSpeed ZeRO-3 or FSDP sharding) is not supported; generate runs each "
            "process on its own inputs"
        )


def _generator(generator: Any, seed: Any, device: torch.device) -> torch.Generator | None:
    if seed is not None:
        if generator is not None:
            raise ValueError("pass either generator or seed, not both")
        return torch.Generator(device=device).manual_seed(int(seed))
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def _encoder_outputs(value: Any, device: torch.device) -> StackOutput | None:
    """transformers' ``encoder_outputs`` (a ``BaseModelOutput``, the encoder's own output, or a
    tuple ``(last_hidden_state, hidden_states, attentions)``) as a :class:`StackOutput`."""
    if value is None:
        return None
    if hasattr(value, "last_hidden_state"):
        parts = (value.last_hidden_state, getattr(value, "hidden_states", None), getattr(value, "attentions", None))
    elif isinstance(value, (tuple, list)) and value:
        parts = (*tuple(value)[:3], None, None)[:3]
    else:
        raise ValueError(
            "encoder_outputs must be the encoder's output (a BaseModelOutput or a tuple "
            f"(last_hidden_state, ...)), got {type(value).__name__}"
        )
    hidden = parts[0]
    if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3:
        raise ValueError(
            "encoder_outputs.last_hidden_state must be a (batch, length, d_model) tensor, "
            f"got {getattr(hidden, 'shape', type(hidden).__name__)!r}"
        )
    return StackOutput(hidden.to(device), parts[1], parts[2])


def _decoder_prompt(
    decoder_input_ids: Any, decoder_attention_mask: Any, start: torch.Tensor, vocab_size: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The (B, P) tokens every output starts with and their (B, P) mask (None: all real).

    Without ``decoder_input_ids`` that is the start token. A prefix is taken as transformers
    takes it: when no row starts with the decoder start token, every row gets it in front (and
    a 1 in front of its mask); rows of different lengths are the caller's padding.
    """
    batch = start.shape[0]
    if decoder_input_ids is None:
        if decoder_attention_mask is not None:
            raise ValueError("decoder_attention_mask is the mask of decoder_input_ids: pass both")
        return start[:, None], None
    ids = decoder_input_ids
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.shape[1] == 0 or ids.dtype.is_floating_point:
        raise ValueError(
            f"decoder_input_ids must be a (batch, length >= 1) tensor of token ids, got {getattr(ids, 'shape', ids)!r}"
        )
    if ids.shape[0] != batch:
        raise ValueError(f"decoder_input_ids has {ids.shape[0]} rows but the batch has {batch} inputs")
    if bool(((ids < 0) | (ids >= vocab_size)).any()):
        raise ValueError(f"decoder_input_ids holds ids outside the vocabulary 0..{vocab_size - 1}")
    ids = ids.to(device=start.device, dtype=torch.long)
    mask = None
    if decoder_attention_mask is not None:
        if not isinstance(decoder_attention_mask, torch.Tensor) or decoder_attention_mask.shape != ids.shape:
            raise ValueError(
                f"decoder_attention_mask has shape {tuple(getattr(decoder_attention_mask, 'shape', ()))} but "
                f"decoder_input_ids has {tuple(ids.shape)}; they must be equal"
            )
        mask = decoder_attention_mask.to(device=start.device, dtype=torch.long)
    if bool((ids[:, 0] != start).all()):
        ids = torch.cat((start[:, None], ids), dim=1)
        if mask is not None:
            mask = torch.cat((mask.new_ones(batch, 1), mask), dim=1)
    if mask is not None and bool(mask.all()):
        mask = None  # nothing masked: the plain causal path gives the same numbers
    return ids, mask


def _checked_streamer(streamer: Any, options: DecodingOptions) -> Any:
    if streamer is None:
        return None
    if options.num_beams > 1:
        raise ValueError(
            "streamer cannot be used with beam search (num_beams > 1), as in transformers; use num_beams=1 to stream"
        )
    if not callable(getattr(streamer, "put", None)) or not callable(getattr(streamer, "end", None)):
        raise ValueError(f"streamer must have put() and end() methods, got {type(streamer).__name__}")
    return streamer


def _rules(
    options: DecodingOptions,
    *,
    rows_per_input: int,
    device: torch.device,
    encoder_input_ids: torch.Tensor,
    logits_processor: Any,
    prefix_allowed_tokens_fn: Any,
) -> list[LogitRule]:
    """:func:`build_rules` with what only generate sees: the source ids and the caller's processors."""
    if isinstance(logits_processor, (list, tuple)) and not logits_processor:
        logits_processor = None  # transformers' default: an empty LogitsProcessorList
    return build_rules(
        options,
        rows_per_input=rows_per_input,
        device=device,
        encoder_input_ids=encoder_input_ids,
        logits_processor=logits_processor,
        prefix_allowed_tokens_fn=prefix_allowed_tokens_fn,
    )


def _lexical_constraints(
    value: Any, options: DecodingOptions, streamer: Any, batch: int, vocab_size: int
) -> RowConstraints | None:
    """The checked ``lexical_constraints`` (None when no row has any: plain search)."""
    if value is None:
        return None
    forbidden = [*options.eos_ids, *([] if options.pad_id is None else [options.pad_id])]
    rows = check_constraints(value, batch=batch, vocab_size=vocab_size, forbidden=forbidden)
    if not any(rows):
        return None
    if options.do_sample:
        raise ValueError("lexical_constraints need beam or greedy search, not sampling: set do_sample=False")
    if streamer is not None:
        raise ValueError("lexical_constraints cannot be streamed: pass streamer=None")
    return rows


def _make_decoder(
    options: DecodingOptions,
    rules: list[LogitRule],
    prompt: torch.Tensor,
    generator: torch.Generator | None,
    stopping: Stopping | None,
    constraints: RowConstraints | None = None,
) -> TokenDecoder:
    """The token decoder over ``prompt`` (B * group, P): beams or return sequences. Lexical
    constraints always take the beam search (with one beam when ``num_beams`` is 1)."""
    if options.num_beams > 1 or constraints is not None:
        return BeamSearchDecoder(
            options, rules, prompt, generator=generator, stopping=stopping, constraints=constraints
        )
    return GreedyDecoder(options, rules, prompt, generator=generator, stopping=stopping)


def _decode(
    model: Seq2SeqLM,
    decoder: TokenDecoder,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    encoder_outputs: StackOutput | None,
    prompt_mask: torch.Tensor | None,
    streamer: Any,
    draw_like_layerdrop: bool,
) -> Generated:
    """Encode once (unless ``encoder_outputs`` are given), feed the prompt, then each row's
    newest token until the decoder is done."""
    options = decoder.options
    probe = None
    if options.return_dict_in_generate:
        # an empty probe still has the encoder compute every position: the returned cache then
        # holds the cross keys/values of the padding too, as transformers'
        probe = Probe(options.output_attentions, options.output_hidden_states)
    if encoder_outputs is None:
        if draw_like_layerdrop:
            _draw_like_layerdrop(model.config.encoder_layers)
        encoded = model.encode(input_ids, attention_mask, probe=probe)
    else:
        encoded = encoder_outputs
    if probe is not None and not (probe.attentions or probe.hidden_states):
        probe = None  # the decoder computes the same without one
    memory = Memory(encoded.last_hidden_state, attention_mask)
    cache = model.new_cache(capacity=decoder.capacity(), cross_group=decoder.rows_per_input())
    # the decoder mask of a padded prefix follows the cache's rows; each new token is real
    mask = None if prompt_mask is None else prompt_mask.repeat_interleave(decoder.rows_per_input(), dim=0)
    steps: list[StackOutput] = []
    if streamer is not None:
        streamer.put(decoder.new_tokens(0).cpu())
    vocab = model.config.vocab_size
    while True:
        if draw_like_layerdrop:
            _draw_like_layerdrop(model.config.decoder_layers)
        tokens = decoder.new_tokens(cache.get_seq_length())
        out = model.decode_step(tokens, memory, cache, attention_mask=mask, probe=probe)
        memory.hidden = None  # the cache holds the cross keys/values from now on
        if probe is not None:
            steps.append(out)
        hidden = out.last_hidden_state[:, -1]
        screened = None
        if not decoder.needs_logits():  # a forced token: the rules set every score, so the head is skipped
            logits = hidden.new_zeros(hidden.shape[0], vocab, dtype=torch.float32)
        elif decoder.screens and (screened := model.screened_logits(hidden)) is not None:
            logits = screened.logits  # exact where a token can win, -inf elsewhere
        else:
            logits = model.next_token_logits(hidden)
        if screened is None:
            step = decoder.update(logits)
        else:
            assert isinstance(decoder, GreedyDecoder)
            step = decoder.update(logits, floor=screened.floor, exact=lambda: model.next_token_logits(hidden))
        if streamer is not None:
            assert isinstance(decoder, GreedyDecoder)
            streamer.put(decoder.newest().cpu())
        if step.done:
            if step.reorder is not None and options.return_dict_in_generate:
                cache.reorder(step.reorder)  # the returned cache follows the last beam step, as transformers'
            break
        if step.reorder is not None:
            cache.reorder(step.reorder)
            if mask is not None:
                mask = mask[step.reorder]
        cache.cross_group = decoder.rows_per_input()
        if step.keep is not None:
            cache.select(step.keep)
            memory = memory.select(step.keep)
            if mask is not None:
                mask = mask[step.keep]
        if mask is not None:
            mask = torch.cat((mask, mask.new_ones(mask.shape[0], 1)), dim=1)
    if streamer is not None:
        streamer.end()
    result = decoder.finalize()
    if isinstance(result, torch.Tensor):
        return result
    if options.output_attentions:
        result.encoder_attentions = encoded.attentions
        result.decoder_attentions = tuple(s.attentions for s in steps)
        result.cross_attentions = tuple(s.cross_attentions for s in steps)
    if options.output_hidden_states:
        result.encoder_hidden_states = encoded.hidden_states
        result.decoder_hidden_states = tuple(s.hidden_states for s in steps)
    result.past_key_values = cache
    return result
