"""The command line that trains the shipped checkpoints and rewrites their model cards.

    python -m vlmlab.training toy-clip train      # the toy CLIP (about 9 minutes on 2 idle cores) -> data/toy-clip/
    python -m vlmlab.training toy-clip card       # rewrite data/toy-clip/README.md from its metrics.json
    python -m vlmlab.training toy-clip-2 train    # toy CLIP 2 on 2 CPU cores -> data/toy-clip-2/
    python -m vlmlab.training toy-clip-2 card
    python -m vlmlab.training toy-vlm train       # the text LM, then both toy VLMs -> data/toy-llava*/
    python -m vlmlab.training toy-vlm card --kind llava
    python -m vlmlab.training toy-vlm measure --kind llava   # measure a folder's every stage again, then its card

``python -m vlmlab.training MODEL COMMAND --help`` lists each command's options.
Measuring a shipped model needs nothing from here: ``python -m vlmlab.toyclip
evaluate``, ``python -m vlmlab.sceneclip evaluate``, ``python -m vlmlab.toyvlm evaluate``.
"""

from __future__ import annotations

import argparse

from .. import sceneclip, toyclip, toyvlm
from ..data import TOY_CLIP, TOY_CLIP_2, toy_model_dir

__all__ = ["MODELS", "build_parser", "main"]

MODELS = ("toy-clip", "toy-clip-2", "toy-vlm")


def _clip_parsers(sub, name: str, help: str, train_help: str, folder: str, steps: int, lr: float):
    """``name train`` and ``name card`` with the options both toy CLIPs share; returns the train parser."""
    model = sub.add_parser(name, help=help)
    commands = model.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help=train_help)
    train.add_argument("--output", default=None, help=f"output folder (default data/{folder})")
    train.add_argument("--steps", type=int, default=steps)
    train.add_argument("--lr", type=float, default=lr)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=2)
    train.add_argument("--tiny", action="store_true", help="a tiny model (for smoke runs)")
    card = commands.add_parser("card", help="rewrite README.md of a checkpoint from its metrics.json")
    card.add_argument("--model", default=None, help=f"checkpoint folder (default data/{folder})")
    return train


def _toy_clip_parser(sub) -> None:
    train = _clip_parsers(sub, "toy-clip", "the toy CLIP on ShapesWorld (vlmlab.toyclip)",
                          "train the toy CLIP and save it (only if it meets the accuracy bar)", TOY_CLIP, steps=1000, lr=1e-3)
    train.add_argument("--batch-size", type=int, default=100)
    train.add_argument("--eval-images", type=int, default=1000)
    train.add_argument("--force", action="store_true", help="save even below the accuracy bar")


def _toy_clip_2_parser(sub) -> None:
    train = _clip_parsers(sub, "toy-clip-2", "toy CLIP 2 on the scenes of ShapesWorld 2 (vlmlab.sceneclip)",
                          "train toy CLIP 2 and save it", TOY_CLIP_2, steps=1300, lr=2e-3)
    train.add_argument("--scenes", type=int, default=64, help="64-pixel scenes per batch")
    train.add_argument("--tiles", type=int, default=24, help="corner tiles of 256-pixel canvases per batch")
    train.add_argument("--no-hard-negatives", action="store_true", help="train without hard-negative captions")
    train.add_argument("--edit-negatives", type=int, default=1,
                       help="one-edit neighbour captions per scene added as negatives (0: none)")
    train.add_argument("--local-weight", type=float, default=1.0,
                       help="weight of the local loss on the layer -2 patch tokens (0: purely contrastive, the "
                            "ablation in data/toy-clip-2-contrastive)")
    train.add_argument("--local-views", type=int, default=16,
                       help="extra 128-pixel views of the toy VLMs per batch for the local loss")
    train.add_argument("--eval-scenes", type=int, default=500)
    train.add_argument("--save-every", type=int, default=100, help="steps between checkpoints of the running model")


def _toy_vlm_parser(sub) -> None:
    model = sub.add_parser("toy-vlm", help="the toy LLaVA-1.5 and LLaVA-NeXT (vlmlab.toyvlm)")
    commands = model.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train the text LM, then the toy VLMs' stages, and publish them")
    train.add_argument("--kind", choices=toyvlm.KINDS + ("both",), default="both")
    train.add_argument("--minutes", type=float, default=None, help="scale every stage's steps to fit this many minutes")
    train.add_argument("--output", default=None, help="a folder to write instead of data/ (for trial runs)")
    card = commands.add_parser("card", help="rewrite README.md of a toy VLM folder from its metrics.json")
    card.add_argument("--kind", choices=toyvlm.KINDS, default="llava")
    card.add_argument("--folder", default=None, help="the folder (default the shipped one of --kind)")
    measure = commands.add_parser("measure", help="re-measure a trained folder's every stage, rewrite metrics and card")
    measure.add_argument("--kind", choices=toyvlm.KINDS, default="llava")
    measure.add_argument("--folder", default=None, help="the folder (default the shipped one of --kind)")
    measure.add_argument("--scenes", type=int, default=100)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vlmlab.training", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="toy", required=True, metavar="{" + ",".join(MODELS) + "}")
    _toy_clip_parser(sub)
    _toy_clip_2_parser(sub)
    _toy_vlm_parser(sub)
    return parser


def _run_toy_clip(args) -> int:
    from . import toyclip as training

    if args.command == "card":
        print(f"wrote {training.write_card(args.model or toy_model_dir(TOY_CLIP))}")
        return 0
    metrics = training.train_and_publish(args.output, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                                         seed=args.seed, arch=toyclip.TINY_ARCH if args.tiny else None,
                                         eval_images=args.eval_images, require_bar=not args.force)
    return 0 if (args.force or metrics["meets_bar"]) else 1


def _run_toy_clip_2(args) -> int:
    from . import sceneclip as training

    if args.command == "card":
        print(f"wrote {training.write_card(args.model or toy_model_dir(TOY_CLIP_2))}")
        return 0
    training.train_and_publish(args.output, steps=args.steps, n_scenes=args.scenes, n_tiles=args.tiles,
                               hard_negatives=not args.no_hard_negatives, edit_negatives=args.edit_negatives,
                               local_weight=args.local_weight, local_views=args.local_views, lr=args.lr, seed=args.seed,
                               arch=sceneclip.TINY_ARCH if args.tiny else None, eval_scenes=args.eval_scenes,
                               save_every=args.save_every)
    return 0


def _run_toy_vlm(args) -> int:
    from . import toyvlm as training

    if args.command == "train":
        kinds = toyvlm.KINDS if args.kind == "both" else (args.kind,)
        training.train_and_publish(kinds=kinds, output=args.output, minutes=args.minutes)
    elif args.command == "card":
        print(f"wrote {training.write_card(args.folder or toyvlm.model_dir(args.kind))}")
    else:
        training.remeasure(args.folder or toyvlm.model_dir(args.kind), args.kind, args.scenes)
    return 0


def main(argv=None) -> int:
    """Run one command; returns the exit status (``toy-clip train`` gives 1 when the model misses its bar)."""
    args = build_parser().parse_args(argv)
    threads = getattr(args, "threads", None)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)  # a command owns its process; a library function leaves threads alone
    run = {"toy-clip": _run_toy_clip, "toy-clip-2": _run_toy_clip_2, "toy-vlm": _run_toy_vlm}[args.toy]
    return run(args)
