"""vlmlab.mrope against transformers' Qwen2-VL: position ids (images and videos) and the rotary channel split."""

from __future__ import annotations

import random

import pytest
import torch

from vlmlab.mrope import (
    QWEN2_VL_HEAD_DIM,
    QWEN2_VL_MROPE_SECTION,
    QWEN2_VL_ROPE_THETA,
    mrope_angles,
    mrope_axes,
    mrope_position_ids,
)


@pytest.fixture(scope="module")
def qwen2_vl():
    """A tiny Qwen2VLModel on the meta device: get_rope_index needs shapes only (spatial merge 2)."""
    from transformers import Qwen2VLConfig, Qwen2VLModel

    config = Qwen2VLConfig(text_config=dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                            num_key_value_heads=1, intermediate_size=16, vocab_size=32,
                                            bos_token_id=0, eos_token_id=1,
                                            rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]}),
                           vision_config=dict(depth=1, embed_dim=16, num_heads=2, hidden_size=16, patch_size=14,
                                              spatial_merge_size=2))
    with torch.device("meta"):
        return Qwen2VLModel(config)


def transformers_ids(model, segments):
    """``get_rope_index`` for the same segments: text type 0, image 1, video 2; grids in patches (x2 merge)."""
    types, images, videos = [], [], []
    for s in segments:
        if isinstance(s, int):
            types += [0] * s
        elif len(s) == 2:
            types += [1] * (s[0] * s[1])
            images.append([1, 2 * s[0], 2 * s[1]])
        else:
            types += [2] * (s[0] * s[1] * s[2])
            videos.append([s[0], 2 * s[1], 2 * s[2]])
    expected, _ = model.get_rope_index(torch.zeros(1, len(types), dtype=torch.long), torch.tensor([types]),
                                       image_grid_thw=torch.tensor(images) if images else None,
                                       video_grid_thw=torch.tensor(videos) if videos else None)
    return expected[:, 0].cpu()


def test_hand_worked_image_and_video():
    # 2 text tokens, a 2x3 image (ids start at 2), 1 text token at 2 + max(2, 3) = 5
    assert mrope_position_ids([2, (2, 3), 1]).tolist() == [
        [0, 1, 2, 2, 2, 2, 2, 2, 5],
        [0, 1, 2, 2, 2, 3, 3, 3, 5],
        [0, 1, 2, 3, 4, 2, 3, 4, 5],
    ]
    # a video of 3 temporal patches of a 1x2 grid after one text token: frame f gets temporal id 1 + f
    ids = mrope_position_ids([1, (3, 1, 2), 1])
    assert ids.tolist() == [
        [0, 1, 1, 2, 2, 3, 3, 4],
        [0, 1, 1, 1, 1, 1, 1, 4],
        [0, 1, 2, 1, 2, 1, 2, 4],
    ]  # text resumes one past the largest id, 1 + max(3, 1, 2) = 4


def test_a_one_frame_video_is_an_image():
    assert torch.equal(mrope_position_ids([4, (1, 3, 5), 2]), mrope_position_ids([4, (3, 5), 2]))


def test_images_and_videos_equal_transformers_get_rope_index(qwen2_vl):
    rng = random.Random(0)
    for _ in range(20):
        segments = []
        for _ in range(rng.randint(1, 3)):
            segments.append(rng.randint(1, 5))
            rows, cols = rng.randint(1, 6), rng.randint(1, 6)
            if rng.random() < 0.5:
                segments.append((rows, cols))
            else:  # videos with frames <= max(rows, cols): transformers 5.25 and the paper agree there
                segments.append((rng.randint(1, max(rows, cols)), rows, cols))
        segments.append(rng.randint(1, 4))
        torch.testing.assert_close(mrope_position_ids(segments), transformers_ids(qwen2_vl, segments),
                                   msg=f"segments {segments}")


def test_long_video_text_resumes_after_its_last_frame():
    """The paper's rule: one past the maximum id. (transformers 5.25 resumes at s + max(rows, cols) here.)"""
    ids = mrope_position_ids([2, (5, 1, 1), 1])
    assert ids[0, 2:7].tolist() == [2, 3, 4, 5, 6]  # five frames, five temporal ids
    assert ids[:, -1].tolist() == [7, 7, 7]


def test_released_split_and_axes():
    assert QWEN2_VL_MROPE_SECTION == (16, 24, 24) and QWEN2_VL_HEAD_DIM == 128
    axes = mrope_axes()
    assert axes.shape == (QWEN2_VL_HEAD_DIM // 2,)
    assert axes.bincount().tolist() == [16, 24, 24]
    assert axes[:16].eq(0).all() and axes[16:40].eq(1).all() and axes[40:].eq(2).all()  # in order
    assert mrope_axes([1, 2, 1]).tolist() == [0, 1, 1, 2]


@pytest.mark.parametrize("head_dim, section", [(128, QWEN2_VL_MROPE_SECTION), (20, (2, 5, 3))])
def test_angles_equal_transformers_rotary_embedding(head_dim, section):
    from transformers import Qwen2VLTextConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLRotaryEmbedding

    config = Qwen2VLTextConfig(hidden_size=2 * head_dim, num_attention_heads=2, num_key_value_heads=1,
                               num_hidden_layers=1, intermediate_size=16, vocab_size=32, bos_token_id=0,
                               eos_token_id=1, rope_theta=QWEN2_VL_ROPE_THETA,
                               rope_scaling={"type": "mrope", "mrope_section": list(section)})
    rotary = Qwen2VLRotaryEmbedding(config)
    ids = mrope_position_ids([3, (2, 3, 4), 2, (5, 7), 1])  # temporal, height and width ids all differ
    cos, sin = rotary(torch.zeros(1, ids.shape[1], head_dim), ids[:, None])  # (1, N, head_dim)
    angles = mrope_angles(ids, head_dim, section)
    assert angles.shape == (ids.shape[1], head_dim)
    torch.testing.assert_close(angles.cos(), cos[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(angles.sin(), sin[0], atol=1e-5, rtol=0)


def test_each_axis_turns_only_its_own_channels():
    ids = torch.tensor([[0, 7], [0, 0], [0, 0]])  # the second token moves along time only
    moved = mrope_angles(ids)[1, :64] != 0
    assert moved.tolist() == mrope_axes().eq(0).tolist()


def test_bad_arguments():
    with pytest.raises(ValueError, match="segments"):
        mrope_position_ids([])
    with pytest.raises(ValueError, match="segments\\[1\\]"):
        mrope_position_ids([2, (1, 2, 3, 4)])
    with pytest.raises(ValueError, match="frames"):
        mrope_position_ids([(0, 2, 2)])
    with pytest.raises(ValueError, match="mrope_section"):
        mrope_axes([16, 24])
    with pytest.raises(ValueError, match="head_dim / 2"):
        mrope_angles(mrope_position_ids([3]), head_dim=64)
    with pytest.raises(ValueError, match="position_ids"):
        mrope_angles(torch.zeros(2, 4))
