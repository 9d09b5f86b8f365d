"""Generation: greedy search, sampling and beam search over the cached decoder.

The encoder runs once. Every step feeds only the newest token of each row to the decoder, whose
cache keeps the self-attention keys/values (reordered with one ``index_select`` per buffer after
a beam step) and the cross-attention keys/values, computed once and shared by all the beams of an
input. A :class:`TokenDecoder` turns each step's logits into tokens: :class:`GreedyDecoder`
(greedy and sampling) and :class:`BeamSearchDecoder`. The selection follows transformers 4.57's
``GenerationMixin`` exactly (same rule order, same beam bookkeeping, same tie-breaking inputs),
so the generated tokens are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import torch
import torch.nn.functional as F

from m2m100.config import M2M100Config
from m2m100.generation.config import DecodingOptions, GenerationConfig, resolve_generation_config
from m2m100.generation.logits import ForceToken, LogitRule, apply_rules, build_rules
from m2m100.model.cache import DecoderCache
from m2m100.model.transformer import Memory
from m2m100.outputs import ModelOutput

Scores = tuple[torch.Tensor, ...] | None
BEAM_INFINITY = 1.0e9  # transformers' "very large" score offset; kept identical so ties break the same way


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
    encoder_attentions: Scores = None
    encoder_hidden_states: Scores = None
    decoder_attentions: tuple | None = None
    cross_attentions: tuple | None = None
    decoder_hidden_states: tuple | None = None
    past_key_values: Any | None = None


Generated = torch.Tensor | GenerateEncoderDecoderOutput | GenerateBeamEncoderDecoderOutput


class Seq2SeqLM(Protocol):
    """What decoding needs of a model (``M2M100ForConditionalGeneration`` provides it): encode
    once, then one decoder step at a time over a cache, then the next-token logits."""

    config: M2M100Config
    generation_config: GenerationConfig

    @property
    def device(self) -> torch.device: ...

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Memory: ...

    def new_cache(self, *, capacity: int, cross_group: int = 1) -> DecoderCache: ...

    def decode_step(self, tokens: torch.Tensor, memory: Memory, cache: DecoderCache) -> torch.Tensor: ...

    def next_token_logits(self, hidden: torch.Tensor) -> torch.Tensor: ...


class Step(NamedTuple):
    """What the loop does with the cache after a decoder update."""

    done: bool
    reorder: torch.Tensor | None = None  # beam search: new row i continues old row reorder[i]
    keep: torch.Tensor | None = None  # greedy: rows still running (finished rows are dropped)


class TokenDecoder:
    """Turns each step's (rows, V) logits into the next tokens and keeps the sequences."""

    group: int  # decoder rows that read one encoder row (beams or return sequences)
    length: int  # tokens per sequence so far, the decoder start included

    def __init__(self, options: DecodingOptions, rules: Sequence[LogitRule]) -> None:
        self.options, self.rules = options, list(rules)
        self.scores: list[torch.Tensor] = []
        self.logits: list[torch.Tensor] = []

    def record(self, logits: torch.Tensor, scores: torch.Tensor) -> None:
        if self.options.output_scores:
            self.scores.append(scores.clone())
        if self.options.output_logits:
            self.logits.append(logits.clone())

    def rows_per_input(self) -> int:
        """Decoder rows that read one encoder row at the next step (the cache's cross group)."""
        return self.group

    def needs_logits(self) -> bool:
        """False when a rule forces the next token whatever the model says (the target language
        token of M2M100), so the LM head can be skipped; raw logits asked for are still computed."""
        forced = any(isinstance(rule, ForceToken) and rule.at == self.length for rule in self.rules)
        return self.options.output_logits or not forced

    def last_tokens(self) -> torch.Tensor:
        """(rows, 1): the input of the next decoder step."""
        raise NotImplementedError

    def update(self, logits: torch.Tensor) -> Step:
        raise NotImplementedError

    def finalize(self) -> Generated:
        """The (N, L) sequences, or the output object with ``return_dict_in_generate``."""
        raise NotImplementedError


class GreedyDecoder(TokenDecoder):
    """Greedy search (argmax) or multinomial sampling; finished rows are padded.

    Greedy search stops computing rows that finished when nobody asked for per-step scores (the
    outputs are the same). Sampling keeps every row so the random draws match a run of
    transformers from the same seed.
    """

    def __init__(
        self,
        options: DecodingOptions,
        rules: Sequence[LogitRule],
        start: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(options, rules)
        self.group = options.num_return_sequences
        rows = start.shape[0]
        fill = options.pad_id if options.pad_id is not None else -1
        self.sequences = start.new_full((rows, options.max_length), fill)  # (N, max_length)
        self.sequences[:, 0] = start
        self.length = 1
        self.unfinished = torch.ones(rows, dtype=torch.bool, device=start.device)
        self.eos = torch.tensor(options.eos_ids, dtype=torch.long, device=start.device)
        self.generator = generator
        self.drop_finished = not (options.do_sample or options.output_scores or options.output_logits)
        self.active = torch.arange(rows, device=start.device)  # rows still computed

    def last_tokens(self) -> torch.Tensor:
        return self.sequences[self.active, self.length - 1 : self.length]

    def update(self, logits: torch.Tensor) -> Step:
        # the rules write in place: keep the raw logits intact when they are returned too
        scores = logits.clone() if self.options.output_logits else logits
        scores = apply_rules(self.rules, self.sequences[self.active, : self.length], scores)
        self.record(logits, scores)
        if self.options.do_sample:
            next_tokens = torch.multinomial(F.softmax(scores, dim=-1), 1, generator=self.generator).squeeze(1)
        else:
            next_tokens = torch.argmax(scores, dim=-1)
        if self.options.pad_id is not None and self.options.eos_ids:  # finished rows get padding
            next_tokens = torch.where(self.unfinished[self.active], next_tokens, self.options.pad_id)
        self.sequences[self.active, self.length] = next_tokens
        self.length += 1
        hit = torch.isin(next_tokens, self.eos) | (self.length >= self.options.max_length)
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


def _take_beams(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of ``tensor`` (B, K, ...) picked per input by ``index`` (B, K')."""
    return torch.take_along_dim(tensor, index.view(*index.shape, *([1] * (tensor.dim() - 2))), dim=1)


class BeamSearchDecoder(TokenDecoder):
    """Batched beam search with transformers' bookkeeping: ``running`` beams continue, the best
    ``num_beams`` finished hypotheses of each input are kept apart, and an input stops when no
    running beam can beat its worst finished one (``early_stopping`` picks the estimate)."""

    def __init__(self, options: DecodingOptions, rules: Sequence[LogitRule], start: torch.Tensor) -> None:
        super().__init__(options, rules)
        k = self.group = options.num_beams
        self.batch = start.shape[0] // k
        device = start.device
        self.ranker = SequenceRanker(options.length_penalty)
        self.keep = max(2, 1 + len(options.eos_ids)) * k  # candidates per step, so K stay unfinished
        self.in_top_k = torch.arange(self.keep, device=device) < k
        self.eos = torch.tensor(options.eos_ids, dtype=torch.long, device=device)
        pad = options.pad_id
        fill = (pad if pad else options.eos_ids[0]) if options.eos_ids else -1  # transformers' filler
        b, generated = self.batch, options.max_length - 1
        self.running = start.new_full((b, k, options.max_length), fill)  # (B, K, max_length)
        self.running[:, :, 0] = start.view(b, k)
        self.running_scores = torch.zeros(b, k, device=device)
        self.running_scores[:, 1:] = -BEAM_INFINITY  # only the first beam expands at step one
        self.running_beams = torch.full((b, k, generated), -1, dtype=torch.int32, device=device)
        self.finished = self.running.clone()
        self.finished_scores = torch.full((b, k), -BEAM_INFINITY, device=device)
        self.finished_beams = self.running_beams.clone()
        self.is_finished = torch.zeros(b, k, dtype=torch.bool, device=device)
        self.improvable = torch.ones(b, 1, dtype=torch.bool, device=device)
        self.length = 1
        # While the K beams of every input hold the same tokens (the start, then the forced
        # language token) one decoder row per input computes what all K would; per-step scores
        # are kept per beam, so asking for them turns this off.
        self.shared = k > 1 and not (options.output_scores or options.output_logits)

    def rows_per_input(self) -> int:
        return 1 if self.shared else self.group

    def last_tokens(self) -> torch.Tensor:
        beams = self.running[:, :1] if self.shared else self.running
        return beams[:, :, self.length - 1].reshape(-1, 1)

    def update(self, logits: torch.Tensor) -> Step:
        b, k, t = self.batch, self.group, self.length
        vocab = logits.shape[-1]
        shared = self.shared
        log_probs = F.log_softmax(logits, dim=-1) if self.needs_logits() else logits
        if shared:  # one row per input so far: every beam continues from it
            log_probs = log_probs.repeat_interleave(k, dim=0)
        log_probs = apply_rules(self.rules, self.running[:, :, :t].reshape(b * k, t), log_probs)
        self.record(logits, log_probs)
        totals = log_probs.view(b, k, vocab).add_(self.running_scores[:, :, None]).view(b, k * vocab)

        # candidates: the best `keep` (beam, token) continuations of each input
        cand_scores, flat = top_k(totals, self.keep)
        source = flat // vocab  # (B, keep) beam each candidate extends
        cand = _take_beams(self.running, source)
        cand[:, :, t] = flat % vocab
        cand_beams = _take_beams(self.running_beams, source)
        cand_beams[:, :, t - 1] = (source + torch.arange(b, device=source.device).view(-1, 1) * k).to(torch.int32)
        ends = torch.isin(cand[:, :, t], self.eos) | (t + 1 >= self.options.max_length)

        # running beams for the next step: the best candidates that did not end
        open_scores = cand_scores + ends.to(torch.float32) * -BEAM_INFINITY
        best = torch.topk(open_scores, k)[1]
        self.running = _take_beams(cand, best)
        self.running_scores = _take_beams(open_scores, best)
        self.running_beams = _take_beams(cand_beams, best)

        self._add_finished(cand, cand_scores, cand_beams, ends)
        reorder = self.running_beams[:, :, t - 1].reshape(-1).long()
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
        self, cand: torch.Tensor, cand_scores: torch.Tensor, cand_beams: torch.Tensor, ends: torch.Tensor
    ) -> None:
        """Merge the candidates that just ended (among the top K only) into the finished set."""
        just_ended = ends & self.in_top_k[None, :]
        scores = self.ranker(cand_scores, self.length)  # generated tokens, the new one included
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
            best_length = opts.max_length - 1
        else:
            best_length = self.length - 1
        best_running = self.ranker(self.running_scores[:, :1], best_length)
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
        sequences, beams = sequences[:, : 1 + generated], beams[:, :generated]
        if not self.options.return_dict_in_generate:
            return sequences
        return GenerateBeamEncoderDecoderOutput(
            sequences=sequences,
            sequences_scores=scores if self.options.output_scores else None,
            scores=tuple(self.scores) if self.options.output_scores else None,
            logits=tuple(self.logits) if self.options.output_logits else None,
            beam_indices=beams,
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

    Returns:
        The (B * num_return_sequences, L) token ids: decoder start, forced language token, text,
        end of sequence, right-padded with ``pad_token_id`` to the longest; with
        ``return_dict_in_generate=True`` a :class:`GenerateEncoderDecoderOutput` (greedy, sampling)
        or :class:`GenerateBeamEncoderDecoderOutput` (beam search).

    Raises:
        ValueError: unknown or unsupported settings, or values out of range (checked before any
            model call).
    """
    generator = _generator(kwargs.pop("generator", None), kwargs.pop("seed", None), model.device)
    if "inputs" in kwargs:  # transformers' name of the first argument
        if input_ids is not None:
            raise ValueError("pass the source ids once: as input_ids or as inputs, not both")
        input_ids = kwargs.pop("inputs")
    config = resolve_generation_config(model.generation_config, generation_config, kwargs)
    if input_ids is None:  # transformers starts the source with bos
        if config.bos_token_id is None:
            raise ValueError("input_ids is None and there is no bos_token_id to start the source with")
        input_ids = torch.full((1, 1), config.bos_token_id, dtype=torch.long)
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
        raise ValueError(f"input_ids must be a (batch, length) tensor, got {getattr(input_ids, 'shape', input_ids)!r}")
    if attention_mask is not None and tuple(attention_mask.shape) != tuple(input_ids.shape):
        raise ValueError(
            f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has "
            f"{tuple(input_ids.shape)}; they must be equal"
        )
    options = DecodingOptions.from_config(
        config,
        batch_size=input_ids.shape[0],
        vocab_size=model.config.vocab_size,
        max_positions=model.config.max_position_embeddings,
        max_length_given=kwargs.get("max_length") is not None,
    )

    input_ids = input_ids.to(model.device)
    if attention_mask is None:
        attention_mask = _default_attention_mask(input_ids, options)
    decoder = _make_decoder(options, input_ids.shape[0], model.device, generator)
    return _decode(
        model,
        decoder,
        input_ids,
        attention_mask.to(model.device),
        draw_like_layerdrop=options.do_sample and generator is None,
    )


def _generator(generator: Any, seed: Any, device: torch.device) -> torch.Generator | None:
    if seed is not None:
        if generator is not None:
            raise ValueError("pass either generator or seed, not both")
        return torch.Generator(device=device).manual_seed(int(seed))
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def _make_decoder(
    options: DecodingOptions, batch: int, device: torch.device, generator: torch.Generator | None
) -> TokenDecoder:
    """The token decoder with its rules, over ``batch * group`` rows (beams or return sequences)."""
    group = options.num_beams if options.num_beams > 1 else options.num_return_sequences
    start = options.start_ids(batch, device).repeat_interleave(group)  # (B * group,)
    rules = build_rules(options, rows_per_input=group, device=device)
    if options.num_beams > 1:
        return BeamSearchDecoder(options, rules, start)
    return GreedyDecoder(options, rules, start, generator=generator)


def _decode(
    model: Seq2SeqLM,
    decoder: TokenDecoder,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    draw_like_layerdrop: bool,
) -> Generated:
    """Encode once, then feed each row's newest token until the decoder is done."""
    if draw_like_layerdrop:
        _draw_like_layerdrop(model.config.encoder_layers)
    memory = model.encode(input_ids, attention_mask)
    cache = model.new_cache(capacity=decoder.options.max_length, cross_group=decoder.rows_per_input())
    vocab = model.config.vocab_size
    while True:
        if draw_like_layerdrop:
            _draw_like_layerdrop(model.config.decoder_layers)
        hidden = model.decode_step(decoder.last_tokens(), memory, cache)
        memory.hidden = None  # the cache holds the cross keys/values from now on
        if decoder.needs_logits():
            logits = model.next_token_logits(hidden)
        else:  # a forced token: the rules set every score, so the (rows x vocabulary) head is skipped
            logits = hidden.new_zeros(hidden.shape[0], vocab, dtype=torch.float32)
        step = decoder.update(logits)
        if step.done:
            return decoder.finalize()
        if step.reorder is not None:
            cache.reorder(step.reorder)
        cache.cross_group = decoder.rows_per_input()
        if step.keep is not None:
            cache.select(step.keep)
            memory = memory.select(step.keep)
