"""Fine-tuning (or training from scratch): the library behind ``m2m100 finetune``.

:func:`train` runs the whole job from a :class:`~m2m100.training.settings.TrainSettings`. One
optimizer step takes ``world_size * grad_accum`` batches of the epoch's batch order (see
:mod:`m2m100.training.data`): process r computes batches r, r + world_size, ... of them, and
every gradient is divided by the target tokens of all of them, so N processes under ``torchrun``
follow the same curve as one process with N times the accumulation. Because the batches of a step follow from the step number, the
data position is just the step; with the model, optimizer, scheduler, scaler and every process's
RNG state, ``OUTPUT/last`` continues a run exactly where it stopped. Losses are in nats per
target token (fairseq logs them in bits).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import logging
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from m2m100.config import M2M100Config
from m2m100.languages import unknown_language_error
from m2m100.modeling import M2M100ForConditionalGeneration, shift_tokens_right
from m2m100.tokenizer import M2M100Tokenizer
from m2m100.training import data
from m2m100.training.distributed import Distributed, autocast, check_precision, rng_state, set_rng_state
from m2m100.training.run_folder import RunFolder, SettingsError
from m2m100.training.settings import TrainResult, TrainSettings

logger = logging.getLogger(__name__)

ADAM_BETAS = (0.9, 0.98)  # fairseq's for M2M100
# What counts as a diverged step. A healthy run moves the weights' norm by a few percent (from
# scratch, a few times); an update at a far too high --lr multiplies it by orders of magnitude while
# every weight stays finite, and a model in that state translates to empty lines.
MAX_WEIGHT_GROWTH = 100.0  # the weights' norm may grow to this multiple of the norm the run started from
MAX_LOSS_FACTOR = 10.0  # the loss per target token may reach this multiple of ln(vocab), a uniform guess's


class DivergedError(RuntimeError):
    """A step's loss, gradient norm, weights or validation loss went non-finite or exploded. Raised
    before anything of that step is saved: ``OUTPUT/last`` and ``OUTPUT/best`` keep the last
    checkpoints whose weights passed the checks (the message names their steps)."""


# ------------------------------------------------------------------------------------------
# Loss and learning rate
# ------------------------------------------------------------------------------------------
def label_smoothed_nll_loss(
    logits: torch.Tensor, labels: torch.Tensor, epsilon: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed label-smoothed cross-entropy and summed NLL over the labels that are not -100.

    fairseq's ``label_smoothed_nll_loss``: the target class gets probability ``1 - epsilon`` and
    every other class ``epsilon / (V - 1)`` (torch's ``label_smoothing`` spreads ``epsilon / V``
    over all classes, the target included, which is a slightly different distribution).

    Args:
        logits: (B, T, V), any float dtype; the softmax runs in float32.
        labels: (B, T) class ids, -100 where there is no target.

    Returns:
        (loss, nll), float32 scalars summed over target tokens.
    """
    lprobs = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    mask = labels.ne(data.IGNORE_INDEX)
    target = labels.masked_fill(~mask, 0).unsqueeze(-1)  # (B, T, 1)
    nll = -lprobs.gather(dim=-1, index=target).squeeze(-1)[mask]  # (N,)
    smooth = -lprobs.sum(dim=-1)[mask]  # (N,)
    eps_i = epsilon / (lprobs.size(-1) - 1)
    loss = (1.0 - epsilon - eps_i) * nll + eps_i * smooth
    return loss.sum(), nll.sum()


def lr_factor(step: int, *, schedule: str, warmup: int, total: int) -> float:
    """Multiplier of the peak learning rate at (0-based) optimizer step ``step``: a linear warmup
    over ``warmup`` steps, then fairseq's inverse square root, a linear decay to 0 at ``total``,
    or constant."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    if schedule == "inverse-sqrt":
        return math.sqrt(max(warmup, 1) / max(step, 1))
    return max(0.0, (total - step) / max(1, total - warmup))


def build_optimizer(
    model: torch.nn.Module, settings: TrainSettings, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (weight decay on matrices only) and its warmup schedule."""
    params = list(dict.fromkeys(p for p in model.parameters() if p.requires_grad))  # tied ones once
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": settings.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    assert settings.lr is not None
    optimizer = torch.optim.AdamW(groups, lr=settings.lr, betas=ADAM_BETAS, eps=1e-8)
    factor = functools.partial(lr_factor, schedule=settings.schedule, warmup=settings.warmup_steps, total=total_steps)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# ------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------
def train(
    settings: TrainSettings,
    *,
    on_step: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train as ``settings`` say and return where the run ended.

    Args:
        on_step: Called on rank 0 after each step and each validation with (step, total steps,
            record); the record holds loss, nll_loss, lr, tokens_per_s (or valid_* metrics).

    Raises:
        SettingsError: contradictory options, an output folder holding another run, a resume
            folder whose settings differ.
        FileNotFoundError: a data file, checkpoint or tokenizer folder is missing.
        data.DataError: a malformed data line (names file:line).
        data.UnknownLanguageError: a language code the tokenizer or the model does not know.
        DivergedError: a step's loss or gradient norm became NaN/inf or exploded, or its update
            grew the weights' norm past ``MAX_WEIGHT_GROWTH`` times the starting norm, or the
            validation loss is NaN/inf (``OUTPUT/last`` keeps the last checkpoint that passed).
        ValueError: the starting weights hold NaN or infinite values.
    """
    settings.check()
    settings = settings.resolved()
    try:
        dist = Distributed(settings.device)
    except ValueError as err:
        raise SettingsError(str(err)) from err
    try:
        return _Run(settings, dist, on_step).run()
    finally:
        dist.close()


class _Run:
    """One training job: the state that :func:`train` threads through its steps."""

    def __init__(
        self, settings: TrainSettings, dist: Distributed, on_step: Callable[[int, int, dict[str, Any]], None] | None
    ) -> None:
        self.settings, self.dist, self.on_step = settings, dist, on_step
        try:
            check_precision(settings.precision, dist.device)
        except ValueError as err:
            raise SettingsError(str(err)) from err
        if settings.bleu and importlib.util.find_spec("sacrebleu") is None:
            raise SettingsError("--bleu needs sacrebleu: pip install 'm2m100[eval]'")
        self.folder = RunFolder(Path(settings.output))
        # Read from what the command names, also on --resume: run.json then tells whether it changed.
        if settings.model is not None:
            self.config = M2M100Config.from_pretrained(settings.model)
        else:  # TrainSettings.check: one of model and init_config, and a tokenizer with init_config
            assert settings.init_config is not None and settings.tokenizer is not None
            self.config = M2M100Config.from_json_file(settings.init_config)
        if settings.dropout is not None:
            self.config = dataclasses.replace(self.config, dropout=settings.dropout)
        self.tokenizer = M2M100Tokenizer.from_pretrained(settings.tokenizer or settings.model or "")
        known = list(self.tokenizer.lang_code_to_id)
        for flag, code in (("--src-lang", settings.src_lang), ("--tgt-lang", settings.tgt_lang)):
            if code is not None and code not in known:
                raise data.UnknownLanguageError(f"{flag}: {unknown_language_error(code, known)}")
        for path in filter(None, (settings.train_file, settings.valid_file)):
            if (
                Path(path).is_file()
                and data.detect_format(path) == "tsv"
                and (settings.src_lang is None or settings.tgt_lang is None)
            ):
                raise SettingsError(f"{path} is TSV, which holds no language codes: give --src-lang and --tgt-lang")
        max_length = settings.max_length or min(self.tokenizer.model_max_length, self.config.max_position_embeddings)
        load = functools.partial(
            data.load_dataset,
            tokenizer=self.tokenizer,
            src_lang=settings.src_lang,
            tgt_lang=settings.tgt_lang,
            skip_bad_lines=settings.skip_bad_lines,
            max_length=max_length,
            max_tokens=settings.max_batch_tokens,
            vocab_size=self.config.vocab_size,
        )
        self.train_data = load(settings.train_file)
        self.valid_data = load(settings.valid_file) if settings.valid_file else None
        self.group = dist.world_size * settings.grad_accum
        self.steps_per_epoch = data.steps_per_epoch(len(self.train_data.batches), self.group)
        limits = [settings.max_steps or math.inf, (settings.epochs or math.inf) * self.steps_per_epoch]
        self.total_steps = int(min(limits))

    # ------------------------------------------------------------------ setup
    def _identity(self) -> dict[str, Any]:
        """What makes two runs the same run (run.json): the settings that change the result."""
        changeable = {
            "max_steps",
            "epochs",
            "eval_every",
            "save_every",
            "log_every",
            "bleu",
            "resume",
            "overwrite",
            "device",
            "gradient_checkpointing",
            "output",
        }
        identity = {k: v for k, v in dataclasses.asdict(self.settings).items() if k not in changeable}
        identity["world_size"] = self.dist.world_size
        identity["train_file_bytes"] = os.path.getsize(self.settings.train_file)
        for field in dataclasses.fields(self.config):  # the architecture, whichever file it came from
            if field.name != "extra":
                identity[f"config.{field.name}"] = getattr(self.config, field.name)
        return identity

    def _build_model(self) -> Any:
        s = self.settings
        if s.resume:
            model = M2M100ForConditionalGeneration.from_pretrained(self.folder.last, device=self.dist.device)
        elif s.model is not None:
            overrides: dict[str, Any] = {} if s.dropout is None else {"dropout": s.dropout}
            model = M2M100ForConditionalGeneration.from_pretrained(s.model, device=self.dist.device, **overrides)
        else:
            torch.manual_seed(s.seed)  # the same random weights on every rank
            model = M2M100ForConditionalGeneration(self.config).to(self.dist.device)
        model.train()  # also gives back the plain weights that inference packing replaced
        if s.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        return model

    def run(self) -> TrainResult:
        s, dist = self.settings, self.dist
        resume = dist.on_main(lambda: self.folder.prepare(self._identity(), resume=s.resume, overwrite=s.overwrite))
        state = self.folder.load_state() if resume else None
        self.core = self._build_model()
        self.optimizer, self.scheduler = build_optimizer(self.core, s, self.total_steps)
        self.scaler = torch.amp.GradScaler("cuda") if s.precision == "fp16" else None
        self.step, self.best = 0, None
        self.saved_step: int | None = None  # the step OUTPUT/last holds
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            if self.scaler is not None and state["scaler"] is not None:
                self.scaler.load_state_dict(state["scaler"])
            self.step, self.best = state["step"], state["best"]
            self.saved_step = self.step
            set_rng_state(state["rng"][dist.rank], dist.device)
            if dist.is_main:
                self.folder.truncate_log(self.step)
            logger.info("resuming %s at step %d", s.output, self.step)
        else:
            torch.manual_seed(s.seed + dist.rank)  # dropout differs between ranks, as it should
            random.seed(s.seed + dist.rank)
        # The reference of the growth check: a resumed run keeps the one its run started with.
        saved_norm = state.get("start_weight_norm") if state is not None else None
        self.start_norm: float = self._weight_norm() if saved_norm is None else float(saved_norm)
        if not math.isfinite(self.start_norm):
            origin = self.folder.last if s.resume else (s.model or "the random initialisation")
            raise ValueError(f"the starting weights ({origin}) hold NaN or infinite values; start from another model")
        self.model: Any = self.core
        if dist.world_size > 1:
            layerdrop = self.config.encoder_layerdrop > 0 or self.config.decoder_layerdrop > 0
            self.model = torch.nn.parallel.DistributedDataParallel(
                self.core,
                device_ids=[dist.device] if dist.device.type == "cuda" else None,
                find_unused_parameters=layerdrop,
            )  # a dropped layer leaves its weights without gradient
        loss = self._loop()
        return TrainResult(
            self.step,
            self.step / self.steps_per_epoch,
            loss,
            self.best,
            self.folder.path,
            self.train_data.skipped_lines,
            self.train_data.left_out,
        )

    # ------------------------------------------------------------------ steps
    def _loop(self) -> float | None:
        s, dist = self.settings, self.dist
        examples, batches = self.train_data.examples, self.train_data.batches
        order_epoch, order = -1, batches
        meter = _Meter()
        loss: float | None = None
        while self.step < self.total_steps:
            epoch, k = divmod(self.step, self.steps_per_epoch)
            if epoch != order_epoch:
                order_epoch, order = epoch, data.epoch_order(batches, seed=s.seed, epoch=epoch)
            group = data.step_batches(order, k, self.group)
            targets = sum(data.target_tokens(examples, b) for b in group)
            loss_sum, nll_sum = dist.sum(self._forward_backward(group[dist.rank :: dist.world_size], targets))
            # Checked before the update, so the weights (and OUTPUT/last) are still good ones.
            if not math.isfinite(loss_sum):
                raise self._diverged(f"the loss is {loss_sum}")
            if loss_sum / targets > self._loss_limit():
                raise self._diverged(self._exploded("loss", loss_sum / targets))
            lr = self.scheduler.get_last_lr()[0]  # this step's (the update moves the scheduler on)
            grad_norm = self._update()
            self.step += 1
            loss = loss_sum / targets
            meter.add(loss_sum, nll_sum, targets, sum(data.batch_cost(examples, b) for b in group))
            record = {
                "step": self.step,
                "epoch": round(self.step / self.steps_per_epoch, 4),
                "loss": loss,
                "nll_loss": nll_sum / targets,
                "lr": lr,
                "grad_norm": grad_norm,
                "tokens_per_s": meter.tokens_per_s(),
            }
            if dist.is_main and self.on_step:
                self.on_step(self.step, self.total_steps, record)
            last = self.step == self.total_steps
            if self.step % s.log_every == 0 or last:
                if dist.is_main:  # the loss averaged over the steps since the previous line
                    self.folder.append_log(
                        {**record, "loss": meter.loss / meter.targets, "nll_loss": meter.nll / meter.targets}
                    )
                meter = _Meter()
            if self.valid_data is not None and (self.step % (s.eval_every or s.save_every) == 0 or last):
                self._validate()
            if self.step % s.save_every == 0 or last:
                self._save_last()
        return loss

    def _forward_backward(self, micro_batches: list[list[int]], ntokens: int) -> list[float]:
        """Accumulate the gradient of this process's batches; returns their summed [loss, nll]."""
        dist = self.dist
        examples = self.train_data.examples
        loss_total = nll_total = 0.0
        for m, indices in enumerate(micro_batches):
            batch = data.collate(examples, indices, pad_id=self.config.pad_token_id).to(dist.device)
            # DDP averages gradients over ranks; scaling by world_size makes the sum per global token.
            sync = m == len(micro_batches) - 1 or dist.world_size == 1
            with contextlib.nullcontext() if sync else self.model.no_sync():
                loss, nll = self._loss(self.model, batch)
                scaled = loss * (dist.world_size / ntokens)
                (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            loss_total += loss.item()
            nll_total += nll.item()
        return [loss_total, nll_total]

    def _loss(self, model: Any, batch: data.Batch) -> tuple[torch.Tensor, torch.Tensor]:
        decoder_input_ids = shift_tokens_right(
            batch.labels, self.config.pad_token_id, self.config.decoder_start_token_id
        )
        with autocast(self.settings.precision, self.dist.device):
            logits = model(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                decoder_input_ids=decoder_input_ids,
                use_cache=False,
                return_dict=False,
            )[0]
        return label_smoothed_nll_loss(logits, batch.labels, self.settings.label_smoothing)

    def _update(self) -> float:
        """Clip the gradient, step the optimizer and the schedule; returns the norm before clipping."""
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        norm = float(torch.nn.utils.clip_grad_norm_(params, self.settings.clip_norm or math.inf))
        if not math.isfinite(norm) and self.scaler is None:  # fp16's scaler skips such steps by design
            raise self._diverged(f"the gradient norm is {norm}")
        if self.scaler is not None:
            self.scaler.step(self.optimizer)  # skipped when fp16 gradients overflowed
            self.scaler.update()
        else:
            self.optimizer.step()
        # After the update and before anything is saved: finite weights of magnitude 1e9 pass every
        # check on the loss of this step and only show in the next one (or in a saved checkpoint).
        weight_norm = self._weight_norm()
        if not math.isfinite(weight_norm) or weight_norm > MAX_WEIGHT_GROWTH * self.start_norm:
            raise self._diverged(
                f"the update made the weights' norm {weight_norm:.4g}, more than {MAX_WEIGHT_GROWTH:g} "
                f"times the {self.start_norm:.4g} the run started from"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return norm

    def _weight_norm(self) -> float:
        """The L2 norm of all the weights together (NaN or inf when one of them is)."""
        # Per tensor then over the norms (torch.nn.utils.get_total_norm needs torch 2.6; we take 2.1).
        norms = [torch.linalg.vector_norm(p.detach(), dtype=torch.float32) for p in self.core.parameters()]
        return float(torch.linalg.vector_norm(torch.stack(norms)))

    def _loss_limit(self) -> float:
        return MAX_LOSS_FACTOR * math.log(self.config.vocab_size)

    def _exploded(self, what: str, value: float) -> str:
        return (
            f"the {what} exploded to {value:.4g} per target token "
            f"(more than {MAX_LOSS_FACTOR:g} x ln(vocab size) = {self._loss_limit():.4g})"
        )

    def _diverged(self, what: str, *, step: int | None = None) -> DivergedError:
        """The error for ``step`` (default: the one being taken): what went wrong and which
        checkpoints are kept."""
        if self.saved_step is None:
            kept = "no checkpoint was written yet"
        else:
            kept = f"{self.folder.last} keeps the checkpoint of step {self.saved_step}"
            if self.best is not None and self.folder.best.is_dir():
                kept += f", {self.folder.best} that of step {self.best['step']}"
        hint = "try a lower --lr" + (" or --precision fp32" if self.settings.precision != "fp32" else "")
        step = self.step + 1 if step is None else step
        return DivergedError(f"training diverged at step {step}: {what}; stopped, {kept} ({hint})")

    # ------------------------------------------------------------------ validation and checkpoints
    def _validate(self) -> None:
        """Validation loss (and corpus BLEU/chrF over all directions together) on the whole set,
        each rank scoring its share of the batches; OUTPUT/best follows ``best_metric``."""
        s, dist = self.settings, self.dist
        assert self.valid_data is not None, "validation runs only with a validation file"
        examples, batches = self.valid_data.examples, self.valid_data.batches
        mine = [b for i, b in enumerate(batches) if i % dist.world_size == dist.rank]
        loss_sum = nll_sum = 0.0
        hypotheses: list[tuple[int, str]] = []
        self.core.eval()
        devices = [dist.device] if dist.device.type == "cuda" else []
        with torch.no_grad(), torch.random.fork_rng(devices=devices):  # a resumed run draws the same numbers
            for indices in mine:
                batch = data.collate(examples, indices, pad_id=self.config.pad_token_id).to(dist.device)
                loss, nll = self._loss(self.core, batch)
                loss_sum, nll_sum = loss_sum + loss.item(), nll_sum + nll.item()
                if s.bleu:
                    hypotheses += zip(indices, self._translate(batch))
        self.core.train()
        loss_sum, nll_sum = dist.sum([loss_sum, nll_sum])
        ntokens = sum(data.target_tokens(examples, b) for b in batches)
        # Before OUTPUT/best or OUTPUT/last take these weights.
        if not math.isfinite(loss_sum):
            raise self._diverged(f"the validation loss is {loss_sum}", step=self.step)
        if loss_sum / ntokens > self._loss_limit():
            raise self._diverged(self._exploded("validation loss", loss_sum / ntokens), step=self.step)
        record: dict[str, Any] = {
            "step": self.step,
            "valid_loss": loss_sum / ntokens,
            "valid_nll_loss": nll_sum / ntokens,
        }
        if s.bleu:
            import sacrebleu

            merged = dict(h for part in dist.gather(hypotheses) for h in part)
            hyps = [merged[i] for i in range(len(examples))]
            refs = [[e.pair.tgt for e in examples]]
            record["bleu"] = sacrebleu.corpus_bleu(hyps, refs).score
            record["chrf"] = sacrebleu.corpus_chrf(hyps, refs).score
        value = record["valid_loss" if s.best_metric == "loss" else s.best_metric]
        better = self.best is None or (
            value < self.best["value"] if s.best_metric == "loss" else value > self.best["value"]
        )
        if better:
            self.best = {"metric": s.best_metric, "value": value, "step": self.step}
        if dist.is_main:
            self.folder.append_log(record)
            if self.on_step:
                self.on_step(self.step, self.total_steps, record)
            if better:
                self.folder.save("best", self.core, self.tokenizer)
        dist.gather(None)  # the others wait for the checkpoint

    def _translate(self, batch: data.Batch) -> list[str]:
        """Greedy translations of a batch, each row into its own target language."""
        max_new = min(2 * batch.input_ids.shape[1] + 10, self.config.max_position_embeddings)
        out = self.core.generate(
            batch.input_ids,
            batch.attention_mask,
            forced_bos_token_id=batch.tgt_lang_ids,
            num_beams=1,
            do_sample=False,
            max_new_tokens=max_new,
        )
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)

    def _save_last(self) -> None:
        rngs = self.dist.gather(rng_state(self.dist.device))
        if self.dist.is_main:
            epoch, batch = divmod(self.step, self.steps_per_epoch)
            state = {
                "step": self.step,
                "epoch": epoch,
                "batch_in_epoch": batch * self.group,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "best": self.best,
                "rng": rngs,
                "world_size": self.dist.world_size,
                "start_weight_norm": self.start_norm,
            }
            self.folder.save("last", self.core, self.tokenizer, state)
        self.saved_step = self.step
        self.dist.gather(None)


class _Meter:
    """Sums over the steps since the last log line: its average loss and the tokens/s."""

    def __init__(self) -> None:
        self.loss = self.nll = 0.0
        self.targets = self.tokens = 0
        self.start = time.perf_counter()

    def add(self, loss: float, nll: float, targets: int, tokens: int) -> None:
        self.loss, self.nll = self.loss + loss, self.nll + nll
        self.targets, self.tokens = self.targets + targets, self.tokens + tokens

    def tokens_per_s(self) -> float:
        """Padded source + target tokens of all processes per second."""
        return self.tokens / max(time.perf_counter() - self.start, 1e-9)
