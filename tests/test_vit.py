"""vlmlab.vit: the readable ViT, its fast and explicit attention paths, and parity with transformers' CLIP."""

import pytest
import torch

from vlmlab.patches import vit_flops
from vlmlab.vit import ViT, clip_key_map


def _tiny(**kw):
    args = dict(img_size=(24, 32), patch_size=8, embed_dim=32, num_heads=4, num_layers=2, num_classes=5)
    args.update(kw)
    return ViT(**args).eval()


def test_shapes_and_outputs():
    vit = _tiny()
    x = torch.randn(2, 3, 24, 32)
    n = 1 + (24 // 8) * (32 // 8)  # +1 for the CLS token
    assert vit(x).shape == (2, 5)  # logits from the CLS token
    assert vit(x, return_features=True).shape == (2, n, 32)  # all tokens
    out = vit.forward_features(x, output_attentions=True, output_hidden_states=True)
    assert out.last_hidden_state.shape == (2, n, 32)
    assert out.pooler_output.shape == (2, 32)
    assert len(out.hidden_states) == 2 + 1  # block input, then each block
    assert [a.shape for a in out.attentions] == [(2, 4, n, n)] * 2
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones(2, 4, n))  # rows are distributions
    # the meanings: last_hidden_state is the last block's output; pooler = final norm of its CLS token
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
    torch.testing.assert_close(out.pooler_output, vit.norm(out.last_hidden_state[:, 0]))
    torch.testing.assert_close(vit(x, return_features=True)[:, 0], out.pooler_output)
    torch.testing.assert_close(vit(x), vit.head(out.pooler_output))


def test_stages_compose_to_forward_features():
    vit = _tiny(pre_norm=True)
    x = torch.randn(1, 3, 24, 32)
    tokens = vit.embed_patches(x)
    assert tokens.shape == (1, 12, 32)
    seq = vit.add_positions(tokens, (3, 4))
    assert seq.shape == (1, 13, 32)
    last, _, _ = vit.encode(seq)
    torch.testing.assert_close(last, vit.forward_features(x).last_hidden_state)


@pytest.mark.parametrize("activation", ["gelu", "quick_gelu"])
def test_sdpa_path_equals_explicit_softmax(activation):
    vit = _tiny(activation=activation)
    x = torch.randn(3, 3, 24, 32)
    fast = vit.forward_features(x).last_hidden_state  # SDPA
    explicit = vit.forward_features(x, output_attentions=True).last_hidden_state  # softmax written out
    torch.testing.assert_close(fast, explicit, atol=1e-5, rtol=1e-5)
    for block in vit.blocks:
        block.attn.fused_attn = False
    torch.testing.assert_close(vit.forward_features(x).last_hidden_state, fast, atol=1e-5, rtol=1e-5)


def test_other_image_sizes_interpolate_or_recompute():
    vit = _tiny()
    out = vit.forward_features(torch.randn(1, 3, 40, 16))  # 5 x 2 grid instead of 3 x 4
    assert out.last_hidden_state.shape == (1, 1 + 10, 32)
    sincos = _tiny(pos_embed="sincos2d")
    assert sincos.forward_features(torch.randn(1, 3, 40, 16)).last_hidden_state.shape == (1, 11, 32)
    assert "pos_embed" not in dict(sincos.named_parameters())  # fixed, not learned
    none = _tiny(pos_embed="none")
    assert none.pos_embed is None and none(torch.randn(1, 3, 24, 32)).shape == (1, 5)


def test_without_positions_shuffling_patches_only_permutes_tokens():
    vit = _tiny(pos_embed="none")
    x = torch.randn(1, 3, 24, 32)
    perm = torch.randperm(12)
    tokens = vit.embed_patches(x)
    plain, _, _ = vit.encode(vit.add_positions(tokens, (3, 4)))
    shuffled, _, _ = vit.encode(vit.add_positions(tokens[:, perm], (3, 4)))
    torch.testing.assert_close(shuffled[:, 0], plain[:, 0], atol=1e-5, rtol=1e-5)  # CLS unchanged
    torch.testing.assert_close(shuffled[:, 1:], plain[:, 1:][:, perm], atol=1e-5, rtol=1e-5)
    learned = _tiny()
    plain, _, _ = learned.encode(learned.add_positions(tokens, (3, 4)))
    shuffled, _, _ = learned.encode(learned.add_positions(tokens[:, perm], (3, 4)))
    assert not torch.allclose(shuffled[:, 0], plain[:, 0], atol=1e-4)


def test_every_parameter_gets_a_gradient():
    vit = _tiny(pre_norm=True).train()
    vit(torch.randn(2, 3, 24, 32)).sum().backward()
    missing = [n for n, p in vit.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_flop_count_matches_torch_counter():
    from torch.utils.flop_counter import FlopCounterMode

    vit = ViT(img_size=32, patch_size=8, embed_dim=32, num_heads=4, num_layers=2, num_classes=0)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        # the explicit attention path: FlopCounterMode does not count the CPU SDPA kernel
        vit.forward_features(torch.randn(1, 3, 32, 32), output_attentions=True)
    assert counter.get_total_flops() == vit_flops(32, 8, embed_dim=32, num_layers=2)["total"]


def test_bad_inputs():
    vit = _tiny()
    with pytest.raises(ValueError, match="4-D"):
        vit(torch.randn(3, 24, 32))
    with pytest.raises(ValueError, match="channels"):
        vit(torch.randn(1, 1, 24, 32))
    with pytest.raises(ValueError, match="not divisible by patch_size=8"):
        vit(torch.randn(1, 3, 20, 32))
    with pytest.raises(ValueError, match="pos_embed must be one of"):
        _tiny(pos_embed="rope")
    with pytest.raises(ValueError, match="divisible by num_heads"):
        _tiny(embed_dim=30)
    with pytest.raises(TypeError, match="num_classes must be an int >= 0"):
        _tiny(num_classes=2.0)
    with pytest.raises(ValueError, match="num_classes must be an int >= 0 .*got -1"):
        _tiny(num_classes=-1)


def test_initialisation_follows_timm():
    # timm's VisionTransformer.init_weights (default mode): Linear ~ trunc N(0, .02^2) with zero bias,
    # LayerNorm ones/zeros, pos_embed ~ trunc N(0, .02^2), cls_token ~ N(0, 1e-6^2), the patch Conv2d
    # left at PyTorch's default (uniform in +-1/sqrt(fan_in)). Wide layers, so the std estimates are tight.
    from torch import nn

    vit = ViT(img_size=64, patch_size=8, embed_dim=192, num_heads=3, num_layers=2, num_classes=10)
    linears = [m for m in vit.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 2 * 4 + 1  # qkv, proj, fc1, fc2 per block + the head
    for m in linears:
        assert torch.equal(m.bias, torch.zeros_like(m.bias))
        assert abs(m.weight.std().item() - 0.02) < 0.002
        assert m.weight.abs().max().item() <= 2.0  # timm truncates at +-2 (absolute): no clipping at std .02
    norms = [m for m in vit.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 2 * 2 + 1  # norm1, norm2 per block + the final norm (pre_norm is Identity)
    for m in norms:
        assert torch.equal(m.weight, torch.ones_like(m.weight)) and torch.equal(m.bias, torch.zeros_like(m.bias))
    assert abs(vit.pos_embed.std().item() - 0.02) < 0.002
    assert 0 < vit.cls_token.abs().max().item() < 1e-5
    conv = vit.patch_embed.projection.weight
    fan_in = 3 * 8 * 8
    assert conv.abs().max().item() <= fan_in ** -0.5
    assert abs(conv.std().item() - fan_in ** -0.5 / 3 ** 0.5) < 0.01  # uniform(-b, b) has std b/sqrt(3)


def test_initialisation_statistics_equal_timms_own_model():
    # The same rule, read off a timm VisionTransformer of the same shape: per parameter kind, the same scale.
    import timm.models.vision_transformer as tvit

    ours = ViT(img_size=64, patch_size=8, embed_dim=192, num_heads=3, num_layers=2, num_classes=10)
    theirs = tvit.VisionTransformer(img_size=64, patch_size=8, embed_dim=192, num_heads=3, depth=2, num_classes=10)
    pairs = [(ours.blocks[0].attn.qkv.weight, theirs.blocks[0].attn.qkv.weight),
             (ours.blocks[1].mlp.fc2.weight, theirs.blocks[1].mlp.fc2.weight),
             (ours.head.weight, theirs.head.weight),
             (ours.pos_embed, theirs.pos_embed),
             (ours.patch_embed.projection.weight, theirs.patch_embed.proj.weight)]
    for a, b in pairs:
        assert a.shape == b.shape
        assert abs(a.std().item() - b.std().item()) < 0.1 * b.std().item()
    assert ours.cls_token.abs().max().item() < 1e-5 and theirs.cls_token.abs().max().item() < 1e-5
    assert torch.equal(ours.blocks[0].attn.qkv.bias, theirs.blocks[0].attn.qkv.bias)  # both all zeros


# ---- parity with transformers' CLIP -------------------------------------------------

def _saved_clip(tmp_path, activation, image_size=30, patch_size=6, hidden=32, mlp=37, layers=3, heads=4):
    """A tiny random CLIPVisionModel, saved and reloaded (eager attention, so it returns maps)."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    cfg = CLIPVisionConfig(image_size=image_size, patch_size=patch_size, hidden_size=hidden, intermediate_size=mlp,
                           num_hidden_layers=layers, num_attention_heads=heads, hidden_act=activation,
                           layer_norm_eps=1e-5)
    model = CLIPVisionModel(cfg)
    with torch.no_grad():  # make the norms and biases non-trivial so a missed copy shows
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    model.save_pretrained(tmp_path / "clip")
    return CLIPVisionModel.from_pretrained(tmp_path / "clip", attn_implementation="eager").eval()


def _compare(hf, vit, x, interpolate):
    with torch.no_grad():
        ref = hf(pixel_values=x, output_hidden_states=True, output_attentions=True,
                 interpolate_pos_encoding=interpolate)
        out = vit.forward_features(x, output_attentions=True, output_hidden_states=True)
        fast = vit.forward_features(x)
    tol = dict(atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.last_hidden_state, ref.last_hidden_state, **tol)
    torch.testing.assert_close(fast.last_hidden_state, ref.last_hidden_state, **tol)
    torch.testing.assert_close(out.pooler_output, ref.pooler_output, **tol)
    assert len(out.hidden_states) == len(ref.hidden_states)
    for ours, theirs in zip(out.hidden_states, ref.hidden_states):
        torch.testing.assert_close(ours, theirs, **tol)
    assert len(out.attentions) == len(ref.attentions) == vit.num_layers
    for ours, theirs in zip(out.attentions, ref.attentions):
        torch.testing.assert_close(ours, theirs, **tol)


@pytest.mark.parametrize("activation", ["gelu", "quick_gelu"])
def test_from_hf_clip_parity(tmp_path, activation):
    hf = _saved_clip(tmp_path, activation)
    vit = ViT.from_hf_clip(hf)
    assert vit.activation == activation and vit.mlp_dim == 37 and vit.grid == (5, 5)
    _compare(hf, vit, torch.randn(2, 3, 30, 30), interpolate=False)


@pytest.mark.parametrize("size", [(42, 24), (24, 42), (36, 36)])
def test_from_hf_clip_parity_other_sizes(tmp_path, size):
    hf = _saved_clip(tmp_path, "quick_gelu")
    vit = ViT.from_hf_clip(hf)
    _compare(hf, vit, torch.randn(1, 3, *size), interpolate=True)  # the learned 5x5 table, bicubic to the new grid


def test_from_hf_clip_accepts_full_clip_model(tmp_path):
    from transformers import CLIPConfig, CLIPModel

    cfg = CLIPConfig(
        text_config=dict(vocab_size=40, hidden_size=16, intermediate_size=20, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=8),
        vision_config=dict(image_size=16, patch_size=4, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                           num_attention_heads=2),
        projection_dim=8,
    )
    CLIPModel(cfg).save_pretrained(tmp_path / "full")
    clip = CLIPModel.from_pretrained(tmp_path / "full").eval()
    vit = ViT.from_hf_clip(clip)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ref = clip.vision_model(pixel_values=x)
        torch.testing.assert_close(vit.forward_features(x).pooler_output, ref.pooler_output, atol=1e-4, rtol=1e-4)
        # and CLIP's image embedding is the projection of pooler_output (what forward returns with no head)
        image_embeds = clip(pixel_values=x, input_ids=torch.tensor([[1, 2]])).image_embeds  # L2-normalised
        ours = clip.visual_projection(vit(x))
        torch.testing.assert_close(ours / ours.norm(dim=-1, keepdim=True), image_embeds, atol=1e-4, rtol=1e-4)


def test_key_map_covers_every_weight_once():
    vit = ViT(img_size=16, patch_size=4, embed_dim=16, num_heads=2, num_layers=2, num_classes=0, pre_norm=True,
              patch_bias=False)
    ours = [o for o, _ in clip_key_map(2)]
    assert sorted(ours) == sorted(vit.state_dict())
    with pytest.raises(TypeError, match="CLIP vision model"):
        ViT.from_hf_clip(torch.nn.Linear(2, 2))


def test_from_hf_clip_keeps_dtype():
    from transformers import CLIPVisionConfig, CLIPVisionModel

    cfg = CLIPVisionConfig(image_size=16, patch_size=4, hidden_size=16, intermediate_size=24, num_hidden_layers=1,
                           num_attention_heads=2)
    hf = CLIPVisionModel(cfg).to(torch.bfloat16).eval()
    vit = ViT.from_hf_clip(hf)
    assert {p.dtype for p in vit.parameters()} == {torch.bfloat16}
    x = torch.randn(1, 3, 16, 16, dtype=torch.bfloat16)
    with torch.no_grad():
        torch.testing.assert_close(vit.forward_features(x).pooler_output, hf(pixel_values=x).pooler_output,
                                   atol=3e-2, rtol=3e-2)


def test_same_maths_as_a_transformer_encoder_vit():
    # A common first implementation: nn.TransformerEncoder(norm_first=True, gelu) + final LayerNorm on every
    # token. With our weights copied in (and dropout off) it must give our forward(x, return_features=True).
    from torch import nn

    vit = _tiny()
    with torch.no_grad():  # biases start at 0 and norms at 1: perturb them so that a missed copy shows
        for name, p in vit.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=128, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
    encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
    with torch.no_grad():
        for ours, theirs in zip(vit.blocks, encoder.layers):
            theirs.self_attn.in_proj_weight.copy_(ours.attn.qkv.weight)  # same [q; k; v] stacking
            theirs.self_attn.in_proj_bias.copy_(ours.attn.qkv.bias)
            theirs.self_attn.out_proj.load_state_dict(ours.attn.proj.state_dict())
            theirs.linear1.load_state_dict(ours.mlp.fc1.state_dict())
            theirs.linear2.load_state_dict(ours.mlp.fc2.state_dict())
            theirs.norm1.load_state_dict(ours.norm1.state_dict())
            theirs.norm2.load_state_dict(ours.norm2.state_dict())
        x = torch.randn(2, 3, 24, 32)
        tokens = vit.add_positions(vit.embed_patches(x), vit.grid)
        encoder_features = vit.norm(encoder(tokens))
        torch.testing.assert_close(vit(x, return_features=True), encoder_features, atol=1e-5, rtol=1e-5)


def test_quick_gelu_is_transformers_quick_gelu_and_close_to_gelu():
    from transformers.activations import ACT2FN

    from vlmlab.vit import QuickGELU

    x = torch.linspace(-6, 6, 12001, dtype=torch.float64)
    ours = QuickGELU()(x)
    torch.testing.assert_close(ours, ACT2FN["quick_gelu"](x), atol=0, rtol=0)
    torch.testing.assert_close(ours, x * torch.sigmoid(1.702 * x), atol=0, rtol=0)
    gap = (ours - torch.nn.functional.gelu(x)).abs()
    assert gap.max().item() == pytest.approx(0.0203, abs=5e-4)  # the largest gap to exact GELU ...
    assert x[gap.argmax()].item() == pytest.approx(-2.27, abs=0.02)  # ... on the negative side


def test_patch_distances():
    from vlmlab.vit import patch_distances

    d = patch_distances((2, 3))  # patches 0 1 2 / 3 4 5
    assert d.shape == (6, 6)
    torch.testing.assert_close(d, d.T)
    assert torch.equal(d.diagonal(), torch.zeros(6))
    assert d[0, 1].item() == 1 and d[0, 3].item() == 1 and d[0, 4].item() == pytest.approx(2**0.5)
    assert d[0, 5].item() == pytest.approx(5**0.5) and d[2, 3].item() == pytest.approx(5**0.5)
    assert patch_distances(3).shape == (9, 9)  # an int is a square grid


def test_attention_distance_exact_cases():
    from vlmlab.vit import attention_distance, patch_distances

    grid, n = (2, 3), 6
    on_self = torch.zeros(1, 2, 1 + n, 1 + n)
    on_self[0, :, 0, 0] = 1.0
    on_self[0, :, 1:, 1:] = 0.5 * torch.eye(n)  # half on its own patch, half on CLS: CLS is left out
    on_self[0, :, 1:, 0] = 0.5
    assert torch.equal(attention_distance(on_self, grid), torch.zeros(1, 2, n))
    even = torch.full((1, 1, 1 + n, 1 + n), 1 / (1 + n))  # CLS included: renormalised over the patches
    torch.testing.assert_close(attention_distance(even, grid)[0, 0], patch_distances(grid).mean(-1))
    corner = torch.zeros(1, 1, n, n)  # no prefix token: every query reads the last patch only
    corner[..., -1] = 1.0
    torch.testing.assert_close(attention_distance(corner, grid, num_prefix_tokens=0)[0, 0], patch_distances(grid)[:, -1])


def test_attention_distance_matches_a_loop_on_a_real_vit():
    from vlmlab.vit import attention_distance

    vit = _tiny()
    with torch.no_grad():
        att = vit.forward_features(torch.randn(2, 3, 24, 32), output_attentions=True).attentions[1]  # (2, 4, 13, 13)
    got = attention_distance(att, (3, 4))
    assert got.shape == (2, 4, 12)
    b, h, q = 1, 2, 5  # one query, by hand
    row = att[b, h, 1 + q, 1:]
    qr, qc = divmod(q, 4)
    expected = sum(row[k] * ((k // 4 - qr) ** 2 + (k % 4 - qc) ** 2) ** 0.5 for k in range(12)) / row.sum()
    assert got[b, h, q].item() == pytest.approx(float(expected), rel=1e-5)


def test_attention_distance_bad_inputs():
    from vlmlab.vit import attention_distance

    with pytest.raises(ValueError, match=r"\(B, heads, 13, 13\) for grid \(3, 4\)"):
        attention_distance(torch.rand(1, 1, 12, 12), (3, 4))
    with pytest.raises(TypeError, match="one layer's"):
        attention_distance([torch.rand(1, 1, 13, 13)], (3, 4))
    with pytest.raises(ValueError, match="num_prefix_tokens must be an int >= 0"):
        attention_distance(torch.rand(1, 1, 13, 13), (3, 4), num_prefix_tokens=-1)
