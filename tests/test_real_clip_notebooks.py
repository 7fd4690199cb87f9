"""Every notebook runs with a CLIP shaped like openai/clip-vit-base-patch16 in place of the toy one.

``VLMLAB_CLIP`` switches every notebook to another checkpoint. The test saves a
randomly initialised CLIP with the vision tower of ViT-B/16 (224-pixel images,
16-pixel patches, width 768, 12 layers, 12 heads: the ``vision_config`` of
``openai/clip-vit-base-patch16``) with ``save_pretrained`` into a temporary
folder, and executes each notebook with ``VLMLAB_CLIP`` pointing at it. The
text tower is small (its size changes no notebook's shapes) and reads the toy
CLIP's tokenizer. Cells that check the toy model's trained behaviour must say
that they are skipped; everything else must run, within the cell timeout.
Run with ``make test-slow``.
"""

import pytest

from notebook_runs import NOTEBOOKS, kernel_env
from vlmlab.nbtools import execute

CELL_TIMEOUT = 600  # seconds; the whole notebook should take about 5 minutes on 2 CPU cores

# openai/clip-vit-base-patch16's vision_config (its config.json on the Hugging Face Hub)
B16_VISION = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                  image_size=224, patch_size=16, hidden_act="quick_gelu", layer_norm_eps=1e-5)


@pytest.fixture(scope="module")
def b16_folder(tmp_path_factory):
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from vlmlab.clip import TOY_CLIP_PATH
    from vlmlab.preprocess import CLIP_MEAN, CLIP_STD

    toy = TOY_CLIP_PATH
    tokenizer = CLIPProcessor.from_pretrained(toy).tokenizer
    text = CLIPModel.from_pretrained(toy).config.text_config
    config = CLIPConfig(
        text_config=dict(vocab_size=text.vocab_size, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=text.bos_token_id,
                         eos_token_id=text.eos_token_id, pad_token_id=text.pad_token_id, hidden_act="quick_gelu"),
        vision_config=B16_VISION,
        projection_dim=512,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("clip-b16")
    CLIPModel(config).save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224},
                                         image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD))
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_the_stand_in_has_b16_shapes(b16_folder):
    from transformers import CLIPVisionConfig

    vision = CLIPVisionConfig.from_pretrained(b16_folder)
    assert (vision.image_size // vision.patch_size) ** 2 == 196  # 14 x 14 patches, as ViT-B/16 at 224
    assert (vision.hidden_size, vision.num_hidden_layers) == (768, 12)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_with_a_b16_clip(path, b16_folder):
    try:
        execute(path, timeout=CELL_TIMEOUT, env=kernel_env(VLMLAB_CLIP=str(b16_folder)))
    except Exception as err:
        raise AssertionError(f"{path.name} with VLMLAB_CLIP={b16_folder}: {type(err).__name__}: {err}") from err
