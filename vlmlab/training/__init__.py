"""How the shipped checkpoints are made: training loops, tokenizer builders, checkpoint files, model cards.

Nothing in the notebooks reads this package. A student reads the model and
its evaluation (``vlmlab.toyclip``, ``vlmlab.sceneclip``); this package holds the machinery that
produced the checkpoints under ``data/``, so that anyone can reproduce them:

    vlmlab.training.tokenizer     a CLIP-style BPE vocabulary in which every word of a world is one token
    vlmlab.training.toyclip       the toy CLIP's training loop and the ``train`` command
    vlmlab.training.sceneclip     toy CLIP 2's batches (scenes, corner tiles, hard negatives), loss and loop
    vlmlab.training.toyvlm        the toy VLMs: word-level tokenizer, text LM, LLaVA's two training stages
    vlmlab.training.checkpoints   write a model in the Hub's folder layout; publish a folder atomically
    vlmlab.training.cards         the model card (``README.md``) from a template and the measured numbers

Run it through the model's own command: ``python -m vlmlab.toyclip train``,
``python -m vlmlab.sceneclip train``, ``python -m vlmlab.toyvlm train``.
"""
