"""load_clip and VLMVisionEncoder: round trip through save_pretrained, LLaVA's feature layer, freezing, offline errors."""

import pytest
import torch

from vlmlab import clip as vclip
from vlmlab import toyclip
from vlmlab.training.checkpoints import save_checkpoint
from vlmlab.training.tokenizer import build_processor
from vlmlab.shapes import ShapesWorld


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    """A random CLIP with the toy checkpoint's layout (64 px, patch 8), saved like the real one."""
    from transformers import CLIPModel

    world = ShapesWorld()
    processor = build_processor(world)
    config = toyclip.build_config(processor.tokenizer, dict(toyclip.TINY_ARCH, vision_layers=3))
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    folder = tmp_path_factory.mktemp("tiny-clip")
    save_checkpoint(model, processor, folder)
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


def _tiny_llava(clip_model, feature_layer=-2, strategy="default"):
    """transformers' own LlavaForConditionalGeneration, built offline from configs: the CLIP's vision tower
    (weights copied in) + a 2-layer Llama; its projector is LLaVA-1.5's mlp2x_gelu."""
    from transformers import LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    text = LlamaConfig(vocab_size=40, hidden_size=24, intermediate_size=48, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=2)
    config = LlavaConfig(vision_config=clip_model.config.vision_config, text_config=text, image_token_id=39,
                         vision_feature_layer=feature_layer, vision_feature_select_strategy=strategy,
                         projector_hidden_act="gelu")
    torch.manual_seed(1)
    llava = LlavaForConditionalGeneration(config).eval()
    llava.model.vision_tower.load_state_dict(clip_model.vision_model.state_dict())
    return llava


@pytest.mark.parametrize("feature_layer, select, strategy", [(-2, "patch", "default"), (-1, "cls_patch", "full"),
                                                              (1, "patch", "default")])
def test_encoder_matches_transformers_llava(tiny_clip_dir, pixels, feature_layer, select, strategy):
    """VLMVisionEncoder + LLaVA's projector == LlavaModel.get_image_features on the same weights."""
    from vlmlab.projectors import MLPProjector

    model, _ = vclip.load_clip(tiny_clip_dir)
    llava = _tiny_llava(model, feature_layer, strategy)
    enc = vclip.VLMVisionEncoder(tiny_clip_dir, feature_layer=feature_layer, select=select)
    projector = MLPProjector(enc.output_dim, 24, depth=2).eval()
    mmp = llava.model.multi_modal_projector
    projector.proj[0].load_state_dict(mmp.linear_1.state_dict())
    projector.proj[2].load_state_dict(mmp.linear_2.state_dict())
    with torch.no_grad():
        theirs = llava.model.get_image_features(pixel_values=pixels, vision_feature_layer=feature_layer,
                                                vision_feature_select_strategy=strategy)
        theirs = torch.stack(list(theirs.pooler_output))  # transformers 5: one (N, D_llm) tensor per image
        ours = projector(enc(pixels))
    n_tokens = enc.num_patches + (select == "cls_patch")  # +1: "full" keeps the CLS token
    assert ours.shape == theirs.shape == (2, n_tokens, 24)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


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
    with pytest.raises(ValueError, match=r"feature_layer must be in \[-4, 3\] \(an index into the 4 hidden_states"):
        vclip.VLMVisionEncoder(tiny_clip_dir, feature_layer=-5)
    with pytest.raises(TypeError, match="feature_layer must be an int"):
        vclip.VLMVisionEncoder(tiny_clip_dir, feature_layer=-2.0)
    enc = vclip.VLMVisionEncoder(tiny_clip_dir)
    with pytest.raises(ValueError, match="4-D"):
        enc(torch.zeros(3, 64, 64))


def _hub_must_not_be_asked(monkeypatch):
    def asked(*args, **kwargs):  # pragma: no cover - would mean a path was taken for a Hub name
        raise AssertionError("load_clip asked the Hub about something that is a path")

    monkeypatch.setattr(vclip, "hub_offline_reason", asked)


@pytest.mark.parametrize("name", ["./no/such/folder", "no/such/folder", "/no/such/folder", "~/no-such-clip-folder",
                                  "no\\such", "data/toy-clip-missing"])
def test_a_path_that_does_not_exist_is_not_a_hub_name(monkeypatch, tmp_path, name):
    _hub_must_not_be_asked(monkeypatch)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="looks like a path, so it was not looked up on the Hugging Face Hub"):
        vclip.load_clip(name)


def test_relative_toy_path_from_another_directory_says_where_it_is(monkeypatch, tmp_path):
    # data/toy-clip typed in notebooks/: not there relative to the cwd, but it is from the repository root
    _hub_must_not_be_asked(monkeypatch)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        vclip.load_clip("data/toy-clip")
    msg = str(err.value)
    assert f"relative to the current directory {str(tmp_path)!r}" in msg
    assert str(vclip.TOY_CLIP_PATH) in msg and "load_clip() with no argument" in msg


def test_relative_path_that_exists_is_a_local_checkpoint(monkeypatch, tiny_clip_dir):
    # "tiny-clip0" has no "/" at all: it is still a local folder, because it exists
    _hub_must_not_be_asked(monkeypatch)
    monkeypatch.chdir(tiny_clip_dir.parent)
    model, _ = vclip.load_clip(tiny_clip_dir.name)
    assert model.config.vision_config.hidden_size == 32


def test_folder_without_config_and_a_file_are_refused(monkeypatch, tmp_path):
    _hub_must_not_be_asked(monkeypatch)
    with pytest.raises(FileNotFoundError, match="it has no config.json"):
        vclip.load_clip(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="is a file; a CLIP checkpoint is a folder"):
        vclip.load_clip(tmp_path / "weights.bin")


def test_load_clip_bad_types():
    with pytest.raises(TypeError, match="name_or_path must be None, a folder path or a Hub model name"):
        vclip.load_clip(3)
    with pytest.raises(ValueError, match="name_or_path must be a folder path or a Hub model name"):
        vclip.load_clip("")


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
    with pytest.raises(vclip.HubUnavailableError) as err:
        vclip.load_clip("vlmlab-test/no-such-clip")  # "org/name": a Hub name
    msg = str(err.value)
    assert "can't be reached" in msg and "load_clip() with no argument" in msg
    assert ("HF_HUB_OFFLINE" in msg) if setting == "HF_HUB_OFFLINE" else ("no network" in msg)


# ------------------------------------------------------------------ embeddings, and which model is the toy
def test_image_and_text_embeddings_equal_clips_own_features(tiny_clip_dir, pixels):
    model, processor = vclip.load_clip(tiny_clip_dir)
    text = processor(text=["a large red circle at the top left", "a small blue square"], padding=True,
                     return_tensors="pt")
    with torch.no_grad():
        image_ref = model.get_image_features(pixel_values=pixels)
        text_ref = model.get_text_features(input_ids=text.input_ids, attention_mask=text.attention_mask)
        # transformers 5 returns an output object with the projected embeddings in pooler_output
        image_ref = getattr(image_ref, "pooler_output", image_ref)
        text_ref = getattr(text_ref, "pooler_output", text_ref)
        assert image_ref.shape == (2, 16) and text_ref.shape == (2, 16)  # TINY_ARCH's projection_dim
        torch.testing.assert_close(vclip.image_embeddings(model, pixels, normalise=False), image_ref)
        torch.testing.assert_close(vclip.image_embeddings(model, pixels), image_ref / image_ref.norm(dim=-1, keepdim=True))
        torch.testing.assert_close(vclip.text_embeddings(model, text.input_ids, text.attention_mask, normalise=False),
                                   text_ref)
        unit = vclip.text_embeddings(model, text.input_ids, text.attention_mask)
        torch.testing.assert_close(unit, text_ref / text_ref.norm(dim=-1, keepdim=True))
        # the logits CLIP itself computes are the scaled cosines of these embeddings
        logits = model(pixel_values=pixels, **text).logits_per_image
        torch.testing.assert_close(logits, model.logit_scale.exp() * vclip.image_embeddings(model, pixels) @ unit.T)


@pytest.fixture(scope="module")
def toy_clip():
    if not (vclip.TOY_CLIP_PATH / "config.json").exists():
        pytest.fail(f"the bundled toy CLIP is missing from {vclip.TOY_CLIP_PATH}")
    return vclip.load_clip(vclip.TOY_CLIP_PATH)[0]


def test_is_toy_clip_for_every_way_of_holding_the_model(toy_clip, tiny_clip_dir):
    from transformers import CLIPModel, CLIPVisionModel

    assert vclip.is_toy_clip(toy_clip)                                   # CLIPModel
    assert vclip.is_toy_clip(toy_clip.vision_model)                      # the vision transformer inside it
    assert vclip.is_toy_clip(CLIPVisionModel.from_pretrained(vclip.TOY_CLIP_PATH))  # CLIPVisionModel
    assert vclip.is_toy_clip(vclip.VLMVisionEncoder(toy_clip))           # the frozen-encoder wrapper
    assert vclip.is_toy_clip(CLIPModel.from_pretrained(vclip.TOY_CLIP_PATH, dtype=torch.bfloat16))  # any dtype
    other, _ = vclip.load_clip(tiny_clip_dir)
    assert not vclip.is_toy_clip(other)
    assert not vclip.is_toy_clip(other.vision_model)
    assert not vclip.is_toy_clip(torch.nn.Linear(2, 2))


# ------------------------------------------------------------------ a CLIP that is not toy-shaped
@pytest.fixture(scope="module")
def other_clip_dir(tmp_path_factory):
    """A random CLIP whose sizes differ from the toy's everywhere (48 px, patch 12, width 24, 2 layers, 3 heads),
    with the toy tokenizer and an image processor for 48 px: code that assumes 64 px / patch 8 / 128 wide fails."""
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTextConfig, CLIPVisionConfig

    processor = CLIPProcessor.from_pretrained(vclip.TOY_CLIP_PATH)
    processor.image_processor.size = {"shortest_edge": 48}
    processor.image_processor.crop_size = {"height": 48, "width": 48}
    toy_text = CLIPConfig.from_pretrained(vclip.TOY_CLIP_PATH).text_config
    text = CLIPTextConfig(vocab_size=toy_text.vocab_size, hidden_size=24, intermediate_size=40, num_hidden_layers=1,
                          num_attention_heads=3, max_position_embeddings=toy_text.max_position_embeddings,
                          bos_token_id=toy_text.bos_token_id, eos_token_id=toy_text.eos_token_id,
                          pad_token_id=toy_text.pad_token_id)
    vision = CLIPVisionConfig(image_size=48, patch_size=12, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                              num_attention_heads=3)
    torch.manual_seed(2)
    model = CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=8))
    folder = tmp_path_factory.mktemp("other-clip")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_encoder_reads_its_sizes_from_the_config(other_clip_dir):
    enc = vclip.VLMVisionEncoder(other_clip_dir)
    assert (enc.output_dim, enc.image_size, enc.patch_size, enc.grid, enc.num_patches) == (24, 48, 12, (4, 4), 16)
    images, _ = ShapesWorld().sample(2, seed=1)
    pixels = enc.preprocess(images)
    assert tuple(pixels.shape) == (2, 3, 48, 48)
    assert enc(pixels).shape == (2, 16, 24)
    assert not vclip.is_toy_clip(enc)


def _rollout_by_hand(attentions):
    """Abnar & Zuidema's rollout written out: mean over heads, (A + I) / 2 renormalised, multiplied up."""
    result = torch.eye(attentions[0].shape[-1])
    for a in attentions:
        mixed = a[0].mean(0) + torch.eye(a.shape[-1])
        result = (mixed / mixed.sum(-1, keepdim=True)) @ result
    return result[0, 1:]


# ------------------------------------------------------------------ the attention explorer widget
@pytest.mark.parametrize("which", ["tiny", "other"])
def test_attention_explorer_pure_functions(tiny_clip_dir, other_clip_dir, which):
    import matplotlib.pyplot as plt

    from vlmlab.widgets import clip as wclip

    folder = tiny_clip_dir if which == "tiny" else other_clip_dir
    side, grid_side, layers, heads = (64, 8, 3, 2) if which == "tiny" else (48, 4, 2, 3)
    model, processor = vclip.load_clip(folder, attn_implementation="eager")
    images, _ = ShapesWorld().sample(1, seed=0)
    data = wclip.clip_attentions(model, processor, images[0])
    assert data["grid"] == (grid_side, grid_side) and data["layers"] == layers and data["heads"] == heads
    assert data["image"].shape == (side, side, 3)
    assert 0.0 <= data["image"].min() and data["image"].max() <= 1.0
    with torch.no_grad():  # the attentions are the model's own
        ref = model.vision_model(pixel_values=processor(images=images[0], return_tensors="pt").pixel_values,
                                 output_attentions=True).attentions
    fig, info = wclip.attention_explorer_figure(data, layer="rollout", head="mean", alpha=0.5)
    plt.close(fig)
    assert info["map"].shape == (grid_side, grid_side)
    torch.testing.assert_close(torch.from_numpy(info["map"]).flatten(), _rollout_by_hand(ref))
    fig, info = wclip.attention_explorer_figure(data, layer=1, head=0)
    plt.close(fig)
    torch.testing.assert_close(torch.from_numpy(info["map"]).flatten(), ref[1][0, 0, 0, 1:])
    assert info["map"][info["peak"]] == info["map"].max()
    title = fig.axes[0].get_title()
    assert f"{side}x{side} px, {grid_side}x{grid_side} patches" in title and "toy" not in title

    with pytest.raises(ValueError, match="alpha must be in"):
        wclip.attention_explorer_figure(data, alpha=2)
    with pytest.raises(TypeError, match="alpha must be a number in"):
        wclip.attention_explorer_figure(data, alpha="0.5")
    with pytest.raises(ValueError, match="with layer='rollout'"):
        wclip.attention_explorer_figure(data, layer="rollout", head=0)


def test_attention_explorer_widget_builds_and_redraws(tiny_clip_dir, monkeypatch):
    from vlmlab.widgets import clip as wclip

    drawn = []
    figure = wclip.attention_explorer_figure

    def recording(data, layer, head, alpha, **kw):
        drawn.append((layer, head))
        return figure(data, layer, head, alpha, **kw)

    monkeypatch.setattr(wclip, "attention_explorer_figure", recording)
    model, processor = vclip.load_clip(tiny_clip_dir, attn_implementation="eager")
    images, caps = ShapesWorld().sample(2, seed=0)
    w = wclip.attention_explorer(model, processor, images=dict(zip(caps, images)))
    controls = [c for box in w.children[:2] for c in box.children]
    image_box, layer_box, head_box, alpha_box = controls
    assert [c.description for c in controls] == ["image", "layer", "head", "opacity"]
    assert list(head_box.options) == ["mean", "max", "min"]  # rollout: fusions only
    layer_box.value = 0
    assert list(head_box.options) == ["mean", "max", "min", 0, 1]  # one layer: single heads too
    head_box.value = 1
    layer_box.value = "rollout"  # back to rollout: a single head is not offered, the head falls back to "mean"
    assert head_box.value == "mean" and list(head_box.options) == ["mean", "max", "min"]
    # one redraw per change, never with a (rollout, single head) pair in between
    assert drawn == [("rollout", "mean"), (0, "mean"), (0, 1), ("rollout", "mean")]


def test_default_images_are_drawn_at_the_encoders_size(other_clip_dir):
    from vlmlab.widgets import clip as wclip

    images = wclip.default_images(n_shapes=2, samples=(), image_size=48)
    assert [im.size for im in images.values()] == [(48, 48), (48, 48)]
    assert all(name in ShapesWorld().captions() for name in images)  # keyed by their captions


# ------------------------------------------------------------------ toy CLIP 2: loaded explicitly, told apart
@pytest.fixture(scope="module")
def toy_clip_2():
    if not (vclip.TOY_CLIP_2_PATH / "config.json").exists():
        pytest.fail(f"toy CLIP 2 is missing from {vclip.TOY_CLIP_2_PATH}")
    return vclip.load_clip(vclip.TOY_CLIP_2_PATH)[0]


def test_load_scene_clip_loads_toy_clip_2_and_load_clip_keeps_toy_clip_1(monkeypatch):
    monkeypatch.delenv("VLMLAB_CLIP", raising=False)
    scene_model, processor = vclip.load_scene_clip(attn_implementation="eager")
    assert not scene_model.training
    assert scene_model.config.vision_config.num_hidden_layers == 6       # toy CLIP 2: 6 vision layers
    side = scene_model.config.vision_config.image_size                     # kwargs reach from_pretrained:
    attentions = scene_model.vision_model(pixel_values=torch.zeros(1, 3, side, side), output_attentions=True).attentions
    assert len(attentions) == 6                                            # eager attention returns its maps
    assert processor.tokenizer("left of").input_ids == [processor.tokenizer.bos_token_id, *(
        processor.tokenizer.convert_tokens_to_ids([w + "</w>" for w in ("left", "of")])), processor.tokenizer.eos_token_id]
    assert vclip.is_toy_clip_2(scene_model) and not vclip.is_toy_clip(scene_model)
    first, _ = vclip.load_clip()
    assert first.config.vision_config.num_hidden_layers == 4              # toy CLIP 1 stays the default
    assert vclip.is_toy_clip(first) and not vclip.is_toy_clip_2(first)


def test_load_scene_clip_honours_the_real_clip_switch(monkeypatch, tiny_clip_dir):
    monkeypatch.setenv("VLMLAB_CLIP", str(tiny_clip_dir))
    model, _ = vclip.load_scene_clip()
    assert model.config.vision_config.hidden_size == 32                  # the tiny random CLIP, not toy CLIP 2
    assert not vclip.is_toy_clip_2(model) and not vclip.is_toy_clip(model)


def test_is_toy_clip_2_for_every_way_of_holding_the_model(toy_clip_2, toy_clip):
    from transformers import CLIPModel, CLIPVisionModel

    assert vclip.is_toy_clip_2(toy_clip_2)
    assert vclip.is_toy_clip_2(toy_clip_2.vision_model)
    assert vclip.is_toy_clip_2(CLIPVisionModel.from_pretrained(vclip.TOY_CLIP_2_PATH))
    assert vclip.is_toy_clip_2(vclip.VLMVisionEncoder(toy_clip_2))
    assert vclip.is_toy_clip_2(CLIPModel.from_pretrained(vclip.TOY_CLIP_2_PATH, dtype=torch.bfloat16))
    assert not vclip.is_toy_clip_2(toy_clip) and not vclip.is_toy_clip(toy_clip_2)
    same_shape = CLIPModel(toy_clip_2.config)                              # toy CLIP 2's shape, random weights
    assert not vclip.is_toy_clip_2(same_shape)


def test_relative_toy_clip_2_path_points_to_load_scene_clip(monkeypatch, tmp_path):
    _hub_must_not_be_asked(monkeypatch)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"or call load_scene_clip\(\) for toy CLIP 2"):
        vclip.load_clip("data/toy-clip-2")


# ------------------------------------------------------------------ finding the vision transformer
def test_vision_tower_finds_the_transformer_in_every_way_of_holding_it(toy_clip):
    from transformers import CLIPVisionModel, LlavaConfig, LlavaForConditionalGeneration

    inner = toy_clip.vision_model
    assert vclip.vision_tower(toy_clip) is inner                                   # CLIPModel
    assert vclip.vision_tower(inner) is inner                                      # the transformer itself
    assert vclip.vision_tower(vclip.VLMVisionEncoder(toy_clip)) is inner           # the frozen-encoder wrapper
    alone = CLIPVisionModel.from_pretrained(vclip.TOY_CLIP_PATH)                   # CLIPVisionModel: in
    assert vclip.vision_tower(alone) is getattr(alone, "vision_model", alone)      # transformers 5, the transformer
    torch.testing.assert_close(vclip.vision_tower(alone).embeddings.class_embedding, inner.embeddings.class_embedding)
    llava = LlavaForConditionalGeneration(LlavaConfig(vision_config=toy_clip.config.vision_config,
                                                      text_config=dict(model_type="llama", hidden_size=32,
                                                                       intermediate_size=64, num_hidden_layers=1,
                                                                       num_attention_heads=2, vocab_size=100)))
    tower = vclip.vision_tower(llava.model.vision_tower)                           # a VLM's vision tower
    assert {"embeddings", "encoder", "post_layernorm"} <= {n for n, _ in tower.named_children()}


def test_vit_and_clip_share_one_way_of_finding_the_tower(toy_clip, monkeypatch):
    from vlmlab.vit import ViT

    seen = []
    real = vclip.vision_tower
    monkeypatch.setattr(vclip, "vision_tower", lambda model: seen.append(model) or real(model))
    ViT.from_hf_clip(toy_clip)
    assert seen == [toy_clip]
