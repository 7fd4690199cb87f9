"""A miniature alignment run: LLaVA's stage 1 ("feature alignment"), in small.

LLaVA (Liu et al., 2023, "Visual Instruction Tuning", https://arxiv.org/abs/2304.08485,
section 4.2, stage 1) freezes the vision encoder *and* the language model and
trains only the projector, on image-caption pairs, so that projected image
tokens become something the frozen LLM reads as that caption. A freshly
initialised projector maps images to arbitrary points of the LLM's space;
training is what makes the tokens mean anything.

Here, on a CPU in seconds with the toy CLIP (any CLIP works, with fewer
images, see ``workload``):

* vision encoder: CLIP's vision tower, frozen; its patch features from
  the penultimate layer (``hidden_states[-2][:, 1:]``, what
  ``vlmlab.clip.VLMVisionEncoder`` returns, as LLaVA-1.5 reads them), computed
  once and cached — a frozen encoder gives the same features every epoch;
* "language model": the same CLIP's text tower, frozen. Each caption's target
  is ``CLIPModel.get_text_features`` — the text tower's pooled end-of-text
  state after ``text_projection``. The projected embedding rather than the
  text tower's raw pooled output, because that is the space CLIP's
  contrastive training made discriminative between captions (the raw pooled
  output is only trained through the projection), so "next to its caption"
  is well defined there;
* projector: any ``vlmlab.projectors`` projector, ``vision_dim`` → the text
  embedding width; the readout is the **mean of the projected tokens** (a
  projector may output any number of tokens; the mean is the simplest summary
  that keeps every token in the gradient path and needs no new parameters);
* loss: cross-entropy over *all* captions of ShapesWorld with logits
  ``cos(readout, text_k) / temperature`` — the image-to-text half of CLIP's
  contrastive loss, with the whole (small, fixed) caption set as candidates
  instead of the other captions in the batch. LLaVA itself trains with the
  LLM's next-token loss on the caption; with a frozen text encoder in place of
  an LLM, matching embeddings is the cheap stand-in.

Caption retrieval accuracy — the share of held-out images whose nearest
caption embedding is their own — is about ``1 / num_captions`` before training
and far above it after. This is retrieval in CLIP's *text* space, and CLIP
already solves it: its own image embedding (``get_image_features``, the pooled
CLS token after ``visual_projection``) was trained for exactly this match, so
the frozen CLIP's retrieval (``clip_retrieval_accuracy``) is the ceiling a
projector trained here can approach. What the run shows is the mechanism of
stage 1 — a fresh projector means nothing, a trained one lands next to the
captions — not a new ability; no language model reads the tokens.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from ._validate import as_positive_int, check_choice

__all__ = [
    "AlignmentData",
    "AlignmentResult",
    "Workload",
    "workload",
    "auto_threads",
    "clip_retrieval_accuracy",
    "caption_embeddings",
    "patch_features",
    "prepare_data",
    "readout",
    "caption_logits",
    "retrieval_accuracy",
    "train_projector",
    "run_alignment",
    "torch_threads",
]

TRAIN_SEED = 0
EVAL_SEED = 424_242  # held-out images; never a training seed


@dataclass
class AlignmentData:
    """Cached frozen-encoder features and caption targets for an alignment run.

    ``train_features (n_train, N, C)``, ``train_labels (n_train,)`` (index into
    ``captions``), ``eval_features (n_eval, N, C)``, ``eval_labels``,
    ``text_embeds (num_captions, E)`` L2-normalised, ``grid`` the patch grid;
    ``eval_image_embeds (n_eval, E)``: the frozen CLIP's own L2-normalised image
    embeddings of the held-out images (None when not computed), for the ceiling.
    """

    train_features: torch.Tensor
    train_labels: torch.Tensor
    eval_features: torch.Tensor
    eval_labels: torch.Tensor
    text_embeds: torch.Tensor
    captions: list
    grid: tuple
    eval_images: list = field(default_factory=list, repr=False)
    eval_image_embeds: torch.Tensor | None = field(default=None, repr=False)

    @property
    def vision_dim(self) -> int:
        return self.train_features.shape[-1]

    @property
    def text_dim(self) -> int:
        return self.text_embeds.shape[-1]

    @property
    def chance(self) -> float:
        """Accuracy of a uniform guess among all captions: ``1 / num_captions``."""
        return 1.0 / len(self.captions)


@dataclass
class AlignmentResult:
    """What one run measured: accuracies before/after, the loss curve, the trained projector."""

    projector_name: str
    chance: float
    accuracy_before: float
    accuracy_after: float
    losses: list
    steps: int
    seconds: float
    projector: nn.Module = field(repr=False)


# Below this width an encoder's matrices are small enough that splitting each
# product across threads costs more in synchronisation than it saves.
SMALL_WIDTH = 256


def auto_threads(vision_dim: int) -> int | None:
    """Torch threads for work on features ``vision_dim`` wide: 1 when small, else None (torch's default).

    The toy CLIP's products (64 tokens × 128 channels) take microseconds; with
    several threads each one waits on the others, and on a machine whose cores
    are busy with other work that waiting dominates (ten times slower on two
    cores is common). A B/16-sized encoder's products are large enough for every
    core to pay off.
    """
    return 1 if as_positive_int(vision_dim, "vision_dim") < SMALL_WIDTH else None


@contextmanager
def torch_threads(num_threads: int | None):
    """Run the block with ``torch.set_num_threads(num_threads)`` (None: leave as is), then restore."""
    if num_threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(as_positive_int(num_threads, "num_threads"))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _threads(num_threads, vision_dim: int) -> int | None:
    """``"auto"`` → :func:`auto_threads`; None or a positive int as given."""
    if isinstance(num_threads, str):
        check_choice(num_threads, ("auto",), "num_threads")
        return auto_threads(vision_dim)
    return None if num_threads is None else as_positive_int(num_threads, "num_threads")


@dataclass(frozen=True)
class Workload:
    """Sizes of one alignment run: images to encode, and the training run.

    ``n_eval=None`` means one held-out image of every caption.
    """

    n_train: int
    n_eval: int | None
    steps: int
    batch_size: int


TOY_WORKLOAD = Workload(n_train=1000, n_eval=None, steps=200, batch_size=64)
# Encoder FLOPs spent on images for any other CLIP: about 100 forward passes of
# a ViT-B/16 at 224 (35 GFLOPs each), a minute or two on 2 CPU cores.
IMAGE_BUDGET_FLOPS = 3.5e12
MIN_TRAIN, MIN_EVAL = 32, 16


def workload(model) -> Workload:
    """Sizes that keep an alignment run within a couple of minutes on 2 CPU cores, scaled to ``model``.

    The bundled toy CLIP (about 0.1 GFLOPs an image) gets ``TOY_WORKLOAD``.
    Any other CLIP gets as many encoder forward passes as ``IMAGE_BUDGET_FLOPS``
    allow (``vlmlab.patches.vit_flops`` of its vision config): two training
    images for each held-out one, which is encoded twice (patch features, and
    CLIP's own embedding for the ceiling); at least ``MIN_TRAIN`` / ``MIN_EVAL``.
    The training run is short: enough to show the mechanism, not to converge.
    """
    from .clip import is_toy_clip
    from .patches import vit_flops

    if is_toy_clip(model):
        return TOY_WORKLOAD
    config = model.config.vision_config
    per_image = vit_flops(config.image_size, config.patch_size, embed_dim=config.hidden_size,
                          num_layers=config.num_hidden_layers,
                          mlp_ratio=config.intermediate_size / config.hidden_size)["total"]
    passes = int(IMAGE_BUDGET_FLOPS // per_image)
    n_eval = max(MIN_EVAL, passes // 4)                  # n_train + 2 * n_eval passes, n_train = 2 * n_eval
    return Workload(n_train=max(MIN_TRAIN, passes - 2 * n_eval), n_eval=n_eval, steps=30, batch_size=16)


# ----------------------------------------------------------------------------
# Frozen encoders → cached features
# ----------------------------------------------------------------------------

@torch.no_grad()
def caption_embeddings(model, processor, captions, batch_size: int = 256) -> torch.Tensor:
    """``CLIPModel.get_text_features`` of each caption, L2-normalised: ``(len(captions), projection_dim)``."""
    from .clip import text_embeddings

    out = []
    for i in range(0, len(captions), batch_size):
        tokens = processor.tokenizer(list(captions[i:i + batch_size]), padding=True, return_tensors="pt")
        out.append(text_embeddings(model, tokens.input_ids, tokens.attention_mask))
    return torch.cat(out)


@torch.no_grad()
def patch_features(model, processor, images, feature_layer: int = -2, batch_size: int = 256) -> torch.Tensor:
    """Patch features of a frozen CLIP vision tower: ``(len(images), N, C)``.

    ``hidden_states[feature_layer]`` without the CLS token — the same tensor
    that ``vlmlab.clip.VLMVisionEncoder`` reads, which this function uses.
    """
    from .clip import VLMVisionEncoder

    encoder = VLMVisionEncoder(model, feature_layer=feature_layer)  # frozen, eval mode
    out = []
    for i in range(0, len(images), batch_size):
        pixel_values = processor.image_processor(images[i:i + batch_size], return_tensors="pt")["pixel_values"]
        out.append(encoder(pixel_values))  # (B, N, C), CLS dropped
    return torch.cat(out)


def prepare_data(model_name_or_path=None, n_train: int = 2000, feature_layer: int = -2,
                 train_seed: int = TRAIN_SEED, eval_seed: int = EVAL_SEED, clip=None,
                 num_threads="auto", n_eval: int | None = None) -> AlignmentData:
    """Draw ShapesWorld images, run the frozen CLIP once, cache features and caption targets.

    Training: ``n_train`` random images from ``train_seed``. Evaluation: one
    fresh image of every caption (``ShapesWorld.sample_each(eval_seed)``), or
    ``n_eval`` random fresh images from ``eval_seed`` (for an encoder too slow
    to read one of every caption). Images are drawn at the encoder's size.
    ``clip`` = an already loaded ``(model, processor)`` pair, else
    ``vlmlab.clip.load_clip(model_name_or_path)`` (None = ``$VLMLAB_CLIP`` or the toy CLIP).
    ``num_threads``: torch threads while encoding; ``"auto"`` = :func:`auto_threads`.
    """
    from .clip import image_embeddings
    from .shapes import ShapesWorld

    n_train = as_positive_int(n_train, "n_train")
    if n_eval is not None:
        n_eval = as_positive_int(n_eval, "n_eval")
    if clip is None:
        from .clip import load_clip

        clip = load_clip(model_name_or_path)
    model, processor = clip
    model.eval()
    vision = model.config.vision_config
    world = ShapesWorld(image_size=vision.image_size)
    captions = world.captions()
    index = {c: i for i, c in enumerate(captions)}
    train_images, train_captions = world.sample(n_train, seed=train_seed)
    if n_eval is None:
        eval_images, eval_captions = world.sample_each(seed=eval_seed)
    else:
        eval_images, eval_captions = world.sample(n_eval, seed=eval_seed)
    with torch_threads(_threads(num_threads, vision.hidden_size)), torch.no_grad():
        features = patch_features(model, processor, train_images + eval_images, feature_layer)
        text_embeds = caption_embeddings(model, processor, captions)
        pixel_values = processor.image_processor(eval_images, return_tensors="pt")["pixel_values"]
        eval_image_embeds = image_embeddings(model, pixel_values)
    side = vision.image_size // vision.patch_size
    return AlignmentData(
        train_features=features[:n_train],
        train_labels=torch.tensor([index[c] for c in train_captions]),
        eval_features=features[n_train:],
        eval_labels=torch.tensor([index[c] for c in eval_captions]),
        text_embeds=text_embeds,
        captions=captions,
        grid=(side, side),
        eval_images=eval_images,
        eval_image_embeds=eval_image_embeds,
    )


# ----------------------------------------------------------------------------
# Readout, scores, training
# ----------------------------------------------------------------------------

def readout(projector: nn.Module, features: torch.Tensor, grid=None) -> torch.Tensor:
    """Mean of the projected tokens, L2-normalised: ``(B, N, C)`` → ``(B, llm_dim)``."""
    tokens = projector(features, grid=grid)              # (B, N_out, llm_dim)
    return nn.functional.normalize(tokens.mean(dim=1), dim=-1)


def caption_logits(projector, features, text_embeds, grid=None, temperature: float = 0.07) -> torch.Tensor:
    """Cosine similarity of each image's readout to every caption, over ``temperature``: ``(B, num_captions)``."""
    return readout(projector, features, grid) @ text_embeds.T / temperature


@torch.no_grad()
def retrieval_accuracy(projector, features, labels, text_embeds, grid=None, batch_size: int = 512) -> float:
    """Share of images whose most similar caption (among all) is their own."""
    was_training = projector.training
    projector.eval()
    hits = 0
    for i in range(0, len(features), batch_size):
        logits = caption_logits(projector, features[i:i + batch_size], text_embeds, grid)
        hits += (logits.argmax(-1) == labels[i:i + batch_size]).sum().item()
    projector.train(was_training)
    return hits / len(features)


def clip_retrieval_accuracy(data: AlignmentData) -> float:
    """The ceiling: share of held-out images whose frozen CLIP image embedding is nearest its own caption.

    The same measure as :func:`retrieval_accuracy`, with CLIP's own image
    embedding in place of a projector's readout: what CLIP's contrastive
    training already achieves in this space.
    """
    if data.eval_image_embeds is None:
        raise ValueError("data.eval_image_embeds is None: build the data with prepare_data(), "
                         "which computes the frozen CLIP's image embeddings of the held-out images")
    nearest = (data.eval_image_embeds @ data.text_embeds.T).argmax(-1)
    return (nearest == data.eval_labels).float().mean().item()


def train_projector(projector: nn.Module, data: AlignmentData, steps: int = 300, batch_size: int = 128,
                    lr: float = 2e-3, temperature: float = 0.07, seed: int = 0, num_threads="auto") -> list:
    """Train ``projector`` (only it) to put each image's readout next to its caption; returns the losses.

    AdamW with a one-cycle schedule; each step draws ``batch_size`` cached
    training images (with replacement, from ``seed``). ``num_threads``: torch
    threads while training; ``"auto"`` = :func:`auto_threads` of the features' width.
    """
    steps = as_positive_int(steps, "steps")
    batch_size = as_positive_int(batch_size, "batch_size")
    threads = _threads(num_threads, data.vision_dim)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(projector.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    projector.train()
    losses = []
    n = len(data.train_features)
    with torch_threads(threads):
        for _ in range(steps):
            idx = torch.randint(0, n, (min(batch_size, n),), generator=generator)
            logits = caption_logits(projector, data.train_features[idx], data.text_embeds, data.grid, temperature)
            loss = nn.functional.cross_entropy(logits, data.train_labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
    projector.eval()
    return losses


def run_alignment(projector="mlp2x_gelu", data: AlignmentData | None = None, steps: int = 300,
                  batch_size: int = 128, lr: float = 2e-3, seed: int = 0, **projector_options) -> AlignmentResult:
    """Build a projector, measure retrieval, train it, measure again.

    ``projector``: a name for ``vlmlab.projectors.build_projector`` (options in
    ``projector_options``) or a module mapping ``vision_dim`` → the caption
    embedding width. ``data``: from ``prepare_data()`` (made with the toy CLIP
    when left out; reuse it across projectors).
    """
    from .projectors import build_projector

    data = data if data is not None else prepare_data()
    torch.manual_seed(seed)
    name = projector if isinstance(projector, str) else type(projector).__name__
    if isinstance(projector, str):
        projector = build_projector(projector, data.vision_dim, data.text_dim, **projector_options)
    before = retrieval_accuracy(projector, data.eval_features, data.eval_labels, data.text_embeds, data.grid)
    start = time.perf_counter()
    losses = train_projector(projector, data, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
    seconds = time.perf_counter() - start
    after = retrieval_accuracy(projector, data.eval_features, data.eval_labels, data.text_embeds, data.grid)
    return AlignmentResult(name, data.chance, before, after, losses, steps, seconds, projector)
