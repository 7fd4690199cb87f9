"""A CLIP tokenizer whose vocabulary makes every word of a small world a single token.

OpenAI's CLIP tokenizer is byte-level BPE (Sennrich et al. 2016, "Neural
Machine Translation of Rare Words with Subword Units",
https://arxiv.org/abs/1508.07909, on GPT-2's byte alphabet): text is split
into words, each word becomes a sequence of byte symbols with ``</w>``
marking the word's end, and merges from a ranked list join neighbouring
symbols, lowest rank first. Its vocabulary (``vocab.json``) starts with the
256 byte symbols and their word-final forms, followed by one entry per merge
(``merges.txt``).

:func:`build_vocab` writes such a vocabulary for a closed set of words, with
just the merges needed to make each word one token, so a caption of the
toy world is one token per word, while any other text still tokenizes (into
byte symbols). The result loads into transformers' own ``CLIPTokenizer``.
"""

from __future__ import annotations

import math

from ..toyclip import BOS, EOS

__all__ = ["bpe", "build_vocab", "build_tokenizer", "build_processor"]


def bpe(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """The pieces CLIP's BPE cuts ``word`` into, given merge ``ranks`` (lower rank = applied first).

    The algorithm of OpenAI's ``simple_tokenizer.bpe``: start from single
    characters (the last one carrying ``</w>``), and repeatedly merge the
    adjacent pair with the lowest rank until no adjacent pair is a merge.
    """
    parts = list(word[:-1]) + [word[-1] + "</w>"]
    while len(parts) > 1:
        pairs = [(parts[i], parts[i + 1]) for i in range(len(parts) - 1)]
        best = min(pairs, key=lambda p: ranks.get(p, math.inf))
        if best not in ranks:
            break
        merged, i = [], 0
        while i < len(parts):
            if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                merged.append(parts[i] + parts[i + 1])
                i += 2
            else:
                merged.append(parts[i])
                i += 1
        parts = merged
    return parts


def build_vocab(words) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A CLIP-style BPE vocabulary in which every word of ``words`` is one token.

    Returns ``(vocab, merges)``. The vocabulary holds the 256 byte symbols (in
    the order of GPT-2's byte-to-unicode table, as OpenAI's vocabulary does),
    their word-final forms (``x</w>``), one entry per merge result, then BOS
    and EOS. EOS comes last, so it has the largest id: ``CLIPTextTransformer``
    pools the end-of-text token, and when ``eos_token_id == 2`` it falls back
    to an older rule (the position of the largest id), which this keeps
    harmless.

    Merges are added word by word: while the BPE of a word (with the merges
    so far) leaves more than one piece, the first two pieces are joined by a
    new, lowest-priority merge. A new merge can't split a word that is
    already one token, so the loop ends with every word a single token.
    """
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())
    vocab_list = symbols + [s + "</w>" for s in symbols]
    merges: list[tuple[str, str]] = []
    ranks: dict[tuple[str, str], int] = {}
    for word in sorted(set(words)):
        if not isinstance(word, str) or not word.isascii() or not word.isalpha() or word != word.lower():
            raise ValueError(f"words must be lower-case ASCII letters, got {word!r}")
        parts = bpe(word, ranks)
        while len(parts) > 1:
            pair = (parts[0], parts[1])
            ranks[pair] = len(merges)
            merges.append(pair)
            vocab_list.append(pair[0] + pair[1])
            parts = bpe(word, ranks)
    vocab_list += [BOS, EOS]
    vocab: dict[str, int] = {}
    for token in vocab_list:
        vocab.setdefault(token, len(vocab))
    return vocab, merges


def build_tokenizer(words, model_max_length: int = 16):
    """A ``transformers.CLIPTokenizer`` that encodes each of ``words`` as one token."""
    from transformers import CLIPTokenizer

    vocab, merges = build_vocab(words)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=list(merges))
    tokenizer.model_max_length = model_max_length
    return tokenizer


def build_processor(world, model_max_length: int = 16):
    """A ``CLIPProcessor`` for ``world``: the tokenizer above and a ``CLIPImageProcessor`` at the world's image size.

    ``world`` is a ``vlmlab.shapes.ShapesWorld`` (anything with ``words()``
    and ``image_size``). The image processor resizes the shortest edge to
    the image size, centre-crops a square of it, and normalises with CLIP's
    mean and std, as OpenAI's CLIP processors do.
    """
    from transformers import CLIPImageProcessor, CLIPProcessor

    from ..preprocess import CLIP_MEAN, CLIP_STD

    size = world.image_size
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        image_mean=list(CLIP_MEAN),
        image_std=list(CLIP_STD),
    )
    return CLIPProcessor(image_processor=image_processor, tokenizer=build_tokenizer(world.words(), model_max_length))
