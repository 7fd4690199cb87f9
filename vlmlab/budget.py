"""How many visual tokens will this image cost in model X?

Each VLM family turns an image of ``(height, width)`` pixels into a different
number of LLM tokens. ``token_budget`` answers with the arithmetic of the
model's own processor (``vlmlab.tiling`` and ``vlmlab.families``), using the
numbers of one named released checkpoint per family (``FAMILIES``: the
repository, and the ``preprocessor_config.json`` / ``config.json`` fields the
numbers come from). ``tests/test_families.py`` checks every VLM family against the
``transformers`` processor on hundreds of random sizes.

What a "token" is. ``tokens`` counts the image placeholders the processor puts
into ``input_ids``: each becomes one visual feature vector in the LLM's
sequence. ``extra_tokens`` counts the marker tokens around them (InternVL's
``<img>``/``</img>``, Pixtral's row breaks, Idefics3's tile tags, ...): they
take context positions too, but are ordinary text embeddings.
``context_tokens`` is the sum. Llama 3.2 Vision is different: its context
holds a single ``<|image|>`` token (``tokens == 1``) and the tiles' features,
``cross_attention_tokens`` of them, reach the LLM through cross-attention
layers, so they cost no context positions.

Options replace a preset's numbers (a toy encoder: ``tile_size=64,
patch_size=8``). A family refuses options that it has no use for, and a
setting that would leave no tokens at all.

    >>> token_budget((1080, 1920), "qwen2-vl").tokens
    2691
    >>> token_budget((1080, 1920), "qwen2-vl", max_pixels=QWEN2_VL_CLASS_DEFAULT_MAX_PIXELS).tokens
    1222
    >>> token_budget((336, 336), "llava-1.5").tokens
    576

Tokens are one cost; ``image_cost`` adds the two others, from the released
encoder's and language model's configs (``RELEASED_SIZES``): the encoder's
FLOPs over every picture, and the key-value cache the image's positions fill
in the LLM (``kv_cache_bytes``).

    >>> kv_cache_bytes(576, num_layers=32, num_kv_heads=32, head_dim=128) // 2**20   # LLaVA-1.5-7B, MiB
    288
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from . import families, tiling
from ._validate import as_positive_int, as_size, check_choice
from .dynamic import QWEN2_VL_MAX_PIXELS as QWEN2_VL_CLASS_DEFAULT_MAX_PIXELS

__all__ = ["FAMILIES", "QWEN2_VL_CLASS_DEFAULT_MAX_PIXELS", "RELEASED_SIZES", "Family", "ImageCost", "ReleasedSizes",
           "TokenBudget", "budget_table", "format_table", "image_cost", "kv_cache_bytes", "token_budget"]

# QWEN2_VL_CLASS_DEFAULT_MAX_PIXELS: ``Qwen2VLImageProcessor()``'s own default (``size["longest_edge"]`` =
# 28*28*1280 = 1,003,520 pixels, at most 1280 tokens). The released checkpoints override it with 12,845,056
# (16384 tokens); pass it as ``max_pixels`` to see what a processor built without the checkpoint's config does.


@dataclass(frozen=True)
class Family:
    """One VLM family: its released checkpoint, the numbers taken from it, and which options it accepts."""

    key: str
    name: str
    checkpoint: str  # the Hugging Face repository the numbers come from
    preset: dict  # option name -> value, from the checkpoint's configs
    source: str  # which config fields hold those values
    rule: str  # one line: how an image becomes tokens


FAMILIES: dict[str, Family] = {f.key: f for f in [
    Family("clip-224", "LLaVA-1 (CLIP ViT-L/14 at 224)", "openai/clip-vit-large-patch14",
           dict(tile_size=224, patch_size=14),
           "preprocessor_config.json: crop_size 224; config.json vision_config: patch_size 14",
           "shortest side to 224, centre crop, (224/14)² patches"),
    Family("llava-1.5", "LLaVA-1.5", "llava-hf/llava-1.5-7b-hf",
           dict(tile_size=336, patch_size=14),
           "preprocessor_config.json: crop_size 336; config.json vision_config: patch_size 14 (CLS dropped)",
           "shortest side to 336, centre crop, (336/14)² patches"),
    Family("llava-next", "LLaVA-NeXT (1.6)", "llava-hf/llava-v1.6-mistral-7b-hf",
           dict(tile_size=336, patch_size=14, max_tiles=None),
           "preprocessor_config.json: crop_size 336, image_grid_pinpoints (5 canvases); vision patch_size 14",
           "anyres: base image + unpadded crops + a newline per feature row"),
    Family("llava-onevision", "LLaVA-OneVision", "llava-hf/llava-onevision-qwen2-7b-ov-hf",
           dict(tile_size=384, patch_size=14, max_tiles=9),
           "preprocessor_config.json: size 384, image_grid_pinpoints 384..2304 (6x6); processor_config.json: "
           "num_image_tokens 729; vision patch_size 14 (SigLIP, no CLS); anyres_max_9 is not a file field: it is "
           "the default vision_aspect_ratio of LlavaOnevisionConfig and LlavaOnevisionProcessor",
           "anyres on 384-px SigLIP tiles, features shrunk to about 9 tiles' worth"),
    Family("internvl2", "InternVL2", "OpenGVLab/InternVL2-8B",
           dict(tile_size=448, patch_size=14, max_tiles=12),
           "config.json: force_image_size 448, max_dynamic_patch 12, use_thumbnail, downsample_ratio 0.5; "
           "vision patch_size 14",
           "dynamic 448-px tiles (1..12) + thumbnail, 2x2 pixel shuffle: 256 tokens each"),
    Family("internvl3", "InternVL2.5 / InternVL3", "OpenGVLab/InternVL3-8B-hf",
           dict(tile_size=448, patch_size=14, max_tiles=12),
           "preprocessor_config.json: max_patches 12, size 448, but crop_to_patches false; processor_config.json: "
           "image_seq_length 256. The tiling is InternVLProcessor's default (crop_to_patches=True): the image "
           "processor used alone gives one 448-px tile (256 tokens) at any size",
           "as InternVL2 (transformers' GotOcr2 tiling), <img> ... </img> around the tiles"),
    Family("qwen2-vl", "Qwen2-VL", "Qwen/Qwen2-VL-7B-Instruct",
           dict(patch_size=14, min_pixels=3136, max_pixels=12845056),
           "preprocessor_config.json: min_pixels 3136, max_pixels 12845056, patch_size 14, merge_size 2",
           "smart resize to multiples of 28 within the pixel budget, 2x2 patches merged per token"),
    Family("qwen2.5-vl", "Qwen2.5-VL", "Qwen/Qwen2.5-VL-7B-Instruct",
           dict(patch_size=14, min_pixels=3136, max_pixels=12845056),
           "preprocessor_config.json: min_pixels 3136, max_pixels 12845056, patch_size 14, merge_size 2",
           "as Qwen2-VL (same image rule; window attention inside the ViT)"),
    Family("smolvlm", "SmolVLM", "HuggingFaceTB/SmolVLM-Instruct",
           dict(tile_size=384, patch_size=14, longest_edge=1536, shuffle=3),
           "preprocessor_config.json: size longest_edge 1536, max_image_size longest_edge 384; "
           "processor_config.json: image_seq_len 81; config.json: scale_factor 3, vision patch_size 14",
           "longest side to 1536, 384-px tiles + a global image, 3x3 pixel shuffle: 81 tokens each"),
    Family("idefics3", "Idefics3", "HuggingFaceM4/Idefics3-8B-Llama3",
           dict(tile_size=364, patch_size=14, longest_edge=1456, shuffle=2),
           "preprocessor_config.json: size longest_edge 1456, max_image_size longest_edge 364; "
           "processor_config.json: image_seq_len 169; config.json: scale_factor 2, vision patch_size 14",
           "longest side to 1456, 364-px tiles + a global image, 2x2 pixel shuffle: 169 tokens each"),
    Family("gemma3", "Gemma 3", "google/gemma-3-4b-it",
           dict(pan_and_scan=False),
           "preprocessor_config.json: size 896, do_pan_and_scan and the other pan_and_scan fields null; "
           "config.json: mm_tokens_per_image 256. With pan-and-scan on, 4 crops at most, 256 px at least and "
           "a ratio of 1.2 to activate are Gemma3Processor's defaults, not the file's",
           "one 896-px square (4096 patches pooled 4x4 to 256 tokens); optional pan-and-scan crops"),
    Family("pixtral", "Pixtral", "mistral-community/pixtral-12b",
           dict(patch_size=16, longest_edge=1024),
           "preprocessor_config.json: size longest_edge 1024, patch_size 16; spatial_merge_size 1",
           "shrink to fit 1024, sides up to whole 16-px patches, one token per patch + a break per row"),
    Family("paligemma", "PaliGemma", "google/paligemma-3b-pt-224",
           dict(tile_size=224, patch_size=14),
           "preprocessor_config.json: size 224, image_seq_length 256; vision patch_size 14",
           "squash to one 224-px square, (224/14)² = 256 tokens (448 and 896 checkpoints: tile_size=)"),
    Family("llama-3.2-vision", "Llama 3.2 Vision", "meta-llama/Llama-3.2-11B-Vision-Instruct",
           dict(tile_size=560, patch_size=14, max_tiles=4),
           "preprocessor_config.json: size 560, max_image_tiles 4; config.json vision_config: patch_size 14",
           "one <|image|> token in the context; up to 4 560-px tiles reach the LLM by cross-attention"),
]}


@dataclass(frozen=True)
class TokenBudget:
    """One image in one family.

    ``tokens``: image placeholder tokens in ``input_ids`` (one visual feature
    each); ``extra_tokens``: marker tokens around them; ``cross_attention_tokens``:
    features read through cross-attention instead (Llama 3.2 Vision only);
    ``tiles``: pictures the vision encoder runs on (crops + base/thumbnail/global);
    ``grid``: ``(rows, cols)`` of crops (``(1, 1)`` for single-picture
    families; for the Qwen families the grid of merged LLM tokens; for Pixtral
    the grid of patch tokens); ``resized``: the ``(height, width)`` the image
    content is resized to; ``patch_grid``: ``(rows, cols)`` of encoder patches
    per picture (for Qwen and Pixtral, of the whole resized image); ``kept``:
    the fraction of the original image that survives (a centre crop drops the rest).
    """

    family: str
    image_size: tuple[int, int]
    tokens: int
    tiles: int
    grid: tuple[int, int]
    resized: tuple[int, int]
    patch_grid: tuple[int, int]
    tile_size: int | None
    patch_size: int | None
    kept: float = 1.0
    extra_tokens: int = 0
    cross_attention_tokens: int = 0
    options: dict = field(default_factory=dict)

    @property
    def context_tokens(self) -> int:
        """Positions the image takes in the LLM's sequence: placeholders + markers."""
        return self.tokens + self.extra_tokens

    def as_dict(self) -> dict:
        return {**asdict(self), "context_tokens": self.context_tokens}


# ---------------------------------------------------------------------------
# One rule per family: (height, width) + the merged options -> TokenBudget fields
# ---------------------------------------------------------------------------


def _square(size, o):
    """One fixed square: ``(tile/patch)²`` patch tokens. CLIP crops the centre; PaliGemma squashes."""
    side = o["tile_size"] // o["patch_size"]
    return dict(tokens=side * side, tiles=1, grid=(1, 1), resized=(o["tile_size"],) * 2, patch_grid=(side, side))


def _centre_crop(size, o):
    return dict(_square(size, o), kept=min(size) / max(size))


def _llava_next(size, o):
    tile = o["tile_size"]
    candidates = tiling.llava_next_candidates(tile, o["max_tiles"])
    layout = tiling.llava_next_layout(size, tile, candidates)
    side = tile // o["patch_size"]
    return dict(tokens=tiling.llava_next_num_tokens(size, tile, o["patch_size"], candidates),
                tiles=layout.grid[0] * layout.grid[1] + 1, grid=layout.grid, resized=layout.resized,
                patch_grid=(side, side))


def _onevision(size, o):
    tile = o["tile_size"]
    layout = tiling.llava_next_layout(size, tile, families.onevision_pinpoints(tile))
    side = tile // o["patch_size"]
    return dict(tokens=families.onevision_num_tokens(size, tile, o["patch_size"], o["max_tiles"]),
                tiles=layout.grid[0] * layout.grid[1] + 1, grid=layout.grid, resized=layout.resized,
                patch_grid=(side, side))


def _internvl(size, o):
    tile = o["tile_size"]
    grid = tiling.internvl_grid(size, tile, 1, o["max_tiles"])
    tiles = grid[0] * grid[1] + (1 if grid[0] * grid[1] > 1 else 0)  # + a thumbnail when there are crops
    side = tile // o["patch_size"]
    return dict(tokens=tiling.internvl_num_tokens(size, tile, o["patch_size"], 1, o["max_tiles"]), tiles=tiles,
                grid=grid, resized=(grid[0] * tile, grid[1] * tile), patch_grid=(side, side),
                extra_tokens=2)  # <img> and </img>


def _qwen(size, o):
    merge = 2  # 2x2 neighbouring patches become one LLM token
    patches = tiling.qwen2_vl_grid(size, o["patch_size"], merge, o["min_pixels"], o["max_pixels"])
    grid = (patches[0] // merge, patches[1] // merge)
    return dict(tokens=grid[0] * grid[1], tiles=1, grid=grid, patch_grid=patches,
                resized=(patches[0] * o["patch_size"], patches[1] * o["patch_size"]),
                extra_tokens=2)  # <|vision_start|> and <|vision_end|>


def _idefics3(size, o):
    tile, p, s = o["tile_size"], o["patch_size"], o["shuffle"]
    # The pixel shuffle folds s x s features into one token. Unlike InternVL's 448/14, a 384 tile over
    # 14 px patches leaves 6 px that SigLIP's stride-14 convolution never reads: 27 patches a side (floor).
    per_tile = (tile // p) ** 2 // s**2
    rows, cols = families.idefics3_grid(size, o["longest_edge"], tile)
    pictures = rows * cols + 1 if rows else 1  # crops + the global image
    # markers: <fake_token_around_image> and <row_r_col_c> per crop, a newline per row of crops,
    # <fake_token_around_image><global-img> ... <fake_token_around_image> for the global image
    extra = 3 + rows * (2 * cols + 1)
    return dict(tokens=per_tile * pictures, tiles=pictures, grid=(rows, cols) if rows else (1, 1),
                resized=families.idefics3_resized_size(size, o["longest_edge"]),
                patch_grid=(tile // p, tile // p), extra_tokens=extra)


# google/gemma-3-4b-it: every picture is squashed to 896x896 (preprocessor_config.json size), its 64x64 patches
# of 14 px average-pooled 4x4 to mm_tokens_per_image = 256 (config.json).
GEMMA3_SIZE, GEMMA3_PATCH, GEMMA3_TOKENS = 896, 14, 256


def _gemma3(size, o):
    rows, cols = families.gemma3_pan_and_scan_grid(size) if o["pan_and_scan"] else (0, 0)
    pictures = 1 + rows * cols  # the whole image + the crops
    side = GEMMA3_SIZE // GEMMA3_PATCH
    # Gemma3Processor writes "\n\n<start_of_image>" + 256 soft tokens + "<end_of_image>\n\n" per picture, and
    # Gemma's tokenizer has a single token for "\n\n": 4 marker tokens each. (Pan-and-scan's sentence
    # "Here is the original image ... and here are some crops ..." is ordinary text and not counted.)
    return dict(tokens=GEMMA3_TOKENS * pictures, tiles=pictures, grid=(rows, cols) if rows else (1, 1),
                resized=(GEMMA3_SIZE, GEMMA3_SIZE), patch_grid=(side, side),
                extra_tokens=4 * pictures)


def _pixtral(size, o):
    p = o["patch_size"]
    resized = families.pixtral_resized_size(size, o["longest_edge"], p)
    grid = (resized[0] // p, resized[1] // p)
    # one [IMG] per patch; each row ends with [IMG_BREAK], the last row with [IMG_END]
    return dict(tokens=grid[0] * grid[1], tiles=1, grid=grid, resized=resized, patch_grid=grid,
                extra_tokens=grid[0])


def _mllama(size, o):
    tile, p = o["tile_size"], o["patch_size"]
    grid = families.mllama_grid(size, tile, o["max_tiles"])
    side = tile // p
    tiles = grid[0] * grid[1]
    return dict(tokens=1, tiles=tiles, grid=grid, resized=families.mllama_resized_size(size, grid, tile),
                patch_grid=(side, side), cross_attention_tokens=tiles * (side * side + 1))  # + CLS per tile


_RULES = {
    "clip-224": _centre_crop, "llava-1.5": _centre_crop, "paligemma": _square,
    "llava-next": _llava_next, "llava-onevision": _onevision,
    "internvl2": _internvl, "internvl3": _internvl,
    "qwen2-vl": _qwen, "qwen2.5-vl": _qwen,
    "smolvlm": _idefics3, "idefics3": _idefics3,
    "gemma3": _gemma3, "pixtral": _pixtral, "llama-3.2-vision": _mllama,
}


def _check_option(name, value):
    if name == "pan_and_scan":
        if not isinstance(value, bool):
            raise TypeError(f"pan_and_scan must be True or False, got {value!r}")
        return value
    return as_positive_int(value, name)


def token_budget(image_size, family: str, **options) -> TokenBudget:
    """The visual-token bill for an image of ``image_size = (height, width)`` in ``family``.

    ``options`` replace the family's preset (``FAMILIES[family].preset`` lists
    the ones it accepts; an option given as ``None`` keeps the preset). Pure
    arithmetic: no pixels are touched, so a 20000x20000 image costs nothing to
    ask about. A family's limits (the Qwen families' aspect ratio 200, a strip
    too thin for any canvas) and settings that leave no token raise ``ValueError``.
    """
    height, width = as_size(image_size, "image_size")
    check_choice(family, FAMILIES, "family")
    preset = FAMILIES[family].preset
    unknown = sorted(k for k, v in options.items() if v is not None and k not in preset)
    if unknown:
        raise ValueError(f"{family} does not use option(s) {unknown}; it accepts {sorted(preset)}")
    o = dict(preset)
    o.update({k: _check_option(k, v) for k, v in options.items() if v is not None})
    tile, patch = o.get("tile_size"), o.get("patch_size")
    if tile is not None and patch is not None and tile < patch:
        raise ValueError(f"tile_size={tile} is smaller than patch_size={patch}: no patch fits in a tile, "
                         f"so {family} would produce 0 tokens")
    fields = _RULES[family]((height, width), o)
    if fields["patch_grid"][0] * fields["patch_grid"][1] == 0:
        raise ValueError(f"image_size {(height, width)} is too elongated for {family}: "
                         f"its short side shrinks to less than one patch")
    if fields["tokens"] <= 0 and not fields.get("cross_attention_tokens"):
        raise ValueError(f"{family} with {o} gives 0 tokens for image_size {(height, width)}; "
                         "choose a larger tile_size or a smaller patch_size")
    return TokenBudget(family=family, image_size=(height, width), tile_size=tile, patch_size=patch,
                       options={k: o[k] for k in preset}, **fields)


def budget_table(images, families=None, **options) -> list[dict]:
    """Rows ``dict(image=, size=, family=, tokens=, extra=, cross_attention=, tiles=, grid=, resized=, note=)``.

    ``images``: a dict ``name -> (height, width)`` or a list of sizes. A family
    that refuses an image (a limit hit) gets ``tokens=None`` and the reason.
    ``options`` go only to the families that accept them.
    """
    names = list(FAMILIES) if families is None else list(families)
    for name in names:
        check_choice(name, FAMILIES, "family")
    items = images.items() if isinstance(images, dict) else ((str(s), s) for s in images)
    rows = []
    for image, size in items:
        for name in names:
            mine = {k: v for k, v in options.items() if k in FAMILIES[name].preset}
            try:
                b = token_budget(size, name, **mine)
                rows.append(dict(image=image, size=tuple(size), family=name, tokens=b.tokens, extra=b.extra_tokens,
                                 cross_attention=b.cross_attention_tokens, tiles=b.tiles, grid=b.grid,
                                 resized=b.resized, note=""))
            except ValueError as err:
                rows.append(dict(image=image, size=tuple(size), family=name, tokens=None, extra=None,
                                 cross_attention=None, tiles=None, grid=None, resized=None, note=str(err).split(";")[0]))
    return rows


def format_table(rows) -> str:
    """A plain-text table of ``budget_table`` rows (sizes as height x width)."""
    def hw(v):
        return "-" if v is None else f"{v[0]}x{v[1]}"

    def num(v):
        return "-" if v is None else str(v)

    header = ["image", "size (HxW)", "family", "tiles", "grid", "resized (HxW)", "tokens", "+markers", "cross-attn"]
    lines = [[r["image"], hw(r["size"]), r["family"], num(r["tiles"]), hw(r["grid"]), hw(r["resized"]),
              num(r["tokens"]), num(r["extra"]), num(r["cross_attention"])] for r in rows]
    if any(r["tokens"] is None for r in rows):  # say why a family refused an image
        header.append("note")
        for line, r in zip(lines, rows):
            line.append("refused: " + r["note"] if r["tokens"] is None else "")
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 3 or i == 9 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*header).rstrip(), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line).rstrip() for line in lines]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# What an image costs besides its tokens: encoder work and KV-cache memory
# ---------------------------------------------------------------------------


def kv_cache_bytes(num_tokens: int, num_layers: int, num_kv_heads: int, head_dim: int,
                   bytes_per_value: int = 2) -> int:
    """Bytes of keys and values a decoder keeps for ``num_tokens`` positions.

    ``2 × num_layers × num_kv_heads × head_dim × bytes_per_value × num_tokens``:
    every layer stores one key and one value vector per key-value head and
    position (16-bit values by default). With grouped-query attention
    (``num_kv_heads`` < attention heads) several query heads share one key-value
    head, and the cache shrinks by that factor (Ainslie et al. 2023, "GQA",
    https://arxiv.org/abs/2305.13245).

        >>> kv_cache_bytes(1, num_layers=32, num_kv_heads=8, head_dim=128)   # one position in Mistral-7B
        131072
    """
    values = [as_positive_int(v, n) for v, n in [(num_layers, "num_layers"), (num_kv_heads, "num_kv_heads"),
                                                 (head_dim, "head_dim"), (bytes_per_value, "bytes_per_value")]]
    if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 0:
        raise ValueError(f"num_tokens must be an int >= 0, got {num_tokens!r}")
    layers, kv_heads, head_dim, nbytes = values
    return 2 * layers * kv_heads * head_dim * nbytes * num_tokens


@dataclass(frozen=True)
class ReleasedSizes:
    """A family's released vision encoder and language model, in the numbers their configs give.

    ``encoder``: keyword arguments of ``vlmlab.patches.vit_flops`` (``patch_size``,
    ``embed_dim``, ``num_layers``, ``mlp_ratio``, ``in_channels``, ``cls_token``)
    for one forward pass of the vision tower; ``llm``: ``num_layers``,
    ``num_kv_heads`` and ``head_dim`` of the language model (``head_dim`` =
    ``hidden_size / num_attention_heads``); ``source``: the config fields.
    """

    family: str
    checkpoint: str
    encoder: dict
    llm: dict
    source: str


# ViT-L/14's shape: CLIP ViT-L/14-336 (LLaVA) and InternViT-300M-448px (InternVL2) both have it.
_VIT_L14 = dict(patch_size=14, embed_dim=1024, num_layers=24, mlp_ratio=4.0, in_channels=3, cls_token=True)

RELEASED_SIZES: dict[str, ReleasedSizes] = {s.family: s for s in [
    ReleasedSizes("llava-1.5", "llava-hf/llava-1.5-7b-hf", _VIT_L14,
                  dict(num_layers=32, num_kv_heads=32, head_dim=128),
                  "vision_config (CLIP ViT-L/14-336): hidden_size 1024, intermediate_size 4096, num_hidden_layers 24; "
                  "text_config (Vicuna-7B v1.5, llama): hidden_size 4096, 32 layers, 32 heads and "
                  "num_key_value_heads unset, i.e. 32 (LlamaConfig's defaults)"),
    ReleasedSizes("llava-next", "llava-hf/llava-v1.6-mistral-7b-hf", _VIT_L14,
                  dict(num_layers=32, num_kv_heads=8, head_dim=128),
                  "vision_config as LLaVA-1.5; text_config (Mistral-7B-Instruct-v0.2): num_key_value_heads 8, "
                  "hidden_size 4096, 32 layers, 32 heads (MistralConfig's defaults)"),
    ReleasedSizes("internvl2", "OpenGVLab/InternVL2-8B", _VIT_L14,
                  dict(num_layers=32, num_kv_heads=8, head_dim=128),
                  "vision_config (InternViT-300M-448px): hidden_size 1024, intermediate_size 4096, "
                  "num_hidden_layers 24; llm_config (internlm2_5-7b-chat): hidden_size 4096, "
                  "num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 8"),
    ReleasedSizes("qwen2-vl", "Qwen/Qwen2-VL-7B-Instruct",
                  dict(patch_size=14, embed_dim=1280, num_layers=32, mlp_ratio=4.0, in_channels=6, cls_token=False),
                  dict(num_layers=28, num_kv_heads=4, head_dim=128),
                  "vision_config: depth 32, embed_dim 1280, mlp_ratio 4, patch_size 14, temporal_patch_size 2 "
                  "(an image is two identical frames: 3 x 2 input channels per patch), no CLS; text: "
                  "hidden_size 3584, num_hidden_layers 28, num_attention_heads 28, num_key_value_heads 4"),
]}


@dataclass(frozen=True)
class ImageCost:
    """One image in one released model: its tokens, the encoder's work and the KV cache they fill.

    ``positions``: the image's places in the LLM's sequence (placeholders +
    markers), each of which takes one KV-cache entry; ``encoder_flops``: matrix
    products of the vision tower over all ``pictures`` (``vlmlab.patches.vit_flops``);
    ``kv_bytes``: ``kv_cache_bytes(positions, ...)`` in 16-bit values.
    """

    family: str
    checkpoint: str
    tokens: int
    positions: int
    pictures: int
    encoder_flops: int
    kv_bytes: int
    kv_bytes_per_position: int


def image_cost(image_size, family: str) -> ImageCost:
    """Tokens, encoder FLOPs and KV-cache bytes of an ``image_size = (height, width)`` image in ``family``'s release.

    ``family`` is one of ``RELEASED_SIZES`` (the released checkpoints'
    numbers, with ``FAMILIES``' processor presets). Each picture the encoder
    reads is ``patch_grid × patch_size`` pixels: one tile (LLaVA, InternVL) or
    the whole resized image (Qwen2-VL, whose vision tower attends over all its
    patches at once). Pure arithmetic, like ``token_budget``.
    """
    from .patches import vit_flops

    check_choice(family, RELEASED_SIZES, "family")
    sizes = RELEASED_SIZES[family]
    b = token_budget(image_size, family)
    picture = tuple(n * b.patch_size for n in b.patch_grid)            # (height, width) of each picture
    per_picture = vit_flops(picture, **sizes.encoder)["total"]
    per_position = kv_cache_bytes(1, **sizes.llm)
    return ImageCost(family=family, checkpoint=sizes.checkpoint, tokens=b.tokens, positions=b.context_tokens,
                     pictures=b.tiles, encoder_flops=b.tiles * per_picture,
                     kv_bytes=per_position * b.context_tokens, kv_bytes_per_position=per_position)
