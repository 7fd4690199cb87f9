"""The encoder registry: figures checked against transformers' architectures, token counts computed."""

import pytest
import torch

from vlmlab import encoders


def _count(model):
    return sum(p.numel() for p in model.parameters())


def _build(key):
    """The registered architecture on the meta device (no weights, no download)."""
    import transformers as tf

    e = encoders.get(key)
    common = dict(hidden_size=e.width, num_hidden_layers=e.layers, num_attention_heads=e.heads,
                  image_size=e.image_size, patch_size=e.patch_size)
    if key.startswith("clip-"):
        return tf.CLIPVisionModel(tf.CLIPVisionConfig(intermediate_size=4 * e.width, **common))
    if key.startswith("siglip-"):
        return tf.SiglipVisionModel(tf.SiglipVisionConfig(intermediate_size=4304, **common))
    if key.startswith("dinov2-"):
        return tf.Dinov2Model(tf.Dinov2Config(mlp_ratio=4, use_swiglu_ffn=True, **common))
    if key == "qwen2-vl-vit":
        # the vision tower's class is not exported at the top level of transformers
        from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VisionTransformerPretrainedModel

        cfg = tf.Qwen2VLVisionConfig(embed_dim=e.width, depth=e.layers, num_heads=e.heads, patch_size=e.patch_size,
                                     spatial_merge_size=2, hidden_size=3584, mlp_ratio=4)
        return Qwen2VisionTransformerPretrainedModel(cfg)
    if key == "qwen2.5-vl-vit":
        # Qwen/Qwen2.5-VL-7B-Instruct config.json vision_config
        cfg = tf.Qwen2_5_VLVisionConfig(hidden_size=e.width, depth=e.layers, num_heads=e.heads, patch_size=e.patch_size,
                                        intermediate_size=3420, out_hidden_size=3584, spatial_merge_size=2,
                                        window_size=112, fullatt_block_indexes=[7, 15, 23, 31])
        return tf.Qwen2_5_VisionTransformerPretrainedModel(cfg)
    if key == "siglip2-so400m-16-naflex":
        return tf.Siglip2VisionModel(tf.Siglip2VisionConfig(
            hidden_size=e.width, intermediate_size=4304, num_hidden_layers=e.layers, num_attention_heads=e.heads,
            patch_size=e.patch_size, num_patches=256))
    if key == "gemma3-siglip-896":  # google/gemma-3-4b-it vision_config: no pooling head
        return tf.SiglipVisionModel(tf.SiglipVisionConfig(intermediate_size=4304, vision_use_head=False, **common))
    if key == "pixtral-vit":
        return tf.PixtralVisionModel(tf.PixtralVisionConfig(
            hidden_size=e.width, intermediate_size=4 * e.width, num_hidden_layers=e.layers,
            num_attention_heads=e.heads, patch_size=e.patch_size, image_size=1024))
    if key == "mllama-vision":  # 32 local + 8 global layers (meta-llama/Llama-3.2-11B-Vision-Instruct)
        return tf.MllamaVisionModel(tf.MllamaVisionConfig(
            hidden_size=e.width, num_hidden_layers=e.layers - 8, num_global_layers=8, attention_heads=e.heads,
            intermediate_size=4 * e.width, image_size=e.image_size, patch_size=e.patch_size, max_num_tiles=4,
            vision_output_dim=7680))
    raise KeyError(key)


@pytest.mark.parametrize("key", ["clip-vit-b-16", "clip-vit-l-14", "clip-vit-l-14-336", "siglip-so400m-14-384",
                                 "dinov2-vit-g-14", "qwen2-vl-vit", "qwen2.5-vl-vit", "siglip2-so400m-16-naflex",
                                 "gemma3-siglip-896", "pixtral-vit", "mllama-vision"])
def test_registered_params_match_the_architecture(key):
    with torch.device("meta"):
        model = _build(key)
    assert _count(model) == encoders.get(key).params


@pytest.mark.parametrize("key, timm_name", [("eva01-clip-g-14", "eva_giant_patch14_224"),
                                            ("eva02-clip-e-14-plus", "eva02_enormous_patch14_clip_224"),
                                            ("openclip-vit-bigg-14", "vit_gigantic_patch14_clip_224")])
def test_paper_rounded_params_match_timm(key, timm_name):
    """The papers round (1.0B, 4.4B, 1.9B); timm's implementations, built on the meta device, agree within 5 %."""
    import timm
    e = encoders.get(key)
    with torch.device("meta"):
        model = timm.create_model(timm_name, pretrained=False, num_classes=0)
    assert (model.embed_dim, len(model.blocks), model.patch_embed.patch_size[0]) == (e.width, e.layers, e.patch_size)
    assert abs(_count(model) - e.params) / e.params < 0.05


def test_clip_tower_matches_what_the_wrapper_reports(tmp_path):
    """The registry's CLIP figures are what VLMVisionEncoder reads from a CLIP config."""
    import transformers as tf

    e = encoders.get("clip-vit-l-14-336")
    with torch.device("meta"):
        vision = tf.CLIPVisionModel(tf.CLIPVisionConfig(hidden_size=e.width, intermediate_size=4 * e.width,
                                                        num_hidden_layers=e.layers, num_attention_heads=e.heads,
                                                        image_size=e.image_size, patch_size=e.patch_size))
    assert vision.embeddings.position_embedding.weight.shape[0] == e.sequence_length() == 577


def test_token_counts_are_computed():
    assert encoders.get("clip-vit-b-16").num_patches() == 14 * 14
    assert encoders.get("clip-vit-l-14").num_patches() == 16 * 16
    assert encoders.get("clip-vit-l-14-336").num_patches() == 24 * 24
    assert encoders.get("siglip-so400m-14-384").sequence_length() == 27 * 27  # no CLS; 384 // 14 == 27
    with torch.device("meta"):
        siglip = _build("siglip-so400m-14-384")
    assert siglip.embeddings.num_patches == 27 * 27
    assert encoders.get("dinov2-vit-g-14").sequence_length() == 37 * 37 + 1
    assert encoders.get("internvit-6b-448px-v1-5").num_patches() == 32 * 32
    assert encoders.VLMS["llava-1.5"].tokens_per_image() == 576
    assert encoders.VLMS["internvl-1.5"].tokens_per_image() == 256
    assert encoders.VLMS["phi-3-vision"].tokens_per_image() == 144
    assert encoders.VLMS["qwen-vl"].tokens_per_image() == 256
    assert encoders.VLMS["qwen2-vl"].tokens_per_image((448, 448)) == 256
    assert encoders.VLMS["gemma3"].tokens_per_image() == (896 // 14) ** 2 // 16 == 256  # 4x4 average pooling
    assert encoders.VLMS["llava-onevision"].tokens_per_image() == 729
    assert encoders.VLMS["paligemma"].tokens_per_image() == (224 // 14) ** 2 == 256  # SO400M run at 224
    assert encoders.VLMS["idefics3"].tokens_per_image() == (364 // 14) ** 2 // 4 == 169  # at 364, 2x2 shuffle
    assert encoders.VLMS["smolvlm"].tokens_per_image() == 81
    assert encoders.VLMS["llama-3.2-vision"].tokens_per_image() == 1  # cross-attention: one <|image|> in context
    assert encoders.get("mllama-vision").sequence_length() == 40 * 40 + 1  # per 560 px tile


def test_every_vlm_names_a_registered_encoder_and_every_figure_has_a_source():
    for v in encoders.VLMS.values():
        assert v.encoder in encoders.ENCODERS and v.sources
    for e in encoders.ENCODERS.values():
        assert e.sources and all(s.startswith("https://") for s in e.sources)
    for row in encoders.COMMON_ENCODER_TABLE:
        assert row["registry"] in encoders.ENCODERS
    for row in encoders.COMMON_VLM_TABLE:
        assert row["registry"] in encoders.VLMS
    for row, problem, fix in encoders.COMMON_TABLE_ERRORS:
        assert row and problem and fix


def test_tables_and_errors():
    rows = encoders.table()
    assert len(rows) == len(encoders.ENCODERS)
    assert rows[0]["patches"] == 196
    md = encoders.markdown(encoders.vlm_table())
    assert md.startswith("| vlm |") and "LLaVA-1.5" in md
    tokens = {r["vlm"]: r["tokens"] for r in encoders.vlm_table()}
    assert tokens["LLaVA-1.5"] == "576"  # (336/14)^2, nothing left out
    # one placeholder in the context is not the image's cost: the note says where the features go
    assert tokens["Llama 3.2 Vision"] == "1 (one <|image|> placeholder; 1601 features per tile are read by cross-attention)"
    assert encoders.get("mllama-vision").num_patches() + 1 == 1601  # (560/14)^2 patches + CLS
    assert encoders.format_params(1_136_480_768) == "1.1B" and encoders.format_params(303_179_776) == "303M"
    with pytest.raises(ValueError, match="key must be one of"):
        encoders.get("clip-vit-h-14")
    with pytest.raises(ValueError, match="smaller than"):
        encoders.get("clip-vit-l-14").num_patches(10)
    with pytest.raises(ValueError, match="no fixed input size"):
        encoders.get("qwen2-vl-vit").num_patches()


@pytest.mark.parametrize("key, qk_norm, norm", [("internvit-300m-448px", False, "layer_norm"),
                                               ("internvit-300m-448px-v2-5", False, "layer_norm"),
                                               ("internvit-6b-448px-v1-5", True, "rms_norm")])
def test_internvit_params_match_transformers(key, qk_norm, norm):
    """Model cards say 304M and 5540M; transformers' InternVLVisionModel with these figures agrees within 1 %."""
    from transformers import InternVLVisionConfig, InternVLVisionModel

    e = encoders.get(key)
    cfg = InternVLVisionConfig(hidden_size=e.width, num_hidden_layers=e.layers, num_attention_heads=e.heads,
                               intermediate_size=4 * e.width, image_size=[e.image_size] * 2, patch_size=[e.patch_size] * 2,
                               use_qk_norm=qk_norm, norm_type=norm, attention_bias=not qk_norm)
    with torch.device("meta"):
        model = InternVLVisionModel(cfg)
    assert abs(_count(model) - e.params) / e.params < 0.01
