"""A registry of the vision encoders that VLMs use, with a source for every figure.

Every architecture figure (input size, patch, width, layers, heads) comes from
the model's released config or paper, linked in ``sources``. Parameter counts
are the vision tower only. For the encoders that ``transformers`` implements
(CLIP, SigLIP, SigLIP 2, Gemma 3's SigLIP, DINOv2, the Qwen2-VL and Qwen2.5-VL
ViTs, Pixtral-ViT, Llama 3.2's vision encoder), ``tests/test_encoders.py``
builds the architecture from these figures on PyTorch's ``meta`` device (no
weights, no download) and checks that it has exactly the registered number of
parameters; for EVA-CLIP, OpenCLIP ViT-bigG and InternViT, whose registered
counts are the papers' or model cards' rounded figures, it builds timm's or
transformers' implementation and checks them within 5 %. Token counts are
computed from the registry (``num_patches``), never typed.

``COMMON_ENCODER_TABLE`` and ``COMMON_VLM_TABLE`` keep two tables often copied
around in VLM tutorials, as they give their figures; ``COMMON_TABLE_ERRORS``
lists what they get wrong and which registry entry holds the right figure.
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
            key='clip-vit-b-16',
            name='CLIP ViT-B/16',
            org='OpenAI',
            params=85_799_424,
            image_size=224,
            patch_size=16,
            width=768,
            layers=12,
            heads=12,
            cls_token=True,
            positions='learned absolute (1 + 14×14 entries)',
            training='image-text contrastive (400M pairs)',
            hf_id='openai/clip-vit-base-patch16',
            sources=('https://arxiv.org/abs/2103.00020 (Table 20)', 'https://huggingface.co/openai/clip-vit-base-patch16/blob/main/config.json'),
        ),
        VisionEncoder(
            key='clip-vit-l-14',
            name='CLIP ViT-L/14',
            org='OpenAI',
            params=303_179_776,
            image_size=224,
            patch_size=14,
            width=1024,
            layers=24,
            heads=16,
            cls_token=True,
            positions='learned absolute (1 + 16×16 entries)',
            training='image-text contrastive (400M pairs)',
            hf_id='openai/clip-vit-large-patch14',
            sources=('https://arxiv.org/abs/2103.00020 (Table 20)', 'https://huggingface.co/openai/clip-vit-large-patch14/blob/main/config.json'),
        ),
        VisionEncoder(
            key='clip-vit-l-14-336',
            name='CLIP ViT-L/14@336px',
            org='OpenAI',
            params=303_507_456,
            image_size=336,
            patch_size=14,
            width=1024,
            layers=24,
            heads=16,
            cls_token=True,
            positions='learned absolute (1 + 24×24 entries)',
            training='CLIP ViT-L/14 fine-tuned one extra epoch at 336 px',
            hf_id='openai/clip-vit-large-patch14-336',
            sources=('https://arxiv.org/abs/2103.00020 (section 3.2)', 'https://huggingface.co/openai/clip-vit-large-patch14-336/blob/main/config.json'),
            notes='The two L/14 towers differ only in the position table (577 vs 257 entries).',
        ),
        VisionEncoder(
            key='siglip-so400m-14-384',
            name='SigLIP SO400M/14@384',
            org='Google',
            params=428_225_600,
            image_size=384,
            patch_size=14,
            width=1152,
            layers=27,
            heads=16,
            cls_token=False,
            positions='learned absolute (27×27 entries)',
            training='image-text sigmoid loss (WebLI)',
            hf_id='google/siglip-so400m-patch14-384',
            sources=('https://arxiv.org/abs/2303.15343 (SigLIP)', 'https://arxiv.org/abs/2305.13035 (shape-optimised ViT, SoViT-400m/14)', 'https://huggingface.co/google/siglip-so400m-patch14-384/blob/main/config.json'),
            notes="No CLS token: the image embedding comes from an attention-pooling (MAP) head, so all 729 tokens are patches. '400M' is the family name; the vision tower has 428M parameters.",
        ),
        VisionEncoder(
            key='eva01-clip-g-14',
            name='EVA-CLIP-g/14 (EVA01)',
            org='BAAI',
            params=1000 * M,
            image_size=224,
            patch_size=14,
            width=1408,
            layers=40,
            heads=16,
            cls_token=True,
            positions='learned absolute',
            training='EVA MIM pre-training, then image-text contrastive',
            hf_id=None,
            sources=('https://arxiv.org/abs/2303.15389 (EVA-CLIP, Table 1: 1.0B image encoder)', 'https://github.com/mlfoundations/open_clip/blob/main/src/open_clip/model_configs/EVA01-g-14.json (timm eva_giant_patch14_224)'),
            notes="Width 1408 belongs to this model (head width 88 × 16 heads), not to EVA-CLIP-E.",
        ),
        VisionEncoder(
            key='eva02-clip-e-14-plus',
            name='EVA02-CLIP-E/14+',
            org='BAAI',
            params=4400 * M,
            image_size=224,
            patch_size=14,
            width=1792,
            layers=64,
            heads=16,
            cls_token=True,
            positions='learned absolute',
            training='EVA-02 MIM pre-training, then image-text contrastive (LAION-2B)',
            hf_id=None,
            sources=('https://arxiv.org/abs/2303.15389 (EVA-CLIP, Table 1: 4.4B image encoder)', 'https://github.com/mlfoundations/open_clip/blob/main/src/open_clip/model_configs/EVA02-E-14-plus.json (timm eva02_enormous_patch14_clip_224)'),
            notes='4.4B parameters at width 1792 (head width 112 × 16 heads), 224 px.',
        ),
        VisionEncoder(
            key='internvit-6b-448px-v1-5',
            name='InternViT-6B-448px-V1.5',
            org='Shanghai AI Lab (OpenGVLab)',
            params=5540 * M,
            image_size=448,
            patch_size=14,
            width=3200,
            layers=45,
            heads=25,
            cls_token=True,
            positions='learned absolute, interpolated per 448 px tile',
            training='contrastive + generative with an LLM (InternVL), then VLM training',
            hf_id='OpenGVLab/InternViT-6B-448px-V1-5',
            sources=('https://arxiv.org/abs/2312.14238 (InternVL: 6B, width 3200, 48 layers, 25 heads)', 'https://huggingface.co/OpenGVLab/InternViT-6B-448px-V1-5 (Params 5540M: the last 3 of 48 blocks are dropped)'),
            notes='InternVL-1.5 and InternVL2-26B/40B/76B; the smaller InternVL2 models use InternViT-300M-448px.',
        ),
        VisionEncoder(
            key='internvit-300m-448px',
            name='InternViT-300M-448px',
            org='Shanghai AI Lab (OpenGVLab)',
            params=304 * M,
            image_size=448,
            patch_size=14,
            width=1024,
            layers=24,
            heads=16,
            cls_token=True,
            positions='learned absolute, interpolated per 448 px tile',
            training='distilled from InternViT-6B-448px-V1.5',
            hf_id='OpenGVLab/InternViT-300M-448px',
            sources=('https://huggingface.co/OpenGVLab/InternViT-300M-448px (Params 304M)',),
        ),
        VisionEncoder(
            key='dinov2-vit-g-14',
            name='DINOv2 ViT-g/14',
            org='Meta',
            params=1_136_480_768,
            image_size=518,
            patch_size=14,
            width=1536,
            layers=40,
            heads=24,
            cls_token=True,
            positions='learned absolute (1 + 37×37 entries)',
            training='self-supervised (DINO + iBOT), no text',
            hf_id='facebook/dinov2-giant',
            sources=('https://arxiv.org/abs/2304.07193 (DINOv2, ViT-g/14: 1.1B)', 'https://huggingface.co/facebook/dinov2-giant/blob/main/config.json'),
            notes="1.1B parameters. Never saw text: its features are not aligned with language. The '-reg' variants add 4 register tokens after CLS (Darcet et al. 2023).",
        ),
        VisionEncoder(
            key='openclip-vit-bigg-14',
            name='OpenCLIP ViT-bigG/14 (as in Qwen-VL)',
            org='LAION / Qwen',
            params=1900 * M,
            image_size=448,
            patch_size=14,
            width=1664,
            layers=48,
            heads=16,
            cls_token=True,
            positions='learned absolute, interpolated from 224 to 448 px',
            training='image-text contrastive (LAION-2B), then Qwen-VL training',
            hf_id=None,
            sources=('https://arxiv.org/abs/2308.12966 (Qwen-VL, Table 1: 1.9B vision encoder; 448 px in stages 2-3)', 'https://github.com/mlfoundations/open_clip/blob/main/src/open_clip/model_configs/ViT-bigG-14.json'),
            notes="1.9B is the Qwen-VL paper's figure; the OpenCLIP tower itself (timm vit_gigantic_patch14_clip_224) has 1.84B.",
        ),
        VisionEncoder(
            key='qwen2-vl-vit',
            name='Qwen2-VL ViT (675M)',
            org='Alibaba Qwen',
            params=675_759_104,
            image_size=None,
            patch_size=14,
            width=1280,
            layers=32,
            heads=16,
            cls_token=False,
            positions='2-D rotary (RoPE) inside attention, no position table',
            training='DFN ViT initialisation, trained with the VLM at native resolution',
            hf_id='Qwen/Qwen2-VL-7B-Instruct',
            sources=('https://arxiv.org/abs/2409.12191 (Qwen2-VL, Table 1: 675M)', 'https://huggingface.co/Qwen/Qwen2-VL-7B-Instruct/blob/main/config.json (vision_config: embed_dim 1280, depth 32)'),
            notes='Native dynamic resolution: any size (multiples of 28), then 2×2 neighbouring patches merged into one LLM token. The count includes the patch merger (an MLP into the LLM width).',
        ),
        VisionEncoder(
            key="siglip2-so400m-16-naflex",
            name="SigLIP 2 SO400M/16 (NaFlex)",
            org="Google",
            params=427_888_064,
            image_size=None,
            patch_size=16,
            width=1152,
            layers=27,
            heads=16,
            cls_token=False,
            positions="learned 16×16 table, resized per image to its patch grid",
            training="sigmoid image-text loss + captioning and self-distillation (WebLI)",
            hf_id="google/siglip2-so400m-patch16-naflex",
            sources=("https://arxiv.org/abs/2502.14786 (SigLIP 2)",
                     "https://huggingface.co/google/siglip2-so400m-patch16-naflex/blob/main/config.json (hidden_size 1152, 27 layers, patch 16, num_patches 256)"),
            notes="NaFlex: native aspect ratio, a budget of patches (256 by default) instead of a fixed square.",
        ),
        VisionEncoder(
            key="gemma3-siglip-896",
            name="Gemma 3's SigLIP (SO400M/14@896)",
            org="Google",
            params=416_866_032,
            image_size=896,
            patch_size=14,
            width=1152,
            layers=27,
            heads=16,
            cls_token=False,
            positions="learned absolute (64×64 entries)",
            training="SigLIP SO400M, trained further at 896 px with Gemma 3",
            hf_id="google/gemma-3-4b-it",
            sources=("https://arxiv.org/abs/2503.19786 (Gemma 3: a 400M SigLIP encoder at 896 px, 256 tokens per image)",
                     "https://huggingface.co/google/gemma-3-4b-it/blob/main/config.json (vision_config: hidden_size 1152, 27 layers, image_size 896, patch_size 14; mm_tokens_per_image 256)"),
            notes="No attention-pooling head (vision_use_head false): the 4096 patch tokens are average-pooled 4×4 to 256.",
        ),
        VisionEncoder(
            key="internvit-300m-448px-v2-5",
            name="InternViT-300M-448px-V2.5",
            org="Shanghai AI Lab (OpenGVLab)",
            params=304 * M,
            image_size=448,
            patch_size=14,
            width=1024,
            layers=24,
            heads=16,
            cls_token=True,
            positions="learned absolute, interpolated per 448 px tile",
            training="InternViT-300M-448px trained further with InternVL2.5 (ViT incremental learning)",
            hf_id="OpenGVLab/InternViT-300M-448px-V2_5",
            sources=("https://arxiv.org/abs/2412.05271 (InternVL 2.5, Table 2: InternViT-300M-448px-V2.5)",
                     "https://huggingface.co/OpenGVLab/InternViT-300M-448px-V2_5/blob/main/config.json (hidden_size 1024, 24 layers, 16 heads)"),
            notes="The vision tower of InternVL2.5-1B…8B and InternVL3-1B…14B; same architecture as InternViT-300M-448px.",
        ),
        VisionEncoder(
            key="qwen2.5-vl-vit",
            name="Qwen2.5-VL ViT",
            org="Alibaba Qwen",
            params=676_550_144,
            image_size=None,
            patch_size=14,
            width=1280,
            layers=32,
            heads=16,
            cls_token=False,
            positions="2-D rotary (RoPE) inside attention, no position table",
            training="trained from scratch with the VLM at native resolution",
            hf_id="Qwen/Qwen2.5-VL-7B-Instruct",
            sources=("https://arxiv.org/abs/2502.13923 (Qwen2.5-VL, Table 1: window attention, RMSNorm, SwiGLU)",
                     "https://huggingface.co/Qwen/Qwen2.5-VL-7B-Instruct/blob/main/config.json (vision_config: hidden_size 1280, depth 32, intermediate_size 3420, window_size 112, fullatt_block_indexes [7, 15, 23, 31])"),
            notes="Windowed attention (112-pixel windows) in all but 4 layers; the count includes the 2×2 patch merger into the LLM width.",
        ),
        VisionEncoder(
            key="pixtral-vit",
            name="Pixtral-ViT",
            org="Mistral AI",
            params=403_489_792,
            image_size=None,
            patch_size=16,
            width=1024,
            layers=24,
            heads=16,
            cls_token=False,
            positions="2-D rotary (RoPE-2D) inside attention",
            training="trained from scratch for variable image sizes",
            hf_id="mistral-community/pixtral-12b",
            sources=("https://arxiv.org/abs/2410.07073 (Pixtral 12B: a 400M vision encoder)",
                     "https://huggingface.co/mistral-community/pixtral-12b/blob/main/config.json (vision_config: hidden_size 1024, 24 layers, 16 heads, patch_size 16, image_size 1024)"),
            notes="Native resolution up to 1024 px; an [IMG_BREAK] token after each patch row, [IMG_END] after the last.",
        ),
        VisionEncoder(
            key="mllama-vision",
            name="Llama 3.2 Vision encoder",
            org="Meta",
            params=863_567_379,
            image_size=560,
            patch_size=14,
            width=1280,
            layers=40,
            heads=16,
            cls_token=True,
            positions="learned absolute per tile + gated tile-position embeddings (aspect-ratio ids)",
            training="ViT-H/14 image-text pre-training, then trained with the frozen LLM's cross-attention",
            hf_id="meta-llama/Llama-3.2-11B-Vision-Instruct",
            sources=("https://arxiv.org/abs/2407.21783 (The Llama 3 Herd of Models, section 7.2: ViT-H/14 + 8 gated global layers)",
                     "https://huggingface.co/meta-llama/Llama-3.2-11B-Vision-Instruct/blob/main/config.json (vision_config: hidden_size 1280, num_hidden_layers 32, num_global_layers 8, image_size 560, patch_size 14, max_num_tiles 4)"),
            notes="32 local + 8 global layers; each 560 px tile gives 1600 patches + CLS; the features reach the LLM through cross-attention.",
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
    input_size: int | None = None  # the square side this VLM feeds the encoder, when not its native size
    tokens_note: str = ""  # what the token count leaves out, shown beside it in vlm_table()

    def tokens_per_image(self, image_size=None) -> int:
        """LLM tokens for one image (or one tile) at this VLM's input size (or ``image_size``)."""
        if self.fixed_tokens is not None:
            return self.fixed_tokens
        size = image_size if image_size is not None else self.input_size
        return ENCODERS[self.encoder].num_patches(size) // self.merge


VLMS: dict[str, VLM] = {
    v.key: v
    for v in [
        VLM(
            key='llava-1.5',
            name='LLaVA-1.5',
            encoder='clip-vit-l-14-336',
            feature_layer=-2,
            merge=1,
            fixed_tokens=None,
            resolution='one 336×336 image (padded to square)',
            sources=('https://arxiv.org/abs/2310.03744', 'https://huggingface.co/llava-hf/llava-1.5-7b-hf/blob/main/config.json (vision_feature_layer -2)'),
            notes='Patch tokens of the penultimate layer, CLS dropped, through a 2-layer MLP.',
        ),
        VLM(
            key='llava-next',
            name='LLaVA-NeXT (1.6)',
            encoder='clip-vit-l-14-336',
            feature_layer=-2,
            merge=1,
            fixed_tokens=None,
            resolution='anyres: base image + up to 4 tiles of 336 (e.g. 672×672)',
            sources=('https://llava-vl.github.io/blog/2024-01-30-llava-next/', 'https://huggingface.co/llava-hf/llava-v1.6-mistral-7b-hf/blob/main/config.json'),
            notes='Same encoder as LLaVA-1.5; more tiles per image (notebook 06).',
        ),
        VLM(
            key='qwen-vl',
            name='Qwen-VL',
            encoder='openclip-vit-bigg-14',
            feature_layer=None,
            merge=1,
            fixed_tokens=256,
            resolution='448×448',
            sources=('https://arxiv.org/abs/2308.12966',),
            notes='A one-layer cross-attention adapter with 256 learned queries compresses the 1024 patch tokens to 256.',
        ),
        VLM(
            key='qwen2-vl',
            name='Qwen2-VL',
            encoder='qwen2-vl-vit',
            feature_layer=None,
            merge=4,
            fixed_tokens=None,
            resolution='native dynamic resolution (smart_resize, notebook 07)',
            sources=('https://arxiv.org/abs/2409.12191',),
            notes='Its own ViT with 2-D RoPE, not CLIP; 2×2 patches merged per token.',
        ),
        VLM(
            key='internvl-1.5',
            name='InternVL-1.5 / InternVL2-26B+',
            encoder='internvit-6b-448px-v1-5',
            feature_layer=-1,
            merge=4,
            fixed_tokens=None,
            resolution='dynamic 448 px tiles (1-12) + thumbnail',
            sources=('https://arxiv.org/abs/2404.16821', 'https://huggingface.co/OpenGVLab/InternVL2-26B'),
            notes='Pixel shuffle (0.5) turns 32×32 = 1024 patch tokens per tile into 256.',
        ),
        VLM(
            key='internvl2-8b',
            name='InternVL2-1B…8B',
            encoder='internvit-300m-448px',
            feature_layer=-1,
            merge=4,
            fixed_tokens=None,
            resolution='dynamic 448 px tiles + thumbnail',
            sources=('https://huggingface.co/OpenGVLab/InternVL2-8B',),
            notes='The small InternVL2 models use the distilled 300M InternViT, not the 6B one.',
        ),
        VLM(
            key='phi-3-vision',
            name='Phi-3-Vision',
            encoder='clip-vit-l-14-336',
            feature_layer=-2,
            merge=4,
            fixed_tokens=None,
            resolution='HD transform: 336 px crops + global image',
            sources=('https://arxiv.org/abs/2404.14219', 'https://huggingface.co/microsoft/Phi-3-vision-128k-instruct/blob/main/config.json (img_processor: openai/clip-vit-large-patch14-336, num_img_tokens 144)'),
            notes='CLIP ViT-L/14 at 336 px; 2×2 tokens merged: 576 → 144 per crop.',
        ),
        VLM(
            key="llava-onevision",
            name="LLaVA-OneVision",
            encoder="siglip-so400m-14-384",
            feature_layer=-1,
            merge=1,
            fixed_tokens=None,
            resolution="anyres_max_9: base image + up to 6×6 tiles of 384 px, features shrunk to about 9 tiles",
            sources=("https://arxiv.org/abs/2408.03326",
                     "https://huggingface.co/llava-hf/llava-onevision-qwen2-7b-ov-hf/blob/main/config.json (vision_feature_layer -1, vision_feature_select_strategy full)"),
            notes="SigLIP has no CLS token, so all 27×27 = 729 patch tokens of a tile are kept.",
        ),
        VLM(
            key="paligemma",
            name="PaliGemma",
            encoder="siglip-so400m-14-384",
            feature_layer=-1,
            merge=1,
            fixed_tokens=None,
            resolution="one 224×224 image (448 and 896 px checkpoints exist)",
            sources=("https://arxiv.org/abs/2407.07726",
                     "https://huggingface.co/google/paligemma-3b-pt-224/blob/main/config.json (vision_config: image_size 224, patch_size 14; num_image_tokens 256)"),
            notes="The SO400M tower run at 224 px: 16×16 = 256 tokens.",
            input_size=224,
        ),
        VLM(
            key="idefics3",
            name="Idefics3",
            encoder="siglip-so400m-14-384",
            feature_layer=-1,
            merge=4,
            fixed_tokens=None,
            resolution="364 px tiles + a global image, longest side 1456",
            sources=("https://arxiv.org/abs/2408.12637",
                     "https://huggingface.co/HuggingFaceM4/Idefics3-8B-Llama3/blob/main/config.json (vision_config: image_size 364, patch_size 14; scale_factor 2)"),
            notes="Pixel shuffle 2×2: 26×26 = 676 patches per 364 px tile become 169 tokens.",
            input_size=364,
        ),
        VLM(
            key="smolvlm",
            name="SmolVLM",
            encoder="siglip-so400m-14-384",
            feature_layer=-1,
            merge=9,
            fixed_tokens=None,
            resolution="384 px tiles + a global image, longest side 1536",
            sources=("https://arxiv.org/abs/2504.05299",
                     "https://huggingface.co/HuggingFaceTB/SmolVLM-Instruct/blob/main/config.json (vision_config: image_size 384, patch_size 14; scale_factor 3)"),
            notes="Pixel shuffle 3×3: 27×27 = 729 patches per tile become 81 tokens.",
        ),
        VLM(
            key="qwen2.5-vl",
            name="Qwen2.5-VL",
            encoder="qwen2.5-vl-vit",
            feature_layer=None,
            merge=4,
            fixed_tokens=None,
            resolution="native dynamic resolution (smart_resize, notebook 07)",
            sources=("https://arxiv.org/abs/2502.13923",),
            notes="Windowed-attention ViT; 2×2 patches merged per token.",
        ),
        VLM(
            key="internvl3",
            name="InternVL2.5 / InternVL3 (1B…14B)",
            encoder="internvit-300m-448px-v2-5",
            feature_layer=-1,
            merge=4,
            fixed_tokens=None,
            resolution="dynamic 448 px tiles (1-12) + thumbnail",
            sources=("https://arxiv.org/abs/2412.05271", "https://huggingface.co/OpenGVLab/InternVL3-8B-hf"),
            notes="Pixel shuffle (0.5): 1024 patch tokens per tile become 256.",
        ),
        VLM(
            key="gemma3",
            name="Gemma 3",
            encoder="gemma3-siglip-896",
            feature_layer=-1,
            merge=16,
            fixed_tokens=None,
            resolution="one 896×896 image (optional pan-and-scan crops)",
            sources=("https://arxiv.org/abs/2503.19786", "https://huggingface.co/google/gemma-3-4b-it/blob/main/config.json (mm_tokens_per_image 256)"),
            notes="4×4 average pooling: 64×64 = 4096 patches become 256 tokens.",
        ),
        VLM(
            key="pixtral",
            name="Pixtral 12B",
            encoder="pixtral-vit",
            feature_layer=-1,
            merge=1,
            fixed_tokens=None,
            resolution="native resolution up to 1024 px",
            sources=("https://arxiv.org/abs/2410.07073",),
            notes="One token per 16×16 patch, plus a break token per row.",
        ),
        VLM(
            key="llama-3.2-vision",
            name="Llama 3.2 Vision",
            encoder="mllama-vision",
            feature_layer=None,
            merge=1,
            fixed_tokens=1,  # one <|image|> token in the context; the features arrive by cross-attention
            tokens_note="one <|image|> placeholder; 1601 features per tile are read by cross-attention",
            resolution="1-4 tiles of 560 px (aspect-ratio canvas)",
            sources=("https://arxiv.org/abs/2407.21783", "https://huggingface.co/meta-llama/Llama-3.2-11B-Vision-Instruct/blob/main/config.json"),
            notes="Cross-attention: the context holds one <|image|> token; 1601 features per tile are read by cross-attention layers.",
        ),
    ]
}

# A pair of tables often copied around in VLM tutorials, with the figures as they give them; notebook 04
# compares them with the registry (COMMON_TABLE_ERRORS lists what they get wrong).
COMMON_ENCODER_TABLE = [
    dict(encoder="CLIP ViT-B/16", source="OpenAI", params="86M", input="224", dim="768", registry="clip-vit-b-16"),
    dict(encoder="CLIP ViT-L/14", source="OpenAI", params="304M", input="224/336", dim="1024", registry="clip-vit-l-14"),
    dict(encoder="SigLIP ViT-SO400M", source="", params="400M", input="384", dim="1152", registry="siglip-so400m-14-384"),
    dict(encoder="EVA-CLIP ViT-E", source="Beijing Academy", params="4.4B", input="224-448", dim="1408", registry="eva02-clip-e-14-plus"),
    dict(encoder="InternViT-6B", source="Shanghai AI", params="6B", input="448", dim="3200", registry="internvit-6b-448px-v1-5"),
    dict(encoder="DINOv2", source="Meta", params="1B", input="518", dim="1536", registry="dinov2-vit-g-14"),
]
COMMON_VLM_TABLE = [
    dict(vlm="LLaVA-1.5", encoder="CLIP ViT-L/14@336", registry="llava-1.5"),
    dict(vlm="Qwen-VL-2", encoder="CLIP ViT-BigG", registry="qwen2-vl"),
    dict(vlm="InternVL-2", encoder="InternViT-6B", registry="internvl2-8b"),
    dict(vlm="Phi-3-Vision", encoder="CLIP ViT-L/14", registry="phi-3-vision"),
    dict(vlm="LLaVA-NeXT", encoder="CLIP ViT-L/14@336", registry="llava-next"),
]

# What those tables get wrong, one line per finding, with the registry entry that fixes it.
COMMON_TABLE_ERRORS = [
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
    """Which VLM reads which encoder, and its LLM tokens per image (or per tile), as text.

    A count that is not the whole story says so beside it: Llama 3.2 Vision puts one
    placeholder token in the context and reads the image's features by cross-attention.
    """
    rows = []
    for v in VLMS.values():
        e = ENCODERS[v.encoder]
        rows.append(
            dict(
                vlm=v.name,
                encoder=e.name,
                layer=v.feature_layer,
                tokens=(f"{v.tokens_per_image()}" + (f" ({v.tokens_note})" if v.tokens_note else "")
                        if (e.image_size or v.fixed_tokens) else "varies"),
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
