"""Benchmark: vlmlab's ViT against transformers' CLIPVisionModel (sdpa) and timm's CLIP ViT of the same shape.

    python bench/vit.py                      # CPU: float32, ViT-B/16 at 224, batch 8
    python bench/vit.py --batch 4 --repeats 3 --threads 1   # steadier on a busy machine
    python bench/vit.py                      # with CUDA: bfloat16, ViT-L/14 at 336, batch 64

All three models carry the same random weights (the HF model's, copied with
``ViT.from_hf_clip`` and renamed for timm), and the script first checks that
they compute the same features. Then it times them interleaved (each round runs
all three, starting with a different one each time), so that a busy machine
slows all three alike, and reports images per second for the median round and for the best
round, with ratios to the HF model. One run, a minute or two on a CPU. This is a benchmark, not a
test: numbers vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

SHAPES = {  # name: (image, patch, width, layers, heads, mlp, timm model)
    "B/16@224": (224, 16, 768, 12, 12, 3072, "vit_base_patch16_clip_224"),
    "L/14@336": (336, 14, 1024, 24, 16, 4096, "vit_large_patch14_clip_336"),
}


def build_models(shape: str, device, dtype):
    from transformers import CLIPVisionConfig, CLIPVisionModel

    from vlmlab.vit import ViT

    image, patch, width, layers, heads, mlp, timm_name = SHAPES[shape]
    cfg = CLIPVisionConfig(image_size=image, patch_size=patch, hidden_size=width, num_hidden_layers=layers,
                           num_attention_heads=heads, intermediate_size=mlp, hidden_act="gelu")
    hf = CLIPVisionModel(cfg)
    hf.set_attn_implementation("sdpa")
    ours = ViT.from_hf_clip(hf)
    models = {"transformers": hf, "vlmlab": ours}
    try:
        import timm

        tm = timm.create_model(timm_name, pretrained=False, num_classes=0)
        # our names are timm's, but for two modules
        renamed = {k.replace("patch_embed.projection", "patch_embed.proj").replace("pre_norm", "norm_pre"): v
                   for k, v in ours.state_dict().items()}
        missing, unexpected = tm.load_state_dict(renamed, strict=False)
        if unexpected or [k for k in missing if not k.startswith("head")]:
            print(f"timm: weights not shared (missing {missing[:3]}, unexpected {unexpected[:3]})")
        models["timm"] = tm
    except ImportError:
        print("timm is not installed: skipping it")
    return {name: m.to(device=device, dtype=dtype).eval() for name, m in models.items()}, image


def features(name, model, x):
    """The CLS token after the final LayerNorm, from each library's own forward."""
    if name == "transformers":
        return model(pixel_values=x).pooler_output
    if name == "vlmlab":
        return model(x)  # no head: pooled features
    return model.forward_features(x)[:, 0]  # timm applies its final norm to every token


def main(argv=None):
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="L/14@336" if cuda else "B/16@224")
    parser.add_argument("--batch", type=int, default=64 if cuda else 8)
    parser.add_argument("--repeats", type=int, default=20 if cuda else 5)
    parser.add_argument("--warmup", type=int, default=3 if cuda else 1)
    parser.add_argument("--device", default="cuda" if cuda else "cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="bfloat16" if cuda else "float32")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: torch's); 1 is steadier on a machine shared with other jobs")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    torch.manual_seed(0)
    models, image = build_models(args.shape, device, dtype)
    x = torch.randn(args.batch, 3, image, image, device=device, dtype=dtype)
    print(f"ViT-{args.shape}, batch {args.batch}, {args.dtype} on {device}"
          f"{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else f', {torch.get_num_threads()} threads'}; "
          f"torch {torch.__version__}")

    with torch.inference_mode():
        outs = {name: features(name, m, x[:2]).float() for name, m in models.items()}
        for name, out in outs.items():
            diff = (out - outs["transformers"]).abs().max().item()
            print(f"  same features as transformers? {name:>12}: max |diff| = {diff:.2e}")
        for _ in range(args.warmup):
            for name, m in models.items():
                features(name, m, x)
        sync()
        times = {name: [] for name in models}
        names = list(models)
        for r in range(args.repeats):
            # interleaved, and each round starts with the next model: load on the machine hits all three alike
            for name in names[r % len(names):] + names[:r % len(names)]:
                m = models[name]
                sync()
                start = time.perf_counter()
                features(name, m, x)
                sync()
                times[name].append(time.perf_counter() - start)

    # median: the typical round; best: the least disturbed one (other programs only ever add time)
    base, base_best = (args.batch / statistics.median(times["transformers"]), args.batch / min(times["transformers"]))
    print(f"{'model':>12} {'images/s':>10} {'vs transformers':>16} {'best images/s':>14} {'vs transformers':>16}")
    for name, ts in times.items():
        rate, best = args.batch / statistics.median(ts), args.batch / min(ts)
        print(f"{name:>12} {rate:10.1f} {rate / base:15.2f}x {best:14.1f} {best / base_best:15.2f}x")


if __name__ == "__main__":
    main()
