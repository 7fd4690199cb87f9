"""M-RoPE: the (temporal, height, width) positions Qwen2-VL's language model gives each token.

Qwen2-VL (Wang et al. 2024, https://arxiv.org/abs/2409.12191, section 2.1)
splits the LLM's rotary embedding into three parts, each rotated by its own
position id. A text token gets the same id in all three: it is an ordinary
1-D position. The merged image tokens of a ``(rows, cols)`` grid all share the
temporal id of the image's first token, ``s``, and get height ``s + row`` and
width ``s + col``: the LLM reads where each token sits in the picture from its
rotation, so it needs no position table for images, at any resolution.
Text after the image continues at ``s + max(rows, cols)``, not after
``rows * cols`` ids: a large image does not push the text far away.

Checked against ``transformers``' ``Qwen2VLModel.get_rope_index`` (tests/test_families.py).

    >>> mrope_position_ids([2, (2, 3), 1]).tolist()
    [[0, 1, 2, 2, 2, 2, 2, 2, 5], [0, 1, 2, 2, 2, 3, 3, 3, 5], [0, 1, 2, 3, 4, 2, 3, 4, 5]]
"""

from __future__ import annotations

from ._validate import as_positive_int, as_size

__all__ = ["mrope_position_ids"]


def mrope_position_ids(segments):
    """Position ids ``(3, N)``: rows temporal, height, width, for a sequence of text runs and images.

    ``segments``: in order, an ``int`` (that many text tokens) or a
    ``(rows, cols)`` pair (one image's grid of *merged* tokens, e.g. the
    ``TokenBudget.grid`` of ``token_budget(size, "qwen2-vl")``).
    Returns a ``torch.LongTensor`` of shape ``(3, N)``.
    """
    import torch

    columns, start = [], 0
    for i, segment in enumerate(segments):
        if isinstance(segment, (tuple, list)):
            rows, cols = as_size(tuple(segment), f"segments[{i}]")
            row = torch.arange(rows).repeat_interleave(cols)  # (rows*cols,): 0,0,0,1,1,1,...
            col = torch.arange(cols).repeat(rows)  # 0,1,2,0,1,2,...
            columns.append(torch.stack([torch.zeros_like(row), row, col]) + start)
            start += max(rows, cols)  # the text after the image resumes here
        else:
            length = as_positive_int(segment, f"segments[{i}]")
            columns.append(torch.arange(start, start + length).expand(3, -1))
            start += length
    if not columns:
        raise ValueError("segments must hold at least one text run or image, got an empty sequence")
    return torch.cat(columns, dim=1)
