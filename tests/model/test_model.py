"""Model parity with transformers 4.57 on tiny random checkpoints that transformers itself saved."""

from __future__ import annotations

import pytest
import torch

import m2m100
from tests.checkpoints import TINY, save_hf_checkpoint

CONFIGS = {
    "relu": dict(),
    "gelu-unscaled": dict(activation_function="gelu", scale_embedding=False),
    "deep-encoder": dict(encoder_layers=3, decoder_layers=1, activation_function="gelu_new"),
    "wide-heads": dict(d_model=48, encoder_attention_heads=3, decoder_attention_heads=6, seed=3),
}
ATOL = 1e-4


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def pair(request, tmp_path_factory):
    """(ours, transformers') loaded from the same folder, eager and sdpa alike."""
    from transformers import M2M100ForConditionalGeneration as HF

    overrides = dict(CONFIGS[request.param])
    seed = overrides.pop("seed", 0)
    folder = save_hf_checkpoint(tmp_path_factory.mktemp(request.param), seed=seed, **overrides)
    ours = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    ref = HF.from_pretrained(folder, attn_implementation="eager").eval()
    return ours, ref, folder


def padded_batch(vocab: int, *, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Three sources of different lengths, right-padded with pad id 1, ending with </s>=2."""
    g = torch.Generator().manual_seed(seed)
    lengths = [9, 5, 7]
    ids = torch.full((3, 9), 1, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, : n - 1] = torch.randint(4, vocab, (n - 1,), generator=g)
        ids[row, n - 1] = 2
    return ids, (ids != 1).long()


def targets(vocab: int, *, seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(4, vocab, (3, 6), generator=g)
    labels[:, -1] = 2
    labels[1, 4:] = -100  # ignored positions become pad in the decoder input
    return labels


def test_logits_and_loss_match(pair):
    ours, ref, _ = pair
    ids, mask = padded_batch(ours.config.vocab_size)
    labels = targets(ours.config.vocab_size)
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask, labels=labels)
        b = ref(input_ids=ids, attention_mask=mask, labels=labels)
    assert b.logits.std() > 1.0, "logits are flat: the test would not see a wrong model"
    torch.testing.assert_close(a.logits, b.logits, atol=ATOL, rtol=0)
    torch.testing.assert_close(a.loss, b.loss, atol=ATOL, rtol=0)
    torch.testing.assert_close(a.encoder_last_hidden_state, b.encoder_last_hidden_state, atol=ATOL, rtol=0)


def test_hidden_states_and_attentions_match(pair):
    ours, ref, _ = pair
    ids, mask = padded_batch(ours.config.vocab_size)
    dec = torch.tensor([[2, 150, 7, 8], [2, 151, 9, 10], [2, 152, 11, 12]])
    kwargs = dict(
        input_ids=ids, attention_mask=mask, decoder_input_ids=dec, output_attentions=True, output_hidden_states=True
    )
    with torch.no_grad():
        a, b = ours(**kwargs), ref(**kwargs)
    for field in (
        "encoder_hidden_states",
        "decoder_hidden_states",
        "encoder_attentions",
        "decoder_attentions",
        "cross_attentions",
    ):
        ours_t, ref_t = getattr(a, field), getattr(b, field)
        assert len(ours_t) == len(ref_t), field
        for x, y in zip(ours_t, ref_t):
            torch.testing.assert_close(x, y, atol=ATOL, rtol=0, msg=field)


def test_eager_equals_sdpa(pair):
    ours, _, folder = pair
    eager = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, attn_implementation="eager")
    ids, mask = padded_batch(ours.config.vocab_size)
    labels = targets(ours.config.vocab_size)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(input_ids=ids, attention_mask=mask, labels=labels).logits,
            eager(input_ids=ids, attention_mask=mask, labels=labels).logits,
            atol=ATOL,
            rtol=0,
        )


def test_head_masks_match_eager_reference(pair):
    ours, ref, _ = pair
    cfg = ours.config
    ids, mask = padded_batch(cfg.vocab_size)
    dec = torch.tensor([[2, 150, 7], [2, 151, 9], [2, 152, 11]])
    g = torch.Generator().manual_seed(5)
    masks = dict(
        head_mask=(torch.rand(cfg.encoder_layers, cfg.encoder_attention_heads, generator=g) > 0.4).float(),
        decoder_head_mask=(torch.rand(cfg.decoder_layers, cfg.decoder_attention_heads, generator=g) > 0.4).float(),
        cross_attn_head_mask=(torch.rand(cfg.decoder_layers, cfg.decoder_attention_heads, generator=g) > 0.4).float(),
    )
    with torch.no_grad():
        plain = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        a = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, **masks).logits
        b = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, **masks).logits
    assert (a - plain).abs().max() > 1e-2, "head masks had no effect"
    torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


def test_cached_decoding_equals_full_forward(pair):
    ours, ref, _ = pair
    ids, mask = padded_batch(ours.config.vocab_size)
    dec = torch.tensor([[2, 150, 7, 8, 9, 10], [2, 151, 9, 10, 11, 12], [2, 152, 11, 12, 13, 14]])
    with torch.no_grad():
        full = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        out = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec[:, :2], use_cache=True)
        steps = [out.logits]
        enc = (out.encoder_last_hidden_state,)
        for t in range(2, dec.shape[1]):
            out = ours(
                attention_mask=mask,
                encoder_outputs=enc,
                decoder_input_ids=dec[:, t : t + 1],
                past_key_values=out.past_key_values,
                use_cache=True,
            )
            steps.append(out.logits)
        # transformers' own cache, fed the same way, as a second witness
        ref_out = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=dec[:, :3], use_cache=True)
        ref_next = ref(
            attention_mask=mask,
            encoder_outputs=(ref_out.encoder_last_hidden_state,),
            decoder_input_ids=dec[:, 3:4],
            past_key_values=ref_out.past_key_values,
            use_cache=True,
        )
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=ATOL, rtol=0)
    torch.testing.assert_close(ref_next.logits[:, 0], full[:, 3], atol=ATOL, rtol=0)


def test_decoder_attention_mask_and_embeds(pair):
    ours, ref, _ = pair
    ids, mask = padded_batch(ours.config.vocab_size)
    dec = torch.tensor([[2, 150, 7, 8], [2, 151, 9, 1], [2, 152, 1, 1]])
    dec_mask = (dec != 1).long()
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask).logits
        b = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask).logits
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0)
        embeds = ours.get_input_embeddings()(ids)
        dec_embeds = ours.get_input_embeddings()(dec)
        a = ours(inputs_embeds=embeds, attention_mask=mask, decoder_inputs_embeds=dec_embeds).logits
        b = ref(inputs_embeds=embeds, attention_mask=mask, decoder_inputs_embeds=dec_embeds).logits
    torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


def test_tuple_outputs_follow_the_reference_order(pair):
    ours, ref, _ = pair
    ids, mask = padded_batch(ours.config.vocab_size)
    labels = targets(ours.config.vocab_size)
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask, labels=labels, return_dict=False, use_cache=False)
        b = ref(input_ids=ids, attention_mask=mask, labels=labels, return_dict=False, use_cache=False)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, atol=ATOL, rtol=0)


def test_bare_model_matches(pair, tmp_path):
    from transformers import M2M100Model as HFModel

    _, _, folder = pair
    ours = m2m100.M2M100Model.from_pretrained(folder)
    ref = HFModel.from_pretrained(folder).eval()
    ids, mask = padded_batch(ours.config.vocab_size)
    dec = torch.tensor([[2, 150, 7], [2, 151, 9], [2, 152, 11]])
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).last_hidden_state
        b = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).last_hidden_state
    torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


def test_saved_by_us_reloads_in_transformers(pair, tmp_path):
    from transformers import M2M100ForConditionalGeneration as HF

    ours, original, _ = pair
    ours.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "generation_config.json", "model.safetensors"]
    ref = HF.from_pretrained(tmp_path, attn_implementation="eager").eval()
    ids, mask = padded_batch(ours.config.vocab_size)
    labels = targets(ours.config.vocab_size)
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask, labels=labels).logits
        b = ref(input_ids=ids, attention_mask=mask, labels=labels).logits
        c = original(input_ids=ids, attention_mask=mask, labels=labels).logits
    assert torch.equal(b, c), "transformers computes differently from the weights we saved"
    torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


def test_positions_grow_past_max_position_embeddings(pair):
    ours, ref, _ = pair
    n = ours.config.max_position_embeddings + 10
    ids = torch.randint(4, ours.config.vocab_size, (1, n))
    dec = torch.randint(4, ours.config.vocab_size, (1, 3))
    with torch.no_grad():
        torch.testing.assert_close(
            ours(input_ids=ids, decoder_input_ids=dec).logits,
            ref(input_ids=ids, decoder_input_ids=dec).logits,
            atol=ATOL,
            rtol=0,
        )


def test_training_mode_dropout_and_gradients(tmp_path):
    folder = save_hf_checkpoint(tmp_path, dropout=0.3, attention_dropout=0.2, decoder_layerdrop=0.5)
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder).train()
    ids, mask = padded_batch(model.config.vocab_size)
    labels = targets(model.config.vocab_size)
    first = model(input_ids=ids, attention_mask=mask, labels=labels)
    second = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert not torch.equal(first.logits, second.logits), "dropout is not active in training"
    first.loss.backward()
    assert model.model.shared.weight.grad is not None and model.model.shared.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        assert torch.equal(
            model(input_ids=ids, attention_mask=mask, labels=labels).logits,
            model(input_ids=ids, attention_mask=mask, labels=labels).logits,
        )


def test_gradient_checkpointing_gives_same_gradients(tmp_path):
    folder = save_hf_checkpoint(tmp_path)
    grads = []
    for checkpointing in (False, True):
        model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder).train()
        if checkpointing:
            model.gradient_checkpointing_enable()
        ids, mask = padded_batch(model.config.vocab_size)
        model(input_ids=ids, attention_mask=mask, labels=targets(model.config.vocab_size)).loss.backward()
        grads.append(model.model.encoder.layers[0].fc1.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_loading(tmp_path, dtype):
    folder = save_hf_checkpoint(tmp_path)
    full = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    half = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, dtype=dtype)
    assert half.dtype == dtype and half.model.encoder.embed_positions.weights.dtype == dtype
    ids, mask = padded_batch(full.config.vocab_size)
    labels = targets(full.config.vocab_size)
    with torch.no_grad():
        a = full(input_ids=ids, attention_mask=mask, labels=labels).logits
        b = half(input_ids=ids, attention_mask=mask, labels=labels).logits.float()
    assert (a - b).abs().max() < 0.05 * a.abs().max()


def test_random_init_from_config_is_documented_example():
    config = m2m100.M2M100Config(**{k: v for k, v in TINY.items()})
    model = m2m100.M2M100Model(config)
    assert model.config is config
    assert abs(model.shared.weight.std().item() - config.init_std) < 0.005
    assert torch.all(model.shared.weight[config.pad_token_id] == 0)


def test_flash_attention_is_refused_with_a_reason(tmp_path):
    folder = save_hf_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="flash"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, attn_implementation="flash_attention_2")
    with pytest.raises(ValueError, match="valid: eager, sdpa"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, attn_implementation="flex")


def test_encoder_skipping_padding_gives_the_same_tokens(pair):
    ours, _, _ = pair
    ids, mask = padded_batch(ours.config.vocab_size)
    with torch.no_grad():
        full = ours.model.encoder(ids, attention_mask=mask).last_hidden_state
        packed = ours.model.encoder(ids, attention_mask=mask, skip_padding=True).last_hidden_state
    real = mask.bool()
    torch.testing.assert_close(packed[real], full[real], atol=ATOL, rtol=0)
    assert torch.all(packed[~real] == 0)
