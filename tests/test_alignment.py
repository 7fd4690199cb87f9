"""The miniature alignment run: data shapes, retrieval accuracy by hand, and a tiny run far above chance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vlmlab import alignment
from vlmlab.alignment import AlignmentData, retrieval_accuracy, run_alignment, train_projector


def toy_data(num_captions=12, n_train=240, n_eval=48, dim=16, tokens=4, seed=0):
    """Synthetic features: caption k's images hold a noisy copy of a direction; targets are random unit vectors."""
    g = torch.Generator().manual_seed(seed)
    directions = torch.randn(num_captions, dim, generator=g)
    text = nn.functional.normalize(torch.randn(num_captions, 8, generator=g), dim=-1)

    def draw(n):
        labels = torch.randint(0, num_captions, (n,), generator=g)
        feats = directions[labels][:, None, :] + 0.3 * torch.randn(n, tokens, dim, generator=g)
        return feats, labels

    (train_x, train_y), (eval_x, eval_y) = draw(n_train), draw(n_eval)
    return AlignmentData(train_x, train_y, eval_x, eval_y, text, [f"caption {k}" for k in range(num_captions)], (2, 2))


class Fixed(nn.Module):
    """A 'projector' that returns given tokens, whatever it is fed."""

    def __init__(self, tokens):
        super().__init__()
        self.tokens = tokens

    def forward(self, x, grid=None):
        return self.tokens


def test_retrieval_accuracy_by_hand():
    text = torch.eye(3)                                   # three captions, orthogonal
    tokens = torch.tensor([[[1.0, 0, 0], [0.8, 0.1, 0]],  # image 0 -> caption 0
                           [[0, 0, 1.0], [0, 0, 1.0]],    # image 1 -> caption 2
                           [[0, 1.0, 0], [0, 1.0, 0]]])   # image 2 -> caption 1
    labels = torch.tensor([0, 1, 1])                      # right, wrong, right
    acc = retrieval_accuracy(Fixed(tokens), torch.zeros(3, 2, 5), labels, text)
    assert acc == pytest.approx(2 / 3)


def test_readout_is_the_normalised_mean():
    tokens = torch.tensor([[[3.0, 0.0], [1.0, 0.0]]])
    out = alignment.readout(Fixed(tokens), torch.zeros(1, 2, 5))
    torch.testing.assert_close(out, torch.tensor([[1.0, 0.0]]))


def test_chance_and_training_on_synthetic_data():
    data = toy_data()
    assert data.chance == pytest.approx(1 / 12)
    result = run_alignment("mlp2x_gelu", data=data, steps=60, batch_size=32, lr=1e-2)
    assert result.accuracy_after > 0.9 > 3 * data.chance
    assert result.losses[-1] < result.losses[0]
    assert result.projector.proj[0].in_features == 16 and result.projector.proj[-1].out_features == 8


def test_training_changes_only_the_projector_and_restores_threads():
    data = toy_data()
    features = data.train_features.clone()
    projector = nn.Linear(16, 8)
    class Lin(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = projector

        def forward(self, x, grid=None):
            return self.proj(x)

    before = projector.weight.detach().clone()
    threads = torch.get_num_threads()
    train_projector(Lin(), data, steps=5, batch_size=8)
    assert torch.get_num_threads() == threads
    assert not torch.equal(projector.weight, before)
    assert torch.equal(data.train_features, features)


def test_bad_arguments():
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        train_projector(nn.Identity(), toy_data(), steps=0)
    with pytest.raises(ValueError, match="unknown projector 'qformer'"):
        run_alignment("qformer", data=toy_data())


@pytest.fixture(scope="module")
def toy_clip():
    from vlmlab.clip import TOY_CLIP_PATH, load_clip

    return load_clip(TOY_CLIP_PATH)      # the bundled toy CLIP, whatever VLMLAB_CLIP says


@pytest.fixture(scope="module")
def toy_data_400(toy_clip):
    """The frozen toy CLIP's features of 400 training images and one image of every caption, made once."""
    return alignment.prepare_data(n_train=400, clip=toy_clip)


def test_toy_clip_data_shapes(toy_data_400):
    data = toy_data_400
    assert data.train_features.shape == (400, 64, 128)    # 8x8 patches of the 128-wide toy CLIP
    assert data.eval_features.shape == (len(data.captions), 64, 128)  # one image of every caption
    assert data.text_embeds.shape == (len(data.captions), 64)
    assert data.eval_image_embeds.shape == (len(data.captions), 64)
    torch.testing.assert_close(data.text_embeds.norm(dim=-1), torch.ones(len(data.captions)))
    assert data.grid == (8, 8) and data.chance == pytest.approx(1 / 240)
    assert data.eval_labels.tolist() == list(range(240))   # sample_each: captions in order


def test_features_are_the_encoders_penultimate_patches(toy_clip, toy_data_400):
    from vlmlab.shapes import ShapesWorld

    model, processor = toy_clip
    images, _ = ShapesWorld(image_size=64).sample_each(seed=alignment.EVAL_SEED)
    pixel_values = processor.image_processor(images[:3], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        hidden = model.vision_model(pixel_values=pixel_values, output_hidden_states=True).hidden_states
        embeds = nn.functional.normalize(model.get_image_features(pixel_values=pixel_values).pooler_output, dim=-1)
    torch.testing.assert_close(toy_data_400.eval_features[:3], hidden[-2][:, 1:])   # CLS dropped
    torch.testing.assert_close(toy_data_400.eval_image_embeds[:3], embeds)


def test_frozen_clip_ceiling_is_near_perfect(toy_data_400):
    # the toy CLIP was trained to match these captions: its own retrieval is the ceiling
    assert alignment.clip_retrieval_accuracy(toy_data_400) > 0.95


def test_clip_retrieval_accuracy_by_hand():
    data = toy_data()
    data.eval_image_embeds = data.text_embeds[data.eval_labels]                 # every image on its caption
    assert alignment.clip_retrieval_accuracy(data) == 1.0
    data.eval_image_embeds = data.text_embeds[(data.eval_labels + 1) % 12]      # every image on the next one
    assert alignment.clip_retrieval_accuracy(data) == 0.0
    data.eval_image_embeds = None
    with pytest.raises(ValueError, match="eval_image_embeds is None"):
        alignment.clip_retrieval_accuracy(data)


def test_tiny_run_beats_chance_by_far(toy_data_400):
    # LLaVA stage 1 in miniature, in a few seconds: 400 images, 100 steps, linear projector.
    data = toy_data_400
    result = run_alignment("linear", data=data, steps=100, batch_size=64)
    assert result.accuracy_before < 5 * data.chance      # untrained: about chance
    assert result.accuracy_after > 50 * data.chance      # trained: far above it


def test_n_eval_draws_random_held_out_images(toy_clip):
    data = alignment.prepare_data(n_train=8, n_eval=5, clip=toy_clip)
    assert data.eval_features.shape == (5, 64, 128) and len(data.eval_images) == 5
    assert data.eval_image_embeds.shape == (5, 64)
    with pytest.raises(ValueError, match="n_eval must be a positive int, got 0"):
        alignment.prepare_data(n_train=8, n_eval=0, clip=toy_clip)


def test_workload_scales_with_the_encoder(toy_clip):
    from transformers import CLIPConfig, CLIPModel

    from vlmlab.patches import vit_flops

    assert alignment.workload(toy_clip[0]) == alignment.TOY_WORKLOAD
    # a ViT-B/16-shaped vision tower (text tower tiny): 35 GFLOPs (17.6 G multiply-adds) an image
    config = CLIPConfig(text_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                                         num_attention_heads=2, vocab_size=99),
                        vision_config=dict(image_size=224, patch_size=16, hidden_size=768, intermediate_size=3072,
                                           num_hidden_layers=12, num_attention_heads=12))
    with torch.device("meta"):
        model = CLIPModel(config)
    per_image = vit_flops(224, 16, embed_dim=768, num_layers=12)["total"]
    assert 35e9 < per_image < 35.2e9
    passes = int(alignment.IMAGE_BUDGET_FLOPS // per_image)              # 99 forward passes
    # held-out images are encoded twice (features + CLIP's own embedding); two training images per held-out one
    expected = alignment.Workload(n_train=passes - 2 * (passes // 4), n_eval=passes // 4, steps=30, batch_size=16)
    assert alignment.workload(model) == expected == alignment.Workload(51, 24, 30, 16)
    assert 51 + 2 * 24 <= passes


def test_auto_threads():
    assert alignment.auto_threads(128) == 1          # the toy CLIP's width: one thread
    assert alignment.auto_threads(768) is None       # ViT-B: torch's default
    with pytest.raises(ValueError, match="num_threads must be one of \\['auto'\\], got 'all'"):
        train_projector(nn.Identity(), toy_data(), steps=1, num_threads="all")
