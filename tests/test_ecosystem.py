"""The transformers ecosystem runs on m2m100's classes: Seq2SeqTrainer with DataCollatorForSeq2Seq,
PEFT's LoRA (train, merge, save, reload) and TextIteratorStreamer, each end to end on the shipped
demo model (a real tokenizer and real weights, 6 M parameters), a few steps each.

transformers, peft and accelerate are test dependencies only; the package never imports them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

import m2m100
from m2m100.demo import model_path

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")
pytest.importorskip("accelerate")

PAIRS = [
    ("trois", "three"),
    ("quatre-vingt-dix-neuf", "ninety-nine"),
    ("cent deux", "one hundred and two"),
    ("mardi", "Tuesday"),
    ("vingt et un", "twenty-one"),
]


@pytest.fixture(autouse=True)
def _quiet_transformers():
    transformers.logging.set_verbosity_error()


def load() -> tuple[m2m100.M2M100ForConditionalGeneration, m2m100.M2M100Tokenizer]:
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(model_path())
    tokenizer = m2m100.M2M100Tokenizer.from_pretrained(model_path(), src_lang="fr", tgt_lang="en")
    return model, tokenizer


def features(tokenizer: m2m100.M2M100Tokenizer, pairs: list[tuple[str, str]]) -> list[dict]:
    """One dict per pair, unpadded, as a datasets.map(tokenize) would give the collator."""
    rows = []
    for src, tgt in pairs:
        encoded = tokenizer(src, text_target=tgt)
        rows.append({k: encoded[k] for k in ("input_ids", "attention_mask", "labels")})
    return rows


def test_seq2seq_trainer_trains_and_predicts_with_generate(tmp_path: Path) -> None:
    model, tokenizer = load()
    collator = transformers.DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)
    data = features(tokenizer, PAIRS * 4)
    batch = collator(data[:3])  # pads inputs with pad_token_id and labels with -100
    assert batch["input_ids"].shape == batch["attention_mask"].shape and (batch["labels"] == -100).any()
    assert torch.equal(
        batch["decoder_input_ids"][:, 1:].masked_fill(batch["labels"][:, :-1] == -100, 0),
        batch["labels"][:, :-1].masked_fill(batch["labels"][:, :-1] == -100, 0),
    )
    args = transformers.Seq2SeqTrainingArguments(
        output_dir=str(tmp_path / "run"),
        per_device_train_batch_size=4,
        per_device_eval_batch_size=4,
        learning_rate=1e-4,
        max_steps=4,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        predict_with_generate=True,
        generation_max_length=24,
        use_cpu=True,
        seed=0,
    )
    forced = tokenizer.get_lang_id("en")
    model.generation_config.forced_bos_token_id = forced
    trainer = transformers.Seq2SeqTrainer(
        model=model, args=args, train_dataset=data, eval_dataset=data[:5], data_collator=collator
    )
    result = trainer.train()
    assert result.global_step == 4 and torch.isfinite(torch.tensor(result.training_loss))
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses) == 4 and all(loss > 0 for loss in losses)
    prediction = trainer.predict(data[:5])
    ids = torch.as_tensor(prediction.predictions)
    ids = ids.masked_fill(ids == -100, tokenizer.pad_token_id)
    texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
    assert texts == [tgt for _, tgt in PAIRS]  # four small steps keep what the demo knows
    assert torch.isfinite(torch.tensor(prediction.metrics["test_loss"]))


def test_lora_trains_merges_saves_and_reloads(tmp_path: Path) -> None:
    model, tokenizer = load()
    config = peft.LoraConfig(task_type="SEQ_2_SEQ_LM", r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    lora = peft.get_peft_model(model, config)
    trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    assert 0 < trainable < 0.05 * sum(p.numel() for p in lora.parameters())
    before = {n: p.detach().clone() for n, p in lora.named_parameters() if not p.requires_grad}
    batch = transformers.DataCollatorForSeq2Seq(tokenizer, model=lora)(features(tokenizer, PAIRS))
    optimizer = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=1e-2)
    lora.train()
    for _ in range(3):
        loss = lora(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    lora.eval()
    assert all(torch.equal(p, before[n]) for n, p in lora.named_parameters() if n in before)  # base frozen
    with torch.no_grad():
        adapted = lora(**batch).logits
    merged = lora.merge_and_unload()
    assert isinstance(merged, m2m100.M2M100ForConditionalGeneration)
    with torch.no_grad():
        torch.testing.assert_close(merged(**batch).logits, adapted, atol=1e-4, rtol=1e-4)
    merged.save_pretrained(tmp_path / "merged")
    reloaded = m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "merged")
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, adapted, atol=1e-4, rtol=1e-4)
    source = tokenizer(["trois", "cent deux"], return_tensors="pt", padding=True)
    forced = tokenizer.get_lang_id("en")
    assert torch.equal(
        reloaded.generate(**source, forced_bos_token_id=forced, num_beams=2),
        merged.generate(**source, forced_bos_token_id=forced, num_beams=2),
    )


def test_text_iterator_streamer_streams_generate_from_a_thread() -> None:
    model, tokenizer = load()
    source = tokenizer("cent deux", return_tensors="pt")
    forced = tokenizer.get_lang_id("en")
    expected = tokenizer.decode(model.generate(**source, forced_bos_token_id=forced)[0], skip_special_tokens=True)
    streamer = transformers.TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    worker = threading.Thread(
        target=model.generate, kwargs=dict(**source, forced_bos_token_id=forced, streamer=streamer)
    )
    worker.start()
    pieces = list(streamer)
    worker.join()
    assert "".join(pieces).strip() == expected == "one hundred and two"
    assert len([p for p in pieces if p]) >= 3  # it really streamed, word by word


def test_generate_takes_what_the_trainer_passes() -> None:
    """Seq2SeqTrainer's prediction step hands generate the labels and synced_gpus."""
    model, tokenizer = load()
    batch = tokenizer(
        ["trois", "cent deux"], text_target=["three", "one hundred and two"], return_tensors="pt", padding=True
    )
    forced = tokenizer.get_lang_id("en")
    source = {k: batch[k] for k in ("input_ids", "attention_mask")}
    plain = model.generate(**source, forced_bos_token_id=forced)
    assert torch.equal(model.generate(**batch, forced_bos_token_id=forced, synced_gpus=False), plain)
    with pytest.raises(ValueError, match="synced_gpus=True"):
        model.generate(**source, forced_bos_token_id=forced, synced_gpus=True)
