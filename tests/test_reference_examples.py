"""Every code example of the M2M100 documentation page, with only the import line changed to
``from m2m100 import ...`` and the hub id replaced by a local checkpoint folder.

The folder holds a tiny random model and a small sentencepiece tokenizer, so translations are
gibberish; what is checked is that the documented calls run and give what transformers gives on
the same folder.
"""

from __future__ import annotations

import pytest
import torch

from tests.checkpoints import save_hf_checkpoint
from tests.tokenizer_fixture import build_tokenizer_dir


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("m2m100_tiny")
    build_tokenizer_dir(folder)
    from transformers import M2M100Tokenizer as HFTokenizer

    vocab = len(HFTokenizer.from_pretrained(folder))
    save_hf_checkpoint(folder, vocab_size=vocab + 4, max_position_embeddings=128)
    return str(folder)


def test_supervised_training_example(checkpoint_dir):
    from m2m100 import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer  # noqa: F401

    model = M2M100ForConditionalGeneration.from_pretrained(checkpoint_dir)
    tokenizer = M2M100Tokenizer.from_pretrained(checkpoint_dir, src_lang="en", tgt_lang="fr")

    src_text = "Life is like a box of chocolates."
    tgt_text = "La vie est comme une boîte de chocolat."

    model_inputs = tokenizer(src_text, text_target=tgt_text, return_tensors="pt")

    loss = model(**model_inputs).loss  # forward pass

    from transformers import M2M100ForConditionalGeneration as HF

    ref = HF.from_pretrained(checkpoint_dir)
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, ref(**model_inputs).loss, atol=1e-4, rtol=0)
    assert model_inputs["labels"][0, 0].item() == tokenizer.get_lang_id("fr")
    loss.backward()  # the documented example is a training step


def test_generation_example(checkpoint_dir):
    from m2m100 import M2M100ForConditionalGeneration, M2M100Tokenizer

    hi_text = "जीवन एक चॉकलेट बॉक्स की तरह है।"
    chinese_text = "生活就像一盒巧克力。"

    model = M2M100ForConditionalGeneration.from_pretrained(checkpoint_dir)
    tokenizer = M2M100Tokenizer.from_pretrained(checkpoint_dir)

    # translate Hindi to French
    tokenizer.src_lang = "hi"
    encoded_hi = tokenizer(hi_text, return_tensors="pt")
    generated_tokens = model.generate(**encoded_hi, forced_bos_token_id=tokenizer.get_lang_id("fr"))
    fr = tokenizer.batch_decode(generated_tokens, skip_special_tokens=True)

    # translate Chinese to English
    tokenizer.src_lang = "zh"
    encoded_zh = tokenizer(chinese_text, return_tensors="pt")
    generated_tokens_en = model.generate(**encoded_zh, forced_bos_token_id=tokenizer.get_lang_id("en"))
    en = tokenizer.batch_decode(generated_tokens_en, skip_special_tokens=True)

    from transformers import M2M100ForConditionalGeneration as HF
    from transformers import M2M100Tokenizer as HFTokenizer

    ref, ref_tok = HF.from_pretrained(checkpoint_dir), HFTokenizer.from_pretrained(checkpoint_dir)
    ref_tok.src_lang = "hi"
    ref_hi = ref.generate(**ref_tok(hi_text, return_tensors="pt"), forced_bos_token_id=ref_tok.get_lang_id("fr"))
    assert torch.equal(generated_tokens, ref_hi)
    assert generated_tokens[0, 1].item() == tokenizer.get_lang_id("fr")
    assert fr == ref_tok.batch_decode(ref_hi, skip_special_tokens=True)
    assert generated_tokens_en[0, 1].item() == tokenizer.get_lang_id("en")
    assert isinstance(en, list) and isinstance(en[0], str)


def test_configuration_example():
    from m2m100 import M2M100Config, M2M100Model

    # Initializing a M2M100 facebook/m2m100_418M style configuration
    configuration = M2M100Config()

    # Initializing a model (with random weights) from the facebook/m2m100_418M style configuration
    model = M2M100Model(configuration)

    # Accessing the model configuration
    configuration = model.config
    assert configuration.d_model == 1024
    assert sum(p.numel() for p in model.parameters()) == 483_905_536


def test_tokenizer_example(checkpoint_dir):
    from m2m100 import M2M100ForConditionalGeneration, M2M100Tokenizer

    model = M2M100ForConditionalGeneration.from_pretrained(checkpoint_dir)
    tokenizer = M2M100Tokenizer.from_pretrained(checkpoint_dir, src_lang="en", tgt_lang="ro")
    src_text = " UN Chief Says There Is No Military Solution in Syria"
    tgt_text = "Şeful ONU declară că nu există o soluţie militară în Siria"
    model_inputs = tokenizer(src_text, text_target=tgt_text, return_tensors="pt")
    outputs = model(**model_inputs)  # should work
    assert outputs.loss is not None and outputs.logits.shape[:2] == model_inputs["labels"].shape


def test_translation_example_with_auto_tokenizer(checkpoint_dir, capsys):
    from m2m100 import AutoTokenizer, M2M100ForConditionalGeneration

    model = M2M100ForConditionalGeneration.from_pretrained(checkpoint_dir)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint_dir)

    text_to_translate = "Life is like a box of chocolates"
    model_inputs = tokenizer(text_to_translate, return_tensors="pt")

    # translate to French
    gen_tokens = model.generate(**model_inputs, forced_bos_token_id=tokenizer.get_lang_id("fr"))
    print(tokenizer.batch_decode(gen_tokens, skip_special_tokens=True))
    assert capsys.readouterr().out.startswith("['")


def test_flash_attention_example(checkpoint_dir):
    import torch

    from m2m100 import M2M100ForConditionalGeneration, M2M100Tokenizer

    load = lambda: M2M100ForConditionalGeneration.from_pretrained(  # noqa: E731
        checkpoint_dir, dtype=torch.float16, attn_implementation="flash_attention_2", device_map="auto"
    ).eval()
    if not torch.cuda.is_available():
        # transformers refuses too; ours says why
        with pytest.raises(ValueError, match="flash_attention_2"):
            load()
        return
    model = load()
    tokenizer = M2M100Tokenizer.from_pretrained(checkpoint_dir)

    # translate Hindi to French
    hi_text = "जीवन एक चॉकलेट बॉक्स की तरह है।"
    tokenizer.src_lang = "hi"
    encoded_hi = tokenizer(hi_text, return_tensors="pt").to(model.device)
    generated_tokens = model.generate(**encoded_hi, forced_bos_token_id=tokenizer.get_lang_id("fr"))
    tokenizer.batch_decode(generated_tokens, skip_special_tokens=True)


def test_sdpa_example(checkpoint_dir):
    import torch

    from m2m100 import M2M100ForConditionalGeneration, M2M100Tokenizer

    model = M2M100ForConditionalGeneration.from_pretrained(
        checkpoint_dir, dtype=torch.float16, attn_implementation="sdpa"
    )
    assert model.dtype == torch.float16 and model.attn_implementation == "sdpa"
    # the same steps as the flash example, on whatever device the model is on
    tokenizer = M2M100Tokenizer.from_pretrained(checkpoint_dir)
    tokenizer.src_lang = "hi"
    encoded_hi = tokenizer("जीवन एक चॉकलेट बॉक्स की तरह है।", return_tensors="pt").to(model.device)
    generated_tokens = model.generate(**encoded_hi, forced_bos_token_id=tokenizer.get_lang_id("fr"))
    assert generated_tokens[0, 1].item() == tokenizer.get_lang_id("fr")
