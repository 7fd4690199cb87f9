"""load_clip and VLMVisionEncoder: round trip through save_pretrained, LLaVA's feature layer, freezing, offline errors."""

import time

import pytest
import torch

from vlmlab import clip as vclip
from vlmlab import toyclip
from vlmlab.shapes import ShapesWorld


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    """A random CLIP with the toy checkpoint's layout (64 px, patch 8), saved like the real one."""
    from transformers import CLIPModel

    world = ShapesWorld()
    processor = toyclip.build_processor(world)
    config = toyclip.build_config(processor.tokenizer, dict(toyclip.TINY_ARCH, vision_layers=3))
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    folder = tmp_path_factory.mktemp("tiny-clip")
    toyclip.save_checkpoint(model, processor, folder)
    return folder


@pytest.fixture(scope="module")
def pixels(tiny_clip_dir):
    images, _ = ShapesWorld().sample(2, seed=5)
    _, processor = vclip.load_clip(tiny_clip_dir)
    return processor(images=images, return_tensors="pt").pixel_values


def test_load_clip_round_trip(tiny_clip_dir, pixels):
    from transformers import CLIPModel, CLIPProcessor

    model, processor = vclip.load_clip(tiny_clip_dir)
    assert isinstance(model, CLIPModel) and isinstance(processor, CLIPProcessor)
    assert not model.training
    ref = CLIPModel.from_pretrained(tiny_clip_dir).eval()
    with torch.no_grad():
        a = model.get_image_features(pixel_values=pixels)
        b = ref.get_image_features(pixel_values=pixels)
    torch.testing.assert_close(getattr(a, "pooler_output", a), getattr(b, "pooler_output", b))
    out = model.vision_model(pixel_values=pixels)
    assert out.last_hidden_state.shape == (2, 1 + 64, 32)
    assert out.pooler_output.shape == (2, 32)


def test_env_var_sets_default(tiny_clip_dir, monkeypatch):
    monkeypatch.setenv("VLMLAB_CLIP", str(tiny_clip_dir))
    model, _ = vclip.load_clip()
    assert model.config.vision_config.hidden_size == 32
    monkeypatch.delenv("VLMLAB_CLIP")
    assert vclip.default_clip_name() == str(vclip.TOY_CLIP_PATH)


def test_encoder_reads_penultimate_layer_without_cls(tiny_clip_dir, pixels):
    enc = vclip.VLMVisionEncoder(tiny_clip_dir)
    assert (enc.output_dim, enc.image_size, enc.patch_size, enc.grid, enc.num_patches) == (32, 64, 8, (8, 8), 64)
    with torch.no_grad():
        feats = enc(pixels)
        ref = enc.vision_model(pixel_values=pixels, output_hidden_states=True)
    assert feats.shape == (2, 64, 32)
    torch.testing.assert_close(feats, ref.hidden_states[-2][:, 1:])
    torch.testing.assert_close(enc.forward_with_cls(pixels), ref.hidden_states[-2])
    # feature_layer=-1 is last_hidden_state; "cls_patch" keeps CLS
    last = vclip.VLMVisionEncoder(tiny_clip_dir, feature_layer=-1, select="cls_patch")
    torch.testing.assert_close(last(pixels), ref.last_hidden_state)


def test_encoder_matches_transformers_llava_feature_selection(tiny_clip_dir, pixels):
    """LlavaModel.get_image_features: hidden_states[vision_feature_layer], 'default' strategy drops CLS."""
    enc = vclip.VLMVisionEncoder(tiny_clip_dir)
    with torch.no_grad():
        hs = enc.vision_model(pixel_values=pixels, output_hidden_states=True).hidden_states
    llava_default = hs[-2][:, 1:]  # transformers/models/llava/modeling_llava.py, strategy "default"
    torch.testing.assert_close(enc(pixels), llava_default)


def test_frozen_params_get_no_gradient(tiny_clip_dir, pixels):
    enc = vclip.VLMVisionEncoder(tiny_clip_dir)
    assert all(not p.requires_grad for p in enc.parameters())
    projector = torch.nn.Linear(enc.output_dim, 8)
    loss = projector(enc(pixels)).pow(2).mean()
    loss.backward()
    assert all(p.grad is None for p in enc.parameters())
    assert projector.weight.grad is not None
    enc.train()
    assert not enc.vision_model.training  # a frozen tower stays in eval mode

    trainable = vclip.VLMVisionEncoder(tiny_clip_dir, freeze=False)
    trainable(pixels).sum().backward()
    assert trainable.vision_model.embeddings.patch_embedding.weight.grad is not None


def test_interpolate_pos_encoding_passes_through(tiny_clip_dir):
    enc = vclip.VLMVisionEncoder(tiny_clip_dir)
    x = torch.randn(1, 3, 96, 80)
    with pytest.raises(ValueError, match="interpolate_pos_encoding=True"):
        enc(x)
    assert enc(x, interpolate_pos_encoding=True).shape == (1, (96 // 8) * (80 // 8), 32)


def test_encoder_bad_arguments(tiny_clip_dir):
    with pytest.raises(ValueError, match="select must be one of"):
        vclip.VLMVisionEncoder(tiny_clip_dir, select="cls")
    with pytest.raises(ValueError, match=r"feature_layer must be an int in \[-4, 3\]"):
        vclip.VLMVisionEncoder(tiny_clip_dir, feature_layer=-5)
    enc = vclip.VLMVisionEncoder(tiny_clip_dir)
    with pytest.raises(ValueError, match="4-D"):
        enc(torch.zeros(3, 64, 64))
    with pytest.raises(FileNotFoundError, match="no CLIP checkpoint"):
        vclip.load_clip("./no/such/folder")


def test_encoder_accepts_a_loaded_model(tiny_clip_dir, pixels):
    model, _ = vclip.load_clip(tiny_clip_dir)
    enc = vclip.VLMVisionEncoder(model)
    assert enc.processor is None and enc.visual_projection is model.visual_projection
    assert enc(pixels).shape == (2, 64, 32)


@pytest.mark.parametrize("setting", ["HF_HUB_OFFLINE", "no-network"])
def test_hub_unreachable_fails_fast_with_advice(monkeypatch, tmp_path, setting):
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    if setting == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:  # no network: nothing listens on the discard port of this machine
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(vclip.HubUnavailableError) as err:
        vclip.load_clip("vlmlab-test/no-such-clip")
    assert time.monotonic() - start < 10
    msg = str(err.value)
    assert "can't be reached" in msg and "load_clip() with no argument" in msg
    assert ("HF_HUB_OFFLINE" in msg) if setting == "HF_HUB_OFFLINE" else ("no network" in msg)


# ------------------------------------------------------------------ the attention explorer widget
def test_attention_explorer_pure_functions_and_speed(tiny_clip_dir):
    import io
    import statistics

    import matplotlib.pyplot as plt

    from vlmlab import attention
    from vlmlab.widgets import clip as wclip

    model, processor = vclip.load_clip(tiny_clip_dir, attn_implementation="eager")
    images, _ = ShapesWorld().sample(1, seed=0)
    data = wclip.clip_attentions(model, processor, images[0])
    assert data["grid"] == (8, 8) and data["layers"] == 3 and data["image"].shape == (64, 64, 3)
    assert 0.0 <= data["image"].min() and data["image"].max() <= 1.0

    fig, info = wclip.attention_explorer_figure(data, layer="rollout", head="mean", alpha=0.5)
    np_roll = attention.attention_rollout(data["attentions"])[0].reshape(8, 8).numpy()
    assert info["map"].shape == (8, 8) and (info["map"] == np_roll).all()
    plt.close(fig)
    fig, info = wclip.attention_explorer_figure(data, layer=1, head=0)
    assert (info["map"] == data["attentions"][1][0, 0, 0, 1:].reshape(8, 8).numpy()).all()
    assert info["map"][info["peak"]] == info["map"].max()
    plt.close(fig)

    # one widget update = draw the figure and render it to PNG (the model ran once, cached)
    times = []
    for layer, head in [("rollout", "max"), (0, 1), (2, "mean")]:
        start = time.perf_counter()
        fig, _ = wclip.attention_explorer_figure(data, layer, head, 0.6)
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"attention explorer update: median {1000 * median:.0f} ms")
    assert median < 1.0  # 200 ms on an idle 2-core machine; generous here for a shared one

    with pytest.raises(ValueError, match="alpha must be in"):
        wclip.attention_explorer_figure(data, alpha=2)


def test_attention_explorer_widget_builds(tiny_clip_dir):
    pytest.importorskip("ipywidgets")
    from vlmlab.widgets import clip as wclip

    model, processor = vclip.load_clip(tiny_clip_dir, attn_implementation="eager")
    images, caps = ShapesWorld().sample(2, seed=0)
    w = wclip.attention_explorer(model, processor, images=dict(zip(caps, images)))
    controls = [c for box in w.children[:2] for c in box.children]
    assert [c.description for c in controls] == ["image", "layer", "head", "opacity"]
    controls[1].value = 0  # a change redraws without error
    controls[2].value = 1
