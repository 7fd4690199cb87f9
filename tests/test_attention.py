"""Attention rollout and CLS maps: a hand-computed example, HF CLIP's eager attentions, vlmlab's ViT."""

import pytest
import torch

from vlmlab import attention


def _two_layer_example():
    """2 layers, 2 heads, 3 tokens (CLS + 2 patches); worked by hand in the test below."""
    eye_rows = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    l1 = torch.tensor([[[0.6, 0.4, 0.0], *eye_rows], [[0.4, 0.0, 0.6], *eye_rows]])  # (H=2, 3, 3)
    l2 = torch.tensor([[[0.0, 1.0, 0.0], *eye_rows]] * 2)
    return (l1.unsqueeze(0), l2.unsqueeze(0))  # one (B=1, H, N, N) tensor per layer


def test_rollout_matches_hand_computation():
    # Layer 1, mean over heads: CLS row [0.5, 0.2, 0.3]; + I -> [1.5, 0.2, 0.3]; / 2 -> [0.75, 0.1, 0.15].
    # Layer 2: CLS row [0, 1, 0]; + I -> [1, 1, 0]; / 2 -> [0.5, 0.5, 0]. Other rows stay identity rows.
    # Product A2 @ A1, CLS row: 0.5 * [0.75, 0.1, 0.15] + 0.5 * [0, 1, 0] = [0.375, 0.55, 0.075].
    out = attention.attention_rollout(_two_layer_example())
    assert out.shape == (1, 2)
    torch.testing.assert_close(out, torch.tensor([[0.55, 0.075]]))
    full = attention.rollout_matrix(_two_layer_example())
    torch.testing.assert_close(full.sum(-1), torch.ones(1, 3))  # rows stay distributions


def test_rollout_max_fusion_and_discard_by_hand():
    # max over heads, CLS row [0.6, 0.4, 0.6]; + I -> [1.6, 0.4, 0.6] / 2.6.
    # CLS row of A2 @ A1 over patches: 0.5 * 0.4 / 2.6 + 0.5, 0.5 * 0.6 / 2.6.
    out = attention.attention_rollout(_two_layer_example(), head_fusion="max")
    torch.testing.assert_close(out, torch.tensor([[0.5 * 0.4 / 2.6 + 0.5, 0.5 * 0.6 / 2.6]]))
    # discard_ratio 0.6 drops int(9 * 0.6) = 5 smallest of 9 fused weights in layer 1: the four
    # zeros and the 0.2; CLS row [0.5, 0, 0.3] + I -> [1.5, 0, 0.3] / 1.8.
    # Layer 2 only loses zeros. CLS row over patches: 0.5 * 0 + 0.5, 0.5 * 0.3 / 1.8.
    out = attention.attention_rollout(_two_layer_example(), discard_ratio=0.6)
    torch.testing.assert_close(out, torch.tensor([[0.5, 0.5 * 0.3 / 1.8]]))


def _independent_rollout(attentions, discard_ratio=0.0):
    """A loop written after jacobgil/vit-explain's vit_rollout.rollout, for cross-checking."""
    result = torch.eye(attentions[0].size(-1)).unsqueeze(0).repeat(attentions[0].size(0), 1, 1)
    for att in attentions:
        fused = att.mean(dim=1)
        for b in range(fused.size(0)):
            flat = fused[b].reshape(-1)
            _, idx = flat.topk(int(flat.numel() * discard_ratio), largest=False)
            idx = idx[idx != 0]
            flat[idx] = 0
        a = (fused + torch.eye(fused.size(-1))) / 2
        a = a / a.sum(dim=-1, keepdim=True)
        result = a @ result
    return result[:, 0, 1:]


@pytest.fixture(scope="module")
def tiny_clip_attentions():
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    cfg = CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                           num_hidden_layers=3, num_attention_heads=4)
    model = CLIPVisionModel(cfg).eval()
    model.set_attn_implementation("eager")
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model(pixel_values=pixels, output_attentions=True)
    return model, pixels, out.attentions


@pytest.mark.parametrize("discard_ratio", [0.0, 0.3])
def test_rollout_on_hf_eager_attentions(tiny_clip_attentions, discard_ratio):
    _, _, atts = tiny_clip_attentions
    assert len(atts) == 3 and atts[0].shape == (2, 4, 17, 17)
    out = attention.attention_rollout(atts, discard_ratio=discard_ratio)
    assert out.shape == (2, 16)
    torch.testing.assert_close(out, _independent_rollout([a.clone() for a in atts], discard_ratio))
    # a stacked (L, B, H, N, N) tensor gives the same
    torch.testing.assert_close(attention.attention_rollout(torch.stack(atts), discard_ratio=discard_ratio), out)


def test_cls_maps_and_grid(tiny_clip_attentions):
    _, _, atts = tiny_clip_attentions
    per_head = attention.cls_attention(atts, layer=-1)
    assert per_head.shape == (2, 4, 16)
    torch.testing.assert_close(per_head, atts[-1][:, :, 0, 1:])
    m = attention.attention_map(atts, layer=1, head=2)
    assert m.shape == (2, 4, 4)
    torch.testing.assert_close(m.reshape(2, 16), atts[1][:, 2, 0, 1:])
    torch.testing.assert_close(attention.attention_map(atts, layer=0, head="mean").reshape(2, 16), atts[0][:, :, 0, 1:].mean(1))
    torch.testing.assert_close(attention.attention_map(atts, "rollout", "mean").reshape(2, 16), attention.attention_rollout(atts))


def test_same_rollout_from_vlmlab_vit(tiny_clip_attentions):
    from vlmlab.vit import ViT

    model, pixels, atts = tiny_clip_attentions
    vit = ViT.from_hf_clip(model).eval()
    with torch.no_grad():
        out = vit.forward_features(pixels, output_attentions=True)
    assert len(out.attentions) == len(atts)
    torch.testing.assert_close(attention.attention_rollout(out.attentions), attention.attention_rollout(atts), atol=1e-5, rtol=1e-4)


def test_bad_input_messages(tiny_clip_attentions):
    _, _, atts = tiny_clip_attentions
    with pytest.raises(ValueError, match="head_fusion must be one of"):
        attention.attention_rollout(atts, head_fusion="median")
    with pytest.raises(ValueError, match=r"discard_ratio must be in \[0, 1\), got 1.0"):
        attention.attention_rollout(atts, discard_ratio=1.0)
    with pytest.raises(TypeError, match="head_fusion must be one of"):
        attention.attention_rollout(atts, head_fusion=0)
    with pytest.raises(TypeError, match="discard_ratio must be a number"):
        attention.attention_rollout(atts, discard_ratio="0.1")
    with pytest.raises(ValueError, match='attn_implementation="eager"'):
        attention.attention_rollout((None, None))
    with pytest.raises(ValueError, match='attentions is empty.*attn_implementation="eager"'):
        attention.attention_rollout(())
    with pytest.raises(ValueError, match=r"head must be in \[0, 3\] or one of \['mean', 'max', 'min'\], got 9"):
        attention.attention_map(atts, layer=0, head=9)
    with pytest.raises(TypeError, match=r"head must be an int in \[0, 3\] or one of \['mean', 'max', 'min'\], got 1.0"):
        attention.attention_map(atts, layer=0, head=1.0)
    with pytest.raises(ValueError, match=r"layer must be in \[-3, 2\] \(one of the 3 layers\), got 3"):
        attention.cls_attention(atts, layer=3)
    with pytest.raises(TypeError, match="layer must be an int"):
        attention.cls_attention(atts, layer=1.0)
    with pytest.raises(ValueError, match="layer must be 'rollout' or an int"):
        attention.attention_map(atts, layer="last")
    with pytest.raises(ValueError, match=r"num_prefix_tokens must be an int >= 0 \(1 = the CLS token\), got -1"):
        attention.attention_rollout(atts, num_prefix_tokens=-1)
    with pytest.raises(ValueError, match=r"15 patch scores do not fill a square grid \(the nearest squares are 9 and 16\)"):
        attention.to_grid(torch.zeros(1, 15))
    with pytest.raises(TypeError, match="attentions must be torch.Tensors"):
        attention.attention_rollout([[0.5, 0.5]])
    with pytest.raises(ValueError, match=r"attentions must be \(B, heads, N, N\) tensors.*\[\(2, 2\)\]"):
        attention.attention_rollout([torch.zeros(2, 2)])
    with pytest.raises(ValueError, match=r"grid=\(3, 4\) holds 12 cells but there are 15 patch scores"):
        attention.to_grid(torch.zeros(1, 15), grid=(3, 4))


def test_rollout_refuses_a_single_head(tiny_clip_attentions):
    # head 3 of one layer is unrelated to head 3 of the next: no silent averaging instead
    _, _, atts = tiny_clip_attentions
    with pytest.raises(ValueError, match=r"head must be one of \['mean', 'max', 'min'\] with layer='rollout'.*got 3"):
        attention.attention_map(atts, "rollout", head=3)
    torch.testing.assert_close(attention.attention_map(atts, "rollout", "max").reshape(2, 16),
                               attention.attention_rollout(atts, head_fusion="max"))


def test_sdpa_model_attentions_say_how_to_get_them(tiny_clip_attentions):
    # transformers' default SDPA attention returns no weights; the message says what to do
    from transformers import CLIPVisionModel

    model, pixels, _ = tiny_clip_attentions
    sdpa = CLIPVisionModel(model.config).eval()
    sdpa.set_attn_implementation("sdpa")
    with torch.no_grad():
        returned = sdpa(pixel_values=pixels, output_attentions=True).attentions
    with pytest.raises(ValueError, match='attn_implementation="eager"'):
        attention.attention_rollout(returned)


# ------------------------------------------------------------------ attention inside boxes
def test_box_coverage_by_hand():
    # 8x8 image, 2x2 grid of 4x4 patches. Box rows 2..5, cols 0..3 (bottom/right exclusive):
    # top-left patch holds rows 2-3 x cols 0-3 = 8 of 16 pixels, bottom-left rows 4-5 = 8 of 16.
    # A second box (0, 6, 2, 8) covers 4 pixels of the top-right patch; overlap with the first: none.
    cov = attention.box_coverage([(2, 0, 6, 4), (0, 6, 2, 8)], (8, 8), (2, 2))
    torch.testing.assert_close(cov, torch.tensor([0.5, 0.25, 0.5, 0.0]))
    # a pixel inside two boxes counts once: the mean is the union's area fraction, 20 / 64
    cov = attention.box_coverage([(2, 0, 6, 4), (0, 6, 2, 8), (2, 0, 4, 4)], (8, 8), (2, 2))
    assert cov.mean().item() == pytest.approx(20 / 64)
    assert attention.box_coverage([], (8, 8), (2, 2)).tolist() == [0.0] * 4


def test_share_in_boxes_by_hand_and_uniform_baseline():
    cov = torch.tensor([0.5, 0.25, 0.5, 0.0])
    # weights 0.1, 0.2, 0.3, 0.2 (CLS kept 0.2): (0.05 + 0.05 + 0.15) / 0.8 = 0.3125
    assert attention.share_in_boxes(torch.tensor([0.1, 0.2, 0.3, 0.2]), cov).item() == pytest.approx(0.3125)
    # a uniform map puts exactly the area fraction inside the boxes
    assert attention.share_in_boxes(torch.full((4,), 0.2), cov).item() == pytest.approx(cov.mean().item())
    both = attention.share_in_boxes(torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 1.0]]), cov)
    torch.testing.assert_close(both, torch.tensor([0.5, 0.0]))


def test_box_measures_refuse_bad_input():
    with pytest.raises(ValueError, match=r"boxes\[0\] = \(0, 0, 9, 4\) must satisfy 0 <= top < bottom <= 8"):
        attention.box_coverage([(0, 0, 9, 4)], (8, 8), (2, 2))
    with pytest.raises(ValueError, match=r"boxes\[0\] must be \(top, left, bottom, right\) in whole pixels"):
        attention.box_coverage([(0, 0, 4)], (8, 8), (2, 2))
    with pytest.raises(ValueError, match=r"image_size \(8, 8\) must be a multiple of grid \(3, 3\)"):
        attention.box_coverage([], (8, 8), (3, 3))
    with pytest.raises(ValueError, match="one entry per patch, got 5 and 4 .did scores keep the CLS column"):
        attention.share_in_boxes(torch.ones(5), torch.ones(4))
    with pytest.raises(ValueError, match="must be non-negative"):
        attention.share_in_boxes(torch.tensor([1.0, -1.0]), torch.ones(2))
    with pytest.raises(TypeError, match="must be torch.Tensors, got list"):
        attention.share_in_boxes([1.0], torch.ones(1))
