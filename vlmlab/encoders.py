"""A registry of the vision encoders that VLMs use, with a source for every figure.

The seed tutorial compares encoders in two tables ("주요 Vision Encoder" and
"실제 모델별 사용 인코더"). Some of its rows are wrong or vague; this
registry is the corrected version, and ``SEED_ENCODER_TABLE`` /
``SEED_VLM_TABLE`` keep the seed's rows so that notebook 04 can show the
differences (``seed_corrections()``).

Every architecture figure (input size, patch, width, layers, heads) comes from
the model's released config or paper, linked in ``sources``. Parameter counts
are the vision tower only. For the encoders that ``transformers`` implements
(CLIP, SigLIP, DINOv2, Qwen2-VL's ViT), ``tests/test_encoders.py`` builds the
architecture from these figures on PyTorch's ``meta`` device (no weights, no
download) and checks that it has exactly the registered number of parameters;
for EVA-CLIP, OpenCLIP ViT-bigG and InternViT, whose registered counts are the papers/model cards
rounded figures, it builds timm's or transformers' implementation and checks them within 5 %.
Token counts are computed from the registry (``num_patches``), never typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._validate import as_size, check_choice


@dataclass(frozen=True)
class VisionEncoder:
    """One vision encoder. Sizes in pixels; ``params`` counts the vision tower only."""

    key: str
    name: str
    org: str
    params: int  # vision tower parameters
    image_size: int | None  # native square input; None = native dynamic resolution
    patch_size: int
    width: int  # hidden size D of each patch token
    layers: int
    heads: int
    cls_token: bool  # does the sequence start with a CLS token?
    positions: str  # how it knows where a patch is
    training: str  # what it was trained for
    hf_id: str | None
    sources: tuple[str, ...]
    notes: str = ""

    @property
    def grid(self) -> tuple[int, int] | None:
        """Patch grid ``(rows, cols)`` at the native input size (None for dynamic resolution)."""
        if self.image_size is None:
            return None
        side = self.image_size // self.patch_size
        return (side, side)

    def num_patches(self, image_size=None) -> int:
        """Patch tokens for a square (or ``(h, w)``) input; default the native size. Excludes CLS.

        Counted as the stride-``patch_size`` patch convolution does: border
        pixels that don't fill a whole patch are dropped (SigLIP's 384 px with
        patch 14 gives 27 per side: 378 pixels used, 6 ignored).
        """
        size = image_size if image_size is not None else self.image_size
        if size is None:
            raise ValueError(f"{self.key} has no fixed input size; pass image_size=(h, w)")
        h, w = as_size(size)
        if h < self.patch_size or w < self.patch_size:
            raise ValueError(f"image_size {(h, w)} is smaller than {self.key}'s patch size {self.patch_size}")
        return (h // self.patch_size) * (w // self.patch_size)

    def sequence_length(self, image_size=None) -> int:
        """Tokens through the encoder: patches plus CLS when the model has one."""
        return self.num_patches(image_size) + int(self.cls_token)


M = 1_000_000

ENCODERS: dict[str, VisionEncoder] = {
    e.key: e
    for e in [
        VisionEncoder(
            "clip-vit-b-16", "CLIP ViT-B/16", "OpenAI", 85_799_424, 224, 16, 768, 12, 12, True,
            "learned absolute (1 + 14×14 entries)", "image-text contrastive (400M pairs)",
            "openai/clip-vit-base-patch16",
            ("https://arxiv.org/abs/2103.00020 (Table 20)", "https://huggingface.co/openai/clip-vit-base-patch16/blob/main/config.json"),
        ),
        VisionEncoder(
            "clip-vit-l-14", "CLIP ViT-L/14", "OpenAI", 303_179_776, 224, 14, 1024, 24, 16, True,
            "learned absolute (1 + 16×16 entries)", "image-text contrastive (400M pairs)",
            "openai/clip-vit-large-patch14",
            ("https://arxiv.org/abs/2103.00020 (Table 20)", "https://huggingface.co/openai/clip-vit-large-patch14/blob/main/config.json"),
        ),
        VisionEncoder(
            "clip-vit-l-14-336", "CLIP ViT-L/14@336px", "OpenAI", 303_507_456, 336, 14, 1024, 24, 16, True,
            "learned absolute (1 + 24×24 entries)", "CLIP ViT-L/14 fine-tuned one extra epoch at 336 px",
            "openai/clip-vit-large-patch14-336",
            ("https://arxiv.org/abs/2103.00020 (section 3.2)", "https://huggingface.co/openai/clip-vit-large-patch14-336/blob/main/config.json"),
            "The two L/14 towers differ only in the position table (577 vs 257 entries).",
        ),
        VisionEncoder(
            "siglip-so400m-14-384", "SigLIP SO400M/14@384", "Google", 428_225_600, 384, 14, 1152, 27, 16, False,
            "learned absolute (27×27 entries)", "image-text sigmoid loss (WebLI)",
            "google/siglip-so400m-patch14-384",
            ("https://arxiv.org/abs/2303.15343 (SigLIP)", "https://arxiv.org/abs/2305.13035 (shape-optimised ViT, SoViT-400m/14)",
             "https://huggingface.co/google/siglip-so400m-patch14-384/blob/main/config.json"),
            "No CLS token: the image embedding comes from an attention-pooling (MAP) head, so all 729 tokens are patches. "
            "'400M' is the family name; the vision tower has 428M parameters.",
        ),
        VisionEncoder(
            "eva01-clip-g-14", "EVA-CLIP-g/14 (EVA01)", "BAAI", 1_000 * M, 224, 14, 1408, 40, 16, True,
            "learned absolute", "EVA MIM pre-training, then image-text contrastive",
            None,
            ("https://arxiv.org/abs/2303.15389 (EVA-CLIP, Table 1: 1.0B image encoder)",
             "https://github.com/mlfoundations/open_clip/blob/main/src/open_clip/model_configs/EVA01-g-14.json (timm eva_giant_patch14_224)"),
            "The seed's width 1408 is this model's (head width 88 × 16 heads), not EVA-CLIP-E's.",
        ),
        VisionEncoder(
            "eva02-clip-e-14-plus", "EVA02-CLIP-E/14+", "BAAI", 4_400 * M, 224, 14, 1792, 64, 16, True,
            "learned absolute", "EVA-02 MIM pre-training, then image-text contrastive (LAION-2B)",
            None,
            ("https://arxiv.org/abs/2303.15389 (EVA-CLIP, Table 1: 4.4B image encoder)",
             "https://github.com/mlfoundations/open_clip/blob/main/src/open_clip/model_configs/EVA02-E-14-plus.json (timm eva02_enormous_patch14_clip_224)"),
            "4.4B parameters at width 1792 (head width 112 × 16 heads), 224 px.",
        ),
        VisionEncoder(
            "internvit-6b-448px-v1-5", "InternViT-6B-448px-V1.5", "Shanghai AI Lab (OpenGVLab)", 5_540 * M, 448, 14, 3200, 45, 25, True,
            "learned absolute, interpolated per 448 px tile", "contrastive + generative with an LLM (InternVL), then VLM training",
            "OpenGVLab/InternViT-6B-448px-V1-5",
            ("https://arxiv.org/abs/2312.14238 (InternVL: 6B, width 3200, 48 layers, 25 heads)",
             "https://huggingface.co/OpenGVLab/InternViT-6B-448px-V1-5 (Params 5540M: the last 3 of 48 blocks are dropped)"),
            "InternVL-1.5 and InternVL2-26B/40B/76B; the smaller InternVL2 models use InternViT-300M-448px.",
        ),
        VisionEncoder(
            "internvit-300m-448px", "InternViT-300M-448px", "Shanghai AI Lab (OpenGVLab)", 304 * M, 448, 14, 1024, 24, 16, True,
            "learned absolute, interpolated per 448 px tile", "distilled from InternViT-6B-448px-V1.5",
            "OpenGVLab/InternViT-300M-448px",
            ("https://huggingface.co/OpenGVLab/InternViT-300M-448px (Params 304M)",),
        ),
        VisionEncoder(
            "dinov2-vit-g-14", "DINOv2 ViT-g/14", "Meta", 1_136_480_768, 518, 14, 1536, 40, 24, True,
            "learned absolute (1 + 37×37 entries)", "self-supervised (DINO + iBOT), no text",
            "facebook/dinov2-giant",
            ("https://arxiv.org/abs/2304.07193 (DINOv2, ViT-g/14: 1.1B)", "https://huggingface.co/facebook/dinov2-giant/blob/main/config.json"),
            "1.1B parameters (the seed says 1B). Never saw text: its features are not aligned with language. "
            "The '-reg' variants add 4 register tokens after CLS (Darcet et al. 2023).",
        ),
        VisionEncoder(
            "openclip-vit-bigg-14", "OpenCLIP ViT-bigG/14 (as in Qwen-VL)", "LAION / Qwen", 1_900 * M, 448, 14, 1664, 48, 16, True,
            "learned absolute, interpolated from 224 to 448 px", "image-text contrastive (LAION-2B), then Qwen-VL training",
            None,
            ("https://arxiv.org/abs/2308.12966 (Qwen-VL, Table 1: 1.9B vision encoder; 448 px in stages 2-3)",
             "https://github.com/mlfoundations/open_clip/blob/main/src/open_clip/model_configs/ViT-bigG-14.json"),
            "1.9B is the Qwen-VL paper's figure; the OpenCLIP tower itself (timm vit_gigantic_patch14_clip_224) has 1.84B.",
        ),
        VisionEncoder(
            "qwen2-vl-vit", "Qwen2-VL ViT (675M)", "Alibaba Qwen", 675_759_104, None, 14, 1280, 32, 16, False,
            "2-D rotary (RoPE) inside attention, no position table", "DFN ViT initialisation, trained with the VLM at native resolution",
            "Qwen/Qwen2-VL-7B-Instruct",
            ("https://arxiv.org/abs/2409.12191 (Qwen2-VL, Table 1: 675M)",
             "https://huggingface.co/Qwen/Qwen2-VL-7B-Instruct/blob/main/config.json (vision_config: embed_dim 1280, depth 32)"),
            "Native dynamic resolution: any size (multiples of 28), then 2×2 neighbouring patches merged into one LLM token. "
            "The count includes the patch merger (an MLP into the LLM width).",
        ),
    ]
}


@dataclass(frozen=True)
class VLM:
    """Which encoder a VLM reads, how, and how many LLM tokens one base image becomes."""

    key: str
    name: str
    encoder: str  # key into ENCODERS
    feature_layer: int | None  # hidden_states index read (None: not a CLIP-style layer choice)
    merge: int  # tokens merged per LLM token (1 = none, 4 = 2x2 pixel shuffle / merge)
    fixed_tokens: int | None  # a resampler's fixed output length, if any
    resolution: str
    sources: tuple[str, ...]
    notes: str = ""

    def tokens_per_image(self, image_size=None) -> int:
        """LLM tokens for one image (or one tile) at the encoder's native size (or ``image_size``)."""
        if self.fixed_tokens is not None:
            return self.fixed_tokens
        return ENCODERS[self.encoder].num_patches(image_size) // self.merge


VLMS: dict[str, VLM] = {
    v.key: v
    for v in [
        VLM("llava-1.5", "LLaVA-1.5", "clip-vit-l-14-336", -2, 1, None, "one 336×336 image (padded to square)",
            ("https://arxiv.org/abs/2310.03744", "https://huggingface.co/llava-hf/llava-1.5-7b-hf/blob/main/config.json (vision_feature_layer -2)"),
            "Patch tokens of the penultimate layer, CLS dropped, through a 2-layer MLP."),
        VLM("llava-next", "LLaVA-NeXT (1.6)", "clip-vit-l-14-336", -2, 1, None, "anyres: base image + up to 4 tiles of 336 (e.g. 672×672)",
            ("https://llava-vl.github.io/blog/2024-01-30-llava-next/", "https://huggingface.co/llava-hf/llava-v1.6-mistral-7b-hf/blob/main/config.json"),
            "Same encoder as LLaVA-1.5; more tiles per image (notebook 06)."),
        VLM("qwen-vl", "Qwen-VL", "openclip-vit-bigg-14", None, 1, 256, "448×448",
            ("https://arxiv.org/abs/2308.12966",),
            "A one-layer cross-attention adapter with 256 learned queries compresses the 1024 patch tokens to 256."),
        VLM("qwen2-vl", "Qwen2-VL", "qwen2-vl-vit", None, 4, None, "native dynamic resolution (smart_resize, notebook 07)",
            ("https://arxiv.org/abs/2409.12191",),
            "Its own ViT with 2-D RoPE, not CLIP; 2×2 patches merged per token."),
        VLM("internvl-1.5", "InternVL-1.5 / InternVL2-26B+", "internvit-6b-448px-v1-5", -1, 4, None, "dynamic 448 px tiles (1-12) + thumbnail",
            ("https://arxiv.org/abs/2404.16821", "https://huggingface.co/OpenGVLab/InternVL2-26B"),
            "Pixel shuffle (0.5) turns 32×32 = 1024 patch tokens per tile into 256."),
        VLM("internvl2-8b", "InternVL2-1B…8B", "internvit-300m-448px", -1, 4, None, "dynamic 448 px tiles + thumbnail",
            ("https://huggingface.co/OpenGVLab/InternVL2-8B",),
            "The small InternVL2 models use the distilled 300M InternViT, not the 6B one."),
        VLM("phi-3-vision", "Phi-3-Vision", "clip-vit-l-14-336", -2, 4, None, "HD transform: 336 px crops + global image",
            ("https://arxiv.org/abs/2404.14219", "https://huggingface.co/microsoft/Phi-3-vision-128k-instruct/blob/main/config.json (img_processor: openai/clip-vit-large-patch14-336, num_img_tokens 144)"),
            "CLIP ViT-L/14 at 336 px (the seed omits the resolution); 2×2 tokens merged: 576 → 144 per crop."),
    ]
}

# The seed tutorial's tables, verbatim in content (the figures as it gives them).
SEED_ENCODER_TABLE = [
    dict(encoder="CLIP ViT-B/16", source="OpenAI", params="86M", input="224", dim="768", registry="clip-vit-b-16"),
    dict(encoder="CLIP ViT-L/14", source="OpenAI", params="304M", input="224/336", dim="1024", registry="clip-vit-l-14"),
    dict(encoder="SigLIP ViT-SO400M", source="", params="400M", input="384", dim="1152", registry="siglip-so400m-14-384"),
    dict(encoder="EVA-CLIP ViT-E", source="Beijing Academy", params="4.4B", input="224-448", dim="1408", registry="eva02-clip-e-14-plus"),
    dict(encoder="InternViT-6B", source="Shanghai AI", params="6B", input="448", dim="3200", registry="internvit-6b-448px-v1-5"),
    dict(encoder="DINOv2", source="Meta", params="1B", input="518", dim="1536", registry="dinov2-vit-g-14"),
]
SEED_VLM_TABLE = [
    dict(vlm="LLaVA-1.5", encoder="CLIP ViT-L/14@336", registry="llava-1.5"),
    dict(vlm="Qwen-VL-2", encoder="CLIP ViT-BigG", registry="qwen2-vl"),
    dict(vlm="InternVL-2", encoder="InternViT-6B", registry="internvl2-8b"),
    dict(vlm="Phi-3-Vision", encoder="CLIP ViT-L/14", registry="phi-3-vision"),
    dict(vlm="LLaVA-NeXT", encoder="CLIP ViT-L/14@336", registry="llava-next"),
]

# What the seed gets wrong, one line per finding, with the registry entry that fixes it.
SEED_CORRECTIONS = [
    ("SigLIP ViT-SO400M", "the row is shifted by one column: '400M' sits under 'source', the source cell is empty",
     "Google; 428M vision parameters (SO400M is the family name); no CLS token"),
    ("EVA-CLIP ViT-E", "mixes two models: 4.4B is EVA02-CLIP-E/14+ (width 1792), 1408 is EVA-CLIP-g/14 (1.0B); "
     "input '224-448' is not a released setting", "eva02-clip-e-14-plus (4.4B, 1792, 224) and eva01-clip-g-14 (1.0B, 1408, 224)"),
    ("InternViT-6B", "'6B' rounds 5.9B (5.5B in the 45-layer V1.5 used by InternVL-1.5)", "internvit-6b-448px-v1-5"),
    ("DINOv2", "'1B' is 1.1B; it is the ViT-g/14 variant (smaller ones exist) and has no text alignment", "dinov2-vit-g-14"),
    ("CLIP ViT-L/14", "224 and 336 are two checkpoints (openai/clip-vit-large-patch14 and -336), not one model",
     "clip-vit-l-14 and clip-vit-l-14-336"),
    ("Qwen-VL-2 | CLIP ViT-BigG", "mixes two models: Qwen-VL used OpenCLIP ViT-bigG (1.9B); Qwen2-VL has its own 675M ViT "
     "with 2-D RoPE and native dynamic resolution", "VLMS['qwen-vl'] and VLMS['qwen2-vl']"),
    ("InternVL-2 | InternViT-6B", "only InternVL2-26B/40B/76B use InternViT-6B; InternVL2-1B…8B use InternViT-300M",
     "VLMS['internvl-1.5'] and VLMS['internvl2-8b']"),
    ("Phi-3-Vision | CLIP ViT-L/14", "it is the 336 px checkpoint (openai/clip-vit-large-patch14-336)", "VLMS['phi-3-vision']"),
]


def get(key: str) -> VisionEncoder:
    """The registry entry ``key`` (see ``ENCODERS``)."""
    check_choice(key, ENCODERS, "key")
    return ENCODERS[key]


def table(keys=None) -> list[dict]:
    """Rows for display: one dict per encoder with its figures and computed token counts."""
    rows = []
    for key in keys or ENCODERS:
        e = get(key)
        rows.append(
            dict(
                key=e.key,
                name=e.name,
                params=format_params(e.params),
                input=e.image_size or "dynamic",
                patch=e.patch_size,
                grid=f"{e.grid[0]}×{e.grid[1]}" if e.grid else "any",
                patches=e.num_patches() if e.image_size else None,
                width=e.width,
                layers=e.layers,
                cls=e.cls_token,
            )
        )
    return rows


def vlm_table() -> list[dict]:
    """Which VLM reads which encoder, and its LLM tokens per image (or per tile)."""
    rows = []
    for v in VLMS.values():
        e = ENCODERS[v.encoder]
        rows.append(
            dict(
                vlm=v.name,
                encoder=e.name,
                layer=v.feature_layer,
                tokens=v.tokens_per_image() if (e.image_size or v.fixed_tokens) else "varies",
                resolution=v.resolution,
            )
        )
    return rows


def format_params(n: int) -> str:
    """``303_179_776`` → ``'303M'``; ``1_136_480_768`` → ``'1.1B'``."""
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def markdown(rows: list[dict]) -> str:
    """A list of dicts (same keys) as a Markdown table, for notebooks."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join("" if r[k] is None else str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
