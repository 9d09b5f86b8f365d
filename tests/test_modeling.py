"""The transformers-compatible surface of the model classes, checked against transformers 4.57 on
tiny random checkpoints: embeddings, the encoder and decoder on their own, the attributes and
small methods that PEFT, accelerate and the Trainer read, loading and saving options."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import m2m100
from tests.checkpoints import TINY, build_hf_model, save_hf_checkpoint

ATOL = 1e-4


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return save_hf_checkpoint(tmp_path_factory.mktemp("surface"), seed=7)


@pytest.fixture(scope="module")
def pair(folder):
    """(ours, transformers') loaded from one folder; transformers with eager attention so that
    attentions can be compared."""
    from transformers import M2M100ForConditionalGeneration as HF

    return (
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder),
        HF.from_pretrained(folder, attn_implementation="eager").eval(),
    )


def ids_and_mask(vocab: int, lengths=(7, 4, 6), *, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.full((len(lengths), max(lengths)), 1, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, : n - 1] = torch.randint(4, vocab, (n - 1,), generator=g)
        ids[row, n - 1] = 2
    return ids, (ids != 1).long()


def assert_all_close(a, b, msg=""):
    """Tensors, or (nested) tuples of tensors, equal within ATOL."""
    if isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0, msg=msg)
        return
    assert len(a) == len(b), msg
    for x, y in zip(a, b):
        assert_all_close(x, y, msg)


# ----------------------------------------------------------------------------------------------
# 1. embeddings
# ----------------------------------------------------------------------------------------------
def test_input_embeddings_are_scaled_as_transformers(pair):
    ours, ref = pair
    ids, _ = ids_and_mask(ours.config.vocab_size)
    emb = ours.get_input_embeddings()
    assert isinstance(emb, nn.Embedding) and emb.embed_scale == TINY["d_model"] ** 0.5
    with torch.no_grad():
        torch.testing.assert_close(emb(ids), ref.get_input_embeddings()(ids))
        assert (emb(ids) - ours.model.shared.weight[ids]).abs().max() > 1e-3, "the embedding does not scale"


def test_inputs_embeds_equal_ids(pair):
    """model(inputs_embeds=get_input_embeddings()(ids)) is model(ids): the stacks do not scale a
    second time. (Unpadded ids: from embeddings, positions cannot skip padding.)"""
    ours, ref = pair
    ids = torch.randint(4, ours.config.vocab_size, (2, 6))
    dec = torch.randint(4, ours.config.vocab_size, (2, 4))
    with torch.no_grad():
        emb = ours.get_input_embeddings()
        from_ids = ours(input_ids=ids, decoder_input_ids=dec).logits
        from_embeds = ours(inputs_embeds=emb(ids), decoder_inputs_embeds=emb(dec)).logits
        ref_embeds = ref(inputs_embeds=emb(ids), decoder_inputs_embeds=emb(dec)).logits
    torch.testing.assert_close(from_embeds, from_ids, atol=ATOL, rtol=0)
    torch.testing.assert_close(from_embeds, ref_embeds, atol=ATOL, rtol=0)


def test_unscaled_config(tmp_path):
    from transformers import M2M100ForConditionalGeneration as HF

    folder = save_hf_checkpoint(tmp_path, seed=2, scale_embedding=False)
    ours = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    ref = HF.from_pretrained(folder).eval()
    ids = torch.randint(4, 160, (2, 5))
    with torch.no_grad():
        assert ours.get_input_embeddings().embed_scale == 1.0
        emb = ours.get_input_embeddings()(ids)
        torch.testing.assert_close(emb, ref.get_input_embeddings()(ids))
        torch.testing.assert_close(
            ours(inputs_embeds=emb, decoder_input_ids=ids).logits,
            ref(inputs_embeds=emb, decoder_input_ids=ids).logits,
            atol=ATOL,
            rtol=0,
        )


def test_state_dict_keys_and_ties_as_transformers(pair):
    ours, ref = pair
    assert sorted(ours.state_dict()) == sorted(ref.state_dict())
    names = ("model.shared", "model.encoder.embed_tokens", "model.decoder.embed_tokens", "lm_head")
    pointers = {ours.get_submodule(n).weight.data_ptr() for n in names}
    assert len(pointers) == 1
    assert ours.model.encoder.embed_tokens is ours.model.shared is ours.model.decoder.embed_tokens
    bare = m2m100.M2M100Model(m2m100.M2M100Config(**TINY))
    from transformers import M2M100Config as HFConfig
    from transformers import M2M100Model as HFModel

    assert sorted(bare.state_dict()) == sorted(HFModel(HFConfig(**TINY)).state_dict())


def test_random_init_draws_each_matrix_once_and_keeps_the_padding_row_zero():
    config = m2m100.M2M100Config(**TINY)
    torch.manual_seed(0)
    model = m2m100.M2M100ForConditionalGeneration(config)
    shared = model.model.shared.weight
    assert model.lm_head.weight is shared
    assert torch.all(shared[config.pad_token_id] == 0), "the head's init overwrote the padding row"
    assert abs(shared.std().item() - config.init_std) < 0.004
    layer = model.model.decoder.layers[0]
    assert abs(layer.fc1.weight.std().item() - config.init_std) < 0.004
    assert torch.all(layer.fc1.bias == 0) and torch.all(layer.final_layer_norm.weight == 1)
    before = shared.detach().clone()
    model.init_weights()  # drawn again on request
    assert not torch.equal(model.model.shared.weight, before)
    assert torch.all(model.model.shared.weight[config.pad_token_id] == 0)


def _fresh_pair(folder):
    from transformers import M2M100ForConditionalGeneration as HF

    return m2m100.M2M100ForConditionalGeneration.from_pretrained(folder), HF.from_pretrained(folder).eval()


def _logits(model, ids, dec):
    with torch.no_grad():
        return model(input_ids=ids, decoder_input_ids=dec).logits


@pytest.mark.parametrize("new, multiple", [(170, None), (150, None), (None, 64), (161, 8)])
def test_resize_token_embeddings_as_transformers(folder, new, multiple):
    ours, ref = _fresh_pair(folder)
    old = ours.get_input_embeddings().weight.detach().clone()
    embedding = ours.get_input_embeddings()
    a = ours.resize_token_embeddings(new, pad_to_multiple_of=multiple)
    b = ref.resize_token_embeddings(new, pad_to_multiple_of=multiple)
    rows = b.weight.shape[0]
    assert a is embedding, "resized in place: the same module"
    assert a.weight.shape == b.weight.shape == (rows, 32) and ours.lm_head.weight.shape == (rows, 32)
    assert ours.config.vocab_size == ref.config.vocab_size == rows
    assert ours.lm_head.weight is ours.model.shared.weight is ours.model.encoder.embed_tokens.weight
    assert ours.lm_head.out_features == rows
    kept = min(rows, 160)
    torch.testing.assert_close(a.weight[:kept], old[:kept])
    # transformers draws new rows within ~1e-5 of the old rows' mean, which is ours
    torch.testing.assert_close(a.weight, b.weight, atol=1e-3, rtol=0)
    ids = torch.randint(4, min(rows, 160), (2, 6))
    dec = torch.randint(4, min(rows, 160), (2, 4))
    torch.testing.assert_close(_logits(ours, ids, dec), _logits(ref, ids, dec), atol=2e-3, rtol=0)


def test_resize_then_save_reloads_in_transformers(folder, tmp_path):
    from transformers import M2M100ForConditionalGeneration as HF

    ours, _ = _fresh_pair(folder)
    ours.resize_token_embeddings(176, mean_resizing=False)
    new_rows = ours.model.shared.weight[160:]
    assert abs(new_rows.std().item() - ours.config.init_std) < 0.01
    ours.save_pretrained(tmp_path)
    ref = HF.from_pretrained(tmp_path).eval()
    assert ref.config.vocab_size == 176
    ids, dec = torch.randint(4, 176, (2, 6)), torch.randint(4, 176, (2, 3))
    torch.testing.assert_close(_logits(ours, ids, dec), _logits(ref, ids, dec), atol=ATOL, rtol=0)


def test_resize_untied_head(tmp_path):
    from transformers import M2M100ForConditionalGeneration as HF

    folder = save_hf_checkpoint(tmp_path, seed=5, tie_word_embeddings=False)
    ours = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    ref = HF.from_pretrained(folder).eval()
    head = ours.lm_head
    ours.resize_token_embeddings(168)
    ref.resize_token_embeddings(168)
    assert ours.lm_head is not head and ours.lm_head.weight is not ours.model.shared.weight
    assert isinstance(ours.lm_head, nn.Linear) and ours.lm_head.weight.shape == ref.lm_head.weight.shape == (168, 32)
    assert head.weight.shape == (160, 32), "the old head is left as it was"
    torch.testing.assert_close(ours.lm_head.weight, ref.lm_head.weight, atol=1e-3, rtol=0)
    ids, dec = torch.randint(4, 160, (2, 6)), torch.randint(4, 160, (2, 3))
    torch.testing.assert_close(_logits(ours, ids, dec), _logits(ref, ids, dec), atol=2e-3, rtol=0)
    assert ours.resize_token_embeddings() is ours.get_input_embeddings()  # no size: nothing changes
    assert ours.config.vocab_size == 168


def test_set_input_and_output_embeddings_as_transformers(folder):
    ours, ref = _fresh_pair(folder)
    torch.manual_seed(1)
    plain = nn.Embedding(160, 32, padding_idx=1)
    ours.set_input_embeddings(plain)
    ref.set_input_embeddings(plain)
    assert ours.get_input_embeddings() is plain and ours.model.encoder.embed_tokens is plain
    ours.tie_weights()
    ref.tie_weights()
    assert ours.lm_head.weight is plain.weight and ref.lm_head.weight is plain.weight
    ids, dec = torch.randint(4, 160, (2, 6)), torch.randint(4, 160, (2, 3))
    torch.testing.assert_close(_logits(ours, ids, dec), _logits(ref, ids, dec), atol=ATOL, rtol=0)
    assert ours.get_output_embeddings() is ours.lm_head
    head = nn.Linear(32, 160, bias=False)
    ours.set_output_embeddings(head)
    assert ours.get_output_embeddings() is head
    assert m2m100.M2M100Model(ours.config).get_output_embeddings() is None


# ----------------------------------------------------------------------------------------------
# 2. the encoder and decoder on their own
# ----------------------------------------------------------------------------------------------
def test_get_encoder_and_decoder_are_the_exported_classes(pair):
    ours, _ = pair
    assert isinstance(ours.get_encoder(), m2m100.M2M100Encoder)
    assert isinstance(ours.get_decoder(), m2m100.M2M100Decoder)
    assert ours.model.get_encoder() is ours.model.encoder and ours.model.get_decoder() is ours.model.decoder
    assert {"M2M100Encoder", "M2M100Decoder"} <= set(m2m100.__all__)


def test_encoder_forward_matches_transformers(pair):
    ours, ref = pair
    cfg = ours.config
    ids, mask = ids_and_mask(cfg.vocab_size)
    head_mask = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    with torch.no_grad():
        a = ours.get_encoder()(ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
        b = ref.get_encoder()(ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
        assert isinstance(a, m2m100.BaseModelOutput)
        assert list(a.keys()) == list(b.keys()) == ["last_hidden_state", "hidden_states", "attentions"]
        assert_all_close(a[0], b[0])
        assert_all_close(a["hidden_states"], b["hidden_states"])
        assert_all_close(a.attentions, b.attentions)
        a = ours.get_encoder()(ids, mask, head_mask, return_dict=False)
        b = ref.get_encoder()(ids, mask, head_mask, return_dict=False)
        assert isinstance(a, tuple) and len(a) == len(b) == 1
        assert_all_close(a, b)
        emb = ours.get_input_embeddings()(ids)
        assert_all_close(ours.get_encoder()(inputs_embeds=emb)[0], ref.get_encoder()(inputs_embeds=emb)[0])
    with pytest.raises(ValueError, match="both input_ids and inputs_embeds"):
        ours.get_encoder()(ids, inputs_embeds=emb)


def test_decoder_forward_and_cache_match_transformers(pair):
    ours, ref = pair
    cfg = ours.config
    ids, mask = ids_and_mask(cfg.vocab_size)
    dec = torch.randint(4, cfg.vocab_size, (3, 5))
    with torch.no_grad():
        memory = ref.get_encoder()(ids, attention_mask=mask).last_hidden_state
        kwargs = dict(encoder_hidden_states=memory, encoder_attention_mask=mask, output_attentions=True)
        a = ours.get_decoder()(dec, output_hidden_states=True, **kwargs)
        b = ref.get_decoder()(dec, output_hidden_states=True, **kwargs)
        assert isinstance(a, m2m100.BaseModelOutputWithPastAndCrossAttentions)
        assert list(a.keys()) == list(b.keys())
        for key in ("last_hidden_state", "hidden_states", "attentions", "cross_attentions"):
            assert_all_close(a[key], b[key], key)
        assert isinstance(a.past_key_values, m2m100.DecoderCache) and a.past_key_values.get_seq_length() == 5
        # step by step over the returned cache = the full block
        out = ours.get_decoder()(dec[:, :2], encoder_hidden_states=memory, encoder_attention_mask=mask)
        steps = [out[0]]
        for t in range(2, 5):
            out = ours.get_decoder()(
                dec[:, t : t + 1],
                encoder_hidden_states=memory,
                encoder_attention_mask=mask,
                past_key_values=out.past_key_values,
            )
            steps.append(out.last_hidden_state)
        assert_all_close(torch.cat(steps, dim=1), b.last_hidden_state)
        # transformers' own cache object is read too
        ref_past = ref.get_decoder()(dec[:, :4], encoder_hidden_states=memory, encoder_attention_mask=mask)
        last = ours.get_decoder()(
            dec[:, 4:],
            encoder_hidden_states=memory,
            encoder_attention_mask=mask,
            past_key_values=ref_past.past_key_values,
        )
        assert_all_close(last.last_hidden_state[:, 0], b.last_hidden_state[:, 4])
        # tuples, head masks, no cache
        masks = dict(head_mask=torch.tensor([[1.0, 0, 1, 1], [1, 1, 0, 1]]), cross_attn_head_mask=torch.ones(2, 4))
        a = ours.get_decoder()(dec, None, memory, mask, use_cache=False, return_dict=False, **masks)
        b = ref.get_decoder()(dec, None, memory, mask, use_cache=False, return_dict=False, **masks)
        assert len(a) == len(b) == 1
        assert_all_close(a, b)


def test_stacks_built_on_their_own(pair):
    """M2M100Encoder(config[, embedding]) and M2M100Decoder as in transformers: their own scaled
    embedding, or the weight of the one given; transformers' random init."""
    from transformers.models.m2m_100 import modeling_m2m_100 as hf

    ours, ref = pair
    config = ours.config
    torch.manual_seed(0)
    encoder = m2m100.M2M100Encoder(config)
    assert isinstance(encoder.embed_tokens, m2m100.M2M100ScaledWordEmbedding)
    assert abs(encoder.layers[0].fc1.weight.std().item() - config.init_std) < 0.004
    assert torch.all(encoder.embed_tokens.weight[config.pad_token_id] == 0)
    assert torch.all(encoder.layer_norm.weight == 1)
    ref_encoder = hf.M2M100Encoder(ref.config).eval()
    assert sorted(encoder.state_dict()) == sorted(ref_encoder.state_dict())
    encoder.load_state_dict(ref_encoder.state_dict())
    ids, mask = ids_and_mask(config.vocab_size)
    with torch.no_grad():
        assert_all_close(encoder.eval()(ids, mask)[0], ref_encoder(ids, mask)[0])
    plain = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
    decoder = m2m100.M2M100Decoder(config, plain)
    ref_decoder = hf.M2M100Decoder(ref.config, plain).eval()
    assert decoder.embed_tokens.weight is plain.weight and decoder.embed_tokens is not plain
    decoder.load_state_dict(ref_decoder.state_dict())
    memory = torch.randn(3, ids.shape[1], config.d_model)
    dec = torch.randint(4, config.vocab_size, (3, 4))
    with torch.no_grad():
        assert_all_close(
            decoder.eval()(dec, encoder_hidden_states=memory, encoder_attention_mask=mask)[0],
            ref_decoder(dec, encoder_hidden_states=memory, encoder_attention_mask=mask)[0],
        )


def test_core_call_stays_reachable(pair):
    """Decoding calls the stacks' core (``run``: StackOutput, skip_padding, cache); the
    transformers forward also takes those keywords, so calls written for the core keep working."""
    from m2m100.model.transformer import StackOutput

    ours, _ = pair
    ids, mask = ids_and_mask(ours.config.vocab_size)
    encoder, decoder = ours.get_encoder(), ours.get_decoder()
    with torch.no_grad():
        core = encoder.run(ids, attention_mask=mask, skip_padding=True)
        assert isinstance(core, StackOutput)
        surface = encoder(ids, attention_mask=mask, skip_padding=True)
        torch.testing.assert_close(surface.last_hidden_state, core.last_hidden_state)
        cache = ours.new_cache(capacity=8)
        tokens = torch.full((3, 1), 2)
        a = decoder.run(tokens, encoder_hidden_states=core.last_hidden_state, encoder_attention_mask=mask, cache=cache)
        cache2 = ours.new_cache(capacity=8)
        b = decoder(tokens, encoder_hidden_states=core.last_hidden_state, encoder_attention_mask=mask, cache=cache2)
        torch.testing.assert_close(a.last_hidden_state, b.last_hidden_state)
        assert b.past_key_values is cache2 and cache2.get_seq_length() == 1
    with pytest.raises(ValueError, match="either probe or"):
        encoder(ids, output_attentions=True, probe=m2m100.model.transformer.Probe(hidden_states=True))


# ----------------------------------------------------------------------------------------------
# 3. what PEFT, accelerate and the Trainer read
# ----------------------------------------------------------------------------------------------
def test_class_attributes_as_transformers(pair):
    from transformers import M2M100Model as HFModel

    ours, ref = pair
    for name in (
        "base_model_prefix",
        "main_input_name",
        "supports_gradient_checkpointing",
        "is_parallelizable",
        "_supports_sdpa",
        "_supports_flash_attn",
        "_tied_weights_keys",
        "model_tags",
        "is_loaded_in_8bit",
        "is_loaded_in_4bit",
    ):
        assert getattr(ours, name) == getattr(ref, name, False), name
    assert m2m100.M2M100Model._tied_weights_keys == HFModel._tied_weights_keys
    assert ours._supports_flash_attn_2 and ours.config_class is m2m100.M2M100Config
    assert ours.warnings_issued == {} and not hasattr(ours, "hf_device_map")
    assert ours.base_model is ours.model and ours.model.base_model is ours.model
    classes = {type(m).__name__ for m in ours.modules()}
    assert set(ours._no_split_modules) <= classes, "accelerate and FSDP look these class names up"
    assert ours.can_generate() and ref.can_generate()
    assert not m2m100.M2M100Model.can_generate() and not HFModel.can_generate()
    assert m2m100.M2M100Model(ours.config).generation_config is None
    import re

    assert all(
        any(re.search(p, "model.encoder.embed_positions.weights") for p in ours._keys_to_ignore_on_load_unexpected)
        for _ in [0]
    )


@pytest.mark.parametrize("tied", [True, False])
def test_counts_and_sizes_as_transformers(tmp_path, tied):
    # transformers' model as built (reloading an untied checkpoint, transformers 4.57 leaves the
    # stacks' embeddings apart from the shared one, freshly initialized)
    ref = build_hf_model(seed=1, tie_word_embeddings=tied)
    ref.save_pretrained(tmp_path)
    ours = m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path)
    for model in (ours, ref):
        model.model.encoder.layers[0].requires_grad_(False)
    for only_trainable in (False, True):
        for exclude_embeddings in (False, True):
            assert ours.num_parameters(only_trainable, exclude_embeddings) == ref.num_parameters(
                only_trainable, exclude_embeddings
            ), (only_trainable, exclude_embeddings)
    assert ours.get_memory_footprint() == ref.get_memory_footprint()
    assert ours.get_memory_footprint(return_buffers=False) == ref.get_memory_footprint(return_buffers=False)
    batch = {"input_ids": torch.ones(3, 7, dtype=torch.long)}
    assert ours.floating_point_ops(batch) == ref.floating_point_ops(batch)
    assert ours.floating_point_ops(batch, exclude_embeddings=False) == ref.floating_point_ops(batch, False)
    assert ours.estimate_tokens({"labels": batch["input_ids"]}) == 0 and ours.warnings_issued["estimate_tokens"]


def test_model_tags(pair):
    ours, ref = pair
    for model in (ours, ref):
        model.add_model_tags("translation")
        model.add_model_tags(["m2m100", "translation"])
    assert ours.model_tags == ref.model_tags == ["translation", "m2m100"]
    assert m2m100.M2M100ForConditionalGeneration.model_tags is None, "tags belong to the instance"


@pytest.mark.parametrize("reentrant", [None, True])
def test_gradient_checkpointing_flags_and_gradients(folder, reentrant):
    from tests.model.test_model import padded_batch, targets

    grads = []
    for checkpointing in (False, True):
        model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder).train()
        assert not model.is_gradient_checkpointing
        if checkpointing:
            kwargs = None if reentrant is None else {"use_reentrant": reentrant}
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
            assert model.is_gradient_checkpointing
            assert model.model.decoder.checkpoint_options["use_reentrant"] is False  # always
        ids, mask = padded_batch(160)
        out = model(input_ids=ids, attention_mask=mask, labels=targets(160))
        assert out.past_key_values is None or not checkpointing, "no cache while checkpointing (transformers)"
        out.loss.backward()
        grads.append(model.model.encoder.layers[0].fc1.weight.grad.clone())
        model.gradient_checkpointing_disable()
        assert not model.is_gradient_checkpointing
    torch.testing.assert_close(grads[0], grads[1])


def test_input_require_grads_hook(pair):
    ours, ref = pair
    ids = torch.randint(4, 160, (2, 5))
    for model in (ours, ref):
        model.requires_grad_(False)
        assert not model.get_input_embeddings()(ids).requires_grad
        model.enable_input_require_grads()
        assert model.get_input_embeddings()(ids).requires_grad
        model.disable_input_require_grads()
        assert not model.get_input_embeddings()(ids).requires_grad
        model.requires_grad_(True)


def test_decoder_inputs_from_labels_as_the_collator_uses_them(pair):
    from transformers import DataCollatorForSeq2Seq
    from transformers.models.m2m_100.modeling_m2m_100 import shift_tokens_right

    ours, _ = pair
    labels = torch.tensor([[5, 6, 7, 2], [8, 9, -100, -100]])
    torch.testing.assert_close(ours.prepare_decoder_input_ids_from_labels(labels), shift_tokens_right(labels, 1, 2))

    class Pad:
        pad_token_id, padding_side = 1, "right"

        def pad(self, features, **_):
            n = max(len(f["input_ids"]) for f in features)
            ids = torch.tensor([f["input_ids"] + [1] * (n - len(f["input_ids"])) for f in features])
            return {"input_ids": ids, "attention_mask": (ids != 1).long()}

    collate = DataCollatorForSeq2Seq(Pad(), model=ours, return_tensors="pt")
    batch = collate([{"input_ids": [5, 6, 2], "labels": [7, 8, 9, 2]}, {"input_ids": [9, 2], "labels": [10, 2]}])
    assert "decoder_input_ids" in batch
    with torch.no_grad():
        with_inputs = ours(**batch).logits
        labels_only = ours(**{k: v for k, v in batch.items() if k != "decoder_input_ids"}).logits
    torch.testing.assert_close(with_inputs, labels_only)


def test_prepare_inputs_for_generation_as_transformers(pair):
    ours, ref = pair
    ids, mask = ids_and_mask(160)
    dec = torch.randint(4, 160, (3, 4))
    with torch.no_grad():
        enc = ref.get_encoder()(ids, attention_mask=mask)
        kwargs = dict(attention_mask=mask, encoder_outputs=enc, use_cache=True, labels=dec)
        a = ours.prepare_inputs_for_generation(dec, cache_position=torch.arange(4), **kwargs)
        b = ref.prepare_inputs_for_generation(dec, cache_position=torch.arange(4), **kwargs)
        assert a.keys() == b.keys() and "labels" not in a
        for key in ("decoder_input_ids", "attention_mask", "cache_position"):
            torch.testing.assert_close(a[key], b[key])
        ours_past = ours(attention_mask=mask, encoder_outputs=enc, decoder_input_ids=dec[:, :3]).past_key_values
        ref_past = ref(attention_mask=mask, encoder_outputs=enc, decoder_input_ids=dec[:, :3]).past_key_values
        a = ours.prepare_inputs_for_generation(
            dec, past_key_values=ours_past, cache_position=torch.tensor([3]), **kwargs
        )
        b = ref.prepare_inputs_for_generation(dec, past_key_values=ref_past, cache_position=torch.tensor([3]), **kwargs)
        assert a.keys() == b.keys()
        torch.testing.assert_close(a["decoder_input_ids"], b["decoder_input_ids"])
        no_position = ours.prepare_inputs_for_generation(dec, past_key_values=ours_past, **kwargs)
        torch.testing.assert_close(no_position["decoder_input_ids"], dec[:, 3:])
        step = {k: v for k, v in a.items() if k != "cache_position"}
        torch.testing.assert_close(ours(**step).logits, ref(**{k: v for k, v in b.items()}).logits, atol=ATOL, rtol=0)


def test_peft_lora_as_on_transformers(folder, tmp_path):
    peft = pytest.importorskip("peft")
    from transformers import M2M100ForConditionalGeneration as HF

    models = []
    for model in (m2m100.M2M100ForConditionalGeneration.from_pretrained(folder), HF.from_pretrained(folder)):
        config = peft.LoraConfig(task_type="SEQ_2_SEQ_LM", target_modules=["q_proj", "v_proj"], r=4)
        models.append(peft.get_peft_model(model, config))
    ours, ref = models
    assert ours.get_nb_trainable_parameters() == ref.get_nb_trainable_parameters()
    g = torch.Generator().manual_seed(0)
    lora = {n: torch.randn(p.shape, generator=g) for n, p in ref.named_parameters() if "lora_" in n}
    for model in models:
        assert {n for n, p in model.named_parameters() if p.requires_grad} == set(lora)
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in lora:
                    p.copy_(lora[n])
    ids, dec = torch.randint(4, 160, (2, 6)), torch.randint(4, 160, (2, 4))
    ours.eval(), ref.eval()
    with torch.no_grad():
        a, b = ours(input_ids=ids, labels=dec).logits, ref(input_ids=ids, labels=dec).logits
    torch.testing.assert_close(a, b, atol=ATOL, rtol=0)
    ours.save_pretrained(tmp_path)
    again = peft.PeftModel.from_pretrained(m2m100.M2M100ForConditionalGeneration.from_pretrained(folder), tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(again(input_ids=ids, labels=dec).logits, a, atol=ATOL, rtol=0)
    merged = ours.merge_and_unload()
    assert isinstance(merged, m2m100.M2M100ForConditionalGeneration)
    with torch.no_grad():
        torch.testing.assert_close(merged(input_ids=ids, labels=dec).logits, a, atol=ATOL, rtol=0)


def test_seq2seq_trainer_trains_evaluates_and_saves(folder, tmp_path):
    """Seq2SeqTrainer takes the model as it takes transformers' (training with gradient
    checkpointing, evaluation). Saving: the Trainer writes a bare state dict for classes that are
    not transformers' PreTrainedModel, and safetensors refuses the tied matrix, hence
    save_safetensors=False; the state dict reloads with from_pretrained(config=...)."""
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments

    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    before = model.model.encoder.layers[0].fc1.weight.detach().clone()
    g = torch.Generator().manual_seed(0)
    data = [
        {"input_ids": torch.randint(4, 160, (5,), generator=g).tolist() + [2], "labels": [7, 8, 9, 2]} for _ in range(8)
    ]

    def collate(features):
        ids = torch.tensor([f["input_ids"] for f in features])
        return {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "labels": torch.tensor([f["labels"] for f in features]),
        }

    args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path / "run"),
        max_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        gradient_checkpointing=True,
        save_safetensors=False,
    )
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=data, eval_dataset=data, data_collator=collate)
    result = trainer.train()
    assert result.global_step == 2 and torch.isfinite(torch.tensor(result.training_loss))
    assert trainer.state.total_flos > 0, "floating_point_ops was read"
    assert not torch.equal(model.model.encoder.layers[0].fc1.weight, before)
    assert torch.isfinite(torch.tensor(trainer.evaluate()["eval_loss"]))
    trainer.save_model(str(tmp_path / "saved"))
    again = m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "saved", config=model.config)
    ids = torch.randint(4, 160, (2, 5))
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(again(input_ids=ids, labels=ids).logits, model(input_ids=ids, labels=ids).logits)


# ----------------------------------------------------------------------------------------------
# 4. from_pretrained and save_pretrained
# ----------------------------------------------------------------------------------------------
def _hf_classes():
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers.M2M100ForConditionalGeneration, transformers.M2M100Model


def _same_logits(a, b, ids=None):
    ids = torch.tensor([[5, 6, 7, 8, 2], [9, 10, 11, 2, 1]]) if ids is None else ids
    dec = torch.tensor([[2, 12, 13], [2, 14, 15]])
    with torch.no_grad():
        torch.testing.assert_close(
            a(input_ids=ids, attention_mask=(ids != 1).long(), decoder_input_ids=dec).logits,
            b(input_ids=ids, attention_mask=(ids != 1).long(), decoder_input_ids=dec).logits,
            atol=ATOL,
            rtol=0,
        )


def test_loading_info_as_transformers(folder, tmp_path):
    from safetensors.torch import load_file, save_file

    HF, HFModel = _hf_classes()
    ours, info = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    assert isinstance(ours, m2m100.M2M100ForConditionalGeneration)
    assert info == HF.from_pretrained(folder, output_loading_info=True)[1]
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}
    assert m2m100.M2M100Model.from_pretrained(folder, output_loading_info=True)[1] == info
    # a key gone, one unknown: reported (and the model built) instead of refused
    tensors = load_file(str(folder / "model.safetensors"))
    del tensors["model.decoder.layers.1.fc2.bias"]
    tensors["model.decoder.layers.9.fc2.bias"] = torch.zeros(32)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((folder / "config.json").read_text())
    save_file(tensors, str(broken / "model.safetensors"), metadata={"format": "pt"})
    ours, info = m2m100.M2M100ForConditionalGeneration.from_pretrained(broken, output_loading_info=True)
    ref_info = HF.from_pretrained(broken, output_loading_info=True)[1]
    assert info == ref_info
    assert info["missing_keys"] == ["model.decoder.layers.1.fc2.bias"]
    assert info["unexpected_keys"] == ["model.decoder.layers.9.fc2.bias"]
    assert torch.all(ours.model.decoder.layers[1].fc2.bias == 0), "transformers' init for a missing bias"
    with pytest.raises(ValueError, match="missing from"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(broken)  # strict without the report
    # the bare model reading a checkpoint whose head is not tied: the head is unexpected
    untied = save_hf_checkpoint(tmp_path / "untied", seed=2, tie_word_embeddings=False)
    info = m2m100.M2M100Model.from_pretrained(untied, output_loading_info=True)[1]
    assert info["unexpected_keys"] == HFModel.from_pretrained(untied, output_loading_info=True)[1]["unexpected_keys"]
    assert info["unexpected_keys"] == ["lm_head.weight"]


def test_ignore_mismatched_sizes_as_transformers(folder):
    HF, _ = _hf_classes()
    with pytest.raises(ValueError, match="shapes that do not fit"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, encoder_ffn_dim=48)
    ours, info = m2m100.M2M100ForConditionalGeneration.from_pretrained(
        folder, encoder_ffn_dim=48, ignore_mismatched_sizes=True, output_loading_info=True
    )
    _, ref_info = HF.from_pretrained(folder, encoder_ffn_dim=48, ignore_mismatched_sizes=True, output_loading_info=True)
    assert info["mismatched_keys"] == sorted(ref_info["mismatched_keys"])
    assert "model.encoder.layers.0.fc1.weight" in info["mismatched_keys"]
    assert (
        ours.model.encoder.layers[0].fc1.weight.shape == (48, 32)
        and not ours.model.encoder.layers[0].fc1.weight.is_meta
    )
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(
        folder, encoder_ffn_dim=48, ignore_mismatched_sizes=True
    )
    assert torch.isfinite(model(input_ids=torch.tensor([[5, 2]]), decoder_input_ids=torch.tensor([[2]])).logits).all()


def test_from_config_and_state_dict(folder, pair):
    HF, _ = _hf_classes()
    ours, ref = pair
    state = build_hf_model(seed=11).state_dict()
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(None, config=ours.config, state_dict=state)
    other = HF.from_pretrained(None, config=ref.config, state_dict=state).eval()
    _same_logits(model, other)
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, state_dict=state)  # config from the folder
    _same_logits(model, other)
    assert model.config is not ours.config
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(None, config=str(folder), state_dict=state)
    _same_logits(model, other)
    with pytest.raises(ValueError, match="needs both config= and state_dict="):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(None, config=ours.config)


def test_subfolder_variant_and_formats(pair, tmp_path):
    HF, _ = _hf_classes()
    ours, ref = pair
    ref.save_pretrained(tmp_path / "repo" / "sub")
    _same_logits(m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "repo", subfolder="sub"), ref)
    with pytest.raises(FileNotFoundError, match="no subfolder 'nope'"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "repo", subfolder="nope")
    # variants: transformers' files read by us, ours by transformers
    ref.save_pretrained(tmp_path / "variant", variant="v2")
    assert (tmp_path / "variant" / "model.v2.safetensors").is_file()
    _same_logits(m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "variant", variant="v2"), ref)
    ours.save_pretrained(tmp_path / "ours_variant", variant="v2", max_shard_size="30KB")
    assert (tmp_path / "ours_variant" / "model.safetensors.index.v2.json").is_file()
    _same_logits(HF.from_pretrained(tmp_path / "ours_variant", variant="v2").eval(), ref)
    # use_safetensors chooses between the two formats when a folder has both
    mixed = tmp_path / "mixed"
    ref.save_pretrained(mixed)
    build_hf_model(seed=12).save_pretrained(mixed, safe_serialization=False)
    other = m2m100.M2M100ForConditionalGeneration.from_pretrained(mixed, use_safetensors=False, weights_only=True)
    _same_logits(m2m100.M2M100ForConditionalGeneration.from_pretrained(mixed), ref)
    _same_logits(other, build_hf_model(seed=12))
    (mixed / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(mixed, use_safetensors=True)


def test_loading_keywords(folder):
    harmless = dict(
        low_cpu_mem_usage=True,
        trust_remote_code=True,
        force_download=False,
        proxies=None,
        resume_download=None,
        offload_folder=None,
        max_memory=None,
        _fast_init=True,
        load_in_8bit=False,
        from_tf=False,
        use_auth_token=None,
        revision=None,
        local_files_only=True,
    )
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, **harmless, num_labels=3, dropout=0.0)
    assert model.config.num_labels == 3 and model.config.dropout == 0.0
    with pytest.raises(ValueError, match="bitsandbytes"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, load_in_8bit=True)
    with pytest.raises(ValueError, match="TensorFlow"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, from_tf=True)
    with pytest.raises(TypeError, match="'not_an_option'.*neither a loading option nor an M2M100Config setting"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, not_an_option=1)
    with pytest.raises(TypeError, match="one positional argument"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, "extra")
    config = m2m100.M2M100Config.from_pretrained(folder)
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, config=config, dropout=0.2)
    assert model.config.dropout == 0.2 and config.dropout == 0.0, "the config passed in is copied"
    generation = m2m100.GenerationConfig(num_beams=3, max_length=7)
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, generation_config=generation)
    assert model.generation_config.num_beams == 3


def test_hf_device_map_only_with_a_device_map(folder):
    HF, _ = _hf_classes()
    assert not hasattr(m2m100.M2M100ForConditionalGeneration.from_pretrained(folder), "hf_device_map")
    for device_map in ("cpu", {"": "cpu"}):
        ours = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, device_map=device_map)
        assert ours.hf_device_map == HF.from_pretrained(folder, device_map=device_map).hf_device_map
    assert m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, device_map="auto").hf_device_map in (
        {"": "cpu"},
        {"": 0},
    )


def test_bare_model_saves_no_generation_config(folder, tmp_path):
    _, HFModel = _hf_classes()
    m2m100.M2M100Model.from_pretrained(folder).save_pretrained(tmp_path / "ours")
    HFModel.from_pretrained(folder).save_pretrained(tmp_path / "ref")
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == sorted(p.name for p in (tmp_path / "ref").iterdir())
    assert not (tmp_path / "ours" / "generation_config.json").exists()
    import json

    assert json.loads((tmp_path / "ours" / "config.json").read_text())["architectures"] == ["M2M100Model"]
    back = HFModel.from_pretrained(tmp_path / "ours").eval()
    ids = torch.tensor([[5, 6, 2]])
    with torch.no_grad():
        torch.testing.assert_close(
            m2m100.M2M100Model.from_pretrained(folder)(input_ids=ids, decoder_input_ids=ids).last_hidden_state,
            back(input_ids=ids, decoder_input_ids=ids).last_hidden_state,
            atol=ATOL,
            rtol=0,
        )


@pytest.mark.parametrize("safe", [True, False])
def test_shards_and_pytorch_bin_read_by_transformers(pair, tmp_path, safe):
    import json

    HF, _ = _hf_classes()
    ours, ref = pair
    ours.save_pretrained(tmp_path / "one", safe_serialization=safe)
    single = "model.safetensors" if safe else "pytorch_model.bin"
    assert (tmp_path / "one" / single).is_file()
    ours.save_pretrained(tmp_path / "shards", safe_serialization=safe, max_shard_size="30KB")
    index_name = "model.safetensors.index.json" if safe else "pytorch_model.bin.index.json"
    index = json.loads((tmp_path / "shards" / index_name).read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and all((tmp_path / "shards" / name).is_file() for name in shards)
    assert shards[0] == ("model" if safe else "pytorch_model") + f"-00001-of-{len(shards):05d}" + (
        ".safetensors" if safe else ".bin"
    )
    assert index["metadata"]["total_size"] > 0 and index["metadata"]["total_parameters"] == ours.num_parameters()
    for name in ("one", "shards"):
        _same_logits(HF.from_pretrained(tmp_path / name).eval(), ref)
        _same_logits(m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / name), ref)
    ours.save_pretrained(tmp_path / "shards", safe_serialization=safe)  # unsharded again: old shards go
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )


def test_save_options(pair, tmp_path):
    ours, ref = pair
    ours.save_pretrained(tmp_path / "worker", is_main_process=False)
    assert not (tmp_path / "worker").exists()
    state = build_hf_model(seed=13).state_dict()
    ours.save_pretrained(tmp_path / "state", state_dict=state)
    _same_logits(m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "state"), build_hf_model(seed=13))
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file"):
        ours.save_pretrained(tmp_path / "file")


def test_push_to_hub_says_why_it_cannot(pair, tmp_path, monkeypatch):
    import sys

    ours, _ = pair
    huggingface_hub = pytest.importorskip("huggingface_hub")

    def refuse(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", refuse)
    with pytest.raises(OSError, match="could not push .*'me/m2m'.*offline"):
        ours.push_to_hub("me/m2m")
    with pytest.raises(OSError, match="could not push"):
        ours.save_pretrained(tmp_path / "local", push_to_hub=True, repo_id="me/m2m")
    assert (tmp_path / "local" / "model.safetensors").is_file(), "the folder is written before the upload"
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(OSError, match="needs huggingface_hub"):
        ours.push_to_hub("me/m2m")


def test_torchscript_config_clones_ties_and_returns_tuples(folder):
    HF, _ = _hf_classes()
    ours = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, torchscript=True)
    ref = HF.from_pretrained(folder, torchscript=True).eval()
    for model in (ours, ref):
        assert model.config.torchscript and not model.config.use_return_dict
        assert model.lm_head.weight is not model.model.shared.weight
        torch.testing.assert_close(model.lm_head.weight, model.model.shared.weight)
    ids = torch.tensor([[5, 6, 2]])
    with torch.no_grad():
        a, b = ours(input_ids=ids, decoder_input_ids=ids), ref(input_ids=ids, decoder_input_ids=ids)
    assert isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
    torch.testing.assert_close(a[0], b[0], atol=ATOL, rtol=0)
