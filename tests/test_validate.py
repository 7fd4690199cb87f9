"""The shared input checks every module relies on."""

import pytest
import torch

from vlmlab import _validate as v


def test_as_size_accepts_int_and_pair():
    assert v.as_size(224) == (224, 224)
    assert v.as_size((336, 672)) == (336, 672)


@pytest.mark.parametrize("bad", [0, -3, (0, 5), (5, -1)])
def test_as_size_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="image_size must be positive"):
        v.as_size(bad)


@pytest.mark.parametrize("bad", [2.5, "224", (1, 2, 3), True, (1.0, 2)])
def test_as_size_rejects_other_types(bad):
    with pytest.raises(TypeError, match="image_size must be an int or a"):
        v.as_size(bad)


def test_check_divisible_suggests_sizes():
    v.check_divisible((224, 336), 14)
    with pytest.raises(ValueError, match=r"not divisible by patch_size=16; .*\(224, 224\) or \(224, 240\)"):
        v.check_divisible((224, 230), 16)


def test_check_image_batch_explains_missing_batch_dim():
    assert v.check_image_batch(torch.zeros(2, 3, 8, 4), channels=3) == (2, 3, 8, 4)
    with pytest.raises(ValueError, match="add a batch dimension"):
        v.check_image_batch(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="has 1 channels .* expected 3"):
        v.check_image_batch(torch.zeros(1, 1, 8, 8), channels=3)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        v.check_image_batch([[1]])


def test_check_token_batch():
    assert v.check_token_batch(torch.zeros(1, 5, 7), dim=7) == (1, 5, 7)
    with pytest.raises(ValueError, match="feature width 7 .* expected 8"):
        v.check_token_batch(torch.zeros(1, 5, 7), dim=8)


def test_pil_size_is_converted_to_height_width():
    from PIL import Image

    assert v.pil_size_hw(Image.new("RGB", (40, 30))) == (30, 40)


def test_check_block_grid_returns_the_merged_grid_or_suggests_one():
    assert v.check_block_grid((4, 6), 2) == (2, 3)
    assert v.check_block_grid(6, 3) == (2, 2)
    with pytest.raises(ValueError, match=r"PatchMerger with scale 2 needs .*got grid \(rows, cols\) = \(3, 5\).*e\.g\. \(2, 4\)"):
        v.check_block_grid((3, 5), 2, "PatchMerger")
    with pytest.raises(TypeError, match="scale must be a positive int"):
        v.check_block_grid((4, 4), 2.0)
    with pytest.raises(ValueError, match="scale must be a positive int, got 0"):
        v.check_block_grid((4, 4), 0)


def test_as_seed_refuses_a_wrong_type_with_a_type_error():
    assert v.as_seed(0) == 0 and v.as_seed(2**40) == 2**40
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        v.as_seed(-1)
    for bad in (1.0, "3", True, None):
        with pytest.raises(TypeError, match=f"seed must be an int >= 0, got {bad!r}"):
            v.as_seed(bad)


def test_as_non_negative_int_says_what_zero_means():
    assert v.as_non_negative_int(0, "num_classes") == 0
    with pytest.raises(ValueError, match=r"num_classes must be an int >= 0 \(0 = no head\), got -1"):
        v.as_non_negative_int(-1, "num_classes", " (0 = no head)")
    with pytest.raises(TypeError, match="num_classes must be an int >= 0, got 2.0"):
        v.as_non_negative_int(2.0, "num_classes")


def test_int_and_float_ranges_name_the_accepted_range():
    assert v.as_int_in_range(-3, "layer", -3, 2) == -3
    with pytest.raises(ValueError, match=r"layer must be in \[-3, 2\] \(one of 3\), got 3"):
        v.as_int_in_range(3, "layer", -3, 2, " (one of 3)")
    with pytest.raises(TypeError, match=r"layer must be an int in \[-3, 2\], got 1.0"):
        v.as_int_in_range(1.0, "layer", -3, 2)
    assert v.as_float_in_range(0, "ratio", 0, 1, high_open=True) == 0.0
    with pytest.raises(ValueError, match=r"ratio must be in \[0, 1\), got 1"):
        v.as_float_in_range(1, "ratio", 0, 1, high_open=True)
    assert v.as_float_in_range(1, "alpha", 0, 1) == 1.0
    with pytest.raises(TypeError, match=r"alpha must be a number in \[0, 1\] \(opacity\), got '1'"):
        v.as_float_in_range("1", "alpha", 0, 1, " (opacity)")


@pytest.mark.parametrize("bad", [0, -2.5, float("nan"), float("inf")])
def test_as_positive_float_refuses_zero_negative_and_non_finite(bad):
    with pytest.raises(ValueError, match=f"theta must be a finite number > 0, got {bad!r}"):
        v.as_positive_float(bad, "theta")
    assert v.as_positive_float(1e4, "theta") == 1e4
