"""How the shipped checkpoints are made: training loops, tokenizer builders, checkpoint files, model cards.

Nothing in the notebooks reads this package. A student reads the model and
its evaluation (``vlmlab.toyclip``, ``vlmlab.sceneclip``); this package holds the machinery that
produced the checkpoints under ``data/``, so that anyone can reproduce them:

    vlmlab.training.commands      the command line: ``python -m vlmlab.training MODEL {train,card}``
    vlmlab.training.tokenizer     a CLIP-style BPE vocabulary in which every word of a world is one token
    vlmlab.training.toyclip       the toy CLIP's training loop, checked against an accuracy bar before publishing
    vlmlab.training.sceneclip     toy CLIP 2's batches (scenes, corner tiles, hard negatives), loss and loop
    vlmlab.training.toyvlm        the toy VLMs: word-level tokenizer, text LM, LLaVA's two training stages
    vlmlab.training.checkpoints   write a model in the Hub's folder layout; publish a folder atomically
    vlmlab.training.cards         the model card (``README.md``) from a template and the measured numbers

Run it from a clone of the repository, one command line for the three models::

    python -m vlmlab.training toy-clip train       # or: card (rewrite the model card from metrics.json)
    python -m vlmlab.training toy-clip-2 train
    python -m vlmlab.training toy-vlm train

The rest of vlmlab never imports this package (``tests/test_training_apart.py``
checks it), so reading a model never loads its training code.
"""
