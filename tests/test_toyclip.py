"""The toy CLIP: tokenizer, preprocessing parity, a smoke training run, and the committed checkpoint."""

import json

import numpy as np
import pytest
import torch

from vlmlab import toyclip
from vlmlab.shapes import ShapesWorld


@pytest.fixture(scope="module")
def processor():
    return toyclip.build_processor(ShapesWorld())


def test_every_word_is_one_token_and_eos_is_not_2(processor):
    tok = processor.tokenizer
    world = ShapesWorld()
    for caption in world.captions():
        ids = tok(caption).input_ids
        assert len(ids) == len(caption.split()) + 2, caption  # BOS + one per word + EOS
        assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.eos_token_id != 2 and tok.eos_token_id == len(tok) - 1
    # any other text still tokenizes (into known pieces, no unknown token)
    ids = tok("hello world").input_ids
    assert tok.decode(ids, skip_special_tokens=True) == "hello world"


def test_bpe_simulation_matches_tokenizer(processor):
    vocab, merges = toyclip.build_vocab(ShapesWorld().words())
    ranks = {m: i for i, m in enumerate(merges)}
    for word in ["triangle", "bottom", "orange", "circles", "toast"]:
        pieces = toyclip._bpe(word, ranks)
        assert processor.tokenizer.convert_ids_to_tokens(processor.tokenizer(word).input_ids[1:-1]) == pieces


def test_fast_preprocessing_equals_clip_image_processor(processor):
    images, _ = ShapesWorld().sample(4, seed=2)
    ref = processor(images=images, return_tensors="pt").pixel_values
    torch.testing.assert_close(toyclip.images_to_tensor(images), ref, atol=1e-5, rtol=0)


def test_smoke_train_and_reload(tmp_path):
    from transformers import CLIPModel, CLIPProcessor

    out = tmp_path / "toy"
    metrics = toyclip.train(out, steps=3, batch_size=16, warmup=1, arch=toyclip.TINY_ARCH,
                            eval_images=20, require_bar=False, log=lambda *a: None)
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "vocab.json", "merges.txt",
            "preprocessor_config.json", "README.md", "metrics.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl", ".pth")) for n in names)
    model = CLIPModel.from_pretrained(out)
    proc = CLIPProcessor.from_pretrained(out)
    assert model.config.vision_config.image_size // model.config.vision_config.patch_size == 8
    assert model.config.text_config.eos_token_id == proc.tokenizer.eos_token_id
    assert set(metrics) >= {"colour", "shape", "position", "size", "exact", "parameters", "train_seconds"}
    assert "knows nothing of photographs" in (out / "README.md").read_text()
    # same seed, same weights: training is reproducible
    again = toyclip.train(tmp_path / "again", steps=3, batch_size=16, warmup=1, arch=toyclip.TINY_ARCH,
                          eval_images=20, require_bar=False, log=lambda *a: None)
    assert again["exact"] == metrics["exact"]
    m2 = CLIPModel.from_pretrained(tmp_path / "again")
    for (n, p), (_, q) in zip(model.named_parameters(), m2.named_parameters()):
        torch.testing.assert_close(p, q, msg=n)


def test_below_the_bar_is_not_published(tmp_path):
    out = tmp_path / "toy"
    metrics = toyclip.train(out, steps=1, batch_size=8, warmup=1, arch=toyclip.TINY_ARCH,
                            eval_images=10, require_bar=True, log=lambda *a: None)
    assert not metrics["meets_bar"]
    assert not out.exists()


def test_bad_batch_size(tmp_path):
    with pytest.raises(ValueError, match="batch_size must be in"):
        toyclip.train(tmp_path / "x", steps=1, batch_size=1000, arch=toyclip.TINY_ARCH)


# ---------------------------------------------------------------- the committed checkpoint
ckpt = toyclip.default_output_dir()
needs_ckpt = pytest.mark.skipif(not (ckpt / "config.json").exists(), reason="data/toy-clip not trained yet")


@needs_ckpt
def test_committed_checkpoint_files():
    files = [p for p in ckpt.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 10_000_000
    assert not any(p.suffix in {".bin", ".pt", ".pkl", ".pth"} for p in files)
    metrics = json.loads((ckpt / "metrics.json").read_text())
    assert toyclip.meets_bar(metrics)
    card = (ckpt / "README.md").read_text()
    assert f"{100 * metrics['exact']:.1f} %" in card


@needs_ckpt
def test_committed_checkpoint_zero_shot_sample():
    """A quick check on 100 fresh images (the full 1000-image evaluation is marked slow)."""
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(ckpt).eval()
    processor = CLIPProcessor.from_pretrained(ckpt)
    world = ShapesWorld()
    images, truth = world.sample(100, seed=toyclip.EVAL_SEED + 1)
    preds, _ = toyclip.zero_shot(model, processor, images, world.captions())
    exact = np.mean([world.captions()[i] == t for i, t in zip(preds.tolist(), truth)])
    assert exact >= 0.8


@needs_ckpt
@pytest.mark.slow
def test_committed_checkpoint_meets_the_bar():
    assert toyclip.meets_bar(toyclip.evaluate(ckpt, log=lambda *a: None))


def test_classic_vocab_and_merges_files_give_the_same_tokenizer(tmp_path, processor):
    """vocab.json + merges.txt (the files OpenAI-style tokenizers ship) rebuild the same tokenizer."""
    from transformers import CLIPModel, CLIPTokenizer

    model = CLIPModel(toyclip.build_config(processor.tokenizer, toyclip.TINY_ARCH))
    toyclip.save_checkpoint(model, processor, tmp_path)
    vocab = json.loads((tmp_path / "vocab.json").read_text())
    lines = (tmp_path / "merges.txt").read_text().splitlines()
    assert lines[0].startswith("#version")
    rebuilt = CLIPTokenizer(vocab=vocab, merges=[tuple(line.split()) for line in lines[1:]])
    texts = ShapesWorld().captions()[:20] + ["hello world", "a circle"]
    assert rebuilt(texts).input_ids == processor.tokenizer(texts).input_ids
