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


def toy_clip_or_skip():
    from vlmlab.clip import TOY_CLIP_PATH

    if not (TOY_CLIP_PATH / "config.json").exists():
        pytest.skip("the toy CLIP has not been trained into data/toy-clip yet")


def test_toy_clip_data_shapes():
    toy_clip_or_skip()
    data = alignment.prepare_data(n_train=16)
    assert data.train_features.shape == (16, 64, 128)     # 8x8 patches of the 128-wide toy CLIP
    assert data.eval_features.shape == (len(data.captions), 64, 128)  # one image of every caption
    assert data.text_embeds.shape == (len(data.captions), 64)
    torch.testing.assert_close(data.text_embeds.norm(dim=-1), torch.ones(len(data.captions)))
    assert data.grid == (8, 8) and data.chance == pytest.approx(1 / 240)


def test_tiny_run_beats_chance_by_far():
    # LLaVA stage 1 in miniature, in a few seconds: 400 images, 100 steps, linear projector.
    toy_clip_or_skip()
    data = alignment.prepare_data(n_train=400)
    result = run_alignment("linear", data=data, steps=100, batch_size=64)
    assert result.accuracy_before < 5 * data.chance      # untrained: about chance
    assert result.accuracy_after > 50 * data.chance      # trained: far above it
