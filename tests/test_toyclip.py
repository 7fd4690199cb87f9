"""The toy CLIP: its tokenizer, fast preprocessing, the training command (a smoke run), and the shipped checkpoint."""

import json

import numpy as np
import pytest
import torch

from vlmlab import toyclip
from vlmlab.shapes import ShapesWorld
from vlmlab.data import TOY_CLIP, toy_model_dir
from vlmlab.training import cards, checkpoints, commands, tokenizer
from vlmlab.training import toyclip as training

CKPT = toy_model_dir(TOY_CLIP)
SMOKE = dict(steps=3, batch_size=16, seed=0, arch=toyclip.TINY_ARCH)


@pytest.fixture(scope="module")
def processor():
    return tokenizer.build_processor(ShapesWorld())


# ------------------------------------------------------------------------ tokenizer
def test_every_word_is_one_token_and_eos_is_not_2(processor):
    tok = processor.tokenizer
    for caption in ShapesWorld().captions():
        ids = tok(caption).input_ids
        assert len(ids) == len(caption.split()) + 2, caption  # BOS + one per word + EOS
        assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.eos_token_id != 2 and tok.eos_token_id == len(tok) - 1
    # any other text still tokenizes (into known pieces, no unknown token)
    ids = tok("hello world").input_ids
    assert tok.decode(ids, skip_special_tokens=True) == "hello world"


def test_bpe_simulation_matches_tokenizer(processor):
    vocab, merges = tokenizer.build_vocab(ShapesWorld().words())
    ranks = {m: i for i, m in enumerate(merges)}
    for word in ["triangle", "bottom", "orange", "circles", "toast"]:
        pieces = tokenizer.bpe(word, ranks)
        assert processor.tokenizer.convert_ids_to_tokens(processor.tokenizer(word).input_ids[1:-1]) == pieces


def test_build_vocab_rebuilds_the_shipped_vocabulary():
    """The builder is the one that made data/toy-clip: same ids, same merges, in the same order."""
    vocab, merges = tokenizer.build_vocab(ShapesWorld().words())
    assert vocab == json.loads((CKPT / "vocab.json").read_text(encoding="utf-8"))
    lines = (CKPT / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert [tuple(line.split()) for line in lines[1:]] == merges
    assert len(vocab) == 2 * 256 + len(merges) + 2  # bytes, word-final bytes, one per merge, BOS and EOS


@pytest.mark.parametrize("word", ["Red", "blue-green", "ünter", "two words"])
def test_build_vocab_refuses_other_words(word):
    with pytest.raises(ValueError, match=r"words must be lower-case ASCII letters, got " + repr(word)):
        tokenizer.build_vocab(["red", word])


def test_build_config_refuses_eos_id_2(processor):
    class EosIsTwo:
        def convert_tokens_to_ids(self, token):
            return 2 if token == toyclip.EOS else 1

        def __len__(self):
            return 10

    with pytest.raises(ValueError, match=r"has id 2; CLIPTextTransformer would then pool the largest id"):
        toyclip.build_config(EosIsTwo())
    config = toyclip.build_config(processor.tokenizer)
    assert config.text_config.eos_token_id == len(processor.tokenizer) - 1


# --------------------------------------------------------------------- training parts
def test_fast_preprocessing_equals_clip_image_processor(processor):
    images, _ = ShapesWorld().sample(4, seed=2)
    ref = processor(images=images, return_tensors="pt").pixel_values
    torch.testing.assert_close(training.images_to_tensor(images), ref, atol=1e-5, rtol=0)


def test_learning_rate_schedule():
    lr = 1e-3
    assert training.learning_rate(0, 100, lr, 10) == pytest.approx(1e-4)  # warm-up: (step + 1) / warmup
    assert training.learning_rate(9, 100, lr, 10) == pytest.approx(1e-3)
    assert training.learning_rate(10, 100, lr, 10) == pytest.approx(1e-3)  # cosine starts at the peak
    assert training.learning_rate(55, 100, lr, 10) == pytest.approx(0.5e-3)  # half way: cos(pi/2) = 0
    assert training.learning_rate(100, 100, lr, 10) == pytest.approx(0.0, abs=1e-12)


def test_bad_batch_size():
    with pytest.raises(ValueError, match=r"batch_size must be an int in \[2, 240\].*got 1000"):
        training.train(steps=1, batch_size=1000, arch=toyclip.TINY_ARCH)


def test_staging_folder_is_removed_on_error_and_publish_replaces(tmp_path):
    dest = tmp_path / "ckpt"
    with pytest.raises(RuntimeError, match="boom"):
        with checkpoints.staging_folder(dest) as folder:
            (folder / "x").write_text("1")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    for version in ("old", "new"):
        with checkpoints.staging_folder(dest) as folder:
            (folder / "weights").write_text(version)
            checkpoints.publish(folder, dest)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no staging or set-aside folder left behind
    assert (dest / "weights").read_text() == "new"
    assert oct(dest.stat().st_mode & 0o777) == "0o755" and oct((dest / "weights").stat().st_mode & 0o777) == "0o644"


def test_classic_vocab_and_merges_files_give_the_same_tokenizer(tmp_path, processor):
    """vocab.json + merges.txt (the files OpenAI-style tokenizers ship) rebuild the same tokenizer."""
    from transformers import CLIPModel, CLIPTokenizer

    model = CLIPModel(toyclip.build_config(processor.tokenizer, toyclip.TINY_ARCH))
    checkpoints.save_checkpoint(model, processor, tmp_path)
    vocab = json.loads((tmp_path / "vocab.json").read_text())
    lines = (tmp_path / "merges.txt").read_text().splitlines()
    assert lines[0].startswith("#version")
    rebuilt = CLIPTokenizer(vocab=vocab, merges=[tuple(line.split()) for line in lines[1:]])
    texts = ShapesWorld().captions()[:20] + ["hello world", "a circle"]
    assert rebuilt(texts).input_ids == processor.tokenizer(texts).input_ids


# ---------------------------------------------------------- the train command, one smoke run
@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """``python -m vlmlab.training toy-clip train --tiny`` for 3 steps, run once for every test below."""
    out = tmp_path_factory.mktemp("toyclip") / "toy"
    argv = ["toy-clip", "train", "--tiny", "--steps", str(SMOKE["steps"]), "--batch-size", str(SMOKE["batch_size"]),
            "--seed", str(SMOKE["seed"]), "--output", str(out), "--force", "--eval-images", "20",
            "--threads", str(torch.get_num_threads())]
    assert commands.main(argv) == 0
    return out


def test_smoke_run_writes_a_hub_style_folder(smoke_run):
    from transformers import CLIPModel, CLIPProcessor

    names = {p.name for p in smoke_run.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "vocab.json", "merges.txt",
            "preprocessor_config.json", "README.md", "metrics.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl", ".pth")) for n in names)
    assert [p.name for p in smoke_run.parent.iterdir()] == ["toy"]  # the staging folder became the output
    model = CLIPModel.from_pretrained(smoke_run)
    proc = CLIPProcessor.from_pretrained(smoke_run)
    assert model.config.vision_config.image_size // model.config.vision_config.patch_size == 8  # 64 / 8
    assert model.config.vision_config.hidden_size == toyclip.TINY_ARCH["vision_width"]
    assert model.config.text_config.eos_token_id == proc.tokenizer.eos_token_id
    metrics = json.loads((smoke_run / "metrics.json").read_text())
    assert metrics["n"] == 20 and metrics["steps"] == 3 and metrics["arch"] == toyclip.TINY_ARCH
    assert metrics["parameters"] == sum(p.numel() for p in model.parameters())
    card = (smoke_run / "README.md").read_text()
    assert "knows nothing of photographs" in card and f"{100 * metrics['exact']:.1f} %" in card


def test_training_is_reproducible(smoke_run):
    """Same seed, same weights: train() in memory equals what the command saved and reloads."""
    from transformers import CLIPModel

    model, _, facts = training.train(**SMOKE, log=lambda *a: None)
    saved = CLIPModel.from_pretrained(smoke_run)
    for (name, p), (_, q) in zip(model.named_parameters(), saved.named_parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=name)
    assert facts["steps"] == 3 and facts["train_seed"] == 0


def test_below_the_bar_is_not_published(smoke_run, tmp_path, monkeypatch):
    """A model under the bar stays in its staging folder; the published folder is untouched."""
    from transformers import CLIPModel, CLIPProcessor

    facts = {k: v for k, v in json.loads((smoke_run / "metrics.json").read_text()).items()
             if k not in ("colour", "shape", "position", "size", "exact", "n", "seed", "captions", "eval_seconds")}
    monkeypatch.setattr(training, "train", lambda **kw: (CLIPModel.from_pretrained(smoke_run),
                                                         CLIPProcessor.from_pretrained(smoke_run), facts))
    out = tmp_path / "toy"
    out.mkdir()
    (out / "config.json").write_text("{}")
    metrics = training.train_and_publish(out, eval_images=10, log=lambda *a: None)
    assert not metrics["meets_bar"]  # 3 steps of a tiny model: nowhere near
    assert [p.name for p in out.iterdir()] == ["config.json"] and (out / "config.json").read_text() == "{}"
    staged = [p for p in tmp_path.iterdir() if p.name.startswith(".toy-")]
    assert len(staged) == 1 and (staged[0] / "model.safetensors").exists()


# ------------------------------------------------------------------- the shipped checkpoint
def test_shipped_checkpoint_files():
    files = [p for p in CKPT.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 10_000_000
    assert not any(p.suffix in {".bin", ".pt", ".pkl", ".pth"} for p in files)
    metrics = json.loads((CKPT / "metrics.json").read_text())
    assert training.meets_bar(metrics)


def test_shipped_model_card_is_the_template_filled_from_metrics():
    """README.md is exactly what `python -m vlmlab.training toy-clip card` writes from metrics.json."""
    metrics = json.loads((CKPT / "metrics.json").read_text())
    card = cards.toyclip_card(metrics, ShapesWorld(image_size=metrics["arch"]["image_size"]), training.BAR)
    assert (CKPT / "README.md").read_text(encoding="utf-8") == card
    assert f"| {100 * metrics['exact']:.1f} % |" in card
    for history in ("issue", "engineer", "#4", "seed tutorial"):
        assert history not in card.lower()


def test_card_command_rewrites_the_card_from_metrics(tmp_path, capsys):
    (tmp_path / "metrics.json").write_text((CKPT / "metrics.json").read_text())
    assert commands.main(["toy-clip", "card", "--model", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'README.md'}"
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == (CKPT / "README.md").read_text(encoding="utf-8")
    assert "python -m vlmlab.training toy-clip train --steps" in (tmp_path / "README.md").read_text(encoding="utf-8")


def test_the_reading_module_has_no_train_command(capsys):
    with pytest.raises(SystemExit):
        toyclip.main(["train"])
    assert "invalid choice: 'train'" in capsys.readouterr().err


def test_card_template_names_every_field():
    with pytest.raises(KeyError, match="image_size"):
        cards.render("toyclip_card.md", {})


def test_shipped_checkpoint_zero_shot_sample():
    """A quick check on 100 fresh images (the full 1000-image evaluation is marked slow)."""
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(CKPT).eval()
    processor = CLIPProcessor.from_pretrained(CKPT)
    world = ShapesWorld()
    images, truth = world.sample(100, seed=toyclip.EVAL_SEED + 1)
    preds, _ = toyclip.zero_shot(model, processor, images, world.captions())
    exact = np.mean([world.captions()[i] == t for i, t in zip(preds.tolist(), truth)])
    assert exact >= 0.8


def test_evaluate_names_a_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"holds no checkpoint \(no config.json\)"):
        toyclip.evaluate(tmp_path)


@pytest.mark.slow
def test_shipped_checkpoint_meets_the_bar():
    metrics = toyclip.evaluate(CKPT, log=lambda *a: None)
    assert metrics["n"] == 1000 and training.meets_bar(metrics)
