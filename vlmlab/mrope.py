"""M-RoPE: the (temporal, height, width) positions Qwen2-VL's language model gives each token.

Qwen2-VL (Wang et al. 2024, https://arxiv.org/abs/2409.12191, section 2.1)
splits the LLM's rotary embedding into three parts, each rotated by its own
position id. A text token gets the same id in all three: it is an ordinary
1-D position. The merged image tokens of a ``(rows, cols)`` grid all share the
temporal id of the image's first token, ``s``, and get height ``s + row`` and
width ``s + col``: the LLM reads where each token sits in the picture from its
rotation, so it needs no position table for images, at any resolution.
A video of ``frames`` temporal patches (Qwen2-VL's vision tower folds each pair
of frames into one, ``temporal_patch_size = 2``) gives frame ``f`` the
temporal id ``s + f``; its height and width ids are an image's.
Text after an image or a video continues one past the largest id so far,
``s + max(frames, rows, cols)`` (the paper: "incrementing the maximum position
ID of the preceding modality by one"), not after ``rows * cols`` ids: a large
image does not push the text far away.

Which rotary channels each id turns is ``mrope_section``: the ``head_dim / 2``
rotation frequencies are cut, in order, into a temporal, a height and a width
part. ``Qwen/Qwen2-VL-7B-Instruct``'s ``config.json`` has
``rope_scaling.mrope_section = [16, 24, 24]`` for its ``head_dim`` of 128
(``hidden_size`` 3584 / 28 heads) and ``rope_theta = 1000000.0``
(``QWEN2_VL_MROPE_SECTION``, ``QWEN2_VL_HEAD_DIM``, ``QWEN2_VL_ROPE_THETA``).

Checked against ``transformers``' ``Qwen2VLModel.get_rope_index`` (tests/test_mrope.py,
tests/test_families.py) and ``Qwen2VLRotaryEmbedding`` (tests/test_mrope.py). One
difference: for a *video* with more temporal patches than merged rows and
columns, transformers 5.25's ``get_rope_index`` resumes the text at
``s + max(rows, cols)``, inside the video's temporal ids; this module follows the
paper and Qwen2-VL's original code (``max(frames, rows, cols)``). Images and
videos with ``frames <= max(rows, cols)`` get the same ids from both.

    >>> mrope_position_ids([2, (2, 3), 1]).tolist()
    [[0, 1, 2, 2, 2, 2, 2, 2, 5], [0, 1, 2, 2, 2, 3, 3, 3, 5], [0, 1, 2, 3, 4, 2, 3, 4, 5]]
    >>> mrope_axes([1, 2, 1]).tolist()
    [0, 1, 1, 2]
"""

from __future__ import annotations

from ._validate import as_positive_int, as_size

__all__ = [
    "QWEN2_VL_HEAD_DIM",
    "QWEN2_VL_MROPE_SECTION",
    "QWEN2_VL_ROPE_THETA",
    "mrope_angles",
    "mrope_axes",
    "mrope_position_ids",
]

# Qwen/Qwen2-VL-7B-Instruct config.json: rope_scaling.mrope_section, hidden_size / num_attention_heads, rope_theta.
QWEN2_VL_MROPE_SECTION = (16, 24, 24)
QWEN2_VL_HEAD_DIM = 3584 // 28
QWEN2_VL_ROPE_THETA = 1_000_000.0
AXES = ("temporal", "height", "width")


def _segment_ids(segment, name: str, start: int):
    """One image or video segment -> ``((3, n) ids, next start)``."""
    import torch

    if len(segment) == 2:
        frames, (rows, cols) = 1, as_size(tuple(segment), name)
    elif len(segment) == 3:
        frames = as_positive_int(segment[0], f"{name}[0] (frames)")
        rows, cols = as_size(tuple(segment[1:]), f"{name}[1:] (rows, cols)")
    else:
        raise ValueError(f"{name} must be (rows, cols) for an image or (frames, rows, cols) for a video, got {segment!r}")
    frame = torch.arange(frames).repeat_interleave(rows * cols)  # (frames*rows*cols,): 0,..,0,1,..,1,...
    row = torch.arange(rows).repeat_interleave(cols).repeat(frames)  # 0,0,0,1,1,1,... per frame
    col = torch.arange(cols).repeat(rows * frames)  # 0,1,2,0,1,2,...
    return torch.stack([frame, row, col]) + start, start + max(frames, rows, cols)


def mrope_position_ids(segments):
    """Position ids ``(3, N)``: rows temporal, height, width, for a sequence of text runs, images and videos.

    ``segments``: in order, an ``int`` (that many text tokens), a
    ``(rows, cols)`` pair (one image's grid of *merged* tokens, e.g. the
    ``TokenBudget.grid`` of ``token_budget(size, "qwen2-vl")``) or a
    ``(frames, rows, cols)`` triple (a video: ``frames`` temporal patches of
    that grid, frame after frame). Returns a ``torch.LongTensor`` of shape
    ``(3, N)``; the next segment starts one past the largest id so far.
    """
    import torch

    columns, start = [], 0
    for i, segment in enumerate(segments):
        if isinstance(segment, (tuple, list)):
            ids, start = _segment_ids(segment, f"segments[{i}]", start)
            columns.append(ids)
        else:
            length = as_positive_int(segment, f"segments[{i}]")
            columns.append(torch.arange(start, start + length).expand(3, -1))
            start += length
    if not columns:
        raise ValueError("segments must hold at least one text run, image or video, got an empty sequence")
    return torch.cat(columns, dim=1)


def _check_section(mrope_section) -> tuple[int, int, int]:
    if not isinstance(mrope_section, (tuple, list)) or len(mrope_section) != 3:
        raise ValueError(f"mrope_section must hold 3 ints (temporal, height, width frequencies), got {mrope_section!r}")
    return tuple(as_positive_int(n, f"mrope_section[{i}]") for i, n in enumerate(mrope_section))


def mrope_axes(mrope_section=QWEN2_VL_MROPE_SECTION):
    """Which position id turns each rotary frequency: ``(sum(mrope_section),)`` of 0 (temporal), 1 (height), 2 (width).

    The ``head_dim / 2`` frequencies, highest first, are cut in order into
    ``mrope_section`` parts (transformers' ``Qwen2VLRotaryEmbedding``).
    """
    import torch

    section = _check_section(mrope_section)
    return torch.cat([torch.full((n,), axis) for axis, n in enumerate(section)])


def mrope_angles(position_ids, head_dim: int = QWEN2_VL_HEAD_DIM, mrope_section=QWEN2_VL_MROPE_SECTION,
                 theta: float = QWEN2_VL_ROPE_THETA):
    """Rotation angles ``(N, head_dim)`` of M-RoPE for ``position_ids (3, N)``.

    Frequency ``k`` (``w_k = theta ** (-2k / head_dim)``, ``k < head_dim / 2``)
    turns by ``position_ids[mrope_axes(mrope_section)[k]] * w_k``; the angles
    are laid out ``[a_0 .. a_{head_dim/2-1}, a_0 .. a_{head_dim/2-1}]``, the
    rotate-half layout, so that ``cos`` / ``sin`` of them are transformers'
    ``Qwen2VLRotaryEmbedding`` outputs for one sequence.
    """
    import torch

    head_dim = as_positive_int(head_dim, "head_dim")
    axes = mrope_axes(mrope_section)
    if head_dim != 2 * len(axes):
        raise ValueError(f"mrope_section {list(mrope_section)} must sum to head_dim / 2 = {head_dim / 2}, "
                         f"got {len(axes)}")
    if not isinstance(position_ids, torch.Tensor) or position_ids.ndim != 2 or position_ids.shape[0] != 3:
        raise ValueError(f"position_ids must be a (3, N) tensor (temporal, height, width), got "
                         f"{getattr(position_ids, 'shape', type(position_ids).__name__)}")
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))  # (head_dim/2,)
    angles = position_ids.to(torch.float64)[axes].T * inv_freq  # (N, head_dim/2): each frequency its own axis
    return torch.cat([angles, angles], dim=-1).float()  # (N, head_dim)
