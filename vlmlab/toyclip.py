"""The toy CLIP: a small ``transformers.CLIPModel`` that knows ShapesWorld, and how well it knows it.

    python -m vlmlab.toyclip evaluate   # zero-shot accuracy on 1000 fresh images

The model is the real ``transformers.CLIPModel`` (Radford et al. 2021,
"Learning Transferable Visual Models From Natural Language Supervision",
https://arxiv.org/abs/2103.00020), only small: the vision tower is a ViT on
64×64 images with 8×8 patches (an 8×8 grid of patch tokens plus CLS), the
text tower a 3-layer transformer over captions such as "a small red circle
at the top left". Both end in a projection to a shared space, where the
cosine similarity of an image and a caption, times a learned temperature,
is the logit that zero-shot classification compares (:func:`zero_shot`).

The tokenizer is a real ``CLIPTokenizer`` (byte-level BPE), with a
vocabulary in which every word of the world is one token. Its end-of-text
token never has id 2: ``CLIPTextTransformer`` pools the end-of-text token,
except that with ``eos_token_id == 2`` it falls back to an older rule, the
position of the *largest* id, which would pool a word in the middle of a
caption.

How the checkpoint is produced (tokenizer builder, training loop, files,
model card) is kept apart, in ``vlmlab.training``
(``python -m vlmlab.training toy-clip train``, about 9 minutes on 2 idle cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .shapes import ShapesWorld

__all__ = ["EVAL_SEED", "BOS", "EOS", "DEFAULT_ARCH", "TINY_ARCH", "build_config",
           "zero_shot", "evaluate", "format_accuracies", "main"]

EVAL_SEED = 1_000_003  # the evaluation images; training draws with (seed, step) pairs, never this integer
BOS, EOS = "<|startoftext|>", "<|endoftext|>"

# The shipped model. Widths and depths are those of the checkpoint in data/toy-clip.
DEFAULT_ARCH = dict(
    image_size=64,
    patch_size=8,
    vision_width=128,
    vision_layers=4,
    text_width=128,
    text_layers=3,
    heads=4,
    mlp_ratio=4,
    projection_dim=64,
    max_text_len=16,
)
# The same shape of model, as small as it gets: for tests and smoke runs.
TINY_ARCH = dict(DEFAULT_ARCH, vision_width=32, vision_layers=1, text_width=32, text_layers=1, heads=2, projection_dim=16)


def build_config(tokenizer, arch: dict | None = None):
    """The ``CLIPConfig`` of the toy CLIP for ``tokenizer``; ``arch`` overrides ``DEFAULT_ARCH``.

    The MLPs are ``mlp_ratio`` times as wide as their tower, as in every
    CLIP; both towers share the number of heads. The text tower's BOS, EOS
    and padding ids come from the tokenizer (padding is EOS, as OpenAI's).
    """
    from transformers import CLIPConfig, CLIPTextConfig, CLIPVisionConfig

    a = dict(DEFAULT_ARCH, **(arch or {}))
    eos_id = tokenizer.convert_tokens_to_ids(EOS)
    if eos_id == 2:
        raise ValueError(f"the tokenizer's {EOS} has id 2; CLIPTextTransformer would then pool the largest id "
                         "instead of the end of the text. Give the end-of-text token another id")
    text = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=a["text_width"],
        intermediate_size=a["text_width"] * a["mlp_ratio"],
        num_hidden_layers=a["text_layers"],
        num_attention_heads=a["heads"],
        max_position_embeddings=a["max_text_len"],
        bos_token_id=tokenizer.convert_tokens_to_ids(BOS),
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        projection_dim=a["projection_dim"],
    )
    vision = CLIPVisionConfig(
        image_size=a["image_size"],
        patch_size=a["patch_size"],
        hidden_size=a["vision_width"],
        intermediate_size=a["vision_width"] * a["mlp_ratio"],
        num_hidden_layers=a["vision_layers"],
        num_attention_heads=a["heads"],
        projection_dim=a["projection_dim"],
    )
    return CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=a["projection_dim"])


def zero_shot(model, processor, images, captions, batch_size: int = 250):
    """Zero-shot classification: for each image, the index of the best-matching caption.

    Returns ``(predictions (B,) long, probabilities (B, len(captions)))``,
    computed as CLIP does it: cosine similarity of the projected, normalised
    image and text embeddings, scaled by ``logit_scale``, softmax over captions.
    """
    import torch

    from .clip import image_embeddings, text_embeddings

    with torch.no_grad():
        text = processor.tokenizer(list(captions), padding=True, return_tensors="pt")
        t = text_embeddings(model, text.input_ids, text.attention_mask)  # (C, P), unit length
        preds, probs = [], []
        for i in range(0, len(images), batch_size):
            pixels = processor(images=images[i : i + batch_size], return_tensors="pt").pixel_values
            v = image_embeddings(model, pixels)  # (b, P), unit length
            logits = model.logit_scale.exp() * v @ t.T  # (b, C)
            preds.append(logits.argmax(-1))
            probs.append(logits.softmax(-1))
    return torch.cat(preds), torch.cat(probs)


def evaluate(model_dir=None, *, n: int = 1000, seed: int = EVAL_SEED, log=print) -> dict:
    """Zero-shot accuracy on ``n`` fresh images, choosing among ALL captions of the world.

    Loads ``model_dir`` (default ``data/toy-clip``) with
    ``CLIPModel.from_pretrained`` and ``CLIPProcessor.from_pretrained``,
    draws ``ShapesWorld.sample(n, seed)``, predicts one caption per image, and
    scores the exact caption and each attribute of the predicted caption.
    Returns ``{"colour", "shape", "position", "size", "exact", "n", "seed", "captions", "eval_seconds"}``.
    """
    from transformers import CLIPModel, CLIPProcessor

    from .data import TOY_CLIP, toy_model_dir

    path = Path(model_dir) if model_dir is not None else toy_model_dir(TOY_CLIP)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"model_dir {str(path)!r} holds no checkpoint (no config.json); "
                                "train one with `python -m vlmlab.training toy-clip train`")
    model = CLIPModel.from_pretrained(path).eval()
    processor = CLIPProcessor.from_pretrained(path)
    world = ShapesWorld(image_size=model.config.vision_config.image_size)
    captions = world.captions()
    images, truth = world.sample(n, seed=seed)
    start = time.perf_counter()
    preds, _ = zero_shot(model, processor, images, captions)
    seconds = time.perf_counter() - start
    predicted = [world.parse(captions[i]) for i in preds.tolist()]
    actual = [world.parse(c) for c in truth]
    metrics = {"n": n, "seed": seed, "captions": len(captions)}
    for attr in ("colour", "shape", "position", "size"):
        metrics[attr] = float(np.mean([getattr(p, attr) == getattr(a, attr) for p, a in zip(predicted, actual)]))
    metrics["exact"] = float(np.mean([p == a for p, a in zip(predicted, actual)]))
    metrics["eval_seconds"] = round(seconds, 2)
    log(f"zero-shot on {n} fresh images (seed {seed}) among {len(captions)} captions: {format_accuracies(metrics)}")
    return metrics


def format_accuracies(metrics: dict) -> str:
    """``"colour 100.0%, shape 99.7%, ..."`` for the accuracies present in ``metrics``."""
    keys = ("colour", "shape", "position", "size", "exact")
    return ", ".join(f"{k} {metrics[k]:.1%}" for k in keys if k in metrics)


# -------------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vlmlab.toyclip", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_eval = sub.add_parser("evaluate", help="zero-shot accuracy on 1000 fresh images")
    p_eval.add_argument("--model", default=None, help="checkpoint folder (default data/toy-clip)")
    p_eval.add_argument("--n", type=int, default=1000)
    p_eval.add_argument("--seed", type=int, default=EVAL_SEED)
    p_eval.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)  # a command owns its process; a library function leaves threads alone
    metrics = evaluate(args.model, n=args.n, seed=args.seed)
    print(json.dumps({k: metrics[k] for k in ("colour", "shape", "position", "size", "exact", "n", "seed")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
